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

Heavy libraries (pandas, numpy, evidently, sklearn) are imported inside functions: configuration
code that only needs :class:`DriftConfig` may be imported where the scheduler parses DAG files.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bantay.monitoring.performance import classification, performance_check
from bantay.monitoring.quality import check_data_quality, repeat_shares
from bantay.monitoring.results import DataQualityFinding, DriftResult, FeatureDrift
from bantay.monitoring.stattests import column_drift, higher_is_drift
from bantay.settings.drift import DriftConfig
from bantay.vocabulary import Verdict

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
_QUALITY_REFERENCE_ROWS = 5_000


def sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Bounded, deterministic row sample: Evidently holds everything in memory."""
    if n <= 0:
        raise ValueError(f"sample size must be positive, got {n}")
    if len(df) <= n:
        log.info("drift sample: using all %d rows (cap %d)", len(df), n)
        return df
    out = df.sample(n=n, random_state=seed).sort_index()
    log.info("drift sample: %d of %d rows (cap %d, seed %d)", n, len(df), n, seed)
    return out


def _attach_labels(
    current: pd.DataFrame, labels: pd.Series | pd.DataFrame, cfg: DriftConfig
) -> pd.DataFrame:
    """Join late-arriving labels onto the current window before sampling."""
    import pandas as pd

    target = cfg.target
    if isinstance(labels, pd.Series):
        if not labels.index.equals(current.index):
            raise ValueError(
                "labels_current is a Series whose index differs from the current frame's; "
                "pass a Series aligned with current, or a DataFrame with the join keys "
                f"{cfg.label_join_keys} and {target!r}"
            )
        return current.assign(**{target: labels.to_numpy()})
    keys = [k for k in cfg.label_join_keys if k in labels.columns and k in current.columns]
    if target not in labels.columns or not keys:
        raise ValueError(
            f"labels_current needs column {target!r} and join keys {cfg.label_join_keys} present "
            f"in both frames; it has {list(labels.columns)}"
        )
    right = labels[[*keys, target]].drop_duplicates(subset=keys, keep="last")
    left = current.drop(columns=[target], errors="ignore")
    return left.merge(right, on=keys, how="left", validate="many_to_one").set_axis(
        current.index, axis=0
    )


def observed_only(day_rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows of learners observed on their day, and how many were left out.

    Logs written before the ``observed`` column existed, and rows where it is empty, are kept:
    they are judged as they always were.
    """
    from bantay.serving.batch_features import OBSERVED

    if OBSERVED not in day_rows.columns:
        return day_rows, 0
    keep = day_rows[OBSERVED].astype("boolean").fillna(True).to_numpy(dtype=bool)
    return day_rows[keep], int((~keep).sum())


def _prepare(df: pd.DataFrame, cfg: DriftConfig, extra: Iterable[str]) -> pd.DataFrame:
    """The monitored columns (ids only as join keys, never into a report), numerics coerced to
    float, strings for categories."""
    import numpy as np
    import pandas as pd

    cols = [c for c in dict.fromkeys([*cfg.features, *extra]) if c in df.columns]
    out = df.loc[:, cols].copy()
    for c in cols:
        if c in cfg.label_join_keys:
            continue
        if c in cfg.categorical_columns:
            out[c] = _categorical(out[c])
        else:
            values = pd.to_numeric(out[c], errors="coerce").astype(float)
            out[c] = values.replace([np.inf, -np.inf], np.nan)  # inf is a broken value too
    return out


def _categorical(s: pd.Series) -> pd.Series:
    """Categories as plain objects; 1.0 and 1 (int column read with nulls) are one category."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.dropna()
        if (v == v.round()).all():
            s = s.astype("Int64")
    return s.astype(object).where(s.notna(), None)


def _definition(cfg: DriftConfig, num: list[str], cat: list[str]) -> Any:
    from evidently import DataDefinition

    return DataDefinition(numerical_columns=num, categorical_columns=cat)


def _report(
    ref: pd.DataFrame, cur: pd.DataFrame, cfg: DriftConfig, columns: list[str], name: str | None
) -> Any:
    """Evidently's report of the newest day against the reference, with bantay's methods."""
    from evidently import Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    pred = cfg.prediction_column
    with_prediction = bool(pred and pred in columns)
    features = [c for c in columns if c != pred]
    num = [c for c in features if cfg.kind(c) == "numerical"]
    cat = [c for c in features if cfg.kind(c) == "categorical"]
    thresholds = {c: t for c in features if (t := cfg.threshold_for(c)) is not None}
    metrics: list[Any] = [
        DataDriftPreset(
            columns=features,
            num_method=cfg.numerical_method,
            cat_method=cfg.categorical_method,
            per_column_method={c: cfg.method_for(c) for c in features},
            per_column_threshold=thresholds,
            drift_share=cfg.drift_share,
        )
    ]
    if with_prediction:
        num.append(pred)
        metrics.append(
            ValueDrift(column=pred, method=cfg.prediction_method, threshold=cfg.threshold_for(pred))
        )
    definition = _definition(cfg, num, cat)
    keep = [*num, *cat]
    report = Report(metrics, include_tests=True)
    with warnings.catch_warnings():
        # evidently 0.7's legacy metrics trip pandas' downcasting FutureWarning on every run
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"evidently\.")
        return report.run(
            current_data=Dataset.from_pandas(cur[keep], data_definition=definition),
            reference_data=Dataset.from_pandas(ref[keep], data_definition=definition),
            name=name,
        )


def evidently_flags(snapshot_dict: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per column, Evidently's ValueDrift score and its drifted flag (its test FAILs on drift)."""
    out: dict[str, dict[str, Any]] = {}
    for metric in snapshot_dict.get("metrics", []):
        config = metric.get("config") or {}
        if str(config.get("type", "")).endswith(":ValueDrift"):
            out.setdefault(config["column"], {})["score"] = float(metric["value"])
    for test in snapshot_dict.get("tests", []):
        params = (test.get("metric_config") or {}).get("params") or {}
        if str(params.get("type", "")).endswith(":ValueDrift") and "column" in params:
            status = str(getattr(test["status"], "value", test["status"]))
            out.setdefault(params["column"], {})["drifted"] = status == "FAIL"
    return out


def _days(frame: pd.DataFrame, ts: str) -> pd.Series | None:
    import pandas as pd

    if ts not in frame.columns:
        return None
    return pd.to_datetime(frame[ts], utc=True).dt.date


def _reference_for(ref: pd.DataFrame, day: dt.date | None, cfg: DriftConfig) -> pd.DataFrame:
    """Reference rows of the same weekday as ``day`` when there are enough, else of the same
    kind of day (school day or weekend), else all of it.

    A reference shorter than a week (a version that answered a drift days after it began)
    lacks some weekdays; comparing a Wednesday with a mix that holds a Sunday would call the
    weekend's lower attendance drift."""
    days = _days(ref, cfg.label_join_keys[-1])
    if not cfg.same_weekday or day is None or days is None:
        return ref
    weekdays = days.map(lambda d: d.weekday())
    same = ref[weekdays == day.weekday()]
    if len(same) >= cfg.min_rows:
        return same
    kind = ref[(weekdays >= 5) == (day.weekday() >= 5)]
    return kind if len(kind) >= cfg.min_rows else ref


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
    findings: Sequence[DataQualityFinding], performance_drop: bool, drifted: bool, watch: bool
) -> Verdict:
    if findings:
        return Verdict.DATA_QUALITY
    if performance_drop:
        return Verdict.PERFORMANCE
    if drifted:
        return Verdict.DRIFT
    if watch:
        return Verdict.WATCH
    return Verdict.OK


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
    only (see :func:`observed_only`). ``labels_current`` (late labels) is a Series aligned with
    ``current`` or a DataFrame with ``cfg.label_join_keys`` and the target. ``labelled``:
    prediction-log rows of earlier days with matured labels joined (and, from the drift task,
    the production version's back-test scores), for the performance check against the
    reference's labelled rows, or ``performance_reference``'s when given (a re-baselined
    reference has no labels; the version's quality at training is still the yardstick), or
    ``performance_yardstick`` (the version's held-out ROC AUC, positives, negatives) when no
    reference holds labelled rows.
    """

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
    target = cfg.target
    if labels_current is not None:
        current = _attach_labels(current, labels_current, cfg)
    ts = cfg.label_join_keys[-1]
    extra = [c for c in (cfg.prediction_column, target, *cfg.label_join_keys) if c]
    ref_all = _prepare(sample(reference, cfg.sample_size, cfg.seed), cfg, extra)
    days = _days(current, ts)
    if days is None or days.isna().all():
        by_day = {day: current}
    else:
        by_day = {d: current[days == d] for d in sorted(days.dropna().unique())}
    known = [d for d in by_day if d is not None]
    today = day if day is not None else (max(known) if known else None)
    cur_raw, unobserved = observed_only(by_day.get(today, current.iloc[0:0]))
    if today in by_day:
        by_day[today] = cur_raw  # its data quality is judged on the same rows as its drift
    if unobserved:
        log.info(
            "drift %s: %d rows of learners without their own row that day left out (%d judged)",
            today,
            unobserved,
            len(cur_raw),
        )
    cur = _prepare(sample(cur_raw, cfg.sample_size, cfg.seed), cfg, extra)
    window = _prepare(sample(current, cfg.sample_size, cfg.seed), cfg, extra)
    ref = _reference_for(ref_all, today, cfg)

    findings = _window_quality(ref_all, by_day, cfg, extra)
    today_s = str(today) if today is not None else None
    today_findings = [f for f in findings if f.day in (None, today_s)]
    columns = [c for c in cfg.features if c in cur.columns and cur[c].notna().any()]
    pred = cfg.prediction_column
    features = [_feature(c, ref, cur, window, ref_all, cfg) for c in cfg.features]
    prediction = None
    if pred and pred in cur.columns and pred in ref.columns and cur[pred].notna().any():
        prediction = _feature(pred, ref, cur, window, ref_all, cfg)
        columns.append(pred)

    performance = None
    if labelled is not None and pred:
        yardstick = ref_all
        if performance_reference is not None:
            yardstick = _prepare(
                sample(performance_reference, cfg.sample_size, cfg.seed), cfg, extra
            )
        performance = performance_check(
            yardstick,
            labelled,
            target,
            pred,
            cfg,
            tolerance=performance_tolerance,
            yardstick=performance_yardstick,
        )
    n_drifted = sum(f.drifted for f in features)
    share = n_drifted / len(features)
    moved = n_drifted > 0 or bool(prediction and prediction.drifted)
    broken = {f.column for f in findings}
    watch = any(f.window_drifted and f.column not in broken for f in features)
    verdict = _verdict(today_findings, bool(performance and performance.degraded), moved, watch)
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
    report = None
    if len(cur) >= cfg.min_rows and columns:

        def report() -> Any:
            return _report(ref, cur, cfg, columns, name)

    return DriftResult(
        features=features,
        drifted_share=share,
        n_drifted=n_drifted,
        n_features=len(features),
        dataset_drift=share >= cfg.drift_share,
        drift_share_threshold=cfg.drift_share,
        prediction=prediction,
        data_quality=findings,
        classification=classification(ref_all, window, target, pred),
        reference_rows=len(ref),
        current_rows=len(cur),
        reference_rows_total=len(reference),
        current_rows_total=len(cur_raw),
        verdict=verdict,
        day=today_s,
        performance=performance,
        window_days=len(by_day),
        current_rows_unobserved=unobserved,
        _report=report,
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
        frame = _prepare(sample(by_day[d], cfg.sample_size, cfg.seed), cfg, extra)
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
