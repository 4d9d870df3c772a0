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


# -- What the models lean on, and their recall gaps ---------------------------------------------


@pytest.fixture(scope="module")
def explained(seeded_ui):  # noqa: F811
    """Two versions of the second model registered with what training records (made by its own
    functions on synthetic rows): a logistic regression, then gradient boosting blind in one
    region, each with its global explanation and own fairness, the newer also beside the older
    as champion. The registry stores them as JSON, as it stores every version."""
    from bantay.ui.queries import reader
    from support.version_metrics import explanation, own_fairness, versus_champion

    registry, model, ids = reader().registry, MODELS[1], []
    for i, (family, seed, blind) in enumerate((("lr", 1, None), ("hgb", 2, "luzon"))):
        version = f"v20261123T0{i}0000-expl{i}"
        metrics = {
            "test": {"pr_auc": 0.5 + 0.01 * i},
            "fairness": own_fairness(blind=blind),
            "explanation": explanation(family, seed),
        }
        if i:
            metrics["fairness_versus_champion"] = versus_champion()
        registry.versions.upsert(
            model,
            version,
            airflow_run_id=f"manual__explained_{i}",
            metrics=metrics,
            params={"estimator": family},
            gate=[],
            lineage={"compared_with": ids[0]} if ids else {},
            reason="explained",
        )
        registry.versions.set_status(model, version, "approved", reason="approved by ana")
        ids.append(version)
    return model, ids, [registry.versions.get(model, v).metrics for v in ids]


def test_the_version_page_says_what_the_model_leans_on_through_airflow(ui, seeded_ui, explained):  # noqa: F811
    from bantay.notify.fmt import pct

    model, (_, newer), (_, metrics) = explained
    html = get(ui, f"/bantay/models/{model}/versions/{newer}").text
    means = metrics["explanation"]["global"]["mean_abs_attribution"]
    body = re.search(r'<table id="explanation".*?</table>', html, re.S).group(0)
    assert re.findall(r'data-feature="([^"]+)"', body) == sorted(means, key=lambda f: -means[f])
    region = cells(html, "explanation", "feature", "region")
    assert region[1] == "region" and region[-1] == "protected, never a reason"
    assert region[3] == pct(means["region"] / sum(means.values()))
    assert cells(html, "explanation", "feature", "attendance_rate")[-1] == ""
    assert 'id="additivity">within the tolerance of 1.0e-06' in html
    # Beside the champion: the too-small region and the gap rows, from the stored record.
    versus = re.search(r'<table id="fairness-versus".*?</table>', html, re.S).group(0)
    assert "too small to judge" in versus and "region: recall gap (best − worst group)" in versus
    # A version registered before explanations were recorded: one muted line.
    older = get(ui, f"/bantay/models/{model}/versions/{seeded_ui[model].production}").text
    assert 'id="no-explanation"' in older and 'id="explanation"' not in older


def test_compare_ranks_both_explanations_and_both_recall_gaps_through_airflow(ui, explained):  # noqa: F811
    from bantay.monitoring.attribution import ranking_ndcg
    from bantay.notify.fmt import num
    from bantay.training.fairness import CANDIDATE

    model, (a, b), (left, right) = explained
    html = get(ui, compare_url(a, b, model=model)).text
    importance = [m["explanation"]["global"]["mean_abs_attribution"] for m in (left, right)]
    ndcg = re.search(r'<p id="explanation-ndcg">.*?<strong>([^<]+)</strong>', html, re.S)[1]
    assert ndcg == num(ranking_ndcg(*importance))
    for feature in importance[0]:
        ranks = [sorted(side, key=lambda f: -side[f]).index(feature) + 1 for side in importance]
        row = cells(html, "explanations", "feature", feature)
        assert row[4:] == [str(ranks[0]), str(ranks[1])]
        moved = row_class(html, "explanations", "feature", feature).split()
        assert ("changed" in moved) == (ranks[0] != ranks[1])
    gaps = [m["fairness"]["slices"]["region"]["gaps"][CANDIDATE]["value"] for m in (left, right)]
    region = cells(html, "fairness", "slice", "region")
    assert region[1].startswith(num(gaps[0])) and region[2].startswith(num(gaps[1]))
    assert "too small to judge: mindanao" in region[1] and "worst luzon" in region[2]
