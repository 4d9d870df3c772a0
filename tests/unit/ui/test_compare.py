"""What the Compare page says of two versions: same-row metrics only when the registry has them,
gate checks and parameters side by side with their differences, the drift thresholds the
reference distances are read against, and one S3 read per pair (the reader is a stand-in that
counts reads; versions are registry records built here)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd

from bantay.settings.drift import DriftConfig
from bantay.stores.registry import VersionRecord
from bantay.ui import compare

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def record(version: str, day: int, **fields) -> VersionRecord:
    base = {
        "id": day,
        "model": "learner_risk",
        "version": version,
        "status": "approved",
        "metrics": {"test": {"pr_auc": 0.5, "roc_auc": 0.8}},
        "params": {"estimator": "hgb", "max_depth": 3},
        "gate": [],
        "lineage": {},
        "reason": "weekly",
        "rejection_reason": None,
        "airflow_run_id": None,
        "created_at": T0 + dt.timedelta(days=day),
        "updated_at": T0 + dt.timedelta(days=day),
    }
    return VersionRecord(**{**base, **fields})


def test_same_rows_come_from_the_newer_version_evaluated_against_the_older():
    old = record("v1", 0)
    new = record(
        "v2",
        7,
        lineage={"compared_with": "v1", "compared_on": {"rows": 1234}},
        metrics={
            "test": {"pr_auc": 0.61},
            "production_on_same_test": {"pr_auc": 0.52, "roc_auc": 0.81},
            "candidate_on_compared_rows": {"pr_auc": 0.58, "roc_auc": 0.84},
        },
    )
    found = compare.same_rows(new, old)  # A is the newer one: columns follow A and B
    assert found["on"] == "v2" and found["rows"] == 1234
    pr = next(r for r in found["metrics"] if r["name"] == "pr_auc")
    assert (pr["a"], pr["b"]) == (0.58, 0.52)
    assert round(pr["change"], 6) == -0.06


def test_no_same_rows_when_the_newer_was_compared_with_a_third_version():
    old = record("v1", 0)
    new = record(
        "v3",
        9,
        lineage={"compared_with": "v2"},
        metrics={"test": {}, "production_on_same_test": {"pr_auc": 0.5}},
    )
    assert compare.same_rows(old, new) is None
    assert compare.same_rows(old, record("v4", 10)) is None  # never compared at all


def test_gate_checks_differ_on_status_and_a_missing_check_shows_on_one_side():
    a = record("v1", 0, gate=[{"name": "q", "status": "passed", "value": 0.8}])
    b = record(
        "v2",
        1,
        gate=[
            {"name": "q", "status": "failed", "value": 0.6},
            {"name": "fairness", "status": "skipped"},
        ],
    )
    rows = {r["name"]: r for r in compare.gate_pairs(a, b)}
    assert rows["q"]["differs"] and rows["fairness"]["differs"]
    assert rows["fairness"]["a"] is None
    same = compare.gate_pairs(a, a)
    assert not any(r["differs"] for r in same)


def test_parameters_are_flagged_where_they_differ():
    a = record("v1", 0, params={"estimator": "hgb", "max_depth": 3})
    b = record("v2", 1, params={"estimator": "hgb", "max_depth": 5, "l2": 0.1})
    rows = {r["name"]: r for r in compare.side_by_side(a.params, b.params)}
    assert [k for k, r in rows.items() if r["differs"]] == ["max_depth", "l2"]
    assert rows["l2"]["a"] is None and rows["max_depth"]["b"] == 5


def test_recall_by_slice_and_its_change():
    def sliced(recall):
        return {"test": {}, "slices": {"region": {"north": {"recall": recall}}}}

    rows = compare.slice_rows(
        record("v1", 0, metrics=sliced(0.6)), record("v2", 1, metrics=sliced(0.7))
    )
    assert rows[0]["slice"] == "region" and rows[0]["value"] == "north"
    assert round(rows[0]["change"], 6) == 0.1


def test_a_feature_judged_with_another_method_has_no_threshold_on_the_page():
    config = DriftConfig(
        per_column_method={"region": "psi"}, per_column_threshold={"study_minutes": 0.3}
    )
    kinds = {
        "study_minutes": "numerical",
        "quiz_score_avg": "numerical",
        "region": "categorical",
        "parent_abroad": "categorical",
    }
    found = compare.drift_thresholds(config, kinds)
    assert found == {
        "study_minutes": 0.3,
        "quiz_score_avg": config.numerical_threshold,
        "region": None,
        "parent_abroad": config.categorical_threshold,
    }


class CountingReader:
    """A stand-in Reader: settings, a store naming its bucket, and references from memory."""

    def __init__(self, references: dict[str, pd.DataFrame | None]) -> None:
        from bantay.settings import get_settings

        self.settings = get_settings()
        self.store = SimpleNamespace(objects=SimpleNamespace(bucket="b", prefix="p"))
        self.references = references
        self.reads: list[str] = []
        self.errors: list[str] = []

    def reference(self, model: str, version: str):
        self.reads.append(version)
        return self.references.get(version)


def test_a_pair_is_read_once_and_its_references_are_compared_older_to_newer():
    compare.clear_cache()
    values = np.linspace(0, 10, 200)
    older = pd.DataFrame({"study_minutes": values, "region": ["north"] * 200})
    newer = pd.DataFrame({"study_minutes": values + 5, "region": ["south"] * 200})
    reader = CountingReader({"v1": older, "v2": newer})
    a, b = record("v2", 5), record("v1", 0)  # A is the newer one
    first = compare.comparison(reader, "learner_risk", a, b)
    again = compare.comparison(reader, "learner_risk", a, b)
    assert reader.reads == ["v1", "v2"] and again is first
    shifts = {s.feature: s for s in first["shifts"]}
    assert round(shifts["study_minutes"].distance, 6) == round(5 / np.std(values), 6)
    assert shifts["study_minutes"].summary[0] < shifts["study_minutes"].summary[1]
    assert shifts["region"].over and first["older"] == "v1"


def test_a_version_without_a_reference_is_said_so_and_not_cached_on_a_read_error():
    compare.clear_cache()
    reader = CountingReader({"v1": None})
    found = compare.comparison(reader, "learner_risk", record("v1", 0), record("v2", 1))
    assert found["shifts"] is None and reader.reads == ["v1"]  # the second is not read
    reader.errors.append("could not read the drift reference")
    compare.clear_cache()
    compare.comparison(reader, "learner_risk", record("v1", 0), record("v2", 1))
    compare.comparison(reader, "learner_risk", record("v1", 0), record("v2", 1))
    assert reader.reads == ["v1", "v1", "v1"]
