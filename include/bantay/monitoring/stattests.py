"""Evidently's drift statistics, called the way Evidently's ``ValueDrift`` calls them.

One column's drift is ``get_stattest`` + the test object's call on the non-null values: the
same function Evidently's reports use, returning Evidently's own drift score and drifted flag.
Called directly, a test costs milliseconds instead of the ~0.15 s of a report metric (which
renders plots), so the daily decision can judge every day of the window per feature; the HTML
report is still Evidently's, built once per check.

The configured methods are checked against Evidently's registry here (:func:`check_methods`, by
the drift task and ``bantay config check``), not when configuration loads: the settings do not
import Evidently, which costs seconds.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pandas as pd
from evidently.legacy.calculations import stattests as registry
from evidently.legacy.calculations.stattests import get_stattest
from evidently.legacy.core import ColumnType

from bantay.settings.drift import ColumnKind, DriftConfig


@cache
def stattests() -> dict[str, frozenset[str]]:
    """Evidently's registered drift methods and the column kinds each supports."""
    out: dict[str, set[str]] = {}
    for name in registry.__all__:
        test = getattr(registry, name)
        if isinstance(test, registry.StatTest):
            kinds = {str(getattr(t, "value", t)) for t in test.allowed_feature_types}
            kinds &= {"num", "cat"}
            if kinds:
                out.setdefault(test.name, set()).update(kinds)
    names = {"num": "numerical", "cat": "categorical"}
    return {k: frozenset(names[x] for x in v) for k, v in out.items()}


@dataclasses.dataclass(frozen=True)
class ColumnTest:
    """Evidently's answer for one column: score, drifted flag and the threshold it used."""

    method: str
    score: float
    threshold: float
    drifted: bool


def column_drift(
    reference: pd.Series,
    current: pd.Series,
    kind: ColumnKind,
    method: str,
    threshold: float | None,
) -> ColumnTest | None:
    """Evidently's drift test of one column; None when either side has no values."""
    if kind == "numerical":  # as Evidently does: infinities are missing values
        reference = reference.replace([-np.inf, np.inf], np.nan)
        current = current.replace([-np.inf, np.inf], np.nan)
    ref, cur = reference.dropna(), current.dropna()
    if ref.empty or cur.empty:
        return None
    column_type = ColumnType.Categorical if kind == "categorical" else ColumnType.Numerical
    test = get_stattest(ref, cur, column_type, method)
    result = test(ref, cur, column_type, threshold)
    return ColumnTest(
        method=test.name,
        score=float(result.drift_score),
        threshold=float(result.actual_threshold),
        drifted=bool(result.drifted),
    )


@cache
def higher_is_drift(method: str, kind: ColumnKind) -> bool:
    """Whether a larger score means more drift (a distance) or less (a p-value).

    Asked of Evidently itself: the test of a sample against itself scores "no drift", which is
    0 for a distance and 1 for a p-value.
    """
    values = ["a", "b", "c"] * 20 if kind == "categorical" else [float(i % 13) for i in range(60)]
    same = pd.Series(values)
    result = column_drift(same, same, kind, method, None)
    return result is None or result.score < 0.5


def method_errors(config: DriftConfig) -> list[str]:
    """Every configured method Evidently does not know, or not for that column kind."""
    known = stattests()
    errors = []
    for key, method, kind in config.configured_methods():
        if method not in known:
            errors.append(
                f"{key}: unknown drift method {method!r}; Evidently's methods: {sorted(known)}"
            )
        elif kind not in known[method]:
            allowed = sorted(m for m, kinds in known.items() if kind in kinds)
            errors.append(
                f"{key}: method {method!r} does not support {kind} columns; use one of {allowed}"
            )
    return errors


def check_methods(config: DriftConfig, where: str = "drift") -> DriftConfig:
    """``config``, once every method it names is one of Evidently's for that column kind;
    ValueError listing each one that is not, under ``where`` (the block's key)."""
    errors = method_errors(config)
    if errors:
        raise ValueError("; ".join(f"{where}.{e}" for e in errors))
    return config
