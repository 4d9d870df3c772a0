"""The ``bantay.yaml`` reference, generated from the settings schema: every key with its type,
default, allowed values or range and description, one section per block, each with an example.

``bantay config reference > docs/configuration.md`` writes it; a unit test regenerates it and
fails when the committed file and the schema differ.
"""

from __future__ import annotations

import json
import re
import types
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from bantay.settings.core import Settings
from bantay.settings.source import model_at

HEADER = """# `bantay.yaml` reference

Generated from the settings schema by `bantay config reference > docs/configuration.md`; do not
edit by hand (a unit test fails when this file and the schema differ).

Every key can also be set from the environment: `BANTAY_<KEY>`, nested with `__` (e.g.
`BANTAY_STORAGE__BUCKET=prod-models`). Precedence: environment, then `bantay.yaml` (path in
`BANTAY_CONFIG`, default `./bantay.yaml`), then the defaults below. A wrong key or value fails
when the configuration loads; `bantay config check` also checks every model against the Feast
registry, its label feed and its label delay.
"""

_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _suffix(field: FieldInfo) -> str:
    """How a block's key is written: ``[]`` for a list of blocks, ``.<name>`` for named ones."""
    origin = get_origin(field.annotation)
    return {list: "[]", tuple: "[]", dict: ".<name>"}.get(origin, "")


def _sections(
    model: type[BaseModel], key: str, out: list[tuple[str, type[BaseModel]]]
) -> list[tuple[str, type[BaseModel]]]:
    """Every block of the tree, depth first: ``(key as written in bantay.yaml, its model)``."""
    out.append((key, model))
    for name, field in model.model_fields.items():
        inner = model_at(model, [name])
        if inner is not None:
            _sections(inner, f"{key}.{name}{_suffix(field)}".lstrip("."), out)
    return out


def _type(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return "str"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type):
        return annotation.__name__
    if get_origin(annotation) in (Union, types.UnionType):
        return " | ".join(_type(a) for a in get_args(annotation))
    text = str(annotation).replace("typing.", "")
    return re.sub(r"(?:[a-z_]+\.)+([A-Za-z]+)", r"\1", text)


def _allowed(field: FieldInfo) -> str:
    if get_origin(field.annotation) is Literal:
        return ", ".join(f"`{v}`" for v in get_args(field.annotation))
    parts = []
    for meta in field.metadata:
        for attr, sign in _BOUNDS:
            if getattr(meta, attr, None) is not None:
                parts.append(f"{sign} {getattr(meta, attr)}")
        if getattr(meta, "pattern", None):
            parts.append(f"matches `{meta.pattern}`")
        if getattr(meta, "min_length", None):
            parts.append(f"at least {meta.min_length} item(s)")
    return ", ".join(parts)


def _default(field: FieldInfo) -> Any:
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return [v.model_dump(mode="json") for v in value]
    return json.loads(json.dumps(value, default=str))


def _example(field: FieldInfo) -> Any:
    """A value for a required key: its declared example, else the first allowed value."""
    if field.examples:
        return field.examples[0]
    if get_origin(field.annotation) is Literal:
        return get_args(field.annotation)[0]
    return None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _nested(key: str, example: dict[str, Any]) -> dict[str, Any]:
    """``example`` placed under its key path, as it is written in bantay.yaml."""
    nested: Any = example
    for part in reversed([p for p in key.split(".") if p]):
        if part == "<name>":
            part = "column_name"
        nested = {part.removesuffix("[]"): [nested] if part.endswith("[]") else nested}
    return nested


def _section(key: str, model: type[BaseModel]) -> str:
    title = key or "top level"
    doc = (model.__doc__ or "").strip().split("\n\n")[0]
    rows = ["| Key | Type | Default | Allowed | Description |", "| --- | --- | --- | --- | --- |"]
    example: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if model_at(model, [name]) is not None:
            see = f"{key + '.' if key else ''}{name}{_suffix(field)}"
            rows.append(f"| `{name}` | block | | | see `{see}` |")
            continue
        default = _default(field)
        required = field.is_required()
        shown = "required" if required else f"`{json.dumps(default)}`"
        rows.append(
            f"| `{name}` | {_cell(_type(field.annotation))} | {_cell(shown)} | "
            f"{_cell(_allowed(field))} | {_cell(field.description or '')} |"
        )
        example[name] = _example(field) if required else default
    snippet = yaml.safe_dump(_nested(key, example), sort_keys=False, width=96)
    return (
        f"## `{title}`\n\n{' '.join(doc.split())}\n\n" + "\n".join(rows) + "\n\nExample (the "
        f"defaults):\n\n```yaml\n{snippet}```\n"
    )


def reference() -> str:
    """The whole reference, as markdown."""
    return HEADER + "".join("\n" + _section(k, m) for k, m in _sections(Settings, "", []))
