"""The version, Compare and drift day pages as a browser gets them, through the pages' routes:
what a model leans on, the recall by slice beside the champion, both versions' explanations and
recall gaps side by side, and a drift day's fairness lines with their chart per slice. The reader
is a stand-in holding registry records (no S3: nothing published) and drift days' checks as they
are stored (JSON); the explanations and fairness records of versions are made by training's own
functions on synthetic rows, so the pages render what training stores, and a drift day's fairness
is hand-built with known flags. Airflow's auth is not in this app (the routes' authorisation is
tested against Airflow's API app in tests/integration)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html as htmllib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bantay.monitoring.day_check import DayCheck
from bantay.monitoring.guards import Decision
from bantay.notify.fairness_wording import attribution_lines, fairness_lines
from bantay.notify.fmt import count, delta, num, pct, tiny
from bantay.settings import get_settings
from bantay.stores.registry import DriftReportRecord
from bantay.training.fairness import CANDIDATE, CHAMPION
from bantay.ui import charts, compare, pages
from bantay.ui.render import HERE
from bantay.vocabulary import Action, Verdict
from support.fairness_days import ATTRIBUTION, FAIRNESS, unlabelled
from support.monitoring_frames import quiet_result
from support.version_metrics import (
    MODEL,
    explanation,
    own_fairness,
    record,
    versus_champion,
)


class StandInReader:
    """The pages' reader over registry records in memory: no pointer, shadow, manifest or
    reference (the versions were never published); drift days as rows with their check as
    stored beside the report (JSON), or None where none was kept."""

    def __init__(self, *versions, days=None) -> None:
        self.settings = get_settings()
        self.records = {v.version: v for v in versions}
        self.days: dict[dt.date, tuple[DriftReportRecord, str | None]] = days or {}
        self.store = SimpleNamespace(objects=SimpleNamespace(bucket="b", prefix="p"))
        self.errors: list[str] = []

    def known_model(self, model: str) -> bool:
        return model == MODEL

    def model_names(self) -> list[str]:
        return [MODEL]

    def version(self, model: str, version: str):
        return self.records.get(version)

    def versions(self, model: str):
        return sorted(self.records.values(), key=lambda v: v.created_at, reverse=True)

    def pointer(self, model: str):
        return None

    def shadow(self, model: str):
        return None

    def manifest(self, model: str, version: str):
        return None

    def reference(self, model: str, version: str):
        return None

    def promotions(self, model: str):
        return []

    def drift(self, model: str, since=None):
        return []

    def drift_day(self, model: str, day: dt.date):
        return self.days[day][0] if day in self.days else None

    def recent_drift(self, model: str, days: int):
        rows = sorted((row for row, _ in self.days.values()), key=lambda r: r.report_date)
        return rows[-days:], len(rows)

    def day_check(self, model: str, day: dt.date):
        stored = self.days.get(day, (None, None))[1]
        return DayCheck.from_data(json.loads(stored)) if stored else None


@pytest.fixture
def pages_of(monkeypatch):
    """A test client of the pages' routes over the given versions (and drift days)."""

    def client(*versions, days=None) -> TestClient:
        compare.clear_cache()
        stand_in = StandInReader(*versions, days=days)
        monkeypatch.setattr(pages, "reader", lambda: stand_in)
        app = FastAPI()
        app.include_router(pages.router)
        return TestClient(app, follow_redirects=False)

    return client


def table(html: str, name: str) -> str:
    found = re.search(rf'<table id="{name}".*?</table>', html, re.S)
    assert found, f"no table {name}"
    return found.group(0)


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def body_rows(html: str, name: str) -> list[tuple[str, list[str]]]:
    """Each body row of table ``name``: its opening tag and the text of its cells."""
    body = re.search(r"<tbody>(.*?)</tbody>", table(html, name), re.S).group(1)
    return [
        (tag, [text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", inside, re.S)])
        for tag, inside in re.findall(r"(<tr[^>]*>)(.*?)</tr>", body, re.S)
    ]


def interval(r: dict) -> str:
    return f"{num(r['value'])} ({num(r['low'])}–{num(r['high'])})"


# -- Version page ------------------------------------------------------------------------------


def test_the_version_page_lists_what_the_model_leans_on(pages_of):
    stored = explanation("hgb", 2)
    client = pages_of(record("v1", 0, metrics={"explanation": stored}))
    page = client.get(f"/models/{MODEL}/versions/v1")
    assert page.status_code == 200, page.text[:300]
    html = page.text
    means = stored["global"]["mean_abs_attribution"]
    protected = set(get_settings().model(MODEL).reasons.protected)
    rows = body_rows(html, "explanation")
    order = [re.search(r'data-feature="([^"]+)"', tag)[1] for tag, _ in rows]
    assert order == sorted(means, key=lambda f: -means[f])
    total, top = sum(means.values()), max(means.values())
    for i, ((tag, cells), feature) in enumerate(zip(rows, order, strict=True), start=1):
        note = "protected, never a reason" if feature in protected else ""
        assert cells == [
            str(i),
            feature,
            num(means[feature]),
            pct(means[feature] / total),
            "",
            note,
        ]
        assert ("protected" in tag) == (feature in protected)
    widths = [float(w) for w in re.findall(r'<rect width="([^"]+)"', table(html, "explanation"))]
    assert widths[0] == charts.BAR_WIDTH
    assert widths == [charts.bar_width(means[f], top) for f in order]
    basis = text(re.search(r'<p[^>]*id="explanation-basis"[^>]*>(.*?)</p>', html, re.S)[1])
    assert f"{count(stored['global']['rows'])} test rows" in basis and "tree_path" in basis
    assert f"to within {tiny(stored['additivity']['max_error'])}" in basis
    assert "within the tolerance of 1.0e-06" in basis
    assert 'id="no-explanation"' not in html


def test_a_version_without_an_explanation_says_so_in_one_muted_line(pages_of):
    html = pages_of(record("v0", 0)).get(f"/models/{MODEL}/versions/v0").text
    line = re.search(r'<p class="muted" id="no-explanation">([^<]+)</p>', html)
    assert line and "No global explanation" in line[1]
    assert 'id="explanation"' not in html and "What the model leans on" in html


def test_an_additivity_error_beyond_the_tolerance_or_unrecorded_is_said_so(pages_of):
    stored = explanation("lr", 1)
    stored["additivity"]["max_error"] = 2.5e-3
    html = pages_of(record("v1", 0, metrics={"explanation": stored})).get(
        f"/models/{MODEL}/versions/v1"
    )
    assert '<span class="fail" id="additivity">beyond the tolerance of 1.0e-06' in html.text
    assert "to within 2.5e-03" in html.text
    del stored["additivity"]
    unrecorded = pages_of(record("v1", 0, metrics={"explanation": stored})).get(
        f"/models/{MODEL}/versions/v1"
    )
    assert '<span id="additivity">Additivity check: not recorded</span>' in unrecorded.text
    assert 'id="explanation"' in unrecorded.text  # the importances are shown all the same


def test_recall_by_slice_beside_the_champion_shows_groups_intervals_and_gaps(pages_of):
    versus = versus_champion(blind="luzon")
    metrics = {"fairness_versus_champion": versus}
    version = record("v2", 7, metrics=metrics, lineage={"compared_with": "v1"})
    html = pages_of(version).get(f"/models/{MODEL}/versions/v2").text
    rows = body_rows(html, "fairness-versus")
    expected = []
    for name, found in versus["slices"].items():
        for group, g in found["groups"].items():
            head = [name, group, count(g["rows"]), count(g["positives"])]
            if g["too_small"]:
                expected.append(head + ["too small to judge"])
            elif g["recall"]:
                expected.append(
                    head + [interval(g["recall"][CANDIDATE]), interval(g["recall"][CHAMPION])]
                )
            else:  # judged, but its slice has one judged group only: no recall, no gap
                expected.append(head + ["–", "–"])
        if found["gaps"]:
            gaps = found["gaps"]
            expected.append(
                [
                    f"{name}: recall gap (best − worst group)",
                    interval(gaps[CANDIDATE]),
                    interval(gaps[CHAMPION]),
                ]
            )
    assert [cells for _, cells in rows] == expected
    # What the record holds, rendered: a group too small, a gap row, the champion's wider gap.
    assert ["region", "mindanao"] in [cells[:2] for _, cells in rows if "too small" in cells[-1]]
    gap_rows = [tag for tag, _ in rows if 'class="gap"' in tag]
    assert len(gap_rows) == 1  # parent_abroad has one judged group: no gap
    assert versus["slices"]["region"]["gaps"][CHAMPION]["worst"] == "luzon"
    intro = text(
        re.search(r"<h2>Recall by slice against the champion</h2>\s*<p[^>]*>(.*?)</p>", html, re.S)[
            1
        ]
    )
    assert f"same {count(versus['rows'])} test rows as v1" in intro
    assert f"95% bootstrap intervals from {versus['n_boot']} resamples" in intro
    assert f"under {versus['min_slice_rows']} rows or {versus['min_slice_positives']}" in intro


def test_a_version_without_a_champion_has_no_table_beside_it(pages_of):
    html = pages_of(record("v1", 0)).get(f"/models/{MODEL}/versions/v1").text
    assert 'id="fairness-versus"' not in html


# -- Compare page ------------------------------------------------------------------------------


def test_compare_puts_both_explanations_side_by_side_with_moved_ranks_and_ndcg(pages_of):
    a = record("v1", 0, metrics={"explanation": explanation("lr", 1)})
    b = record("v2", 7, metrics={"explanation": explanation("hgb", 2)})
    html = pages_of(a, b).get(f"/models/{MODEL}/compare?a=v1&b=v2").text
    found = compare.explanation_rows(a, b, get_settings().model(MODEL).reasons.protected)
    rows = body_rows(html, "explanations")
    assert len(rows) == len(found["rows"])
    for (tag, cells), r in zip(rows, found["rows"], strict=True):
        name = r["feature"] + (" protected, never a reason" if r["protected"] else "")
        assert cells == [
            name,
            num(r["a"]),
            num(r["b"]),
            delta(r["change"]),
            str(r["rank_a"]),
            str(r["rank_b"]),
        ]
        assert ("changed" in tag) == (r["rank_a"] != r["rank_b"])
    assert any("changed" in tag for tag, _ in rows)
    said = text(re.search(r'<p id="explanation-ndcg">(.*?)</p>', html, re.S)[1])
    assert said.startswith(
        f"NDCG of B's ranking of the features, graded by A's importances: {num(found['ndcg'])}"
    )
    assert f"over the {found['shared']} features both explain" in said


def test_compare_puts_both_recall_gaps_by_slice_side_by_side(pages_of):
    fair, blind = own_fairness(), own_fairness(blind="luzon")
    a = record("v1", 0, metrics={"fairness": fair})
    b = record("v2", 7, metrics={"fairness": blind})
    html = pages_of(a, b).get(f"/models/{MODEL}/compare?a=v1&b=v2").text
    rows = dict(
        (re.search(r'data-slice="([^"]+)"', tag)[1], cells)
        for tag, cells in body_rows(html, "fairness")
    )
    assert list(rows) == ["region", "parent_abroad"]
    gap_a = fair["slices"]["region"]["gaps"][CANDIDATE]
    gap_b = blind["slices"]["region"]["gaps"][CANDIDATE]
    small = fair["slices"]["region"]["groups"]["mindanao"]
    too_small = f"too small to judge: mindanao ({count(small['rows'])} rows, {count(small['positives'])} positives)"
    assert rows["region"] == [
        "region",
        f"{interval(gap_a)} worst {gap_a['worst']}, best {gap_a['best']} {too_small}",
        f"{interval(gap_b)} worst luzon, best {gap_b['best']} {too_small}",
        delta(gap_b["value"] - gap_a["value"]),
    ]
    assert rows["parent_abroad"][1].startswith("fewer than two groups large enough to judge")
    assert rows["parent_abroad"][3] == "–"
    basis = text(re.search(r'<p[^>]*id="fairness-basis"[^>]*>(.*?)</p>', html, re.S)[1])
    assert f"cut {num(fair['thresholds'][CANDIDATE])}" in basis
    assert f"cut {num(blind['thresholds'][CANDIDATE])}" in basis


def test_compare_says_what_neither_version_recorded(pages_of):
    a = record("v1", 0, metrics={"explanation": explanation("lr", 1)})
    html = pages_of(a, record("v2", 7)).get(f"/models/{MODEL}/compare?a=v1&b=v2").text
    assert 'id="no-fairness"' in html and 'id="fairness"' not in html
    assert "No global explanation stored with v2" in html
    assert 'id="explanation-ndcg"' not in html
    assert not any("changed" in tag for tag, _ in body_rows(html, "explanations"))
    bare = pages_of(record("v1", 0), record("v2", 7)).get(f"/models/{MODEL}/compare?a=v1&b=v2")
    assert 'id="no-explanations"' in bare.text and 'id="explanations"' not in bare.text


# -- Drift day ---------------------------------------------------------------------------------

DAY = dt.date(2026, 11, 22)


def drift_day(day: dt.date, fairness=None, attribution=None, *, before_fairness=False):
    """A drift row of ``day`` and its check as stored; ``before_fairness``: stored by a check
    that recorded neither fairness nor attribution (no such keys in its JSON)."""
    verdict = Verdict.FAIRNESS if fairness and fairness.regressed else Verdict.OK
    result = dataclasses.replace(
        quiet_result(verdict, day), fairness=fairness, attribution=attribution
    )
    check = DayCheck(
        model=MODEL,
        day=day,
        result=result,
        decision=Decision(Action.NO_ACTION, "no drift"),
        report_html=None,
        report_json=None,
        report_url="(no report: too few rows)",
        baseline=None,
        reference_sample=pd.DataFrame(),
        current_sample=pd.DataFrame(),
    )
    data = check.as_data()
    if before_fairness:
        for key in ("fairness", "attribution"):
            del data["evidence"]["result"][key]
    at = dt.datetime.combine(day, dt.time(6), dt.UTC)
    row = DriftReportRecord(
        id=1,
        model=MODEL,
        report_date=day,
        verdict=str(verdict),
        drifted_share=0.0,
        n_drifted=0,
        n_features=3,
        feature_scores={},
        report_html_uri=None,
        report_json_uri=None,
        decision=str(Action.NO_ACTION),
        decision_detail="no drift",
        airflow_run_id="scheduled__2026-11-22",
        created_at=at,
        updated_at=at,
    )
    return row, json.dumps(data)


def listed(html: str, name: str) -> list[str]:
    found = re.search(rf'<ul id="{name}"[^>]*>(.*?)</ul>', html, re.S)
    assert found, f"no list {name}"
    return [htmllib.unescape(text(li)) for li in re.findall(r"<li>(.*?)</li>", found[1], re.S)]


def slice_svgs(html: str) -> list[ET.Element]:
    found = re.search(r'<figure id="slice-charts">(.*?)</figure>', html, re.S)
    assert found, "no slice charts"
    return [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", found[1], re.S)]


def _drift_page(pages_of, **days) -> str:
    client = pages_of(days={DAY: drift_day(DAY, **days)})
    page = client.get(f"/models/{MODEL}/drift/{DAY}")
    assert page.status_code == 200, page.text[:300]
    assert 'class="banner warn"' not in page.text  # no reading error
    return page.text


def test_the_drift_day_shows_the_fairness_lines_and_a_chart_per_slice(pages_of):
    html = _drift_page(pages_of, fairness=FAIRNESS, attribution=ATTRIBUTION)
    assert listed(html, "fairness") == fairness_lines(FAIRNESS)  # the e-mail's own lines
    assert listed(html, "attribution") == attribution_lines(ATTRIBUTION)
    svgs = slice_svgs(html)
    assert [s.get("data-slice") for s in svgs] == ["region", "parent_abroad"]
    region = svgs[0]
    ns = {"s": "http://www.w3.org/2000/svg"}
    regressed = [
        c for c in region.iterfind(".//s:circle", ns) if "regressed" in c.get("class").split()
    ]
    assert len(regressed) == len([r for r in FAIRNESS.regressed if r.slice == "region"]) == 1
    assert region.get("aria-label").startswith("region:")
    caption = text(re.search(r"<figcaption>(.*?)</figcaption>", html, re.S)[1])
    assert "2026-11-10 … 2026-11-11" in caption and "allowed gap (0.25)" in caption
    # The e-mail's order (the day's facts, fairness, the tables), the chart under the heading.
    marks = ('id="day-facts"', "Fairness across slices", 'id="slice-charts"', 'id="fairness"')
    order = [html.index(m) for m in (*marks, 'id="attribution"', 'id="features"')]
    assert order == sorted(order)


def test_before_labels_matured_the_chart_has_flag_rates_alone(pages_of):
    html = _drift_page(pages_of, fairness=unlabelled())
    svgs = slice_svgs(html)
    circles = [c for s in svgs for c in s.iter("{http://www.w3.org/2000/svg}circle")]
    assert len(svgs) == 2 and circles == []
    assert all("no matured labels yet" in s.get("aria-label") for s in svgs)
    assert "recall" not in " ".join(listed(html, "fairness"))
    assert 'id="attribution"' not in html  # the version had no explanation to compare with


def test_a_day_checked_before_fairness_shows_neither_lines_nor_chart(pages_of):
    html = _drift_page(pages_of, fairness=FAIRNESS, attribution=ATTRIBUTION, before_fairness=True)
    assert 'id="what-to-do"' in html  # the e-mail's facts were kept, without fairness
    assert 'id="fairness"' not in html and 'id="attribution"' not in html
    assert 'id="slice-charts"' not in html and "<svg" not in html
    row, _ = drift_day(DAY)
    unkept = pages_of(days={DAY: (row, None)}).get(f"/models/{MODEL}/drift/{DAY}").text
    assert 'id="no-email"' in unkept and 'id="slice-charts"' not in unkept


# -- Both themes -------------------------------------------------------------------------------


def test_the_new_bars_and_marks_take_their_colours_from_both_themes():
    css = (Path(HERE) / "static" / "bantay.css").read_text()
    themes = {
        name: set(
            re.findall(
                r"(--[\w-]+):",
                re.search(re.escape(f'[data-theme="{name}"]') + r"[^{]*\{([^}]*)\}", css)[1],
            )
        )
        for name in ("light", "dark")
    }
    rules = re.findall(
        r"([^{}]*(?:svg\.bar|protected-note|td\.rank|svg\.slices)[^{}]*)\{([^}]*)\}", css
    )
    assert len(rules) >= 4 and any("svg.slices" in selector for selector, _ in rules)
    for selector, body in rules:
        colours = re.findall(r"(?:fill|background|color|border|stroke)[^:]*:\s*([^;]+)", body)
        for value in colours:
            assert "#" not in value, (selector, value)  # a fixed colour would not follow the theme
            for variable in re.findall(r"var\((--[\w-]+)\)", value):
                assert all(variable in found for found in themes.values()), variable
