"""The drift day's shared parts: one formatter for every number, the page's address as Airflow's
shell shows it, and times that read UTC until the page's script localises them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from markupsafe import Markup

from bantay.monitoring.guards import Decision
from bantay.monitoring.results import DriftResult, FeatureDrift
from bantay.notify import fmt
from bantay.notify.day_parts import (
    PAGES_ROUTE,
    day_parts,
    drift_day_url,
    email_css,
    page_css,
    render_parts,
)
from bantay.vocabulary import Action, Verdict
from support.fairness_days import FAIRNESS

DAY = dt.date(2026, 11, 22)


def _result() -> DriftResult:
    features = [
        FeatureDrift("a", "numerical", "wasserstein", 0.31, 0.1, True),
        FeatureDrift("b", "numerical", "psi", None, 0.2, False),
    ]
    return DriftResult(
        features=features,
        drifted_share=0.5,
        n_drifted=1,
        n_features=2,
        dataset_drift=True,
        drift_share_threshold=0.3,
        prediction=FeatureDrift("score", "numerical", "wasserstein", 0.05, 0.1, False),
        data_quality=[],
        classification=None,
        reference_rows=12345,
        current_rows=678,
        reference_rows_total=20000,
        current_rows_total=700,
        verdict=Verdict.DRIFT,
        day=DAY.isoformat(),
    )


def test_every_number_of_the_parts_is_written_by_the_formatter() -> None:
    parts = day_parts(
        _result(),
        Decision(Action.HELD_PERSISTENCE, "day 1 of 2", streak=1, needed=2),
        model="m",
        date=DAY,
    )
    a, b = parts["rows"]
    assert (a["score"], a["threshold"]) == ("0.310", "0.100")
    assert (b["score"], b["threshold"]) == (fmt.MISSING, "0.200")  # not computed: an en dash
    assert parts["prediction"]["threshold"] == "0.100" and parts["prediction"]["drifted"] == "no"
    assert parts["rows_compared"]["reference"] == "12,345"
    assert parts["drifted_pct"] == "50%" and parts["share_threshold_pct"] == "30%"
    assert parts["subject"].startswith("[bantay] DRIFT m 2026-11-22: watching, day 1 of 2")
    assert parts["quality"] is None and parts["performance"] is None


def test_the_page_styles_the_parts_by_class_and_the_email_inline() -> None:
    parts = day_parts(_result(), None, model="m", date=DAY)
    charts = [{"title": "a | wasserstein 0.310 (threshold 0.100)", "src": "cid:chart-0.png"}]
    on_page = render_parts({**parts, "css": page_css(), "charts": charts})
    in_email = render_parts({**parts, "css": email_css(parts["verdict_key"]), "charts": charts})
    assert "style=" not in "".join(on_page.values())
    assert 'style="' in in_email["day_tables"] and "#d9480f" in in_email["day_head"]
    for name in on_page:  # the same text: only the styles differ
        assert _text(on_page[name]) == _text(in_email[name]), name
    assert "0.310 0.100 yes" in _text(on_page["day_tables"])


def test_the_fairness_part_has_the_pages_chart_under_its_heading_and_none_in_the_email() -> None:
    parts = day_parts(dataclasses.replace(_result(), fairness=FAIRNESS), None, model="m", date=DAY)
    css = email_css(parts["verdict_key"])
    in_email = render_parts({**parts, "css": css, "charts": []})["day_fairness"]
    assert 'id="fairness"' in in_email and "<svg" not in in_email
    chart = Markup('<figure id="slice-charts"><svg></svg></figure>')
    context = {**parts, "css": page_css(), "charts": [], "fairness_chart": chart}
    on_page = render_parts(context)["day_fairness"]
    marks = ("Fairness across slices", 'id="slice-charts"', 'id="fairness"')
    assert [on_page.index(m) for m in marks] == sorted(on_page.index(m) for m in marks)
    assert _text(on_page) == _text(in_email)  # the same lines, the chart beside them


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_page_address_is_the_shells() -> None:
    url = drift_day_url("https://airflow.example.org/base/", "learner risk", DAY)
    assert url == (
        f"https://airflow.example.org/base/plugin/{PAGES_ROUTE}/bantay/models/learner%20risk/drift/"
        "2026-11-22"
    )


def test_times_are_time_elements_reading_utc() -> None:
    moment = dt.datetime(2026, 11, 22, 5, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    tag = str(fmt.time_tag(moment))
    assert tag == '<time datetime="2026-11-22T03:15:30Z">2026-11-22 03:15 UTC</time>'
    assert fmt.time_tag(None) == fmt.MISSING and fmt.time_tag("not a time") == fmt.MISSING
