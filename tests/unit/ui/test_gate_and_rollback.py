"""The version page's gate count, the rollback targets and the decision threshold, from the
registry's records (stand-ins)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from bantay.ui.views import (
    FALLBACK_THRESHOLD,
    decision_threshold,
    decision_thresholds,
    gate_summary,
    rollback_targets,
)


def _check(name: str, status: str) -> dict:
    return {"name": name, "passed": status != "failed", "status": status}


def _version(version: str, status: str = "archived", **metrics) -> SimpleNamespace:
    return SimpleNamespace(
        version=version,
        status=status,
        gate=[],
        metrics={"test": metrics},
        created_at=dt.datetime(2026, 1, 1),
    )


def test_a_skipped_check_counts_apart_from_the_passed_ones() -> None:
    v = _version("v1")
    v.gate = [_check(f"c{i}", "passed") for i in range(11)] + [_check("slices", "skipped")]
    g = gate_summary(v)
    assert (g["n_passed"], g["n"], g["skipped"], g["passed"]) == (11, 11, ["slices"], True)
    v.gate = [*v.gate, _check("no_regression", "failed"), _check("fair", "overridden")]
    g = gate_summary(v)
    assert (g["n_passed"], g["n"], g["failed"], g["overridden"]) == (
        12,
        13,
        ["no_regression"],
        ["fair"],
    )
    assert gate_summary(_version("v0"))["n_checks"] == 0


def test_only_archived_versions_that_served_before_may_be_rolled_back_to() -> None:
    versions = [  # newest first, as the reader gives them
        _version("v5", "candidate"),
        _version("v4", "production"),
        _version("v3", "approved"),  # approved, never promoted
        _version("v2", "archived"),  # served, then replaced
        _version("v1", "archived"),  # archived without ever serving
        _version("v0", "archived"),  # served first
    ]
    promotions = [SimpleNamespace(to_version=v) for v in ("v4", "v2", "v0")]
    targets = rollback_targets(versions, promotions, "v4")
    assert [v.version for v in targets] == ["v2", "v0"]


def test_the_decision_threshold_is_the_versions_own() -> None:
    assert decision_threshold(_version("v1", threshold_at_precision=0.682)) == 0.682
    assert decision_threshold(_version("v2", threshold_at_precision=None)) == FALLBACK_THRESHOLD
    both = decision_thresholds([_version("a", threshold_at_precision=0.7), _version("b")])
    assert both == {"a": 0.7, "b": FALLBACK_THRESHOLD}
