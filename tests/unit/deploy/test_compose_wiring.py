"""Volumes, ports, dependencies and health checks; variables and secrets."""

from __future__ import annotations

import json

from sqlalchemy.engine import make_url

from support.compose import (
    AIRFLOW_SERVICES,
    ONE_SHOT_SERVICES,
    OPTIONAL_BIND_SOURCES,
    ROOT,
    SECRET_NAME,
    Stack,
    compose_refs,
    depends_on,
    env_example,
    load_compose,
    mounts,
    published_ports,
    service_env,
)


def test_named_volumes_are_declared_and_bind_sources_exist() -> None:
    compose = load_compose({})
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        for mount in mounts(service):
            if mount.kind == "volume":
                used.add(mount.source)
            elif mount.kind == "bind":
                source = (ROOT / mount.source).resolve()
                optional = source.relative_to(ROOT).as_posix() in OPTIONAL_BIND_SOURCES
                assert source.exists() or optional, f"{name} mounts missing {mount.source}"
    assert used <= declared, f"undeclared named volumes: {sorted(used - declared)}"
    assert declared <= used, f"declared but unused volumes: {sorted(declared - used)}"


def test_host_ports_are_unique_and_on_loopback(stack: Stack) -> None:
    ports = published_ports(stack.services)
    assert ports, "nothing is published: the UI would be unreachable"
    seen: dict[int, str] = {}
    for port in ports:
        assert port.ip == "127.0.0.1", f"{port.service} publishes {port.host} beyond loopback"
        assert 0 < port.host < 65536, f"{port.service}: bad host port {port.host}"
        assert port.host not in seen, (
            f"host port {port.host}: {seen.get(port.host)} and {port.service}"
        )
        seen[port.host] = port.service


def test_dependencies_exist_and_wait_for_the_right_state() -> None:
    services = load_compose({})["services"]
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert condition in (
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            ), f"{name} -> {target}: unknown condition {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT_SERVICES, f"{target} never completes"

    # Acyclic: Compose refuses a cycle.
    state: dict[str, str] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert state.get(node) != "open", f"dependency cycle: {' -> '.join((*path, node))}"
        if state.get(node) == "done":
            return
        state[node] = "open"
        for target in depends_on(services[node]):
            visit(target, (*path, node))
        state[node] = "done"

    for name in services:
        visit(name, ())

    for name in AIRFLOW_SERVICES:
        deps = depends_on(services[name])
        assert deps.get("postgres") == deps.get("redis") == "service_healthy", name
        if name != "airflow-init":
            assert deps.get("airflow-init") == "service_completed_successfully", name
    worker = depends_on(services["airflow-worker"])
    assert worker.get("minio-init") == "service_completed_successfully", "bucket first"
    assert worker.get("mailpit") == "service_healthy"


def test_long_running_services_have_healthchecks_and_one_shots_do_not_restart() -> None:
    for name, service in load_compose({})["services"].items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart", "no") == "no", f'{name} is one-shot: restart: "no"'
        elif not service.get("profiles"):
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
            assert service.get("restart") in ("always", "unless-stopped"), name


def test_init_applies_feast_and_migrates_as_a_deploy_step() -> None:
    init = load_compose({})["services"]["airflow-init"]
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    env = service_env(init)
    assert (
        env.get("_AIRFLOW_DB_MIGRATE") == "true" and env.get("_AIRFLOW_WWW_USER_CREATE") == "true"
    )
    assert "bantay features apply" in script, "feast apply is the stack's deploy step"
    assert "bantay registry upgrade" in script


def test_env_example_documents_exactly_the_variables_with_their_defaults() -> None:
    documented = env_example()
    refs = compose_refs()
    used = {ref.name for ref in refs}
    assert used == set(documented), (
        f"undocumented in .env.example: {sorted(used - set(documented))}; "
        f"documented but unused: {sorted(set(documented) - used)}"
    )
    for ref in refs:
        assert ref.op == ":-", f"${{{ref.name}}} has no default: the stack must start without .env"
        assert ref.arg == documented[ref.name], (
            f"{ref.name}: default {ref.arg!r} in docker-compose.yaml, {documented[ref.name]!r} "
            ".env.example"
        )


def test_secrets_come_only_from_variables() -> None:
    """With every variable set to a marker, each secret must come out as exactly one marker."""
    markers = {name: f"marker{i}x" for i, name in enumerate(sorted(env_example()))}
    compose = load_compose(markers)
    values = set(markers.values())
    scopes = {"x-airflow-common": compose["x-airflow-common"], **compose["services"]}
    checked = 0
    for scope, service in scopes.items():
        for key, value in service_env(service).items():
            where = f"{scope}: {key}"
            if SECRET_NAME.search(key):
                assert value in values, f"{where} is a literal secret; use ${{VAR:-default}}"
                checked += 1
            elif key.startswith("AIRFLOW_CONN_"):
                conn = json.loads(value)
                if "password" in conn:
                    assert conn["password"] in values, f"{where}: literal password"
                    checked += 1
            elif "://" in value and "@" in value:
                url = make_url(value.removeprefix("db+"))
                assert url.password in values, f"{where}: literal password in URL"
                checked += 1
    assert checked >= 8, f"only {checked} secrets found: the scan is not looking"
