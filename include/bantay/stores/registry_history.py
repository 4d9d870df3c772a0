"""The registry's history: the append-only promotion audit log and the daily drift report
summaries (one per model and report date; a re-run overwrites its own day)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bantay.stores.registry_engine import RegistryDatabase
from bantay.stores.registry_models import (
    PROMOTION_KINDS,
    VERDICTS,
    BaselineRecord,
    BaselineRow,
    DriftReportRecord,
    DriftReportRow,
    PromotionRecord,
    PromotionRow,
    _utcnow,
    as_record,
)
from bantay.vocabulary import Action, check_name


class PromotionLog(RegistryDatabase):
    """The promotion audit log: append and read, never change (database triggers enforce it)."""

    def record_promotion(
        self,
        model: str,
        to_version: str,
        *,
        actor: str,
        reason: str,
        from_version: str | None = None,
        kind: str = "promote",
        at: dt.datetime | None = None,
    ) -> PromotionRecord:
        """Append one entry to the promotion audit log (there is no way to change or remove it)."""
        check_name("model", model)
        check_name("to_version", to_version)
        if kind not in PROMOTION_KINDS:
            raise ValueError(f"promotion kind {kind!r} is not one of {list(PROMOTION_KINDS)}")
        if not actor or not actor.strip():
            raise ValueError("a promotion needs an actor (a person's name or the DAG run id)")
        if not reason or not reason.strip():
            raise ValueError("a promotion needs a reason (why this version, why now)")
        with self._write() as session:
            row = PromotionRow(
                model=model,
                from_version=from_version,
                to_version=to_version,
                actor=actor,
                reason=reason,
                kind=kind,
                at=at or _utcnow(),
            )
            session.add(row)
            session.flush()
            return as_record(PromotionRecord, row)

    def has_promotion(self, model: str, to_version: str, at: dt.datetime) -> bool:
        """Whether the swap to ``to_version`` made at ``at`` (the pointer's time) is audited."""
        with self._read() as session:
            return (
                session.scalars(
                    sa.select(PromotionRow.id).filter_by(model=model, to_version=to_version, at=at)
                ).first()
                is not None
            )

    def promotions(self, model: str) -> list[PromotionRecord]:
        """The audit log of ``model``, oldest first: by the time of each swap (rows from a
        repaired audit or a slow writer arrive late), then by insertion for equal times."""
        with self._read() as session:
            rows = session.scalars(
                sa.select(PromotionRow)
                .filter_by(model=model)
                .order_by(PromotionRow.at, PromotionRow.id)
            ).all()
            return [as_record(PromotionRecord, r) for r in rows]


class DriftHistory(RegistryDatabase):
    """What each day's drift report found and decided, per model."""

    def upsert_drift_report(
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
    ) -> DriftReportRecord:
        """Store the summary of ``model``'s drift report for ``report_date``; re-runs overwrite it.

        ``evidence_day``: the day the verdict's evidence was observed when it is not the report
        date (a PERFORMANCE verdict rests on labels observed days or weeks before)."""
        check_name("model", model)
        if isinstance(report_date, dt.datetime):
            report_date = report_date.date()
        if verdict not in VERDICTS:
            raise ValueError(f"drift verdict {verdict!r} is not one of {list(VERDICTS)}")
        if not 0.0 <= float(drifted_share) <= 1.0:
            raise ValueError(f"drifted_share {drifted_share!r} must be between 0 and 1")
        if not 0 <= int(n_drifted) <= int(n_features):
            raise ValueError(f"n_drifted={n_drifted} must be between 0 and n_features={n_features}")
        if not decision or not decision.strip():
            raise ValueError("a drift report needs a decision, e.g. 'no_action'")
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
        }
        for attempt in (1, 2):
            try:
                with self._write() as session:
                    row = session.scalars(
                        sa.select(DriftReportRow).filter_by(model=model, report_date=report_date)
                    ).one_or_none()
                    now = _utcnow()
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

    def drift_reports(self, model: str, since: dt.date | None = None) -> list[DriftReportRecord]:
        """Drift report summaries of ``model`` (from ``since``, inclusive), oldest first."""
        stmt = sa.select(DriftReportRow).filter_by(model=model)
        if since is not None:
            stmt = stmt.where(DriftReportRow.report_date >= _as_date(since))
        with self._read() as session:
            rows = session.scalars(stmt.order_by(DriftReportRow.report_date)).all()
            return [as_record(DriftReportRecord, r) for r in rows]

    def drift_reports_of_run(self, run_id: str) -> list[DriftReportRecord]:
        """The drift rows an Airflow drift run wrote (one per model it checked)."""
        stmt = sa.select(DriftReportRow).filter_by(airflow_run_id=run_id)
        with self._read() as session:
            rows = session.scalars(stmt.order_by(DriftReportRow.model)).all()
            return [as_record(DriftReportRecord, r) for r in rows]

    def retrains_triggered_since(self, model: str, since: dt.date) -> list[DriftReportRecord]:
        """Reports on or after ``since`` whose decision was ``retrain_triggered``, oldest first.

        For the cooldown guard: ``len(...)`` counts retrains, ``[-1].report_date`` is the last.
        """
        return [
            r
            for r in self.drift_reports(model, since=since)
            if r.decision == Action.RETRAIN_TRIGGERED
        ]


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, dt.datetime) else value


class BaselineLog(RegistryDatabase):
    """Re-baselines: append and read; the newest one of a version is its drift reference."""

    def record_baseline(
        self,
        model: str,
        version: str,
        *,
        reference_uri: str,
        sha256: str,
        first_day: dt.date,
        last_day: dt.date,
        rows: int,
        actor: str,
        reason: str,
    ) -> BaselineRecord:
        """Append one re-baseline (there is no way to change or remove it)."""
        check_name("model", model)
        check_name("version", version)
        if not actor or not actor.strip():
            raise ValueError("a re-baseline needs an actor (who decided)")
        if not reason or not reason.strip():
            raise ValueError("a re-baseline needs a reason (why the new inputs are the norm)")
        with self._write() as session:
            row = BaselineRow(
                model=model,
                version=version,
                reference_uri=reference_uri,
                sha256=sha256,
                first_day=first_day,
                last_day=last_day,
                rows=rows,
                actor=actor,
                reason=reason,
                at=_utcnow(),
            )
            session.add(row)
            session.flush()
            return as_record(BaselineRecord, row)

    def baselines(self, model: str, version: str | None = None) -> list[BaselineRecord]:
        """Re-baselines of ``model`` (of one ``version``), oldest first."""
        stmt = sa.select(BaselineRow).filter_by(model=model)
        if version is not None:
            stmt = stmt.filter_by(version=version)
        with self._read() as session:
            rows = session.scalars(stmt.order_by(BaselineRow.at, BaselineRow.id)).all()
            return [as_record(BaselineRecord, r) for r in rows]

    def current_baseline(self, model: str, version: str) -> BaselineRecord | None:
        """The newest re-baseline of ``version`` (None: its published reference holds)."""
        found = self.baselines(model, version)
        return found[-1] if found else None
