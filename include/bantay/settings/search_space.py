"""The search space from bantay.yaml expanded into trials: one JSON-able dict per setting, so
Airflow can map a task over them."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict


class SearchSpaceError(ValueError):
    """The configured search space names an unknown estimator or parameter, or a bad value."""


class Trial(TypedDict):
    """One point of the search space; plain JSON so Airflow can ``.expand()`` over a list."""

    trial_id: str
    name: str
    estimator: str
    params: dict[str, Any]


def _positive_number(v: Any) -> bool:
    return is_finite_number(v) and v > 0


def _non_negative_number(v: Any) -> bool:
    return is_finite_number(v) and v >= 0


def _unit_interval(v: Any) -> bool:
    return is_finite_number(v) and 0 <= v <= 1


def _open_unit_interval(v: Any) -> bool:
    return is_finite_number(v) and 0 < v <= 1


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _positive_int_or_none(v: Any) -> bool:
    return v is None or _positive_int(v)


def _leaf_nodes(v: Any) -> bool:
    return v is None or (_positive_int(v) and v >= 2)


def is_finite_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# estimator name -> parameter -> (validator, what a valid value is)
ESTIMATOR_PARAMS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "logistic_regression": {
        "C": (_positive_number, "a number > 0"),
        "l1_ratio": (_unit_interval, "a number in [0, 1]"),
        "max_iter": (_positive_int, "an integer > 0"),
        "tol": (_positive_number, "a number > 0"),
    },
    "hist_gradient_boosting": {
        "learning_rate": (_positive_number, "a number > 0"),
        "max_iter": (_positive_int, "an integer > 0"),
        "max_depth": (_positive_int_or_none, "an integer > 0 or null"),
        "max_leaf_nodes": (_leaf_nodes, "an integer >= 2 or null"),
        "min_samples_leaf": (_positive_int, "an integer > 0"),
        "l2_regularization": (_non_negative_number, "a number >= 0"),
        "max_features": (_open_unit_interval, "a number in (0, 1]"),
    },
}


def expand_search_space(spec: Iterable[Mapping[str, Any]]) -> list[Trial]:
    """One Trial per combination of each candidate's parameter lists, with a stable trial_id.

    ``spec`` is a list like ``[{"name": "hgb", "estimator": "hist_gradient_boosting",
    "params": {"max_depth": [3, 6]}}]``; a scalar parameter value means a one-element list.
    Errors name the offending key (``search_space[1].params.max_dept``) and the allowed values.
    """
    trials: list[Trial] = []
    seen_names: set[str] = set()
    candidates = list(spec)
    if not candidates:
        raise SearchSpaceError(
            "search_space is empty; list at least one candidate such as "
            '{"name": "logreg", "estimator": "logistic_regression", "params": {"C": [1.0]}}.'
        )
    for i, raw in enumerate(candidates):
        cand = raw.model_dump() if hasattr(raw, "model_dump") else raw
        where = f"search_space[{i}]"
        if not isinstance(cand, Mapping):
            raise SearchSpaceError(f"{where} must be a mapping, got {type(cand).__name__}.")
        unknown = sorted(set(cand) - {"name", "estimator", "params"})
        if unknown:
            raise SearchSpaceError(
                f"{where}.{unknown[0]} is not a known key; allowed keys: name, estimator, params."
            )
        estimator = cand.get("estimator")
        if estimator not in ESTIMATOR_PARAMS:
            raise SearchSpaceError(
                f"{where}.estimator is {estimator!r}; allowed values: "
                f"{', '.join(sorted(ESTIMATOR_PARAMS))}."
            )
        name = cand.get("name", estimator)
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "-:,="):
            raise SearchSpaceError(
                f"{where}.name is {name!r}; use a short non-empty name without '-', ':', ',' or '='."
            )
        if name in seen_names:
            raise SearchSpaceError(f"{where}.name {name!r} is used twice; candidate names differ.")
        seen_names.add(name)
        grid = _param_grid(cand.get("params") or {}, estimator, f"{where}.params")
        keys = sorted(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            params = dict(zip(keys, combo, strict=True))
            trials.append(
                Trial(
                    trial_id=_trial_id(name, params),
                    name=name,
                    estimator=estimator,
                    params=params,
                )
            )
    return trials


def _param_grid(params: Any, estimator: str, where: str) -> dict[str, list[Any]]:
    if not isinstance(params, Mapping):
        raise SearchSpaceError(f"{where} must be a mapping of parameter -> list of values.")
    allowed = ESTIMATOR_PARAMS[estimator]
    grid: dict[str, list[Any]] = {}
    for key, values in params.items():
        if key not in allowed:
            raise SearchSpaceError(
                f"{where}.{key} is not a tunable parameter of {estimator}; allowed: "
                f"{', '.join(sorted(allowed))}."
            )
        values = list(values) if isinstance(values, list | tuple) else [values]
        if not values:
            raise SearchSpaceError(f"{where}.{key} is an empty list; give at least one value.")
        check, expected = allowed[key]
        for v in values:
            if not check(v):
                raise SearchSpaceError(f"{where}.{key} has value {v!r}; it must be {expected}.")
        if len({json.dumps(v) for v in values}) != len(values):
            raise SearchSpaceError(f"{where}.{key} lists a value twice: {values!r}.")
        grid[key] = values
    return grid


def as_trial(data: Mapping[str, Any]) -> Trial:
    """A Trial from a mapping that crossed XCom; names what is missing."""
    missing = [k for k in ("trial_id", "name", "estimator") if k not in data]
    if missing:
        raise SearchSpaceError(
            f"Not a trial (missing {', '.join(missing)}): {dict(data)!r}. "
            "Use the dicts made by expand_search_space."
        )
    return Trial(
        trial_id=str(data["trial_id"]),
        name=str(data["name"]),
        estimator=str(data["estimator"]),
        params=dict(data.get("params") or {}),
    )


def _trial_id(name: str, params: Mapping[str, Any]) -> str:
    if not params:
        return name
    return name + "-" + ",".join(f"{k}={json.dumps(params[k])}" for k in sorted(params))
