"""The daily drift check of one model: reference vs the day's prediction log, fairness across
its slices and attribution drift, a verdict, the retrain decision under its guards, the Evidently report stored in S3 and the registry row.

It tells nobody: it returns a :class:`~bantay.monitoring.day_check.DayCheck`, from which the
drift DAG's e-mail task composes and sends the on-call e-mail (so SMTP trouble never loses the
report). The report's opening banner is wording; the caller hands it in as ``banner``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from bantay.layout import Layout
from bantay.monitoring.backtest import backtest, held_out_quality, served_by
from bantay.monitoring.baseline import drift_reference
from bantay.monitoring.day_check import CHECK_FILE, NO_REPORT, DayCheck, evidence_samples
from bantay.monitoring.day_signals import judge_signals, with_signals
from bantay.monitoring.drift import observed_only, run_drift
from bantay.monitoring.episodes import episode_start
from bantay.monitoring.experiment_inputs import day_arms
from bantay.monitoring.frames import on_day
from bantay.monitoring.guards import Decision, decide_retrain, with_evidence
from bantay.monitoring.paired import version_threshold
from bantay.monitoring.results import DriftResult
from bantay.monitoring.retrain_inputs import (
    answered,
    labels_ready_on,
    next_scheduled,
    promoted_retrains,
    quality_holds,
)
from bantay.monitoring.stattests import check_methods
from bantay.monitoring.window import current_window, labelled_predictions, matured_labels
from bantay.schema import TIMESTAMP
from bantay.serving.experiment import SERVED_VERSION
from bantay.settings import ModelSettings
from bantay.settings.drift import GuardConfig
from bantay.vocabulary import DRIFT_VERDICTS, Verdict

if TYPE_CHECKING:
    from bantay.stores.registry import BaselineRecord

log = logging.getLogger(__name__)
# The drift history the decision reads (persistence, cooldown, rate limit, episodes).
HISTORY_DAYS = 30

Banner = Callable[[DriftResult, Decision], str]


@dataclasses.dataclass
class Judged:
    """The day's drift result for the version that serves, with what it was judged against."""

    result: DriftResult
    manifest: dict[str, Any]
    reference: pd.DataFrame
    baseline: BaselineRecord | None
    current: pd.DataFrame
    labels: pd.DataFrame
    guards: GuardConfig


def served_thresholds(reg: Any, model: str, current: pd.DataFrame) -> dict[str, float]:
    """The decision threshold of each version an experiment's arms served in ``current``."""
    if SERVED_VERSION not in current.columns:
        return {}
    out = {}
    for version in sorted(set(current[SERVED_VERSION].dropna().astype(str))):
        found = reg.versions.get(model, version) if reg is not None else None
        out[version] = version_threshold(found.metrics if found else None)
    return out


def _share(store: Any, model: str, experiment_id: str) -> float | None:
    record = store.pointers.experiment_record(model, experiment_id) or {}
    return (record.get("plan") or {}).get("share")


def judge_day(model: ModelSettings, layout: Layout, reg: Any, store: Any, day: dt.date) -> Judged:
    """The day's drift result for the version that serves, with what it was judged against."""
    name = model.name
    if store.pointers.current(name) is None:
        raise FileNotFoundError(f"{name} has no production version yet; nothing to compare with")
    # The model itself, verified before unpickling: matured labels judge its back-test scores.
    fitted, manifest = store.load_production(name)
    reference, baseline = drift_reference(store, reg, name, manifest["version"])
    current = served_by(
        fitted, manifest, current_window(layout, model, day), model.explain.tree_method
    )
    # Watched on the features the production version was trained on (its manifest).
    config = check_methods(model.drift).for_features(manifest.get("features"), model.columns)
    labels = matured_labels(layout, model, day)
    labelled = backtest(fitted, manifest, labelled_predictions(layout, model, labels))
    result = run_drift(
        reference,
        current,
        config,
        day=day,
        labelled=labelled,
        performance_tolerance=model.gate.max_regression,
        name=f"{name} {day}",
        # Quality is judged against the version's own labelled reference, re-baselined or not.
        performance_reference=(
            store.versions.reference(name, manifest["version"]) if baseline else None
        ),
        performance_yardstick=held_out_quality(manifest),
    )
    thresholds = served_thresholds(reg, name, current)
    signals = judge_signals(model, manifest, current, labelled, day, config.fairness, thresholds)
    result = with_signals(result, *signals)
    return Judged(result, manifest, reference, baseline, current, labels, config.guards)


def decide_day(
    model: ModelSettings, day: dt.date, reg: Any, judged: Judged, *, running: bool
) -> Decision:
    """The retrain decision of the day under its guards."""
    result = judged.result
    history = reg.drift.reports(model.name, since=day - dt.timedelta(days=HISTORY_DAYS))
    began = None
    if result.verdict in DRIFT_VERDICTS:
        today = [dt.date.fromisoformat(result.evidence_day)] if result.evidence_day else []
        began = min([episode_start(day, history), *today])
    ready = (
        labels_ready_on(judged.labels, began, model.label)
        if result.verdict is Verdict.DRIFT
        else None
    )
    decision = decide_retrain(
        result.verdict,
        day,
        history,
        judged.guards,
        retrain_running=running,
        retrains=promoted_retrains(reg, model.name, began),
        data_quality_days=result.data_quality_days,
        labels_ready=ready,
        next_scheduled=next_scheduled(model, day),
        evidence=result.evidence_day,
        quality_holds=quality_holds(result, began, model.gate.max_regression),
    )
    return answered(result, history, day, judged.manifest, judged.baseline) or decision


def store_report(
    store: Any, model: str, day: dt.date, result: DriftResult, banner: str
) -> tuple[str | None, str | None]:
    """The day's Evidently report in S3: HTML opened by ``banner``, and JSON; re-runs replace
    it. ``(None, None)`` when the day had too few rows for a report."""
    if not result.has_report:
        return None, None
    day_s = day.isoformat()
    html = store.reports.put(model, day_s, "report.html", result.html(banner).encode(), "text/html")
    data = result.json().encode()
    return html, store.reports.put(model, day_s, "report.json", data, "application/json")


def store_check(store: Any, checked: DayCheck) -> str:
    """What the day's e-mail is made of (:meth:`DayCheck.as_data`, without the expiring report
    link), beside the day's report: the drift day page renders the e-mail's parts from it."""
    data = {**checked.as_data(), "report_url": ""}
    body = json.dumps(data).encode()
    return store.reports.put(
        checked.model, checked.day.isoformat(), CHECK_FILE, body, "application/json"
    )


def record_day(
    reg: Any,
    model: str,
    day: dt.date,
    result: DriftResult,
    decision: Decision,
    *,
    report: tuple[str | None, str | None],
    run_id: str | None,
) -> None:
    """The day's row in the registry's drift history (upserted: a re-run replaces it)."""
    html_uri, json_uri = report
    summary = result.summary()
    reg.drift.upsert(
        model,
        day,
        verdict=str(result.verdict),
        drifted_share=result.drifted_share,
        n_drifted=result.n_drifted,
        n_features=result.n_features,
        decision=str(decision.action),
        feature_scores=summary["feature_scores"],
        prediction_drift=summary["prediction"],
        report_html_uri=html_uri,
        report_json_uri=json_uri,
        decision_detail=with_evidence(decision.reason, result.evidence_day),
        airflow_run_id=run_id,
        evidence_day=result.evidence_day,
    )


def check_day(
    model: ModelSettings,
    layout: Layout,
    reg: Any,
    store: Any,
    day: dt.date,
    *,
    banner: Banner,
    run_id: str | None,
    retrain_running: bool,
    link_expiry_seconds: int,
    starts_retrain: bool = True,
) -> DayCheck:
    """Judge the day, decide, store the report (opened by ``banner(result, decision)``) and
    record it. The link to the report expires after ``link_expiry_seconds``.

    ``starts_retrain``: whether the caller emits the retrain event a retrain decision promises
    (the drift DAG does; ``bantay check-drift`` does not). When it does not, a day that calls
    for a retrain is neither reported nor recorded: a record would say a retrain started, and
    the drift DAG's own run of the day (which does start it) would take it as already done.
    ``run_id``: the Airflow run, None when run by hand.
    """
    judged = judge_day(model, layout, reg, store, day)
    result = judged.result
    decision = decide_day(model, day, reg, judged, running=retrain_running)
    report: tuple[str | None, str | None] = (None, None)
    if starts_retrain or not decision.triggers_retrain:
        report = store_report(store, model.name, day, result, banner(result, decision))
        record_day(reg, model.name, day, result, decision, report=report, run_id=run_id)
    html_uri, json_uri = report
    current = judged.current
    # The e-mail shows the rows the verdict judged: the learners observed that day.
    day_rows = current[on_day(current, TIMESTAMP, day)]
    today, _ = observed_only(day_rows)
    reference_sample, current_sample = evidence_samples(result, judged.reference, today)
    checked = DayCheck(
        model=model.name,
        day=day,
        result=result,
        decision=decision,
        report_html=html_uri,
        report_json=json_uri,
        report_url=store.objects.presigned_url(html_uri, link_expiry_seconds)
        if html_uri
        else NO_REPORT,
        baseline=judged.baseline.reference_uri if judged.baseline else None,
        reference_sample=reference_sample,
        current_sample=current_sample,
        experiment=day_arms(day_rows, lambda eid: _share(store, model.name, eid)),
    )
    if starts_retrain or not decision.triggers_retrain:
        store_check(store, checked)
    log.info(
        "drift %s %s: %s, %s (%s)",
        model.name,
        day,
        result.verdict,
        decision.action,
        decision.reason,
    )
    return checked
