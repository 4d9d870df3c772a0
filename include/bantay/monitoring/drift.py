"""Drift monitoring: the newest day judged per feature, with the window for context.

The daily drift task compares the newest day of the prediction log with the reference sample
stored beside the production model version (rows of the same weekday, so weekly seasonality is
not drift), and keeps the last ``window_days`` days as context:

* explicit **data-quality checks** in pandas, on every day of the window, decide whether the
  feed itself is broken (null jumps, frozen or stuck columns, unit changes, out-of-range values,
  unseen categories);
* **Evidently's drift tests** score each feature and the model score on the newest day, with
  Evidently's own drifted flag; the same tests over the whole window give the context view;
  Evidently renders the HTML/JSON report of the newest day;
* the newest day is judged on the learners **observed** that day (the prediction log's
  ``observed`` column, when it has one): a learner absent from a feed carries earlier values
  forward, so a shifted day would otherwise show again in the next one and one shock would
  look like persistent drift;
* **matured labels** joined to the prediction log, scored again by the production version
  (a back-test, see :mod:`bantay.monitoring.performance`), give quality against the reference's,
  with an interval: a drop beyond the gate's tolerance is ``PERFORMANCE``;
* the **verdict**: ``DATA QUALITY`` when the newest day's feed is broken (retraining on it would
  learn the breakage), else ``PERFORMANCE``, else ``DRIFT`` when any monitored feature or the
  score moved on the newest day (the share of drifted features is severity, not the gate), else
  ``WATCH`` when a feature moved in the window view only, else ``OK``.

Why normalised Wasserstein distance for numerical columns (and Jensen-Shannon distance for
categorical ones) by default: both are effect sizes, so their value does not grow with the number
of rows. p-value tests (K-S, chi-square) flag negligible shifts once samples reach thousands of
rows and raise ~5 % false alarms per column under no change at all; Evidently's automatic choice
switches from K-S to Wasserstein at 1,000 reference rows, so a threshold's meaning would change
with the sample size. A fixed distance method keeps one meaning for every run. Distances are
noisy on small samples, hence ``min_rows``: a window smaller than that is a data-quality finding,
not a drift test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Sequence

import pandas as pd

from bantay.monitoring.evidently_report import drift_report
from bantay.monitoring.frames import (
    attach_labels,
    days_of,
    observed_only,
    prepare,
    reference_for,
    sample,
)
from bantay.monitoring.performance import classification, performance_check
from bantay.monitoring.quality import check_data_quality, repeat_shares
from bantay.monitoring.results import (
    DataQualityFinding,
    DriftResult,
    FeatureDrift,
    PerformanceCheck,
)
from bantay.monitoring.stattests import column_drift, higher_is_drift
from bantay.settings.drift import DriftConfig
from bantay.vocabulary import Verdict

log = logging.getLogger(__name__)
_QUALITY_REFERENCE_ROWS = 5_000


@dataclasses.dataclass(frozen=True)
class _Frames:
    """The frames one check compares, sampled and prepared (see :func:`_frames`)."""

    ref_all: pd.DataFrame  # the reference, sampled
    ref: pd.DataFrame  # its rows of the newest day's kind (see reference_for)
    cur: pd.DataFrame  # the newest day's observed rows, sampled
    cur_raw: pd.DataFrame  # the same rows before sampling
    window: pd.DataFrame  # the whole window, sampled
    by_day: dict  # each day of the window (the newest: observed rows only)
    today: dt.date | None
    unobserved: int  # newest-day rows left out: values carried from earlier days
    extra: list[str]  # columns kept beside the features: score, target, join keys


def _feature(
    col: str,
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    window: pd.DataFrame,
    ref_all: pd.DataFrame,
    cfg: DriftConfig,
) -> FeatureDrift:
    kind = cfg.kind(col)
    method, threshold = cfg.method_for(col), cfg.threshold_for(col)
    today = column_drift(ref[col], cur[col], kind, method, threshold) if col in cur else None
    ctx = (
        column_drift(ref_all[col], window[col], kind, method, threshold) if col in window else None
    )
    return FeatureDrift(
        column=col,
        kind=kind,
        method=today.method if today else method,
        score=today.score if today else None,
        threshold=today.threshold if today else (threshold or float("nan")),
        drifted=bool(today and today.drifted),
        window_score=ctx.score if ctx else None,
        window_drifted=bool(ctx and ctx.drifted),
        higher_is_drift=higher_is_drift(method, kind),
    )


def _verdict(
    today: dt.date | None,
    findings: Sequence[DataQualityFinding],
    features: Sequence[FeatureDrift],
    prediction: FeatureDrift | None,
    performance: PerformanceCheck | None,
) -> Verdict:
    """DATA QUALITY (the newest day's feed is broken), else PERFORMANCE, else DRIFT (a feature
    or the score moved that day), else WATCH (moved in the window only), else OK."""
    n_drifted = sum(f.drifted for f in features)
    broken = {f.column for f in findings}
    if any(f.day in (None, str(today) if today is not None else None) for f in findings):
        verdict = Verdict.DATA_QUALITY
    elif performance is not None and performance.degraded:
        verdict = Verdict.PERFORMANCE
    elif n_drifted > 0 or (prediction is not None and prediction.drifted):
        verdict = Verdict.DRIFT
    elif any(f.window_drifted and f.column not in broken for f in features):
        verdict = Verdict.WATCH
    else:
        verdict = Verdict.OK
    log.info(
        "drift verdict %s for %s: %d of %d features drifted, score drift %s, %d data-quality "
        "findings in the window",
        verdict,
        today,
        n_drifted,
        len(features),
        prediction.drifted if prediction else "n/a",
        len(findings),
    )
    return verdict


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    cfg: DriftConfig,
    labels_current: pd.Series | pd.DataFrame | None = None,
    *,
    day: dt.date | None = None,
    labelled: pd.DataFrame | None = None,
    performance_tolerance: float = 0.02,
    name: str | None = None,
    performance_reference: pd.DataFrame | None = None,
    performance_yardstick: tuple[float, int, int] | None = None,
) -> DriftResult:
    """Judge the newest day of ``current`` (the window) against ``reference``.

    ``current``: the prediction log of the window (rows stamped with ``event_timestamp``); the
    newest day is ``day`` (default: the latest in ``current``), judged on its observed learners
    only (see :func:`~bantay.monitoring.frames.observed_only`). ``labels_current`` (late labels)
    is a Series aligned with ``current`` or a DataFrame with ``cfg.label_join_keys`` and the
    target. ``labelled``: prediction-log rows of earlier days with matured labels joined (and,
    from the drift task, the production version's back-test scores), for the performance check
    against the reference's labelled rows, or ``performance_reference``'s when given (a
    re-baselined reference has no labels; the version's quality at training is still the
    yardstick), or ``performance_yardstick`` (the version's held-out ROC AUC, positives,
    negatives) when no reference holds labelled rows.
    """
    _check_reference(reference, cfg)
    if labels_current is not None:
        current = attach_labels(current, labels_current, cfg)
    frames = _frames(reference, current, cfg, day)
    ref, cur, window, ref_all = frames.ref, frames.cur, frames.window, frames.ref_all
    findings = _window_quality(ref_all, frames.by_day, cfg, frames.extra)
    pred = cfg.prediction_column
    features, prediction, columns = _columns(frames, cfg)
    performance = None
    if labelled is not None and pred:
        quality_reference = (performance_reference, performance_yardstick)
        performance = _performance(frames, labelled, cfg, performance_tolerance, *quality_reference)
    n_drifted = sum(f.drifted for f in features)
    verdict = _verdict(frames.today, findings, features, prediction, performance)
    reportable = len(cur) >= cfg.min_rows and bool(columns)
    share = n_drifted / len(features)
    return DriftResult(
        features=features,
        drifted_share=share,
        n_drifted=n_drifted,
        n_features=len(features),
        dataset_drift=share >= cfg.drift_share,
        drift_share_threshold=cfg.drift_share,
        prediction=prediction,
        data_quality=findings,
        classification=classification(ref_all, window, cfg.target, pred),
        reference_rows=len(ref),
        current_rows=len(cur),
        reference_rows_total=len(reference),
        current_rows_total=len(frames.cur_raw),
        verdict=verdict,
        day=str(frames.today) if frames.today is not None else None,
        performance=performance,
        window_days=len(frames.by_day),
        current_rows_unobserved=frames.unobserved,
        _report=functools.partial(drift_report, ref, cur, cfg, columns, name)
        if reportable
        else None,
    )


def _columns(
    frames: _Frames, cfg: DriftConfig
) -> tuple[list[FeatureDrift], FeatureDrift | None, list[str]]:
    """Each feature's drift, the score's (when the newest day has scores), and the columns with
    values on the newest day (what Evidently's report shows)."""
    ref, cur, window, ref_all = frames.ref, frames.cur, frames.window, frames.ref_all
    pred = cfg.prediction_column
    columns = [c for c in cfg.features if c in cur.columns and cur[c].notna().any()]
    features = [_feature(c, ref, cur, window, ref_all, cfg) for c in cfg.features]
    prediction = None
    if pred and pred in cur.columns and pred in ref.columns and cur[pred].notna().any():
        prediction = _feature(pred, ref, cur, window, ref_all, cfg)
        columns.append(pred)
    return features, prediction, columns


def _performance(
    frames: _Frames,
    labelled: pd.DataFrame,
    cfg: DriftConfig,
    tolerance: float,
    reference: pd.DataFrame | None,
    yardstick: tuple[float, int, int] | None,
) -> PerformanceCheck | None:
    """Quality on the labelled rows against the reference's labelled rows (``reference``'s when
    given), or against the held-out ``yardstick`` when no reference holds labels."""
    labelled_reference = frames.ref_all
    if reference is not None:
        labelled_reference = _prepared(reference, cfg, frames.extra)
    return performance_check(
        labelled_reference,
        labelled,
        cfg.target,
        cfg.prediction_column,
        cfg,
        tolerance=tolerance,
        yardstick=yardstick,
    )


def _check_reference(reference: pd.DataFrame, cfg: DriftConfig) -> None:
    missing = [c for c in cfg.features if c not in reference.columns]
    if missing:
        raise ValueError(
            f"reference data lacks drift columns {missing}; it has {list(reference.columns)}. "
            "The reference sample must be written with the model version's full feature set"
        )
    if reference.empty:
        raise ValueError(
            "reference data is empty; republish the model version with a reference sample"
        )


def _prepared(frame: pd.DataFrame, cfg: DriftConfig, extra: list[str]) -> pd.DataFrame:
    return prepare(sample(frame, cfg.sample_size, cfg.seed), cfg, extra)


def _frames(
    reference: pd.DataFrame, current: pd.DataFrame, cfg: DriftConfig, day: dt.date | None
) -> _Frames:
    """The window split by day; the newest day (``day``, default the latest) on its observed
    learners only, so its data quality is judged on the same rows as its drift."""
    extra = [c for c in (cfg.prediction_column, cfg.target, *cfg.label_join_keys) if c]
    ref_all = _prepared(reference, cfg, extra)
    days = days_of(current, cfg.label_join_keys[-1])
    if days is None or days.isna().all():
        by_day = {day: current}
    else:
        by_day = {d: current[days == d] for d in sorted(days.dropna().unique())}
    known = [d for d in by_day if d is not None]
    today = day if day is not None else (max(known) if known else None)
    cur_raw, unobserved = observed_only(by_day.get(today, current.iloc[0:0]))
    if today in by_day:
        by_day[today] = cur_raw
    if unobserved:
        log.info(
            "drift %s: %d rows of learners without their own row that day left out (%d judged)",
            today,
            unobserved,
            len(cur_raw),
        )
    return _Frames(
        ref_all=ref_all,
        ref=reference_for(ref_all, today, cfg),
        cur=_prepared(cur_raw, cfg, extra),
        cur_raw=cur_raw,
        window=_prepared(current, cfg, extra),
        by_day=by_day,
        today=today,
        unobserved=unobserved,
        extra=extra,
    )


def _window_quality(
    ref: pd.DataFrame, by_day: dict, cfg: DriftConfig, extra: list[str]
) -> list[DataQualityFinding]:
    """Data quality of every day of the window on its own (a break shows on its first day)."""
    baseline = repeat_shares(ref, cfg)
    ref = sample(ref, _QUALITY_REFERENCE_ROWS, cfg.seed)  # shares and quantiles need no more
    findings: list[DataQualityFinding] = []
    previous = None
    for d in sorted(by_day, key=lambda x: (x is None, x)):
        frame = _prepared(by_day[d], cfg, extra)
        findings += check_data_quality(
            ref,
            frame,
            cfg,
            previous=previous,
            baseline_repeat=baseline,
            day=str(d) if d is not None else None,
        )
        previous = frame
    return findings
