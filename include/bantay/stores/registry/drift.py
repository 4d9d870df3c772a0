"""The drift history of the registry: what each day's drift report found and decided, per model
(one summary per model and report date; a re-run overwrites its own day)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bantay.stores.registry.database import RegistryDatabase
from bantay.stores.registry.tables import (
    VERDICTS,
    DriftReportRecord,
    DriftReportRow,
    as_record,
    utcnow,
)
from bantay.vocabulary import Action, check_name


class DriftReports:
    """What each day's drift report found and decided, per model (``registry.drift``)."""

    def __init__(self, database: RegistryDatabase) -> None:
        self._db = database

    def upsert(
        self,
        model: str,
        report_date: dt.date,
        *,
        verdict: str,
        drifted_share: float,
        n_drifted: int,
        n_features: int,
        decision: str,
        feature_scores: Mapping[str, Any] | None = None,
        report_html_uri: str | None = None,
        report_json_uri: str | None = None,
        decision_detail: str | None = None,
        airflow_run_id: str | None = None,
        evidence_day: dt.date | str | None = None,
        prediction_drift: Mapping[str, Any] | None = None,
    ) -> DriftReportRecord:
        """Store the summary of ``model``'s drift report for ``report_date``; re-runs overwrite it.

        ``evidence_day``: the day the verdict's evidence was observed when it is not the report
        date (a PERFORMANCE verdict rests on labels observed days or weeks before).
        ``prediction_drift``: the drift of the score itself that day, None without scores."""
        check_name("model", model)
        if isinstance(report_date, dt.datetime):
            report_date = report_date.date()
        _check_summary(verdict, drifted_share, n_drifted, n_features, decision)
        values: dict[str, Any] = {
            "verdict": verdict,
            "drifted_share": float(drifted_share),
            "n_drifted": int(n_drifted),
            "n_features": int(n_features),
            "feature_scores": dict(feature_scores or {}),
            "report_html_uri": report_html_uri,
            "report_json_uri": report_json_uri,
            "decision": decision,
            "decision_detail": decision_detail,
            "airflow_run_id": airflow_run_id,
            "evidence_day": _as_date(evidence_day) if evidence_day is not None else None,
            "prediction_drift": dict(prediction_drift) if prediction_drift is not None else None,
        }
        for attempt in (1, 2):
            try:
                with self._db.write() as session:
                    row = session.scalars(
                        sa.select(DriftReportRow).filter_by(model=model, report_date=report_date)
                    ).one_or_none()
                    now = utcnow()
                    if row is None:
                        row = DriftReportRow(
                            model=model, report_date=report_date, created_at=now, **values
                        )
                        session.add(row)
                    else:
                        for key, value in values.items():
                            setattr(row, key, value)
                    row.updated_at = now
                    session.flush()
                    return as_record(DriftReportRecord, row)
            except IntegrityError:
                if attempt == 2:
                    raise
                # A concurrent writer inserted the same (model, date) first: update theirs.
        raise AssertionError("unreachable")  # pragma: no cover

    def reports(self, model: str, since: dt.date | None = None) -> list[DriftReportRecord]:
        """Drift report summaries of ``model`` (from ``since``, inclusive), oldest first."""
        stmt = sa.select(DriftReportRow).filter_by(model=model)
        if since is not None:
            stmt = stmt.where(DriftReportRow.report_date >= _as_date(since))
        with self._db.read() as session:
            rows = session.scalars(stmt.order_by(DriftReportRow.report_date)).all()
            return [as_record(DriftReportRecord, r) for r in rows]

    def of_run(self, run_id: str) -> list[DriftReportRecord]:
        """The drift rows an Airflow drift run wrote (one per model it checked)."""
        stmt = sa.select(DriftReportRow).filter_by(airflow_run_id=run_id)
        with self._db.read() as session:
            rows = session.scalars(stmt.order_by(DriftReportRow.model)).all()
            return [as_record(DriftReportRecord, r) for r in rows]

    def retrains_since(self, model: str, since: dt.date) -> list[DriftReportRecord]:
        """Reports on or after ``since`` whose decision was ``retrain_triggered``, oldest first.

        For the cooldown guard: ``len(...)`` counts retrains, ``[-1].report_date`` is the last.
        """
        return [
            r for r in self.reports(model, since=since) if r.decision == Action.RETRAIN_TRIGGERED
        ]


def _check_summary(
    verdict: str, drifted_share: float, n_drifted: int, n_features: int, decision: str
) -> None:
    """Refuse a summary the table's constraints (or a reader) could not make sense of."""
    if verdict not in VERDICTS:
        raise ValueError(f"drift verdict {verdict!r} is not one of {list(VERDICTS)}")
    if not 0.0 <= float(drifted_share) <= 1.0:
        raise ValueError(f"drifted_share {drifted_share!r} must be between 0 and 1")
    if not 0 <= int(n_drifted) <= int(n_features):
        raise ValueError(f"n_drifted={n_drifted} must be between 0 and n_features={n_features}")
    if not decision or not decision.strip():
        raise ValueError("a drift report needs a decision, e.g. 'no_action'")


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, dt.datetime) else value
