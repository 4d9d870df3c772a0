"""The Models page says which guard holds a model's retrain and when it releases, not only the
weekly count (the reader is a stand-in with the settings; drift rows are stand-ins too); the
version page says what a version leans on and how fair it was on its own test rows, from the
records training stores (made by training's own functions on synthetic rows)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from bantay.settings import get_settings
from bantay.training.fairness import CANDIDATE
from bantay.ui import charts, views
from bantay.ui.views import fairness_gaps, guard_state, ranks
from support.synthetic import FEATURES
from support.version_metrics import GROUPS, explanation, own_fairness, record

DAY = dt.date(2026, 11, 20)


def _row(day: dt.date, decision: str, detail: str) -> SimpleNamespace:
    return SimpleNamespace(report_date=day, decision=decision, decision_detail=detail)


def test_the_guard_that_holds_is_named_with_its_release() -> None:
    reader = SimpleNamespace(settings=get_settings())
    detail = "the labels of the drifted period mature on 2026-12-03; ...; evidence: labels observed on 2026-11-01"
    held = guard_state(reader, "learner_risk", [_row(DAY, "guard_held:labels", detail)])
    assert held.holding == "labels"
    assert held.why.startswith("the labels of the drifted period mature on 2026-12-03")
    assert "evidence" not in held.why
    quiet = guard_state(reader, "learner_risk", [_row(DAY, "no_action", "no drift")])
    assert quiet.holding is None and quiet.why is None


def test_a_retrain_button_states_the_latest_hold() -> None:
    from bantay.ui.views import hold_of

    detail = "the labels of the drifted period mature on 2026-12-03; evidence: labels to 11-08"
    older = _row(DAY - dt.timedelta(days=1), "guard_held:labels", detail)
    assert hold_of([older, _row(DAY, "no_action", "no drift")]) is None
    assert hold_of([]) is None
    hold = hold_of([_row(DAY, "guard_held:labels", detail)])
    assert hold == {
        "day": DAY,
        "guard": "labels",
        "why": "the labels of the drifted period mature on 2026-12-03",
        "labels": True,
    }
    assert not hold_of([_row(DAY, "guard_held:cooldown", "cooldown until 2026-11-27")])["labels"]


# -- What a version leans on, and its own fairness -------------------------------------------

PROTECTED = ("grade_level", "region", "parent_abroad")


def test_the_version_leans_on_every_feature_largest_first_with_its_share_and_bar() -> None:
    stored = explanation("hgb", 2)
    found = views.leans_on(record("v1", 0, metrics={"explanation": stored}), PROTECTED)
    means = stored["global"]["mean_abs_attribution"]
    features = found["features"]
    assert [f["feature"] for f in features] == sorted(means, key=lambda f: -means[f])
    assert {f["feature"] for f in features} == set(FEATURES.names)
    assert [f["rank"] for f in features] == list(range(1, len(means) + 1))
    total = sum(means.values())
    for f in features:
        assert abs(f["share"] - means[f["feature"]] / total) < 1e-12
        assert f["protected"] == (f["feature"] in PROTECTED)
    assert abs(sum(f["share"] for f in features) - 1) < 1e-9
    top = features[0]["value"]
    assert features[0]["bar"] == charts.BAR_WIDTH
    assert all(abs(f["bar"] - charts.BAR_WIDTH * f["value"] / top) <= 0.05 for f in features)
    assert found["method"] == "tree_path" and "tree path" in found["method_words"]
    assert found["rows"] == stored["global"]["rows"] and found["on"] == "test rows"
    assert found["max_error"] == stored["additivity"]["max_error"] and found["within"] is True


def test_an_additivity_error_beyond_the_tolerance_or_unrecorded_is_said_so() -> None:
    stored = explanation("lr", 1)
    stored["additivity"]["max_error"] = 3e-4
    beyond = views.leans_on(record("v1", 0, metrics={"explanation": stored}), PROTECTED)
    assert beyond["within"] is False and beyond["method"] == "linear"
    del stored["additivity"]
    unknown = views.leans_on(record("v1", 0, metrics={"explanation": stored}), PROTECTED)
    assert unknown["within"] is None and unknown["max_error"] is None
    assert len(unknown["features"]) == len(stored["global"]["mean_abs_attribution"])


def test_a_version_registered_before_explanations_has_none() -> None:
    assert views.leans_on(record("v0", 0), PROTECTED) is None
    assert views.leans_on(record("v0", 0, metrics={"explanation": {}}), PROTECTED) is None
    assert views.importances(None) == {} and views.explanation_of(None) == {}


def test_ranks_put_the_largest_first_and_keep_the_stored_order_on_ties() -> None:
    assert ranks({"a": 0.1, "b": 0.3, "c": 0.1, "d": 0.2}) == {"b": 1, "d": 2, "a": 3, "c": 4}
    assert ranks({}) == {}


def test_own_fairness_gives_each_slices_gap_and_the_groups_too_small_to_judge() -> None:
    stored = own_fairness(blind="luzon")
    found = fairness_gaps(stored)
    region = found["region"]
    assert region["gap"] == stored["slices"]["region"]["gaps"][CANDIDATE]
    assert region["gap"]["worst"] == "luzon"  # the region it is blind in
    assert region["judged"] == 2
    small = stored["slices"]["region"]["groups"]["mindanao"]
    assert region["too_small"] == [
        {"group": "mindanao", "rows": GROUPS["mindanao"], "positives": small["positives"]}
    ]
    abroad = found["parent_abroad"]  # one group only is large enough: no gap to give
    assert abroad["gap"] is None and abroad["judged"] == 1
    assert [g["group"] for g in abroad["too_small"]] == ["1"]
    assert fairness_gaps(None) == {} and fairness_gaps({}) == {}
