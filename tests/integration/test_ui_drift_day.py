"""The drift day page is the e-mail's page: for the same day both render the same parts (what to
do, verdict and reason, prediction drift, matured-label quality, fairness across slices and what
the model leans on, the feature table, the charts) with the same numbers, and the page alone
draws fairness by slice; the e-mail links to the page as Airflow's shell shows it; the pages follow
Airflow's colour mode and write times as ``<time>`` elements.

The day's check is hand-built (no Evidently run) and stored through the drift check's own
``store_check`` in the seeded store; the page is served by Airflow's API app."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pandas as pd
import pytest

from support.fairness_days import ATTRIBUTION, FAIRNESS
from support.services import moto_s3  # noqa: F401
from support.ui import MODELS, seeded_ui, ui  # noqa: F401
from support.ui_seed import FEATURES

pytestmark = pytest.mark.integration

MODEL = MODELS[0]
PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "bantay_plugin.py"
SHARED_IDS = (
    "what-to-do",
    "day-facts",
    "fairness",
    "attribution",
    "data-quality",
    "features",
    "quality",
    "charts",
)


class _ById(HTMLParser):
    """The text of the element with a given id, whitespace collapsed, and its <img> alts."""

    VOID = {"img", "br", "input", "meta", "link", "hr"}

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted, self.depth, self.parts = wanted, 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth == 0 and attrs.get("id") == self.wanted:
            self.depth = 1
            return
        if self.depth:
            if tag == "img":
                self.parts.append(f"[{attrs.get('alt')}]")
            if tag not in self.VOID:
                self.depth += 1

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(html: str, element_id: str) -> str | None:
    parser = _ById(element_id)
    parser.feed(html)
    if not parser.parts:
        return None
    return " ".join(" ".join(parser.parts).split())


def _check(day: dt.date):
    """A DRIFT day whose retrain started: two features and the score drifted, quality measured
    on matured labels, a data-quality finding, fairness across two slices and what the model
    leans on, thresholds of 0.1 (the number once written two ways)."""
    from bantay.monitoring.day_check import DayCheck
    from bantay.monitoring.guards import Decision
    from bantay.monitoring.results import (
        ClassificationQuality,
        DataQualityFinding,
        DriftResult,
        FeatureDrift,
        PerformanceCheck,
    )
    from bantay.vocabulary import Action, Verdict

    scores = {FEATURES[0]: 0.31, FEATURES[1]: 0.2468, FEATURES[2]: 0.02, FEATURES[3]: 0.0149}
    features = [
        FeatureDrift(c, "numerical", "wasserstein", s, 0.1, s > 0.1, s * 0.9, s > 0.1)
        for c, s in scores.items()
    ]
    result = DriftResult(
        features=features,
        drifted_share=0.5,
        n_drifted=2,
        n_features=4,
        dataset_drift=True,
        drift_share_threshold=0.3,
        prediction=FeatureDrift("score", "numerical", "wasserstein", 0.5731, 0.1, True),
        data_quality=[DataQualityFinding(FEATURES[3], "missing_values", "12% missing", None)],
        classification=ClassificationQuality(
            current={"roc_auc": 0.8123, "pr_auc": 0.45, "log_loss": 0.3, "positive_rate": 0.12},
            reference={"roc_auc": 0.83, "pr_auc": 0.5, "log_loss": 0.28, "positive_rate": 0.1},
            current_labelled_rows=1234,
            reference_labelled_rows=5000,
        ),
        reference_rows=5000,
        current_rows=4321,
        reference_rows_total=20000,
        current_rows_total=4400,
        verdict=Verdict.DRIFT,
        day=day.isoformat(),
        performance=PerformanceCheck(
            "roc_auc", 0.83, 0.8123, 0.0177, -0.01, 0.04, 0.05, False, "2026-10-01", 1234, 5000
        ),
        fairness=FAIRNESS,
        attribution=ATTRIBUTION,
    )
    rng = np.random.default_rng(0)
    columns = list(FEATURES[:3])
    reference = pd.DataFrame({c: rng.normal(0, 1, 500) for c in columns})
    current = pd.DataFrame({c: rng.normal(0.8, 1, 500) for c in columns})
    return DayCheck(
        model=MODEL,
        day=day,
        result=result,
        decision=Decision(Action.RETRAIN_TRIGGERED, "DRIFT on 2 consecutive days (needed 2)"),
        report_html=None,
        report_json=None,
        report_url="https://reports.invalid/presigned?X-Amz-Signature=abc",
        baseline=None,
        reference_sample=reference,
        current_sample=current,
    )


@pytest.fixture(scope="module")
def day_and_email(ui, seeded_ui):  # noqa: F811
    """The retrain day of the seeded episode, its check stored beside its report, its e-mail."""
    from bantay.monitoring.check import store_check
    from bantay.notify.drift_day import compose_day_email
    from bantay.settings import get_settings
    from bantay.ui import queries

    day = seeded_ui[MODEL].days[-13]  # the episode's day whose retrain started
    checked = _check(day)
    store_check(queries.reader().store, checked)
    settings = get_settings()
    email = compose_day_email(checked, settings.model(MODEL), settings.notify, run_url="run")
    return day, email, settings


def _plugin():
    """The plugin class, loaded from ``plugins/`` as Airflow loads it (a file, not a package)."""
    spec = importlib.util.spec_from_file_location("bantay_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BantayPlugin


def _page(ui, day) -> str:  # noqa: F811
    page = ui.client.get(f"/bantay/models/{MODEL}/drift/{day}", headers=ui.as_user("viewer"))
    assert page.status_code == 200, page.text[:500]
    return page.text


def test_the_page_and_the_email_say_the_same(ui, day_and_email):  # noqa: F811
    day, email, _ = day_and_email
    page = _page(ui, day)
    html = email.get_body(("html",)).get_content()
    for element_id in SHARED_IDS:
        in_email, on_page = text_of(html, element_id), text_of(page, element_id)
        assert in_email, f"the e-mail has no #{element_id}"
        assert on_page == in_email, element_id
    features = text_of(page, "features")
    assert "0.310 0.100 yes" in features and "0.247 0.100 yes" in features  # one formatter
    assert re.search(r"\b0\.1\b(?!\d)", features) is None
    facts = text_of(page, "day-facts")
    assert "ROC AUC 0.812 vs 0.830" in facts and "wasserstein 0.573 (threshold 0.100)" in facts
    assert "4,321 (of 4,400)" in facts  # counts with separators, in both
    charts = re.findall(r'<p class="chart"><img src="([^"]+)"', page)
    assert len(charts) == 3  # the e-mail's charts, each drawn by its own route
    for src in charts:
        path = urljoin(f"/bantay/models/{MODEL}/drift/{day}", src)
        png = ui.client.get(path, headers=ui.as_user("viewer"))
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG"), path
    beyond = f"/bantay/models/{MODEL}/drift/{day}/charts/3.png"
    assert ui.client.get(beyond, headers=ui.as_user("viewer")).status_code == 404


def test_the_page_alone_draws_fairness_by_slice(ui, day_and_email):  # noqa: F811
    import xml.etree.ElementTree as ET

    day, email, _ = day_and_email
    page = _page(ui, day)
    html = email.get_body(("html",)).get_content()
    assert "<svg" not in html and 'id="slice-charts"' not in html  # the e-mail keeps its lines
    figure = re.search(r'<figure id="slice-charts">(.*?)</figure>', page, re.S)
    assert figure, "no chart of fairness by slice on the page"
    svgs = [ET.fromstring(s) for s in re.findall(r"<svg .*?</svg>", figure.group(1), re.S)]
    slices = list(dict.fromkeys(r.slice for r in FAIRNESS.rates))
    assert [s.get("data-slice") for s in svgs] == slices
    assert all(s.get("aria-label").startswith(f"{s.get('data-slice')}:") for s in svgs)


def test_the_page_shows_the_subject_and_the_training_run(ui, day_and_email):  # noqa: F811
    from bantay.airflow.training_runs import training_dag_id

    day, email, _ = day_and_email
    page = _page(ui, day)
    assert text_of(page, "email-subject") == " ".join(str(email["Subject"]).split())
    run = text_of(page, "training-run")
    assert run.startswith("started"), run
    dag = training_dag_id(MODEL)
    link = re.search(r'<dd id="training-run">.*?<a data-airflow href="([^"]+)"', page, re.S)
    assert link and link.group(1).endswith(f"dags/{dag}/runs"), link


def test_a_day_without_kept_facts_says_so(ui, seeded_ui):  # noqa: F811
    page = _page(ui, seeded_ui[MODEL].days[-20])
    assert 'id="no-email"' in page and 'id="what-to-do"' not in page
    assert 'id="fairness"' not in page and 'id="slice-charts"' not in page
    assert 'id="features"' in page  # the registry's summary stands in


def test_the_email_links_to_the_page_as_the_shell_shows_it(ui, day_and_email):  # noqa: F811
    from bantay.notify.day_parts import PAGES_ROUTE

    day, email, settings = day_and_email
    html = email.get_body(("html",)).get_content()
    base = settings.notify.airflow_base_url.rstrip("/")
    target = f"{base}/plugin/{PAGES_ROUTE}/bantay/models/{MODEL}/drift/{day}"
    assert re.search(r'id="page-link" href="([^"]+)"', html).group(1) == target
    # The shell's /plugin/<url_route>/<path> is the app's /bantay/<path>: that page exists.
    [nav] = [v for v in _plugin().external_views if v["destination"] == "nav"]
    assert nav["url_route"] == PAGES_ROUTE and nav["href"].startswith("bantay/")
    assert _page(ui, day)
    # The presigned report stays only as a fallback line, after the page's link.
    assert html.index('id="page-link"') < html.index('id="report-fallback"')
    assert "If the page is out of reach" in text_of(html, "report-fallback")


def test_pages_follow_the_airflow_theme_and_timezone(ui, day_and_email):  # noqa: F811
    day, _, _ = day_and_email
    page = _page(ui, day)
    theme = re.search(r'<script id="bantay-theme">(.*?)</script>', page, re.S)
    assert theme and 'var KEY = "theme";' in theme.group(1)
    assert "data-theme" in theme.group(1) and '"storage"' in theme.group(1)
    assert page.index('id="bantay-theme"') < page.index('rel="stylesheet"')  # before first paint
    css = ui.client.get("/bantay/static/bantay.css", headers=ui.as_user("viewer")).text
    for theme_name in ("light", "dark"):
        selector = re.escape(f'[data-theme="{theme_name}"]')
        block = re.search(selector + r"[^{]*\{([^}]*)\}", css)
        assert block, theme_name
        for variable in ("--bg:", "--fg:", "--link:", "--line:", "--ok:", "--bad:"):
            assert variable in block.group(1), (theme_name, variable)
    times = re.findall(r'<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)">([^<]+)</time>', page)
    assert times, "no <time> element"
    for stamp, text in times:
        assert text == f"{stamp[:10]} {stamp[11:16]} UTC"  # readable without the script
    script = ui.client.get("/bantay/static/bantay.js", headers=ui.as_user("viewer")).text
    assert 'KEY = "timezone"' in script and "time[datetime]" in script
