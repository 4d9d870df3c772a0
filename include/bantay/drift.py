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

from bantay.config import ModelSettings, Settings, bantay_home
from bantay.schema import CATEGORICAL, NUMERICAL, RANGES, REGIONS

log = logging.getLogger(__name__)


def drift_config(model: ModelSettings):
    """Map ``bantay.yaml``'s drift settings onto the monitoring config."""
    from bantay.monitoring import DriftConfig, GuardConfig

    d = model.drift
    return DriftConfig(
        numerical_columns=list(NUMERICAL),
        categorical_columns=list(CATEGORICAL),
        prediction_column="score",
        target_column=model.label,
        numerical_method=d.method,
        numerical_threshold=d.threshold,
        per_column_method={c: v["method"] for c, v in d.per_column.items() if "method" in v},
        per_column_threshold={
            c: float(v["threshold"]) for c, v in d.per_column.items() if "threshold" in v
        },
        drift_share=d.drift_share,
        sample_size=d.sample_size,
        seed=d.seed,
        valid_ranges={c: r for c, r in RANGES.items() if c not in CATEGORICAL},
        allowed_categories={"region": list(REGIONS), "parent_abroad": [0, 1]},
        guards=GuardConfig(
            persistence_days=d.persistence_days,
            cooldown_days=d.cooldown_days,
            max_retrains_per_7d=d.max_retrains_per_7d,
        ),
    )


def current_window(settings: Settings, model: str, day: dt.date) -> pd.DataFrame:
    """The prediction log of the ``window_days`` days ending on ``day``."""
    from bantay.scoring import prediction_path

    days = settings.model(model).drift.window_days
    paths = [prediction_path(settings, model, day - dt.timedelta(days=i)) for i in range(days)]
    present = [p for p in paths if p.is_file()]
    if not present:
        raise FileNotFoundError(
            f"no prediction log for {model} on {day} ({paths[0]}); bantay_scoring has not run for that "
            "day: run it (trigger bantay_scoring with date) and then re-run this task"
        )
    return pd.concat([pd.read_parquet(p) for p in present], ignore_index=True)


def email_path(model: str, day: dt.date) -> Path:
    path = bantay_home() / "outbox" / model / f"{day.isoformat()}.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def check_day(
    settings: Settings,
    model: str,
    day: dt.date,
    *,
    run_id: str,
    run_url: str,
    retrain_running: bool,
) -> dict[str, Any]:
    """Run the report, store it, decide, record, and render the e-mail. Returns the summary."""
    from bantay.lifecycle import registry, serving_store
    from bantay.monitoring import decide_retrain, run_drift
    from bantay.notify import render_drift_email

    cfg = settings.model(model)
    reg = registry(settings)
    store = serving_store(settings, reg)
    pointer = store.pointer(model)
    if pointer is None:
        raise FileNotFoundError(f"{model} has no production version yet; nothing to compare with")
    reference = store.read_reference(model, pointer["version"])
    current = current_window(settings, model, day)
    dcfg = drift_config(cfg)
    result = run_drift(reference, current, dcfg, name=f"{model} {day}")

    day_s = day.isoformat()
    html_uri = json_uri = None
    if result.has_report:
        html_uri = store.put_report(
            model, day_s, "report.html", result.html().encode(), "text/html"
        )
        json_uri = store.put_report(
            model, day_s, "report.json", result.json().encode(), "application/json"
        )
    history = reg.drift_reports(model, since=day - dt.timedelta(days=30))
    # Every training run of any cause starts the cooldown; its data time (as_of) is the clock
    # the guards run on, so backfills and replays judge the past as it was.
    retrains = [
        dt.datetime.fromisoformat(v.lineage["as_of"]) if v.lineage.get("as_of") else v.created_at
        for v in reg.list_versions(model)
    ]
    decision = decide_retrain(
        result.verdict,
        day,
        history,
        dcfg.guards,
        retrain_running=retrain_running,
        retrains=retrains,
    )
    summary = result.summary()
    drifted = [c for c, f in summary["feature_scores"].items() if f["drifted"]]
    reg.upsert_drift_report(
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
        decision_detail=decision.reason,
        airflow_run_id=run_id,
    )
    expiry = settings.storage.presign_expiry_hours * 3600
    report_url = store.presigned_url(html_uri, expiry) if html_uri else "(no report: too few rows)"
    message = render_drift_email(
        result,
        model=model,
        date=day,
        decision=decision,
        report_url=report_url,
        run_url=run_url,
        reference_sample=reference,
        current_sample=current,
    )
    message["From"] = settings.notify.sender
    message["To"] = ", ".join(cfg.recipients)
    path = email_path(model, day)
    path.write_bytes(message.as_bytes(policy=email.policy.SMTP))
    out = {
        "model": model,
        "date": day_s,
        "verdict": str(result.verdict),
        "decision": str(decision.action),
        "decision_reason": decision.reason,
        "triggers_retrain": decision.triggers_retrain,
        "drifted_features": drifted,
        "n_drifted": result.n_drifted,
        "n_features": result.n_features,
        "report_html": html_uri,
        "report_json": json_uri,
        "email": str(path),
        "subject": str(message["Subject"]),
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
    }
    log.info("drift %s %s: %s", model, day, out)
    return out


def send_day_email(settings: Settings, model: str, day: dt.date) -> str:
    """Send the rendered e-mail through ``smtp_default`` (retried by the task on failure)."""
    import email as email_lib

    from bantay.notify import send_email

    path = email_path(model, day)
    message = email_lib.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    send_email(message, settings.notify.smtp_conn_id)
    return str(message["Subject"])
