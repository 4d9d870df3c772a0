"""The daily check's signals beside drift: fairness across the model's slices and attribution
drift, judged on the prediction log and the matured labels, and the verdict they give.

FAIRNESS is given only on a day drift would call OK or WATCH: a broken feed, a quality drop or
drift tells more, and their evidence still carries the per-slice numbers. Attribution drift
alone turns an OK day into WATCH: the inputs look as they did, what the model leans on does not.

On a day an experiment scored in arms, the flag rates are those of the flags staff saw: each
row's ``served_score`` against the threshold of the version that served it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from bantay.monitoring.attribution import attribution_drift
from bantay.monitoring.fairness import decision_threshold, judge_fairness
from bantay.monitoring.fairness_results import AttributionCheck, FairnessCheck
from bantay.monitoring.frames import on_day
from bantay.monitoring.performance import BACKTEST
from bantay.monitoring.results import DriftResult
from bantay.schema import TIMESTAMP
from bantay.serving.experiment import SERVED_SCORE, SERVED_VERSION
from bantay.settings import ModelSettings
from bantay.settings.drift import FairnessConfig
from bantay.vocabulary import Verdict


def _on(frame: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    if frame.empty or TIMESTAMP not in frame.columns:
        return frame.iloc[:0]
    return frame[on_day(frame, TIMESTAMP, day)]


def _served_by(frame: pd.DataFrame, version: str) -> pd.DataFrame:
    """The rows ``version`` scored itself: only its own attributions are comparable with its
    explanation."""
    if "model_version" not in frame.columns:
        return frame
    mine = frame["model_version"].astype(str).to_numpy() == version
    return frame if mine.all() else frame[mine]  # no copy of a window it served whole


FLAG_SCORE = "flag_score"


def as_served(
    frame: pd.DataFrame, threshold: float, thresholds: Mapping[str, float]
) -> pd.DataFrame:
    """``frame`` with ``flag_score``: at or above ``threshold`` exactly when staff saw the row
    flagged. Rows an experiment's arm served carry their ``served_score`` moved by the gap
    between ``threshold`` and the serving version's own (``thresholds``; unknown: ``threshold``);
    other rows keep ``score``."""
    score = frame["score"].astype(float)
    if SERVED_SCORE not in frame.columns or SERVED_VERSION not in frame.columns:
        return frame.assign(**{FLAG_SCORE: score})
    served = frame[SERVED_SCORE].astype(float)
    cut = frame[SERVED_VERSION].map(lambda v: thresholds.get(str(v), threshold)).astype(float)
    moved = served - cut + threshold
    return frame.assign(**{FLAG_SCORE: moved.where(served.notna(), score)})


def judge_signals(
    model: ModelSettings,
    manifest: dict[str, Any],
    current: pd.DataFrame,
    labelled: pd.DataFrame | None,
    day: dt.date,
    cfg: FairnessConfig,
    served_thresholds: Mapping[str, float] | None = None,
) -> tuple[FairnessCheck, AttributionCheck | None]:
    """Fairness of ``day`` (flag rates of the flags staff saw; recall gaps on ``labelled``, the
    matured rows back-tested by the version) and its attribution drift. ``served_thresholds``:
    the threshold of each version an experiment served that day."""
    threshold = decision_threshold(manifest)
    version = str(manifest["version"])
    today = _on(current, day)
    scored = labelled is not None and BACKTEST in labelled.columns
    fairness = judge_fairness(
        as_served(today, threshold, served_thresholds or {}),
        labelled,
        model.slices,
        threshold,
        cfg,
        allowed_gap=model.gate.max_recall_gap,
        target=model.label,
        score=FLAG_SCORE,
        labelled_score=BACKTEST if scored else "score",
        version=version,
    )
    attribution = attribution_drift(
        _served_by(current, version),  # the drift window, as the input test reads it
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
    day, WATCH when only what the model leans on moved (a person looks; no retrain)."""
    verdict = result.verdict
    if fairness is not None and fairness.regressed and verdict in (Verdict.OK, Verdict.WATCH):
        verdict = Verdict.FAIRNESS
    elif attribution is not None and attribution.drifted and verdict == Verdict.OK:
        verdict = Verdict.WATCH
    return dataclasses.replace(result, fairness=fairness, attribution=attribution, verdict=verdict)
