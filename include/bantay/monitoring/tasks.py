"""The daily drift check of one model: reference vs the day's prediction log, the Evidently
report to S3, a verdict, the retrain decision under its guards, the registry row, and the on-call
e-mail (rendered here, sent by its own task so SMTP trouble never loses the report).
"""

from __future__ import annotations

import datetime as dt
import email.policy
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from bantay.layout import PARTITION_FILE, PARTITION_GLOB, accepted_root, partition_day
from bantay.monitoring.episodes import episode_start
from bantay.schema import ENTITY, TIMESTAMP
from bantay.settings import ModelSettings, Settings

log = logging.getLogger(__name__)
# Verdicts that open or continue a drift episode (what a retrain would answer).
_EPISODE = ("DRIFT", "PERFORMANCE")


def current_window(settings: Settings, model: str, day: dt.date) -> pd.DataFrame:
    """The prediction log of the ``window_days`` days ending on ``day``."""
    days = settings.model(model).drift.window_days
    paths = [
        settings.layout.prediction_path(model, day - dt.timedelta(days=i)) for i in range(days)
    ]
    present = [p for p in paths if p.is_file()]
    if not present:
        raise FileNotFoundError(
            f"no prediction log for {model} on {day} ({paths[0]}); bantay_scoring has not run for that "
            "day: run it (trigger bantay_scoring with date) and then re-run this task"
        )
    return pd.concat([pd.read_parquet(p) for p in present], ignore_index=True)


def matured_labels(settings: Settings, model: ModelSettings, day: dt.date) -> pd.DataFrame:
    """Labels that matured by ``day`` within the lookback, with the day each one matured (from
    the accepted tree: only label partitions the data contract passed)."""
    root = accepted_root(settings.data_dir) / model.label_source
    first = day - dt.timedelta(days=model.drift.label_lookback_days)
    parts = []
    for path in sorted(root.glob(f"{PARTITION_GLOB}/{PARTITION_FILE}")):
        matured = partition_day(path.parent)
        if first <= matured <= day:
            frame = pd.read_parquet(path, columns=[ENTITY, TIMESTAMP, model.label])
            parts.append(frame.assign(_matured=pd.Timestamp(matured)))
    if not parts:
        return pd.DataFrame(columns=[ENTITY, TIMESTAMP, model.label, "_matured"])
    return pd.concat(parts, ignore_index=True)


def labelled_predictions(
    settings: Settings, model: str, labels: pd.DataFrame
) -> pd.DataFrame | None:
    """Every prediction-log row with a matured label, whichever version scored it (its
    ``model_version`` stays a column); at most ``sample_size`` rows per labelled day.

    Labels mature weeks after the day they describe and versions are promoted more often, so
    keeping only the production version's own rows would leave nothing to judge; the logged
    features let :func:`backtest` score every row with the production version instead.
    """
    from bantay.monitoring.drift import sample

    cfg = settings.model(model)
    if labels.empty:
        return None
    right = labels[[ENTITY, TIMESTAMP, cfg.label]].drop_duplicates([ENTITY, TIMESTAMP], keep="last")
    parts = []
    for observed in sorted(pd.to_datetime(right[TIMESTAMP], utc=True).dt.date.unique()):
        path = settings.layout.prediction_path(model, observed)
        if not path.is_file():
            continue
        log_day = pd.read_parquet(path).drop(columns=[cfg.label], errors="ignore")
        joined = log_day.merge(right, on=[ENTITY, TIMESTAMP], how="inner")
        del log_day  # one day's full log in memory at a time
        if len(joined):
            parts.append(sample(joined, cfg.drift.sample_size, cfg.drift.seed))
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True)


def backtest(
    fitted: Any, manifest: dict[str, Any], labelled: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The production version's own scores (``backtest_score``) on the labelled rows it was not
    fitted on: the features logged with each prediction, scored again by it.

    Rows at or before the end of its fitted data would flatter it; they are left out. None when
    no row is left.
    """
    import numpy as np

    from bantay.monitoring.performance import BACKTEST, BACKTEST_VERSION
    from bantay.schema import feature_set
    from bantay.training.pipeline import predict_scores
    from bantay.training.tasks import fitted_until

    if labelled is None or labelled.empty:
        return None
    version = manifest.get("version")
    until = fitted_until(manifest)
    if until is None:
        log.warning(
            "version %s names no end of fitted data in its lineage; its back-test uses every "
            "labelled row, including any it was fitted on",
            version,
        )
        rows = labelled.copy()
    else:
        rows = labelled[pd.to_datetime(labelled[TIMESTAMP], utc=True) > until].copy()
    log.info(
        "back-test of %s: %d of %d labelled rows after its fitted data (until %s)",
        version,
        len(rows),
        len(labelled),
        until,
    )
    if rows.empty:
        return None
    features = manifest.get("features") or feature_set()
    absent = [c for c in (*features["numerical"], *features["categorical"]) if c not in rows]
    if absent:
        log.warning(
            "back-test of %s: the prediction log has no column %s; scored as missing, as "
            "serving scores a feature no view provides",
            version,
            absent,
        )
        for column in absent:
            rows[column] = np.nan
    rows[BACKTEST] = predict_scores(fitted, rows, features)
    rows[BACKTEST_VERSION] = version
    return rows


def labels_ready_on(labels: pd.DataFrame, drift_start: dt.date, label: str) -> dt.date | None:
    """When the first labels observed on or after ``drift_start`` mature; None if they have.

    Estimated from the label feed itself: the delay between observation and maturity, and
    the spacing of observation days.
    """
    if labels.empty:
        return None
    observed = pd.to_datetime(labels[TIMESTAMP], utc=True).dt.date
    if observed.max() >= drift_start:
        return None
    delay = (labels["_matured"].dt.date - observed).map(lambda d: d.days).median()
    days = sorted(observed.unique())
    step = min((b - a).days for a, b in zip(days, days[1:], strict=False)) if len(days) > 1 else 7
    nxt = days[-1]
    while nxt < drift_start:
        nxt += dt.timedelta(days=max(step, 1))
    return nxt + dt.timedelta(days=int(delay))


def next_scheduled(model: ModelSettings, day: dt.date) -> dt.date | None:
    """The day of the model's next scheduled training run after ``day`` (None: manual)."""
    if not model.training_schedule:
        return None
    from croniter import croniter

    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return croniter(model.training_schedule, start).get_next(dt.datetime).date()


def promoted_retrains(reg: Any, model: str, drift_began: dt.date | None = None) -> list[dt.date]:
    """Data times of promoted versions that drift did not trigger (schedule, a person) and that
    answer the drift under judgement.

    Drift-triggered retrains are counted from the drift history; a candidate that was never
    promoted changed nothing in production and starts no cooldown. With ``drift_began``, a
    promotion counts only if its version was fitted on rows from that day on: a scheduled
    version fitted on pre-drift data alone has not answered the drift, so it must neither
    silence it nor hold its retrain off.
    """
    from bantay.vocabulary import is_drift_reason

    versions = {v.version: v for v in reg.versions.of(model)}
    out = []
    for p in reg.promotions.of(model):
        v = versions.get(p.to_version)
        if p.kind != "promote" or v is None or is_drift_reason(v.reason):
            continue
        lineage = v.lineage or {}
        if drift_began is not None and not _fitted_after(lineage, drift_began):
            continue
        as_of = lineage.get("as_of")
        out.append(dt.datetime.fromisoformat(as_of).date() if as_of else p.at.date())
    return out


def _fitted_after(lineage: dict[str, Any], day: dt.date) -> bool:
    """Whether a version was fitted on rows observed on or after ``day``."""
    from bantay.training.tasks import fitted_until

    until = fitted_until({"lineage": lineage})
    return until is not None and until.date() >= day


def email_path(settings: Settings, model: str, day: dt.date) -> Path:
    path = settings.layout.outbox(model) / f"{day.isoformat()}.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def quality_holds(result: Any, began: dt.date | None, tolerance: float) -> str | None:
    """What shows that production's quality holds on labels observed since the drift began
    (None: not measured on such labels, or it does not hold)."""
    p = result.performance
    if began is None or p is None or p.degraded or p.drop > tolerance:
        return None
    if dt.date.fromisoformat(p.labelled_day) < began:
        return None
    return (
        f"{p.metric} {p.current:.3f} against {p.reference:.3f} at training, within the "
        f"{tolerance:.2f} the gate allows, on {p.rows:,} labels observed {p.labelled_day}"
    )


def answered(result: Any, history: list[Any], day: dt.date, manifest: dict, baseline: Any):
    """On the first quiet day after a drift, whether the version that serves answers it: fitted
    on rows from the drift's first day on, or re-baselined by a person since. None otherwise
    (the inputs went back by themselves, or nothing changed and the alarm is only quieter)."""
    from bantay.monitoring.guards import Decision
    from bantay.vocabulary import Action

    past = [r for r in history if r.report_date < day]
    if str(result.verdict) not in ("OK", "WATCH") or not past or past[-1].verdict not in _EPISODE:
        return None
    began = episode_start(past[-1].report_date, past)
    version = manifest["version"]
    if baseline is not None and baseline.last_day >= began:
        return Decision(
            Action.DRIFT_ANSWERED,
            f"the drift that began on {began} is answered: {baseline.actor} re-baselined "
            f"{version} on {baseline.at:%Y-%m-%d} ({baseline.reason})",
        )
    fitted = (manifest.get("lineage") or {}).get("fitted") or {}
    if not fitted.get("rows_after_drift") or not _fitted_after(manifest["lineage"], began):
        return None
    return Decision(
        Action.DRIFT_ANSWERED,
        f"the drift that began on {began} is answered: production {version} was fitted on "
        f"{fitted['rows_after_drift']:,} rows observed since {fitted['drift_since']}",
    )


def served_by(fitted: Any, manifest: dict[str, Any], window: pd.DataFrame) -> pd.DataFrame:
    """The window's scores as the version that serves gives them: rows another version scored
    (days before a promotion or a rollback, or a day re-checked after one) are scored again
    from their logged features, so the score is compared with the reference of the same model."""
    from bantay.training.pipeline import predict_scores

    version = manifest["version"]
    if "model_version" not in window.columns or window.empty:
        return window
    other = (window["model_version"] != version).to_numpy()
    if not other.any():
        return window
    window = window.copy()
    window.loc[other, "score"] = predict_scores(fitted, window[other], manifest["features"])
    window.loc[other, "model_version"] = version
    log.info(
        "scored %d rows of the window again with %s (another version served them)",
        other.sum(),
        version,
    )
    return window


def held_out_quality(manifest: dict[str, Any]) -> tuple[float, int, int] | None:
    """The version's ROC AUC on its held-out test rows with their positives and negatives
    (from its manifest), the yardstick when its reference holds no matured labels."""
    auc = (manifest.get("metrics") or {}).get("roc_auc")
    test = ((manifest.get("lineage") or {}).get("split") or {}).get("test") or {}
    rows, positives = test.get("rows"), test.get("positives")
    if auc is None or not rows or positives is None or not 0 < positives < rows:
        return None
    return float(auc), int(positives), int(rows - positives)


def judge_day(settings: Settings, model: str, day: dt.date, reg: Any, store: Any) -> dict:
    """The day's drift result for the version that serves, with what it was judged against."""
    from bantay.monitoring.baseline import drift_reference
    from bantay.monitoring.drift import run_drift

    cfg = settings.model(model)
    if store.pointers.current(model) is None:
        raise FileNotFoundError(f"{model} has no production version yet; nothing to compare with")
    # The model itself, verified before unpickling: matured labels judge its back-test scores.
    fitted, manifest = store.load_production(model)
    reference, baseline = drift_reference(store, reg, model, manifest["version"])
    current = served_by(fitted, manifest, current_window(settings, model, day))
    # Watched on the features the production version was trained on (its manifest).
    dcfg = cfg.drift.check_methods().for_features(manifest.get("features"))
    labels = matured_labels(settings, cfg, day)
    result = run_drift(
        reference,
        current,
        dcfg,
        day=day,
        labelled=backtest(fitted, manifest, labelled_predictions(settings, model, labels)),
        performance_tolerance=cfg.gate.max_regression,
        name=f"{model} {day}",
        # Quality is judged against the version's own labelled reference, re-baselined or not.
        performance_reference=(
            store.versions.reference(model, manifest["version"]) if baseline else None
        ),
        performance_yardstick=held_out_quality(manifest),
    )
    return {
        "result": result,
        "manifest": manifest,
        "reference": reference,
        "baseline": baseline,
        "current": current,
        "labels": labels,
        "guards": dcfg.guards,
    }


def decide_day(
    settings: Settings, model: str, day: dt.date, reg: Any, judged: dict, *, running: bool
):
    """The retrain decision of the day under its guards."""
    from bantay.monitoring.guards import decide_retrain

    cfg = settings.model(model)
    result = judged["result"]
    history = reg.drift.reports(model, since=day - dt.timedelta(days=30))
    episode = result.verdict in _EPISODE
    began = None
    if episode:
        today = [dt.date.fromisoformat(result.evidence_day)] if result.evidence_day else []
        began = min([episode_start(day, history), *today])
    ready = (
        labels_ready_on(judged["labels"], began, cfg.label)
        if str(result.verdict) == "DRIFT"
        else None
    )
    decision = decide_retrain(
        result.verdict,
        day,
        history,
        judged["guards"],
        retrain_running=running,
        retrains=promoted_retrains(reg, model, began),
        data_quality_days=result.data_quality_days,
        labels_ready=ready,
        next_scheduled=next_scheduled(cfg, day),
        evidence=result.evidence_day,
        quality_holds=quality_holds(result, began, cfg.gate.max_regression),
    )
    return answered(result, history, day, judged["manifest"], judged["baseline"]) or decision


def check_day(
    settings: Settings,
    model: str,
    day: dt.date,
    *,
    run_id: str,
    run_url: str,
    retrain_running: bool,
) -> dict[str, Any]:
    """Judge the day, decide, store the report, record, and render the e-mail (sent by its own
    task). Returns the summary."""
    from bantay.monitoring.guards import with_evidence
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for

    cfg = settings.model(model)
    reg = registry_for(settings)
    store = model_store_for(settings)
    judged = judge_day(settings, model, day, reg, store)
    result = judged["result"]
    decision = decide_day(settings, model, day, reg, judged, running=retrain_running)
    html_uri, json_uri = _store_report(store, model, day, result, decision, cfg.approval)
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
        report_html_uri=html_uri,
        report_json_uri=json_uri,
        decision_detail=with_evidence(decision.reason, result.evidence_day),
        airflow_run_id=run_id,
        evidence_day=result.evidence_day,
    )
    expiry = settings.storage.presign_expiry_hours * 3600
    report_url = (
        store.objects.presigned_url(html_uri, expiry) if html_uri else "(no report: too few rows)"
    )
    message = _render_email(settings, model, day, judged, decision, report_url, run_url)
    path = email_path(settings, model, day)
    path.write_bytes(message.as_bytes(policy=email.policy.SMTP))
    out = {
        "model": model,
        "date": day.isoformat(),
        "verdict": str(result.verdict),
        "decision": str(decision.action),
        "decision_reason": decision.reason,
        "triggers_retrain": decision.triggers_retrain,
        "hold_until": decision.until.isoformat() if decision.until else None,
        "drifted_features": [c for c, f in summary["feature_scores"].items() if f["drifted"]],
        "n_drifted": result.n_drifted,
        "n_features": result.n_features,
        "report_html": html_uri,
        "report_json": json_uri,
        "email": str(path),
        "subject": str(message["Subject"]),
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
        "evidence_day": result.evidence_day,
        "baseline": judged["baseline"].reference_uri if judged["baseline"] else None,
    }
    log.info("drift %s %s: %s", model, day, out)
    return out


def _store_report(store: Any, model: str, day: dt.date, result: Any, decision: Any, approval: str):
    """The day's Evidently report (HTML with bantay's banner, and JSON) in S3; re-runs replace it."""
    from bantay.notify.email import report_banner

    if not result.has_report:
        return None, None
    banner = report_banner(result, model=model, decision=decision, approval=approval)
    day_s = day.isoformat()
    html = store.reports.put(model, day_s, "report.html", result.html(banner).encode(), "text/html")
    data = result.json().encode()
    return html, store.reports.put(model, day_s, "report.json", data, "application/json")


def _render_email(settings, model, day, judged, decision, report_url, run_url):
    """The on-call e-mail of the day, charts from the rows the verdict judged."""
    from bantay.monitoring.drift import observed_only
    from bantay.notify.email import render_drift_email

    cfg = settings.model(model)
    current = judged["current"]
    message = render_drift_email(
        judged["result"],
        model=model,
        date=day,
        decision=decision,
        report_url=report_url,
        run_url=run_url,
        reference_sample=judged["reference"],
        # The charts show the rows the verdict judged: the learners observed that day.
        current_sample=observed_only(
            current[pd.to_datetime(current[TIMESTAMP], utc=True).dt.date == day]
        )[0],
        approval=cfg.approval,
    )
    message["From"] = settings.notify.sender
    message["To"] = ", ".join(cfg.recipients)
    return message


def send_day_email(settings: Settings, model: str, day: dt.date) -> str:
    """Send the rendered e-mail through ``smtp_default`` (retried by the task on failure)."""
    import email as email_lib

    from bantay.notify.mailer import send_email

    path = email_path(settings, model, day)
    message = email_lib.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    send_email(message, settings.notify.smtp_conn_id)
    return str(message["Subject"])
