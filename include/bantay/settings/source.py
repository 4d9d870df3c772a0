"""Where configuration comes from and how its mistakes are told: ``bantay.yaml`` read strictly (one
mapping at the top, no key written twice), and validation errors named the way a person wrote
them: ``models[learner_risk].drift.numerical_columns (line 42)``, not ``models.2...``,
with a "did you mean" for a misspelt key.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_settings import YamlConfigSettingsSource

_NAMES_ITS_KEY = re.compile(r"^[a-z_]+(\[[a-z0-9_]+\])?[.:\[]")


class ConfigError(ValueError):
    """Raised for bad configuration; the message names each bad key and what is allowed."""


def config_path() -> Path | None:
    """The project file: ``BANTAY_CONFIG`` when set (it must exist), else ``./bantay.yaml`` when
    there is one, else None (defaults and the environment only)."""
    explicit = os.environ.get("BANTAY_CONFIG")
    path = Path(explicit or "bantay.yaml")
    if explicit and not path.is_file():
        # A named file that is not there is a deploy mistake, not a reason to run on defaults.
        raise ConfigError(
            f"BANTAY_CONFIG names {explicit}, which does not exist; point it at the project "
            "file (bantay.yaml) or unset it"
        )
    return path if path.is_file() else None


def key_path(loc: Sequence[str | int], data: Any = None) -> str:
    """``loc`` as written in bantay.yaml: list items by their ``name`` when they have one
    (``models[learner_risk].gate``), else by position (``search_space[0]``)."""
    out = ""
    for part in loc:
        item = None
        if isinstance(part, int):
            if isinstance(data, list) and 0 <= part < len(data):
                item = data[part]
            name = item.get("name") if isinstance(item, dict) else None
            out += f"[{name}]" if isinstance(name, str) else f"[{part}]"
        else:
            item = data.get(part) if isinstance(data, dict) else None
            out += f".{part}" if out else str(part)
        data = item
    return out or "the top level"


def line_of(loc: Sequence[str | int], node: yaml.Node | None) -> int | None:
    """The line of the deepest key of ``loc`` found in the composed YAML (None: not in the file,
    e.g. set by a ``BANTAY_*`` variable)."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if str(getattr(k, "value", None)) == str(part)]
            if not match:
                break
            line, node = match[-1][0].start_mark.line + 1, match[-1][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def refuse_duplicates(node: yaml.Node, source: str, data: Any, path: tuple[Any, ...] = ()) -> None:
    """Raise ``ConfigError`` for a key written twice in one mapping, anywhere in the file.

    YAML loaders keep the last of two equal keys without a word, so an ``approval: manual``
    followed further down by ``approval: auto`` would quietly deploy the second."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name != "<<":
                line = key.start_mark.line + 1
                if name in seen:
                    raise ConfigError(
                        f"{source}, line {line}: key {name!r} under {key_path(path, data)} is "
                        f"already set at line {seen[name]}; YAML would silently keep only the "
                        "last one. Keep one of them and delete the other"
                    )
                seen[name] = line
            refuse_duplicates(value, source, data, (*path, name or "?"))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            refuse_duplicates(item, source, data, (*path, index))


def _compose(text: str, source: str) -> yaml.Node | None:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None or isinstance(root, yaml.MappingNode):
        return root
    is_list = isinstance(root, yaml.SequenceNode)
    kind = "a list" if is_list else f"the single value {str(root.value)[:40]!r}"
    fix = (
        "put the list under the key it belongs to (a list of models goes under 'models:')"
        if is_list
        else "write settings as 'key: value' lines (see bantay.yaml in the repository)"
    )
    raise ConfigError(
        f"{source}, line {root.start_mark.line + 1}: the file is {kind}, but bantay.yaml "
        f"must be a mapping of settings at the top (project:, models:, storage:, ...); {fix}"
    )


class ProjectFile(YamlConfigSettingsSource):
    """``bantay.yaml``, read strictly: one mapping at the top, no key written twice."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        source = str(file_path)
        text = Path(file_path).read_text(encoding="utf-8")
        root = _compose(text, source)
        if root is None:
            return {}
        data = yaml.safe_load(text) or {}
        refuse_duplicates(root, source, data)
        return data


def _read_quietly(path: Path | None) -> tuple[Any, yaml.Node | None]:
    """The file's data and node tree for naming errors; nothing when it cannot be read."""
    if path is None:
        return None, None
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None, None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``list[ModelSettings]``, ``GateConfig | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is dict:  # name: block (a feed's columns)
        return _model_of(get_args(annotation)[1])
    if get_origin(annotation) in (list, tuple, Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The settings block (pydantic model) that ``loc`` points into; None past a plain value."""
    current: type[BaseModel] | None = root
    keyed = False  # the previous part was a ``name: block`` mapping: this part is a name
    for part in loc:
        if isinstance(part, int) or keyed:
            keyed = False
            continue
        if current is None or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        keyed = get_origin(annotation) is dict
        current = _model_of(annotation)
    return current


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for a close match among ``choices``, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _message(err: Any, root: type[BaseModel]) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        block = model_at(root, err["loc"][:-1])
        allowed = sorted(block.model_fields) if block else []
        hint = did_you_mean(str(err["loc"][-1]), allowed)
        if hint or not allowed:
            return f"unknown key{hint} (see docs/configuration.md)"
        return f"unknown key; allowed here: {', '.join(allowed)} (see docs/configuration.md)"
    if err["type"] == "literal_error":
        return f"got {err.get('input')!r}; allowed values: {err['ctx']['expected']}"
    return msg


def format_error(exc: ValidationError, root: type[BaseModel]) -> str:
    """Every error of ``exc``, one a line: the key as written (models by name), the file line
    when known, what is wrong and what is allowed."""
    path = config_path()
    data, node = _read_quietly(path)
    source = str(path) if path else "bantay.yaml"
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if isinstance(p, int | str)]
        line = line_of(loc, node)
        where = f" (line {line})" if line else ""
        message = _message(err, root)
        if not loc and _NAMES_ITS_KEY.match(message):
            lines.append(f"  {message}")  # a cross-check that names the key it is about
            continue
        lines.append(f"  {key_path(loc, data)}{where}: {message}")
    return f"invalid bantay configuration ({source} and BANTAY_* environment):\n" + "\n".join(lines)
