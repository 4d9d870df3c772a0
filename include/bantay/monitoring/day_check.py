"""What one day's drift check hands on: the verdict, the decision, where the report is, and the
evidence a person is shown (the findings, and the values of the columns that best show them).

It travels between Airflow tasks as plain data (:meth:`DayCheck.as_data`): the check judges,
decides and records; the e-mail task composes and sends from this alone, so a retried e-mail
never judges again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from bantay.monitoring.guards import Decision
from bantay.monitoring.results import DriftResult
from bantay.vocabulary import Action

# The columns whose values travel with the check: the e-mail charts at most this many.
EVIDENCE_COLUMNS = 3
# And at most this many values of each side: the check travels through XCom (the Airflow
# database), and a histogram or share chart drawn from 5,000 values looks as one from all of them.
EVIDENCE_ROWS = 5_000
NO_REPORT = "(no report: too few rows)"
# The day's check as the e-mail was made of it, kept beside the day's report.
CHECK_FILE = "check.json"


@dataclasses.dataclass
class DayCheck:
    """One model's judged, decided and recorded day."""

    model: str
    day: dt.date
    result: DriftResult
    decision: Decision
    report_html: str | None
    report_json: str | None
    report_url: str  # presigned link to the HTML report, or NO_REPORT
    baseline: str | None  # the re-baselined reference judged against, if any
    reference_sample: pd.DataFrame  # the evidence columns' reference values
    current_sample: pd.DataFrame  # and the values of the rows the verdict judged
    experiment: dict[str, Any] | None = None  # the experiment the day was scored in (day_arms)

    @property
    def drifted_features(self) -> list[str]:
        return [f.column for f in self.result.ranked_features() if f.drifted]

    def as_data(self) -> dict[str, Any]:
        """JSON-serialisable: the summary XCom, the Asset event and the logs read its top
        keys; ``evidence`` is what :meth:`from_data` rebuilds the check from."""
        result, decision = self.result, self.decision
        return {
            "model": self.model,
            "date": self.day.isoformat(),
            "verdict": str(result.verdict),
            "decision": str(decision.action),
            "decision_reason": decision.reason,
            "triggers_retrain": decision.triggers_retrain,
            "hold_until": decision.until.isoformat() if decision.until else None,
            "drifted_features": self.drifted_features,
            "n_drifted": result.n_drifted,
            "n_features": result.n_features,
            "report_html": self.report_html,
            "report_json": self.report_json,
            "report_url": self.report_url,
            "reference_rows": result.reference_rows,
            "current_rows": result.current_rows,
            "evidence_day": result.evidence_day,
            "baseline": self.baseline,
            "experiment": self.experiment,
            "evidence": {
                "result": result.as_data(),
                "decision": _decision_data(decision),
                "reference": _columns(self.reference_sample),
                "current": _columns(self.current_sample),
            },
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> DayCheck:
        evidence = data["evidence"]
        return cls(
            model=data["model"],
            day=dt.date.fromisoformat(data["date"]),
            result=DriftResult.from_data(evidence["result"]),
            decision=_decision(evidence["decision"]),
            report_html=data["report_html"],
            report_json=data["report_json"],
            report_url=data["report_url"],
            baseline=data["baseline"],
            reference_sample=_frame(evidence["reference"]),
            current_sample=_frame(evidence["current"]),
            experiment=data.get("experiment"),
        )


def evidence_samples(
    result: DriftResult, reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference and current values of the first :data:`EVIDENCE_COLUMNS` evidence columns
    both frames hold (see :meth:`DriftResult.evidence_columns`), at most :data:`EVIDENCE_ROWS`
    of each."""
    candidates = result.evidence_columns(len(result.features) + 1)
    columns = [c for c in candidates if c in reference.columns and c in current.columns]
    columns = columns[:EVIDENCE_COLUMNS]
    return _at_most(reference[columns], EVIDENCE_ROWS), _at_most(current[columns], EVIDENCE_ROWS)


def _at_most(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """``frame``, or a seeded sample of ``rows`` of it: the same day gives the same charts."""
    return frame if len(frame) <= rows else frame.sample(rows, random_state=0)


def _decision_data(decision: Decision) -> dict[str, Any]:
    data = dataclasses.asdict(decision)
    data["action"] = str(decision.action)
    data["until"] = decision.until.isoformat() if decision.until else None
    return data


def _decision(data: dict[str, Any]) -> Decision:
    until = dt.date.fromisoformat(data["until"]) if data["until"] else None
    return Decision(**{**data, "action": Action(data["action"]), "until": until})


def _columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """Each column's values as plain Python values; missing and infinite ones (judged as
    missing) as None: JSON has neither NaN nor infinity."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_float_dtype(series):
            series = series.map(_chart_precision)  # a chart bins 30 ways: 4 digits are plenty
        values = series.astype(object)
        keep = values.notna() & ~values.isin([np.inf, -np.inf])
        out[column] = values.where(keep, None).tolist()
    return out


def _chart_precision(value: float) -> float:
    return float(f"{value:.4g}") if np.isfinite(value) else value


def _frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in columns.items()})
