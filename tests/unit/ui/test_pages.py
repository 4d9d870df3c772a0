"""The version and Compare pages as a browser gets them, through the pages' routes: what a model
leans on, the recall by slice beside the champion, and both versions' explanations and recall
gaps side by side. The reader is a stand-in holding registry records (no S3: nothing published);
the explanations and fairness records in them are made by training's own functions on synthetic
rows, so the pages render what training stores. Airflow's auth is not in this app (the routes'
authorisation is tested against Airflow's API app in tests/integration)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bantay.notify.fmt import count, delta, num, pct, tiny
from bantay.settings import get_settings
from bantay.training.fairness import CANDIDATE, CHAMPION
from bantay.ui import charts, compare, pages
from bantay.ui.render import HERE
from support.version_metrics import (
    MODEL,
    explanation,
    own_fairness,
    record,
    versus_champion,
)


class StandInReader:
    """The pages' reader over registry records in memory: no pointer, shadow, drift, manifest
    or reference (the versions were never published)."""

    def __init__(self, *versions) -> None:
        self.settings = get_settings()
        self.records = {v.version: v for v in versions}
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


@pytest.fixture
def pages_of(monkeypatch):
    """A test client of the pages' routes over the given versions."""

    def client(*versions) -> TestClient:
        compare.clear_cache()
        stand_in = StandInReader(*versions)
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
    rules = re.findall(r"([^{}]*(?:svg\.bar|protected-note|td\.rank)[^{}]*)\{([^}]*)\}", css)
    assert len(rules) >= 4
    for selector, body in rules:
        colours = re.findall(r"(?:fill|background|color|border)[^:]*:\s*([^;]+)", body)
        for value in colours:
            assert "#" not in value, (selector, value)  # a fixed colour would not follow the theme
            for variable in re.findall(r"var\((--[\w-]+)\)", value):
                assert all(variable in found for found in themes.values()), variable
