"""Reading docker-compose.yaml the way Compose does (interpolation, env files, mounts, ports,
dependencies) and what the code reads (environment names, settings paths, connection ids), for
the compose tests in ``tests/unit/deploy/``. Nothing here talks to Docker or the network."""

from __future__ import annotations

import ast
import base64
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel

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


def command_option(service: Mapping[str, Any], option: str) -> str | None:
    command = service.get("command") or []
    words = shlex.split(command) if isinstance(command, str) else list(command)
    return words[words.index(option) + 1] if option in words else None


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
