"""What a drift check found: per-feature drift of the newest day (with the 7-day view for
context), data-quality findings per day, quality on matured labels, fairness across slices, how
the model's attributions moved, and the verdict."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from bantay.monitoring.fairness_results import AttributionCheck, FairnessCheck
from bantay.settings.drift import ColumnKind, Issue
from bantay.vocabulary import Verdict


@dataclasses.dataclass(frozen=True)
class FeatureDrift:
    """One column on the newest day against the reference (Evidently's score and flag), and
    the same column over the whole window for context."""

    column: str
    kind: ColumnKind
    method: str
    score: float | None  # None: not computed (no values; see data quality)
    threshold: float
    drifted: bool
    window_score: float | None = None
    window_drifted: bool = False
    higher_is_drift: bool = True

    @property
    def severity(self) -> float:
        """Score relative to its threshold, >= 1 when drifted, comparable across methods."""
        if self.score is None or math.isnan(self.score):
            return -1.0
        if self.higher_is_drift:
            return self.score / self.threshold if self.threshold else math.inf
        return self.threshold / self.score if self.score else math.inf


# The score column is judged like a feature; the name says what it is in e-mails and XCom.
PredictionDrift = FeatureDrift


@dataclasses.dataclass(frozen=True)
class DataQualityFinding:
    column: str
    issue: Issue
    detail: str
    day: str | None = None  # ISO date of the day with the finding; None: the whole window


@dataclasses.dataclass(frozen=True)
class PerformanceCheck:
    """Quality on matured labels against the reference's, with an interval on the drop."""

    metric: str
    reference: float
    current: float
    drop: float  # reference - current: positive is worse
    low: float
    high: float
    tolerance: float
    degraded: bool
    labelled_day: str  # ISO date the judged labels were observed on: the check's evidence
    rows: int
    reference_rows: int
    version: str | None = None  # whose scores were judged (the back-tested production version)


@dataclasses.dataclass(frozen=True)
class ClassificationQuality:
    """Quality on labelled rows; ``reference`` is None when the reference has no labels."""

    current: dict[str, float | None]
    reference: dict[str, float | None] | None
    current_labelled_rows: int
    reference_labelled_rows: int


@dataclasses.dataclass
class DriftResult:
    """Everything the e-mail, the registry row and the Asset event need from one drift check."""

    features: list[FeatureDrift]
    drifted_share: float
    n_drifted: int
    n_features: int
    dataset_drift: bool  # widespread: drifted_share >= drift_share (severity, not the gate)
    drift_share_threshold: float
    prediction: FeatureDrift | None
    data_quality: list[DataQualityFinding]
    classification: ClassificationQuality | None
    reference_rows: int
    current_rows: int
    reference_rows_total: int
    current_rows_total: int
    verdict: Verdict
    day: str | None = None
    performance: PerformanceCheck | None = None
    window_days: int = 1
    current_rows_unobserved: int = 0  # newest-day rows left out: values carried from earlier days
    fairness: FairnessCheck | None = None
    attribution: AttributionCheck | None = None
    _report: Callable[[], Any] | None = dataclasses.field(default=None, repr=False, compare=False)
    _snapshot: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def has_report(self) -> bool:
        """False when the newest day was empty or too small for Evidently (see data_quality)."""
        return self._report is not None or self._snapshot is not None

    @property
    def broken_columns(self) -> list[str]:
        """Columns with data-quality findings on the newest day, in order of first finding."""
        return list(dict.fromkeys(f.column for f in self.today_findings))

    @property
    def today_findings(self) -> list[DataQualityFinding]:
        return [f for f in self.data_quality if f.day in (None, self.day)]

    @property
    def data_quality_days(self) -> list[str]:
        """Days of the window with a data-quality finding (no drift retrain while any)."""
        return sorted({f.day or str(self.day) for f in self.data_quality})

    @property
    def evidence_day(self) -> str | None:
        """The labelled day a PERFORMANCE verdict rests on (ISO date); None when the newest
        day's own rows are the evidence (every other verdict, or a PERFORMANCE day whose
        features or score also moved that day).

        Matured labels stay in the lookback for weeks, so the same labelled day can give
        PERFORMANCE on many consecutive days; the persistence guard counts it once.
        """
        if self.verdict is not Verdict.PERFORMANCE or self.performance is None:
            return None
        if self.n_drifted or (self.prediction is not None and self.prediction.drifted):
            return None
        return self.performance.labelled_day

    @property
    def watched(self) -> list[FeatureDrift]:
        """Features that moved in the window view but not on the newest day."""
        broken = {f.column for f in self.data_quality}
        return [
            f
            for f in self.ranked_features()
            if f.window_drifted and not f.drifted and f.column not in broken
        ]

    def ranked_features(self) -> list[FeatureDrift]:
        """Features by severity, most drifted first."""
        return sorted(self.features, key=lambda f: f.severity, reverse=True)

    def evidence_columns(self, top_n: int) -> list[str]:
        """The ``top_n`` columns that best show what was judged: broken columns first (the
        evidence for DATA QUALITY), then features by severity, whatever the verdict, so an OK
        day shows what "looks like the reference" means."""
        if top_n <= 0:
            return []
        ranked = [f.column for f in self.ranked_features() if f.score is not None]
        broken = [c for c in self.broken_columns if c != "*"]
        return list(dict.fromkeys([*broken, *ranked]))[:top_n]

    def snapshot(self) -> Any:
        """The Evidently snapshot of the newest day against the reference (built on demand)."""
        if self._snapshot is None:
            if self._report is None:
                raise RuntimeError(
                    "this drift result has no Evidently report (the newest day was empty or "
                    "too small to test); read data_quality for the reason"
                )
            self._snapshot = self._report()
        return self._snapshot

    def html(self, banner: str | None = None) -> str:
        """The full Evidently HTML report, opened by ``banner`` (bantay's verdict and decision).

        Megabytes: upload it, link it, never inline it.
        """
        page = self.snapshot().get_html_str(as_iframe=False)
        if not banner:
            return page
        head, sep, tail = page.partition("<body>")
        if not sep:
            return banner + page
        return head + sep + banner + tail

    def json(self) -> str:
        """The Evidently snapshot as JSON (metrics with their configuration)."""
        return self.snapshot().json()

    def as_data(self) -> dict[str, Any]:
        """Every finding as plain data (JSON-serialisable), for a task that tells what was
        judged; :meth:`from_data` reads it back. The Evidently report is not part of it."""
        fields = [f for f in dataclasses.fields(self) if not f.name.startswith("_")]
        data = {f.name: getattr(self, f.name) for f in fields}
        data["features"] = [dataclasses.asdict(f) for f in self.features]
        data["data_quality"] = [dataclasses.asdict(f) for f in self.data_quality]
        for key in ("prediction", "classification", "performance"):
            value = getattr(self, key)
            data[key] = dataclasses.asdict(value) if value is not None else None
        for key in ("fairness", "attribution"):
            value = getattr(self, key)
            data[key] = value.as_data() if value is not None else None
        data["verdict"] = str(self.verdict)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> DriftResult:
        """The result :meth:`as_data` wrote, without its Evidently report."""

        def optional(kind: type, value: dict[str, Any] | None) -> Any:
            return kind(**value) if value is not None else None

        return cls(
            **{
                **data,
                "features": [FeatureDrift(**f) for f in data["features"]],
                "data_quality": [DataQualityFinding(**f) for f in data["data_quality"]],
                "prediction": optional(FeatureDrift, data["prediction"]),
                "classification": optional(ClassificationQuality, data["classification"]),
                "performance": optional(PerformanceCheck, data["performance"]),
                "fairness": _read(FairnessCheck, data.get("fairness")),
                "attribution": _read(AttributionCheck, data.get("attribution")),
                "verdict": Verdict(data["verdict"]),
            }
        )

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable summary for the registry row, XCom and Asset event extras."""
        return {
            "verdict": str(self.verdict),
            "day": self.day,
            "drifted_share": self.drifted_share,
            "n_drifted": self.n_drifted,
            "n_features": self.n_features,
            "dataset_drift": self.dataset_drift,
            "drift_share_threshold": self.drift_share_threshold,
            "feature_scores": {
                f.column: {
                    "method": f.method,
                    "score": f.score,
                    "threshold": f.threshold,
                    "drifted": f.drifted,
                    "window_score": f.window_score,
                    "window_drifted": f.window_drifted,
                    "kind": f.kind,
                }
                for f in self.ranked_features()
            },
            "watched": [f.column for f in self.watched],
            "prediction": dataclasses.asdict(self.prediction) if self.prediction else None,
            "data_quality": [dataclasses.asdict(f) for f in self.data_quality],
            "data_quality_days": self.data_quality_days,
            "performance": dataclasses.asdict(self.performance) if self.performance else None,
            "classification": dataclasses.asdict(self.classification)
            if self.classification
            else None,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "reference_rows_total": self.reference_rows_total,
            "current_rows_total": self.current_rows_total,
            "current_rows_unobserved": self.current_rows_unobserved,
            "evidence_day": self.evidence_day,
            "fairness": self.fairness.as_data() if self.fairness else None,
            "attribution": self.attribution.as_data() if self.attribution else None,
        }


def _read(kind: Any, data: dict[str, Any] | None) -> Any:
    """``kind.from_data(data)``; None for a result written before the check had it."""
    return kind.from_data(data) if data is not None else None
