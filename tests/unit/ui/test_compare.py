"""What the Compare page says of two versions: same-row metrics only when the registry has them,
gate checks and parameters side by side with their differences, the drift thresholds the
reference distances are read against, what each model leans on and how far its ranking of the
features moved, each one's recall gap per slice, and one S3 read per pair (the reader is a
stand-in that counts reads; versions are registry records built here, their explanations and
fairness records made by training's own functions on synthetic rows)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd

from bantay.monitoring.attribution import ranking_ndcg
from bantay.settings.drift import DriftConfig
from bantay.stores.registry import VersionRecord
from bantay.training.fairness import CANDIDATE
from bantay.ui import compare, views
from support.version_metrics import GROUPS, explanation, own_fairness

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


# -- What the models lean on ----------------------------------------------------------------

PROTECTED = ("grade_level", "region", "parent_abroad")


def explained(version: str, day: int, family: str, seed: int) -> VersionRecord:
    return record(version, day, metrics={"explanation": explanation(family, seed)})


def ndcg_by_hand(graded_by: dict[str, float], order_of: dict[str, float]) -> float:
    """DCG of ``order_of``'s ranking with ``graded_by``'s importances as gains, over the ideal."""
    gains = [graded_by[f] for f in sorted(order_of, key=lambda f: -order_of[f])]
    ideal = sorted(graded_by.values(), reverse=True)
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    return dcg / sum(g / np.log2(i + 2) for i, g in enumerate(ideal))


def test_two_explanations_side_by_side_in_as_order_with_the_moved_ranks_marked():
    a, b = explained("v1", 0, "lr", 1), explained("v2", 7, "hgb", 2)
    left, right = views.importances(a), views.importances(b)
    found = compare.explanation_rows(a, b, PROTECTED)
    rows = found["rows"]
    assert [r["feature"] for r in rows] == sorted(left, key=lambda f: -left[f])
    for i, r in enumerate(rows, start=1):
        f = r["feature"]
        assert (r["a"], r["b"], r["rank_a"]) == (left[f], right[f], i)
        assert r["rank_b"] == 1 + sum(v > right[f] for v in right.values())
        assert abs(r["change"] - (right[f] - left[f])) < 1e-12
        assert r["rank_changed"] == (r["rank_a"] != r["rank_b"])
        assert r["protected"] == (f in PROTECTED)
    assert any(r["rank_changed"] for r in rows) and not all(r["rank_changed"] for r in rows)
    assert found["methods"] == ("linear", "tree_path") and found["missing"] == []
    # B's ranking graded by A's importances, not the other way round.
    assert abs(found["ndcg"] - ndcg_by_hand(left, right)) < 1e-9 and found["ndcg"] < 1
    assert abs(found["ndcg"] - ndcg_by_hand(right, left)) > 1e-6
    assert found["shared"] == len(left)


def test_the_same_ranking_has_ndcg_one_and_nothing_marked():
    a, b = explained("v1", 0, "lr", 1), explained("v2", 7, "lr", 1)
    found = compare.explanation_rows(a, b, PROTECTED)
    assert abs(found["ndcg"] - 1.0) < 1e-12
    assert not any(r["rank_changed"] for r in found["rows"])
    assert all(r["change"] == 0 for r in found["rows"])


def test_a_feature_only_one_version_explains_comes_last_and_is_marked():
    stored = explanation("lr", 1)
    means = stored["global"]["mean_abs_attribution"]
    top = next(iter(means))
    del means[top]  # A does not know B's most important feature
    a, b = record("v1", 0, metrics={"explanation": stored}), explained("v2", 7, "lr", 1)
    found = compare.explanation_rows(a, b, PROTECTED)
    last = found["rows"][-1]
    assert last["feature"] == top and last["rank_a"] is None and last["rank_b"] == 1
    assert last["change"] is None and last["rank_changed"]
    assert found["shared"] == len(means)
    assert abs(found["ndcg"] - ranking_ndcg(means, views.importances(b))) < 1e-12


def test_a_version_without_an_explanation_is_named_and_nothing_is_ranked_against_it():
    a, b = explained("v1", 0, "lr", 1), record("v2", 7)
    found = compare.explanation_rows(a, b, PROTECTED)
    assert found["missing"] == ["v2"] and found["ndcg"] is None
    assert [r["b"] for r in found["rows"]] == [None] * len(found["rows"])
    assert not any(r["rank_changed"] for r in found["rows"])
    assert compare.explanation_rows(b, a, PROTECTED)["missing"] == ["v2"]
    assert compare.explanation_rows(record("v1", 0), b, PROTECTED) is None


# -- Recall gaps by slice ---------------------------------------------------------------------


def test_each_versions_recall_gap_by_slice_and_its_change():
    fair, blind = own_fairness(), own_fairness(blind="luzon")
    a = record("v1", 0, metrics={"fairness": fair})
    b = record("v2", 7, metrics={"fairness": blind})
    found = compare.fairness_rows(a, b)
    rows = {r["slice"]: r for r in found["rows"]}
    assert list(rows) == ["region", "parent_abroad"]
    region = rows["region"]
    gap_a = fair["slices"]["region"]["gaps"][CANDIDATE]
    gap_b = blind["slices"]["region"]["gaps"][CANDIDATE]
    assert region["a"]["gap"] == gap_a and region["b"]["gap"] == gap_b
    assert abs(region["change"] - (gap_b["value"] - gap_a["value"])) < 1e-12
    assert region["change"] > 0 and gap_b["worst"] == "luzon"  # blind in luzon: wider
    for side in (region["a"], region["b"]):
        assert [g["group"] for g in side["too_small"]] == ["mindanao"]
        assert side["too_small"][0]["rows"] == GROUPS["mindanao"]
    abroad = rows["parent_abroad"]
    assert abroad["a"]["gap"] is None and abroad["change"] is None
    basis = found["basis"]
    assert [x["rows"] for x in basis] == [sum(GROUPS.values())] * 2
    assert basis[0]["threshold"] == fair["thresholds"][CANDIDATE]
    assert basis[1]["threshold"] == blind["thresholds"][CANDIDATE]
    assert found["missing"] == []


def test_a_version_without_its_fairness_is_named_and_neither_gives_none():
    a = record("v1", 0, metrics={"fairness": own_fairness()})
    b = record("v2", 7, metrics={"fairness": None})
    found = compare.fairness_rows(a, b)
    assert found["missing"] == ["v2"] and found["basis"][1] is None
    assert all(r["b"] is None and r["change"] is None for r in found["rows"])
    assert compare.fairness_rows(b, record("v3", 8)) is None


def test_the_comparison_carries_explanations_and_fairness_with_the_protected_marked():
    compare.clear_cache()
    reader = CountingReader({})
    a = record("v1", 0, metrics={"explanation": explanation("lr", 1), "fairness": own_fairness()})
    b = explained("v2", 7, "hgb", 2)
    found = compare.comparison(reader, "learner_risk", a, b)
    protected = set(reader.settings.model("learner_risk").reasons.protected)
    assert protected  # the default feeds declare some
    marked = {r["feature"] for r in found["explanations"]["rows"] if r["protected"]}
    assert marked == protected & set(views.importances(a))
    assert found["fairness"]["missing"] == ["v2"]
    assert compare.comparison(reader, "learner_risk", a, b) is found
