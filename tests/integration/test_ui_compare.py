"""Compare two versions on the bantay pages inside Airflow's API app, against the seeded registry
and S3 store (plus one approved version published here with a moved drift reference, evaluated
against production on the same test rows)."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import numpy as np
import pytest

from support.services import moto_s3  # noqa: F401
from support.ui import LAST_DAY, MODELS, seeded_ui, ui  # noqa: F401
from support.ui_seed import FEATURES, SAME_ROWS, SHIFT, publish_approved

pytestmark = pytest.mark.integration
MODEL = MODELS[0]


@pytest.fixture(scope="module")
def approved(seeded_ui):  # noqa: F811
    """A version approved after the seed's production (not serving), evaluated against it."""
    from bantay.serving.promotion import Promotion
    from bantay.ui.queries import reader

    r = reader()
    promotion = Promotion(r.store, r.registry)
    return publish_approved(r.registry, promotion, MODEL, seeded_ui[MODEL].production, LAST_DAY)


def get(ui, path, user="viewer"):  # noqa: F811
    return ui.client.get(path, headers=ui.as_user(user), follow_redirects=False)


def post(ui, path, data, user="operator"):  # noqa: F811
    return ui.client.post(path, data=data, headers=ui.as_user(user), follow_redirects=False)


def compare_url(a, b, model=MODEL):
    return f"/bantay/models/{model}/compare?a={a}&b={b}"


def cells(html: str, table: str, key: str, value: str) -> list[str]:
    """The text of each cell of the row of ``table`` whose ``data-<key>`` is ``value``."""
    body = re.search(rf'<table id="{table}".*?</table>', html, re.S).group(0)
    row = re.search(rf'<tr[^>]*data-{key}="{re.escape(value)}"[^>]*>(.*?)</tr>', body, re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1])]


def row_class(html: str, table: str, key: str, value: str) -> str:
    body = re.search(rf'<table id="{table}".*?</table>', html, re.S).group(0)
    return re.search(rf'<tr class="([^"]*)"[^>]*data-{key}="{re.escape(value)}"', body)[1]


# -- Compare -----------------------------------------------------------------------------------


def test_versions_side_by_side_on_their_own_test_sets(ui, seeded_ui):  # noqa: F811
    seeded = seeded_ui[MODEL]
    page = get(ui, compare_url(seeded.production, seeded.rejected))
    assert page.status_code == 200, page.text[:500]
    html = page.text
    # The rejected version failed the no-regression check the production version passed.
    check = cells(html, "gate", "check", "no_regression.pr_auc")
    assert check[1].startswith("passed") and check[2].startswith("failed")
    assert row_class(html, "gate", "check", "no_regression.pr_auc") == "changed"
    assert row_class(html, "gate", "check", "quality.min_roc_auc") == ""
    # Neither was evaluated against the other: said so, with each one's own metrics.
    assert 'id="different-test-sets"' in html and 'id="same-rows"' not in html
    assert cells(html, "metrics", "metric", "pr_auc") == ["pr_auc", "0.530", "0.440", "−0.090"]


def test_same_test_rows_when_the_newer_was_evaluated_against_the_older(ui, seeded_ui, approved):  # noqa: F811
    production = seeded_ui[MODEL].production
    html = get(ui, compare_url(approved, production)).text
    assert "Both scored on the test rows of " + approved in html and "2,345 rows" in html
    new, old = SAME_ROWS["pr_auc"][1], SAME_ROWS["pr_auc"][0]
    assert cells(html, "metrics-same", "metric", "pr_auc") == [
        "pr_auc",
        f"{new:.3f}",
        f"{old:.3f}",
        f"−{new - old:.3f}",
    ]
    assert 'id="different-test-sets"' not in html
    # Parameters and the feature service: the differences are marked, the rest is not.
    assert row_class(html, "params", "param", "max_depth") == "changed"
    assert row_class(html, "params", "param", "estimator") == ""
    assert "learner_risk_v2" in html and "2026-09-27" in html


def test_the_moved_reference_feature_comes_first_with_its_distance(ui, seeded_ui, approved):  # noqa: F811
    html = get(ui, compare_url(seeded_ui[MODEL].production, approved)).text
    shifts = re.search(r'<table id="shifts".*?</table>', html, re.S).group(0)
    order = re.findall(r'data-feature="([^"]+)"', shifts)
    assert order[0] == "study_minutes" and set(order) == set(FEATURES)
    older = np.array([0.1 * k for k in range(20)])
    expected = SHIFT / np.std(older)  # a constant shift: Wasserstein = the shift itself
    first = cells(html, "shifts", "feature", "study_minutes")
    assert first[2] == f"{expected:.3f} moved"
    assert cells(html, "shifts", "feature", "quiz_score_avg")[2] == "0.000"
    # Two versions with the same reference: nothing moved.
    same = get(ui, compare_url(seeded_ui[MODEL].archived, seeded_ui[MODEL].production)).text
    assert "moved</span>" not in same and 'id="shifts"' in same


def test_a_version_without_a_stored_reference_is_said_so(ui, seeded_ui):  # noqa: F811
    html = get(ui, compare_url(seeded_ui[MODEL].production, seeded_ui[MODEL].candidate)).text
    assert 'id="no-reference"' in html and 'id="shifts"' not in html


@pytest.mark.parametrize(
    "query, says",
    [
        ("a=nope&b={production}", "no version 'nope' of"),
        ("a={production}&b=..%2F..%2Fetc", "no version '../../etc' of"),
        ("a={production}", "compare needs two different versions"),
        ("a={production}&b={production}", "compare needs two different versions"),
        ("a={production}&b={other}", "no version '{other}' of"),
    ],
)
def test_bad_version_names_get_a_clear_404(ui, seeded_ui, query, says):  # noqa: F811
    values = {"production": seeded_ui[MODEL].production, "other": seeded_ui[MODELS[1]].production}
    page = get(ui, f"/bantay/models/{MODEL}/compare?" + query.format(**values))
    assert page.status_code == 404, page.text[:300]
    assert says.format(**values) in page.json()["detail"]
    assert "Traceback" not in page.text
    # A browser gets a page of the bantay pages, inside Airflow's frame, saying the same.
    browser = ui.client.get(
        f"/bantay/models/{MODEL}/compare?" + query.format(**values),
        headers={**ui.as_user("viewer"), "Accept": "text/html,application/xhtml+xml"},
    )
    assert browser.status_code == 404 and browser.headers["content-type"].startswith("text/html")
    detail = re.search(r'id="error-detail"[^>]*>(.*?)</p>', browser.text, re.S)[1]
    assert says.format(**values) in detail.replace("&#39;", "'")
    css = re.search(r'<link rel="stylesheet" href="([^"]+)"', browser.text)[1]
    assert urljoin(f"/bantay/models/{MODEL}/compare", css) == "/bantay/static/bantay.css"


def test_each_model_compares_its_own_versions_and_links_its_own_training_runs(ui, seeded_ui):  # noqa: F811
    # Both models' waiting candidates come from runs with the same run id.
    other = seeded_ui[MODELS[1]]
    html = get(ui, compare_url(other.production, other.candidate, model=MODELS[1])).text
    runs = set(re.findall(r'href="[^"]*dags/(bantay_training[^/"]*)/runs/', html))
    assert runs <= {f"bantay_training_{MODELS[1]}"}
    assert seeded_ui[MODEL].candidate not in html


def test_the_versions_tab_and_a_version_page_lead_to_the_comparison(ui, seeded_ui, approved):  # noqa: F811
    seeded = seeded_ui[MODEL]
    tab = get(ui, f"/bantay/models/{MODEL}").text
    form = re.search(r'<form id="compare"[^>]*action="([^"]+)"', tab)[1]
    assert urljoin(f"/bantay/models/{MODEL}", form) == f"/bantay/models/{MODEL}/compare"
    checked = dict(
        (name, value)
        for value, name in re.findall(
            r'form="compare" name="(a|b)" value="([^"]+)"[^>]*checked', tab
        )
    )
    assert checked == {seeded.production: "a", approved: "b"}  # production and the newest
    # No choice at all: the same pair.
    default = get(ui, f"/bantay/models/{MODEL}/compare")
    assert default.status_code == 303
    query = parse_qs(urlsplit(default.headers["location"]).query)
    assert query == {"a": [seeded.production], "b": [approved]}
    # A version page compares itself with production.
    here = f"/bantay/models/{MODEL}/versions/{seeded.archived}"
    link = re.search(r'id="compare-production" href="([^"]+)"', get(ui, here).text)[1]
    target = urljoin(here, link.replace("&amp;", "&"))
    assert target == compare_url(seeded.production, seeded.archived)
    assert get(ui, target).status_code == 200
    production_page = get(ui, f"/bantay/models/{MODEL}/versions/{seeded.production}").text
    assert 'id="compare-production"' not in production_page


def test_a_comparison_is_computed_once_and_then_served_fast(ui, seeded_ui, approved, monkeypatch):  # noqa: F811
    from bantay.ui import compare, queries

    compare.clear_cache()
    reads = []
    original = queries.Reader.reference

    def counted(self, model, version):
        reads.append(version)
        return original(self, model, version)

    monkeypatch.setattr(queries.Reader, "reference", counted)
    url = compare_url(seeded_ui[MODEL].production, approved)
    start = time.perf_counter()
    assert get(ui, url).status_code == 200
    first = (time.perf_counter() - start) * 1000
    assert sorted(reads) == sorted([seeded_ui[MODEL].production, approved])
    took = []
    for _ in range(20):
        start = time.perf_counter()
        assert get(ui, url).status_code == 200
        took.append(time.perf_counter() - start)
    assert len(reads) == 2  # versions are immutable: no second read of their references
    p95 = sorted(took)[18] * 1000
    median = sorted(took)[10] * 1000
    print(f"compare page: first {first:.1f} ms, then median {median:.1f} ms, p95 {p95:.1f} ms")
