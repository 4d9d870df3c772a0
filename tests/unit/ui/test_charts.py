"""The Drift tab's charts draw what a verdict rests on: a DRIFT day whose score drifted is over
the threshold line, whatever share of the features drifted (drift rows are stand-ins)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from bantay.ui import charts

DAY = dt.date(2026, 11, 20)


def _row(day: int, score: float | None, features: dict[str, float], share: float = 0.0):
    prediction = (
        {
            "column": "score",
            "method": "wasserstein",
            "score": score,
            "threshold": 0.1,
            "drifted": score > 0.1,
        }
        if score is not None
        else None
    )
    scores = {
        name: {"score": s, "threshold": 0.1, "drifted": s > 0.1, "method": "wasserstein"}
        for name, s in features.items()
    }
    return SimpleNamespace(
        report_date=DAY + dt.timedelta(days=day),
        drifted_share=share,
        feature_scores=scores,
        prediction_drift=prediction,
    )


def test_a_day_whose_score_drifted_is_drawn_over_the_threshold() -> None:
    quiet = _row(0, 0.03, {"a": 0.02, "b": 0.05})
    drifted = _row(1, 0.65, {"a": 0.02, "b": 0.05}, share=0.0)  # no feature moved: share 0
    chart = charts.ratio_chart([{"row": quiet}, {"row": None}, {"row": drifted}])
    assert chart["top"] == 7.0  # 0.65 / 0.1 = 6.5x, the box reaches it
    threshold = float(chart["threshold_y"])
    (dot,) = chart["dots"]
    assert dot["day"] == drifted.report_date and float(dot["y"]) < threshold
    assert abs(dot["ratio"] - 6.5) < 1e-9
    first, second = chart["score_points"].split()
    assert float(first.split(",")[1]) > threshold > float(second.split(",")[1])
    assert second.startswith("10,")  # the third day of the strip (4 px a day)
    assert chart["score"]["threshold"] == 0.1 and chart["has_score"]


def test_the_worst_feature_line_and_rows_without_a_score_drift() -> None:
    old = _row(0, None, {"a": 0.3, "b": 0.05})  # a row written before the score was kept
    chart = charts.ratio_chart([{"row": old}])
    assert chart["score_points"] == "" and not chart["has_score"] and chart["dots"] == []
    assert chart["top"] == 3.0 and chart["feature_points"] == "2,0.0"  # 3x: the box's top
    name, ratio = charts.worst_feature(old)
    assert name == "a" and abs(ratio - 3.0) < 1e-9


def test_the_heatmap_puts_the_score_first_and_skips_what_is_not_a_score() -> None:
    row = _row(0, 0.65, {"a": 0.3})
    row.feature_scores["note"] = "not a score"
    lines = charts.heatmap([row])
    assert [line["feature"] for line in lines] == ["score (prediction)", "a"]
    assert lines[0]["cells"][0]["level"] == 3 and lines[0]["cells"][0]["drifted"]
    assert charts.ratio({"score": 0.05, "threshold": 0}) is None
    assert charts.ratio({"score": None, "threshold": 0.1}) is None


def test_an_inline_bar_is_as_long_as_its_value_against_the_tables_largest() -> None:
    top = 0.8
    assert charts.bar_width(top, top) == charts.BAR_WIDTH
    assert charts.bar_width(0.2, top) == charts.BAR_WIDTH / 4
    assert charts.bar_width(0.2, top, width=40) == 10
    # Nothing to draw: missing, not a number, not positive, or an empty table.
    for value, largest in ((None, top), (float("nan"), top), (-0.1, top), (0.0, top), (0.3, 0)):
        assert charts.bar_width(value, largest) == 0
