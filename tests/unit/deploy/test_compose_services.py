"""The services of the stack, their shared Airflow anchor, and the image they run."""

from __future__ import annotations

import re
import tomllib
from pathlib import PurePosixPath

import yaml

from support.compose import (
    AIRFLOW_SERVICES,
    BACKING_SERVICES,
    COMPOSE_FILE,
    DOCKERFILE,
    DOCKERIGNORE,
    ROOT,
    Stack,
    interpolate,
    load_compose,
    service_env,
)


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
