"""docker-compose.yaml checked against the code, without Docker (there is no engine here).

The file is parsed with PyYAML and ``${VAR:-default}`` is interpolated the way Compose does it,
then everything that would otherwise only break after ``docker compose up`` is checked: the
services and the shared Airflow anchor, the Celery executor, every variable and Connection the
code reads (found by reading the code and loading bantay's own settings and hooks under the
stack's environment), the Feast store the stack selects, volumes, ports, dependencies, the image
build, and that secrets come only from variables documented in .env.example.

Relations between services (credentials, bucket, database names) are checked twice: with the
defaults, and with every variable overridden, so a value copied instead of referenced fails.
Nothing here opens a network connection or runs the docker client: building a boto3 client and
looking up an Airflow Connection from ``AIRFLOW_CONN_*`` only read configuration.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
AIRFLOW_ENV_FILE = ROOT / "docker" / "airflow.env"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / "docker" / "Dockerfile.dockerignore"

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
BACKING_SERVICES = ("postgres", "redis", "minio", "minio-init", "mailpit")
ONE_SHOT_SERVICES = {"airflow-init", "minio-init"}
CONTAINER_PORTS = {"apiserver": 8080, "minio_api": 9000, "smtp": 1025, "redis": 6379, "pg": 5432}
# Bind sources Docker may create empty: git cannot track an empty plugins/ folder.
OPTIONAL_BIND_SOURCES = {"plugins"}
# Options of Airflow's celery provider, read from the provider when the celery extra is installed
# (make test-celery); the dev venv does without it, hence this list of the options used.
CELERY_OPTIONS = {
    "celery": {
        "broker_url",
        "result_backend",
        "worker_concurrency",
        "worker_prefetch_multiplier",
        "task_acks_late",
        "operation_timeout",
        "celery_config_options",
    },
    "celery_broker_transport_options": {"visibility_timeout"},
}
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|FERNET_KEY|SECRET_KEY|TOKEN)$")
CODE_ENV_NAME = re.compile(r"BANTAY_[A-Z0-9_]*[A-Z0-9]")

# --------------------------------------------------------------------------------------------
# Compose interpolation and parsing
# --------------------------------------------------------------------------------------------

_REF = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?", re.S
)


@dataclass(frozen=True)
class Ref:
    name: str
    op: str | None
    arg: str | None


def _parse_ref(match: re.Match[str]) -> Ref | None:
    if match.group("escaped"):
        return None
    if match.group("plain"):
        return Ref(match.group("plain"), None, None)
    braced = _BRACED.fullmatch(match.group("braced"))
    if braced is None or "$" in (braced.group("arg") or ""):
        raise ValueError(
            f"docker-compose.yaml: unsupported interpolation {match.group(0)!r}; use $VAR, ${{VAR}} "
            "or ${VAR:-default} without nesting (this test mirrors only those forms)"
        )
    return Ref(braced.group("name"), braced.group("op"), braced.group("arg"))


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation of one value: ``$$`` escapes, ``:-``/``-`` defaults, ``?`` errors."""

    def substitute(match: re.Match[str]) -> str:
        ref = _parse_ref(match)
        if ref is None:
            return "$"
        value = env.get(ref.name)
        if ref.op == ":-":
            return value if value else (ref.arg or "")
        if ref.op == "-":
            return (ref.arg or "") if value is None else value
        if (ref.op == ":?" and not value) or (ref.op == "?" and value is None):
            raise ValueError(f"variable {ref.name} is required: {ref.arg}")
        if ref.op == ":+":
            return (ref.arg or "") if value else ""
        if ref.op == "+":
            return (ref.arg or "") if value is not None else ""
        return value or ""

    return _REF.sub(substitute, text)


def _walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _walk_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_strings(value)


def _map_strings(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {k: _map_strings(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_map_strings(v, env) for v in node]
    return node


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file as Compose sees it with ``env`` as the shell/.env variables."""
    return _map_strings(raw_compose(), env)


def compose_refs() -> list[Ref]:
    """Every ``${VAR...}`` reference in the file's values (comments are not interpolated)."""
    return [
        ref
        for text in _walk_strings(raw_compose())
        for match in _REF.finditer(text)
        if (ref := _parse_ref(match)) is not None
    ]


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example: line {line!r} is not KEY=VALUE"
            values[key.strip()] = value.strip()
    return values


def overridden_env() -> dict[str, str]:
    """A distinct, valid value for every variable, so relations that hold only by copy break."""
    out = {}
    for i, (name, default) in enumerate(sorted(env_example().items())):
        if default.isdigit():
            out[name] = str(20000 + 11 * i)
        elif "FERNET" in name:
            out[name] = base64.urlsafe_b64encode(bytes(range(i, i + 32))).decode()
        elif name.endswith("IMAGE"):
            out[name] = default
        elif "://" in default:
            out[name] = f"{default.split('://')[0]}://host{i}.example.test:{30000 + i}"
        else:
            out[name] = f"x{i}{name.lower().replace('_', '')}"
    return out


@dataclass(frozen=True)
class Mount:
    kind: str  # bind | volume | anonymous
    source: str | None
    target: str


def env_files(service: Mapping[str, Any]) -> list[Path]:
    """The service's ``env_file`` entries, relative to the project directory."""
    files = service.get("env_file") or []
    files = [files] if isinstance(files, str | dict) else files
    return [ROOT / (f["path"] if isinstance(f, dict) else f) for f in files]


def service_env(service: Mapping[str, Any]) -> dict[str, str]:
    """The container's environment as Compose builds it: ``env_file`` values, then
    ``environment`` (which wins)."""
    from celery_stack import read_env_file

    merged: dict[str, str] = {}
    for path in env_files(service):
        merged.update(read_env_file(path))
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    merged.update({k: "" if v is None else str(v) for k, v in env.items()})
    return merged


def mounts(service: Mapping[str, Any]) -> list[Mount]:
    out = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source"), volume["target"]
            kind = volume.get("type", "volume" if source else "anonymous")
        else:
            parts = volume.split(":")
            source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
            if source is None:
                kind = "anonymous"
            else:
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append(Mount(kind, source, target))
    return out


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


@dataclass(frozen=True)
class Port:
    service: str
    ip: str
    host: int
    container: int


def published_ports(services: Mapping[str, Any]) -> list[Port]:
    out = []
    for name, service in services.items():
        for spec in service.get("ports") or []:
            if isinstance(spec, dict):
                ip, host, container = (
                    spec.get("host_ip", "0.0.0.0"),
                    spec.get("published"),
                    spec["target"],
                )
            else:
                parts = str(spec).split("/")[0].split(":")
                ip = parts[0] if len(parts) == 3 else "0.0.0.0"
                host, container = (parts[-2], parts[-1]) if len(parts) > 1 else (None, parts[0])
            if host is not None:
                out.append(Port(name, ip, int(host), int(container)))
    return out


@dataclass(frozen=True)
class Stack:
    """The interpolated compose file and the questions the tests ask of it."""

    compose: dict[str, Any]
    defaults: bool

    @property
    def services(self) -> dict[str, Any]:
        return self.compose["services"]

    @property
    def common(self) -> dict[str, Any]:
        return self.compose["x-airflow-common"]

    @property
    def env(self) -> dict[str, str]:
        """The environment every Airflow container gets from the anchor."""
        return service_env(self.common)

    def senv(self, name: str) -> dict[str, str]:
        return service_env(self.services[name])

    def image_of(self, name: str) -> str:
        return self.services[name].get("image", "")

    def host_path(self, service: str, container_path: str | Path) -> Path | None:
        """The repository path bind-mounted at ``container_path`` in ``service``, if any."""
        path = PurePosixPath(container_path)
        best: tuple[int, Path] | None = None
        for mount in mounts(self.services[service]):
            target = PurePosixPath(mount.target)
            if mount.kind == "bind" and (path == target or target in path.parents):
                depth = len(target.parts)  # the deepest mount wins, as in the container
                if best is None or depth > best[0]:
                    best = (depth, (ROOT / mount.source).resolve() / path.relative_to(target))
        return best[1] if best else None

    def volume_at(self, service: str, container_path: str) -> Mount | None:
        path = PurePosixPath(container_path)
        for mount in mounts(self.services[service]):
            target = PurePosixPath(mount.target)
            if mount.kind == "volume" and (path == target or target in path.parents):
                return mount
        return None

    def host_port(self, service: str, container: int) -> int:
        matches = [
            p.host
            for p in published_ports(self.services)
            if p.service == service and p.container == container
        ]
        assert matches, f"{service} publishes no host port for container port {container}"
        return matches[0]


ENVS = {"defaults": dict, "overridden": overridden_env}


@pytest.fixture(params=sorted(ENVS))
def stack(request: pytest.FixtureRequest) -> Stack:
    env = ENVS[request.param]()
    return Stack(load_compose(env), defaults=request.param == "defaults")


def _command_option(service: Mapping[str, Any], option: str) -> str | None:
    command = service.get("command") or []
    words = shlex.split(command) if isinstance(command, str) else list(command)
    return words[words.index(option) + 1] if option in words else None


# --------------------------------------------------------------------------------------------
# What the code reads
# --------------------------------------------------------------------------------------------


def code_env_names() -> set[str]:
    """``BANTAY_*`` names that appear as whole string constants in the code (env var lookups)."""
    files = [
        *ROOT.glob("include/bantay/**/*.py"),
        *ROOT.glob("dags/**/*.py"),
        *ROOT.glob("feature_repo/**/*.py"),
        *ROOT.glob("plugins/**/*.py"),
    ]
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and CODE_ENV_NAME.fullmatch(node.value)
            ):
                names.add(node.value)
    return names


def yaml_env_names(path: Path) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text()))


def settings_path(name: str) -> list[str] | None:
    """``BANTAY_STORAGE__BUCKET`` -> ``["storage", "bucket"]`` if Settings has that field."""
    from bantay.settings import Settings

    model: type[BaseModel] = Settings
    parts = name.removeprefix("BANTAY_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return None
        if i < len(parts) - 1:
            annotation = field.annotation
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return None
            model = annotation
    return parts


def conn_id_settings(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every ``*_conn_id`` setting, with its dotted name: the Connections the code will ask for."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name.endswith("_conn_id"):
            yield f"{prefix}{name}", value
        elif isinstance(value, BaseModel):
            yield from conn_id_settings(value, f"{prefix}{name}.")
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from conn_id_settings(item, f"{prefix}{name}[{i}].")


@pytest.fixture
def stack_process_env(monkeypatch: pytest.MonkeyPatch):
    """Put the Airflow containers' BANTAY_* and AIRFLOW_CONN_* variables into this process.

    AIRFLOW__* settings are left out on purpose: Airflow reads its configuration once per process,
    and the Celery/PostgreSQL values would leak into the other tests of the session.
    """

    def apply(stack: Stack) -> dict[str, str]:
        for key in list(os.environ):
            if key.startswith(("BANTAY_", "AIRFLOW_CONN_")):
                monkeypatch.delenv(key)
        env = {k: v for k, v in stack.env.items() if k.startswith(("BANTAY_", "AIRFLOW_CONN_"))}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return env

    return apply


# --------------------------------------------------------------------------------------------
# Services, anchor, image
# --------------------------------------------------------------------------------------------


def test_every_required_service_exists() -> None:
    services = load_compose({})["services"]
    missing = sorted({*AIRFLOW_SERVICES, *BACKING_SERVICES} - set(services))
    assert not missing, f"docker-compose.yaml lacks services {missing}"


def _merge_sources(node: yaml.MappingNode) -> list[yaml.Node]:
    sources: list[yaml.Node] = []
    for key, value in node.value:
        if key.tag == "tag:yaml.org,2002:merge":
            sources += value.value if isinstance(value, yaml.SequenceNode) else [value]
    return sources


def test_airflow_services_merge_the_common_anchor() -> None:
    """Structure, not just equal values: a service that copies the block drifts later."""
    root = yaml.compose(COMPOSE_FILE.read_text())
    top = {key.value: value for key, value in root.value}
    common = top["x-airflow-common"]
    common_env = {key.value: value for key, value in common.value}["environment"]
    services = {key.value: value for key, value in top["services"].value}
    image = load_compose({})["x-airflow-common"]["image"]
    airflow_like = {n for n, s in load_compose({})["services"].items() if s.get("image") == image}
    assert set(AIRFLOW_SERVICES) <= airflow_like, "Airflow services must run the bantay image"
    for name in sorted(airflow_like):
        node = services[name]
        assert any(src is common for src in _merge_sources(node)), (
            f"{name} does not merge <<: *airflow-common"
        )
        own = {key.value: value for key, value in node.value}
        if "environment" in own:
            assert any(src is common_env for src in _merge_sources(own["environment"])), (
                f"{name} sets its own environment without merging <<: *airflow-common-env"
            )


def test_airflow_services_share_image_environment_and_mounts(stack: Stack) -> None:
    common = stack.common
    for name, service in stack.services.items():
        if service.get("image") != common["image"]:
            continue
        env = stack.senv(name)
        differing = sorted(k for k, v in stack.env.items() if env.get(k) != v)
        assert not differing, f"{name}: environment differs from the anchor in {differing}"
        assert service.get("volumes") == common["volumes"], f"{name}: mounts differ"
        assert service.get("build") == common["build"], f"{name}: build differs"
        if name != "airflow-init":  # root there only to chown the volumes
            assert service.get("user") == common["user"], f"{name}: runs as another user"


def test_airflow_mounts_match_what_the_code_expects(stack: Stack) -> None:
    env = stack.env
    name = "airflow-worker"
    assert stack.host_path(name, env["AIRFLOW__CORE__DAGS_FOLDER"]) == ROOT / "dags"
    repo = PurePosixPath(env["BANTAY_FEAST__REPO_PATH"])
    assert stack.host_path(name, repo) == ROOT / "feature_repo"
    # bantay.features.repo_path and the editable install: include/ sits beside feature_repo/.
    assert stack.host_path(name, repo.parent / "include") == ROOT / "include"
    assert stack.host_path(name, repo.parent / "include").joinpath("bantay").is_dir()
    config = stack.host_path(name, env["BANTAY_CONFIG"])
    assert config is not None and config.is_file(), f"BANTAY_CONFIG is not mounted: {config}"
    data = stack.volume_at(name, env["BANTAY_DATA_DIR"])
    home = stack.volume_at(name, env["BANTAY_HOME"])
    assert data is not None and data == home, (
        "BANTAY_HOME (training runs) and BANTAY_DATA_DIR (partitions) must be on one named "
        f"volume shared by every Airflow service; got {home} and {data}"
    )
    logs = stack.volume_at(name, "/opt/airflow/logs")
    assert logs is not None, "task logs must be on a volume the api-server can read"


def _dockerfile() -> tuple[dict[str, str], list[list[str]]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    args, instructions = {}, []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = line.split()
        instructions.append(words)
        if words[0] == "ARG" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            args[key] = value
    return args, instructions


def test_image_is_the_pinned_airflow_with_bantay_installed_from_constraints() -> None:
    compose = load_compose({})
    build = compose["x-airflow-common"]["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    args, instructions = _dockerfile()
    base = next(w[1] for w in instructions if w[0] == "FROM")
    base = interpolate(base, args)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = dict(d.split("==") for d in pyproject["project"]["dependencies"] if "==" in d)
    python = re.search(r">=(\d+\.\d+)", pyproject["project"]["requires-python"]).group(1)
    assert base == f"apache/airflow:{pins['apache-airflow']}-python{python}", (
        f"docker/Dockerfile builds FROM {base}; pyproject.toml pins apache-airflow "
        f"{pins['apache-airflow']} on Python {python}"
    )

    workdir, pip = None, None
    for words in instructions:
        if words[0] == "WORKDIR":
            workdir = words[1]
        if words[0] == "RUN" and "pip" in words and "install" in words:
            pip = words
            break
    assert pip is not None, "docker/Dockerfile never pip-installs the project"
    joined = " ".join(pip)
    assert "-c constraints.txt" in joined and "-e ." in joined, joined
    assert "-r docker/requirements-stack.txt" in joined, joined
    mounted = Stack(compose, defaults=True).host_path("airflow-worker", f"{workdir}/include")
    assert mounted == ROOT / "include", (
        f"the editable install lives in {workdir}; ./include must be mounted at {workdir}/include"
    )

    allowed = [
        line[1:].rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    ]
    for words in instructions:
        if words[0] != "COPY":
            continue
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"docker/Dockerfile copies missing {source}"
            assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), (
                f"{source} is excluded from the build context by {DOCKERIGNORE.name}"
            )


def test_stack_only_providers_match_executor_and_auth_manager() -> None:
    env = service_env(load_compose({})["x-airflow-common"])
    lines = (ROOT / "docker" / "requirements-stack.txt").read_text().splitlines()
    specs = [line.split("#")[0].strip() for line in lines]
    pins = dict(spec.partition("==")[::2] for spec in specs if spec)
    unpinned = sorted(name for name, version in pins.items() if not version)
    assert not unpinned, f"docker/requirements-stack.txt: pin {unpinned} with =="
    if env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor":
        assert "apache-airflow-providers-celery" in pins
        # make test-celery installs the `celery` extra: the same provider the image runs.
        extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        celery = dict(d.split("==") for d in extra["optional-dependencies"]["celery"])
        assert celery["apache-airflow-providers-celery"] == pins["apache-airflow-providers-celery"]
    if ".fab." in env["AIRFLOW__CORE__AUTH_MANAGER"]:
        assert "apache-airflow-providers-fab" in pins


# --------------------------------------------------------------------------------------------
# Airflow configuration
# --------------------------------------------------------------------------------------------


def test_executor_is_celery_with_redis_broker_and_postgres_backend(stack: Stack) -> None:
    env = stack.env
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"

    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname in stack.services
    assert stack.image_of(broker.hostname).startswith("redis")
    assert (broker.port or 6379) == CONTAINER_PORTS["redis"]

    pg = stack.senv("postgres")
    for key in ("AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        value = env[key]
        url = make_url(value.removeprefix("db+"))
        assert url.drivername.startswith("postgresql"), f"{key}={value}"
        assert url.host in stack.services and stack.image_of(url.host).startswith("postgres")
        assert (url.port or 5432) == CONTAINER_PORTS["pg"]
        assert (url.username, url.password, url.database) == (
            pg["POSTGRES_USER"],
            pg["POSTGRES_PASSWORD"],
            pg["POSTGRES_DB"],
        ), f"{key} does not match the postgres service's POSTGRES_* variables"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")


def test_executor_settings_are_one_file_shared_with_the_celery_tier() -> None:
    """docker/airflow.env configures the executor of the stack AND of make test-celery: a value
    changed in one place only, or a stack-only override, fails here."""
    import celery_stack

    compose = raw_compose()
    common = compose["x-airflow-common"]
    assert celery_stack.ENV_FILE == AIRFLOW_ENV_FILE
    assert env_files(common) == [AIRFLOW_ENV_FILE], "x-airflow-common must load docker/airflow.env"
    shared = celery_stack.read_env_file()
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "${" not in AIRFLOW_ENV_FILE.read_text(), "keep docker/airflow.env literal (no secrets)"

    scopes = {"x-airflow-common": common, **compose["services"]}
    for name, service in scopes.items():
        own = service.get("environment") or {}
        overridden = sorted(set(own) & set(shared))
        assert not overridden, (
            f"{name} overrides {overridden} of docker/airflow.env in compose only"
        )
        files = env_files(service)
        assert not files or files == [AIRFLOW_ENV_FILE], f"{name} loads other env files: {files}"
        executor_keys = {
            k for k in own if k.startswith(("AIRFLOW__CELERY", "AIRFLOW__CORE__EXECUTOR"))
        }
        # The result backend holds the database password, so it stays beside the metadata URL.
        stray = sorted(executor_keys - {celery_stack.RESULT_BACKEND_KEY})
        assert not stray, f"{name} sets executor settings {stray} outside docker/airflow.env"

    metadata = "postgresql+psycopg2://postgres@127.0.0.1:5432/bantay_test_x"
    broker = "redis://127.0.0.1:6379/11"
    tier = celery_stack.celery_environment(metadata, broker)
    moved = {celery_stack.BROKER_KEY, celery_stack.RESULT_BACKEND_KEY}
    assert set(tier) == set(shared) | {celery_stack.RESULT_BACKEND_KEY}
    assert {k: v for k, v in tier.items() if k not in moved} == {
        k: v for k, v in shared.items() if k not in moved
    }, "the Celery tier changes more than where the broker and result backend are"
    assert (
        urlsplit(tier[celery_stack.BROKER_KEY]).scheme
        == urlsplit(shared[celery_stack.BROKER_KEY]).scheme
    )
    assert tier[celery_stack.RESULT_BACKEND_KEY] == f"db+{metadata}"
    stack = Stack(load_compose({}), defaults=True)
    stack_backend = make_url(stack.env[celery_stack.RESULT_BACKEND_KEY].removeprefix("db+"))
    stack_metadata = make_url(stack.env[celery_stack.METADATA_KEY])
    assert (stack_backend.host, stack_backend.database) == (
        stack_metadata.host,
        stack_metadata.database,
    ), "in the stack too the result backend is the metadata database"
    cmd, _ = celery_stack.worker(tier, "bantay-worker-test@host")
    concurrency = cmd[cmd.index("--concurrency") + 1]
    assert concurrency == shared["AIRFLOW__CELERY__WORKER_CONCURRENCY"]


def test_workers_reach_the_execution_api_and_share_one_jwt_secret(stack: Stack) -> None:
    env = stack.env
    url = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver" and url.path == "/execution/"
    assert url.port == CONTAINER_PORTS["apiserver"]
    apiserver = stack.services["airflow-apiserver"]
    assert apiserver["command"] == "api-server"
    assert stack.host_port("airflow-apiserver", url.port)
    assert f"localhost:{url.port}/" in " ".join(apiserver["healthcheck"]["test"])
    # In the anchor, hence identical in scheduler, api-server and workers.
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_fernet_key_is_valid(stack: Stack) -> None:
    from cryptography.fernet import Fernet

    key = stack.env["AIRFLOW__CORE__FERNET_KEY"]
    try:
        Fernet(key.encode())
    except ValueError as exc:  # binascii.Error is a ValueError
        pytest.fail(f"AIRFLOW__CORE__FERNET_KEY {key!r} is not a Fernet key: {exc}")


def test_airflow_settings_are_real_options() -> None:
    """A misspelt AIRFLOW__SECTION__KEY is silently ignored by Airflow: catch it here."""
    import airflow

    schema = Path(airflow.__file__).parent / "config_templates" / "config.yml"
    options = {
        s: set(v.get("options") or {}) for s, v in yaml.safe_load(schema.read_text()).items()
    }
    try:
        from airflow.providers.celery.get_provider_info import get_provider_info

        provider = get_provider_info()["config"]
        options |= {name: set(section["options"]) for name, section in provider.items()}
    except ImportError:
        options |= CELERY_OPTIONS
    compose = load_compose({})
    for name, service in {
        "x-airflow-common": compose["x-airflow-common"],
        **compose["services"],
    }.items():
        for key in service_env(service):
            if not key.startswith("AIRFLOW__"):
                continue
            section, _, option = key.removeprefix("AIRFLOW__").lower().partition("__")
            assert option in options.get(section, set()), (
                f"{name}: {key} is not an Airflow 3 option ([{section}] {option})"
            )


# --------------------------------------------------------------------------------------------
# bantay's variables, settings and Connections
# --------------------------------------------------------------------------------------------


def _store_yamls() -> tuple[Path, set[str]]:
    """The selected feature_store yaml and the variables only the other store yamls use."""
    env = load_compose({})["x-airflow-common"]["environment"]
    selected = ROOT / "feature_repo" / env["BANTAY_FEAST__STORE_YAML"]
    assert selected.is_file(), f"BANTAY_FEAST__STORE_YAML names missing {selected}"
    others = [p for p in (ROOT / "feature_repo").glob("feature_store*.yaml") if p != selected]
    other_vars = set().union(*(yaml_env_names(p) for p in others)) if others else set()
    return selected, other_vars - yaml_env_names(selected)


def test_every_variable_the_code_reads_is_set() -> None:
    env = load_compose({})["x-airflow-common"]["environment"]
    selected, unused_store_vars = _store_yamls()
    code = code_env_names()
    assert {"BANTAY_DATA_DIR", "BANTAY_REGISTRY_URL"} <= code, "the code scan found nothing"
    required = (code | yaml_env_names(selected)) - unused_store_vars
    missing = sorted(required - set(env))
    assert not missing, (
        f"the code reads {missing} but x-airflow-common does not set them; add them to "
        "docker-compose.yaml (or to the feature_store yaml exemption if only another store uses them)"
    )


def test_every_bantay_variable_set_is_read_by_the_code() -> None:
    """A misspelt BANTAY_* variable is ignored by pydantic-settings: catch it here."""
    env = load_compose({})["x-airflow-common"]["environment"]
    known = code_env_names() | set().union(
        *(yaml_env_names(p) for p in (ROOT / "feature_repo").glob("feature_store*.yaml"))
    )
    unused = sorted(
        k for k in env if k.startswith("BANTAY_") and k not in known and settings_path(k) is None
    )
    assert not unused, f"no code or settings field reads {unused}"


def test_settings_load_under_the_stack_environment(
    stack: Stack, stack_process_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bantay.settings import load_settings

    env = stack_process_env(stack)
    config = stack.host_path("airflow-worker", env["BANTAY_CONFIG"])
    assert config is not None, f"BANTAY_CONFIG={env['BANTAY_CONFIG']} is not bind-mounted"
    monkeypatch.setenv("BANTAY_CONFIG", str(config))  # the same file, seen from this machine
    settings = load_settings()

    # Every BANTAY_<SECTION>__<KEY> took effect (a wrong value type would have raised).
    for key, value in env.items():
        path = settings_path(key) if key.startswith("BANTAY_") else None
        if path:
            actual: Any = settings
            for part in path:
                actual = getattr(actual, part)
            if hasattr(actual, "get_secret_value"):
                actual = actual.get_secret_value()
            assert str(actual) == value, f"{key}={value!r} but settings have {actual!r}"
    # bantay.yaml was read from the mounted file (its models differ from the defaults).
    project_file = yaml.safe_load(config.read_text())
    assert len(settings.models) == len(project_file["models"])
    for model, written in zip(settings.models, project_file["models"], strict=True):
        for key, value in written.items():
            assert getattr(model, key) == value, f"bantay.yaml models.{key} was not applied"

    assert settings.storage.bucket == stack.senv("minio-init")["BUCKET"], (
        "BANTAY_STORAGE__BUCKET is not the bucket minio-init creates"
    )
    repo = stack.host_path("airflow-worker", settings.feast.repo_path)
    assert repo is not None and (repo / settings.feast.store_yaml).is_file()
    assert settings.notify.airflow_base_url == stack.env["AIRFLOW__API__BASE_URL"]
    if stack.defaults:  # the links in e-mails open the UI this stack publishes
        base = urlsplit(settings.notify.airflow_base_url)
        assert base.port == stack.host_port("airflow-apiserver", CONTAINER_PORTS["apiserver"])

    from bantay.stores.connections import REGISTRY_URL_ENV

    conn_ids = dict(conn_id_settings(settings))
    assert {"storage.aws_conn_id", "notify.smtp_conn_id", "registry_conn_id"} <= set(conn_ids)
    for field, conn_id in conn_ids.items():
        provided = f"AIRFLOW_CONN_{conn_id.upper()}" in env
        if (
            field == "registry_conn_id"
        ):  # bantay.stores.connections.registry_url reads the URL first
            provided = provided or REGISTRY_URL_ENV in env
        assert provided, f"settings.{field}={conn_id!r} but no AIRFLOW_CONN_{conn_id.upper()}"


def test_connections_point_at_the_stack_services(
    stack: Stack, stack_process_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from bantay.settings import load_settings
    from bantay.stores.connections import registry_url, s3_hook

    env = stack_process_env(stack)
    config = stack.host_path("airflow-worker", env["BANTAY_CONFIG"])
    monkeypatch.setenv("BANTAY_CONFIG", str(config))  # the same file, seen from this machine

    s3 = s3_hook("aws_default")
    endpoint = urlsplit(s3.get_conn().meta.endpoint_url)
    minio = stack.services["minio"]
    assert endpoint.hostname == "minio" and "minio" in stack.image_of("minio")
    assert endpoint.port == CONTAINER_PORTS["minio_api"]
    assert _command_option(minio, "--address") == f":{endpoint.port}", "MinIO listens elsewhere"
    credentials = s3.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == (
        stack.senv("minio")["MINIO_ROOT_USER"],
        stack.senv("minio")["MINIO_ROOT_PASSWORD"],
    ), "aws_default does not log in with MinIO's root credentials"
    assert len(stack.senv("minio")["MINIO_ROOT_PASSWORD"]) >= 8, "MinIO refuses shorter passwords"

    hook = SmtpHook(smtp_conn_id="smtp_default")
    hook.smtp_connection = hook.get_connection("smtp_default")
    assert hook.host == "mailpit" and "mailpit" in stack.image_of("mailpit")
    assert hook.port == CONTAINER_PORTS["smtp"]
    assert not hook.use_ssl and not hook.smtp_starttls, "Mailpit speaks plain SMTP"

    url = make_url(registry_url(load_settings()))
    pg = stack.senv("postgres")
    assert url.drivername == "postgresql+psycopg2" and url.host == "postgres"
    assert (url.username, url.password, url.database) == (
        pg["BANTAY_DB_USER"],
        pg["BANTAY_DB_PASSWORD"],
        pg["BANTAY_DB_NAME"],
    ), "BANTAY_REGISTRY_URL does not match the database the postgres init script creates"


def test_postgres_init_script_creates_the_registry_database() -> None:
    compose = load_compose({})
    postgres = compose["services"]["postgres"]
    initdb = Stack(compose, defaults=True).host_path("postgres", "/docker-entrypoint-initdb.d")
    assert initdb is not None and initdb.is_dir(), "no init scripts mounted into postgres"
    scripts = sorted(p for p in initdb.iterdir() if p.suffix in (".sh", ".sql"))
    assert scripts, f"{initdb} has no .sh or .sql script"
    text = "\n".join(p.read_text() for p in scripts)
    for script in scripts:
        if script.suffix == ".sh":
            assert os.access(script, os.X_OK), f"{script} must be executable (else it is sourced)"
    for key in ("BANTAY_DB_NAME", "BANTAY_DB_USER", "BANTAY_DB_PASSWORD"):
        assert key in service_env(postgres), f"postgres service does not pass {key}"
        assert key in text, f"the init script ignores {key}"


def test_feast_store_resolves_to_the_stack(stack: Stack, stack_process_env) -> None:
    from feast.infra.online_stores.redis import RedisOnlineStore
    from feast.infra.registry.sql import metadata as feast_metadata
    from feast.repo_config import load_repo_config

    from bantay.stores.registry import ALEMBIC_VERSION_TABLE, Base

    env = stack_process_env(stack)
    repo = stack.host_path("airflow-worker", env["BANTAY_FEAST__REPO_PATH"])
    store_yaml = repo / env["BANTAY_FEAST__STORE_YAML"]
    expanded = os.path.expandvars(store_yaml.read_text())  # what Feast does
    assert "${" not in expanded, f"unset variable left in {store_yaml.name}: {expanded}"
    config = load_repo_config(repo, store_yaml)

    assert config.registry.registry_type == "sql"
    registry = make_url(config.registry.path)
    pg = stack.senv("postgres")
    assert (registry.host, registry.database) == ("postgres", pg["BANTAY_DB_NAME"])
    ours = {*Base.metadata.tables, ALEMBIC_VERSION_TABLE}
    assert not ours & set(feast_metadata.tables), "Feast and bantay registry tables collide"

    assert config.online_store.type == "redis"
    nodes, params = RedisOnlineStore._parse_connection_string(config.online_store.connection_string)
    assert [(n["host"], int(n["port"])) for n in nodes] == [("redis", CONTAINER_PORTS["redis"])]
    broker_db = int(urlsplit(stack.env["AIRFLOW__CELERY__BROKER_URL"]).path.strip("/") or 0)
    assert int(params.get("db", 0)) != broker_db, "Feast and Celery share one Redis database"


# --------------------------------------------------------------------------------------------
# Volumes, ports, dependencies, health
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Variables and secrets
# --------------------------------------------------------------------------------------------


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
