"""The daily check's signals beside drift: fairness across the model's slices and attribution
drift, judged on the day's prediction log and the matured labels, and the verdict they give.

FAIRNESS is given only on a day drift would call OK or WATCH: a broken feed, a quality drop or
drift tells more, and their evidence still carries the per-slice numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pandas as pd

from bantay.monitoring.attribution import attribution_drift
from bantay.monitoring.fairness import decision_threshold, judge_fairness
from bantay.monitoring.fairness_results import AttributionCheck, FairnessCheck
from bantay.monitoring.performance import BACKTEST
from bantay.monitoring.results import DriftResult
from bantay.schema import TIMESTAMP
from bantay.settings import ModelSettings
from bantay.settings.drift import FairnessConfig
from bantay.vocabulary import Verdict


def _on(frame: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    if frame.empty or TIMESTAMP not in frame.columns:
        return frame.iloc[:0]
    return frame[pd.to_datetime(frame[TIMESTAMP], utc=True).dt.date == day]


def _served_by(frame: pd.DataFrame, version: str) -> pd.DataFrame:
    """The rows ``version`` scored itself: only its own attributions are comparable with its
    explanation."""
    if "model_version" not in frame.columns:
        return frame
    return frame[frame["model_version"].astype(str) == version]


def judge_signals(
    model: ModelSettings,
    manifest: dict[str, Any],
    current: pd.DataFrame,
    labelled: pd.DataFrame | None,
    day: dt.date,
    cfg: FairnessConfig,
) -> tuple[FairnessCheck, AttributionCheck | None]:
    """Fairness of ``day`` (flag rates of its scored rows; recall gaps on ``labelled``, the
    matured rows back-tested by the version) and its attribution drift."""
    threshold = decision_threshold(manifest)
    version = str(manifest["version"])
    today = _on(current, day)
    scored = labelled is not None and BACKTEST in labelled.columns
    fairness = judge_fairness(
        today,
        labelled,
        model.slices,
        threshold,
        cfg,
        allowed_gap=model.gate.max_recall_gap,
        target=model.label,
        labelled_score=BACKTEST if scored else None,
        version=version,
    )
    attribution = attribution_drift(
        _served_by(today, version),
        _on(current, day - dt.timedelta(days=1)),
        manifest,
        threshold,
        cfg,
    )
    return fairness, attribution


def with_signals(
    result: DriftResult, fairness: FairnessCheck | None, attribution: AttributionCheck | None
) -> DriftResult:
    """``result`` carrying the signals, FAIRNESS when a slice regressed on an otherwise quiet
    day."""
    verdict = result.verdict
    if fairness is not None and fairness.regressed and verdict in (Verdict.OK, Verdict.WATCH):
        verdict = Verdict.FAIRNESS
    return dataclasses.replace(result, fairness=fairness, attribution=attribution, verdict=verdict)
