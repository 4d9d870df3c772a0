"""Drift monitoring: Evidently 0.7 statistics, pandas data-quality checks, the verdict, retrain guards.

The daily drift task compares a bounded sample of the current prediction log with the reference
sample stored beside the production model version:

* cheap, explicit **data-quality checks** in pandas decide whether the feed itself is broken
  (null jumps, frozen columns, unit changes, out-of-range values, unseen categories);
* **Evidently** computes per-column drift scores and renders the HTML/JSON report;
* the **verdict** is ``DATA QUALITY`` when the feed is broken (Evidently flags a broken feed as
  drift too, but retraining on it would bake the breakage into the model), else ``DRIFT`` when
  enough features or the prediction drifted, else ``OK``;
* :func:`decide_retrain` turns the verdict plus history into an action without I/O, so guards
  (persistence, cooldown, rate limit, already running) are unit-testable.

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

import dataclasses
import logging
import math
import operator
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

ColumnKind = Literal["numerical", "categorical"]
Issue = Literal["nulls", "frozen", "unit_change", "new_category", "out_of_range", "too_few_rows"]


@dataclasses.dataclass(frozen=True)
class _Method:
    """What bantay needs to know about an Evidently drift method."""

    compare: Callable[[float, float], bool]  # (score, threshold) -> drifted
    kinds: frozenset[str]
    default_threshold: float

    @property
    def higher_is_drift(self) -> bool:
        return self.compare in (operator.ge, operator.gt)


_NUM = frozenset({"numerical"})
_CAT = frozenset({"categorical"})
_BOTH = _NUM | _CAT

# Mirrors evidently/legacy/calculations/stattests/*.py (0.7.x): comparator and default threshold
# of each registered method, so "drifted" and the ordering are computed exactly as Evidently does.
METHODS: dict[str, _Method] = {
    # distances / effect sizes: drifted when score >= threshold
    "wasserstein": _Method(operator.ge, _NUM, 0.1),
    "psi": _Method(operator.ge, _BOTH, 0.1),
    "jensenshannon": _Method(operator.ge, _BOTH, 0.1),
    "hellinger": _Method(operator.ge, _BOTH, 0.1),
    "kl_div": _Method(operator.ge, _BOTH, 0.1),
    "ed": _Method(operator.gt, _NUM, 0.1),
    # p-values: drifted when score < threshold (<= for ks and cramer_von_mises)
    "ks": _Method(operator.le, _NUM, 0.05),
    "cramer_von_mises": _Method(operator.le, _NUM, 0.1),
    "t_test": _Method(operator.lt, _NUM, 0.05),
    "anderson": _Method(operator.lt, _NUM, 0.1),
    "mannw": _Method(operator.lt, _NUM, 0.05),
    "es": _Method(operator.lt, _NUM, 0.05),
    "empirical_mmd": _Method(operator.lt, _NUM, 0.1),
    "chisquare": _Method(operator.lt, _CAT, 0.05),
    "z": _Method(operator.lt, _CAT, 0.05),
    "fisher_exact": _Method(operator.lt, _CAT, 0.1),
    "g_test": _Method(operator.lt, _CAT, 0.1),
    "TVD": _Method(operator.lt, _CAT, 0.1),
}


class Verdict(StrEnum):
    """The one-word answer on-call reads first; stored as-is in the registry."""

    OK = "OK"
    DRIFT = "DRIFT"
    DATA_QUALITY = "DATA QUALITY"


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


class GuardConfig(BaseModel):
    """Retrain guards: drift must persist, retrains cool down, and are rate limited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    persistence_days: int = Field(2, ge=1, description="DRIFT on N consecutive days incl. today")
    cooldown_days: int = Field(7, ge=0, description="days after any retrain with no auto retrain")
    max_retrains_per_7d: int = Field(2, ge=0, description="drift-triggered retrains per 7 days")


class DriftConfig(BaseModel):
    """How one model's drift is measured; the lead maps ``bantay.yaml`` onto this.

    Example (YAML)::

        numerical_columns: [attendance_rate, study_minutes, grade_level, ...]
        categorical_columns: [region, parent_abroad]
        valid_ranges: {attendance_rate: [0, 1], study_minutes: [0, 600]}
        per_column_method: {grade_level: psi}
        drift_share: 0.3
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    numerical_columns: list[str] = Field(default_factory=list)
    categorical_columns: list[str] = Field(default_factory=list)
    prediction_column: str | None = "score"
    target_column: str = "at_risk"
    label_join_keys: list[str] = Field(default_factory=lambda: ["learner_id", "event_timestamp"])

    numerical_method: str = "wasserstein"
    numerical_threshold: float | None = None  # None: the method's default (0.1 for wasserstein)
    categorical_method: str = "jensenshannon"
    categorical_threshold: float | None = None
    prediction_method: str = "wasserstein"
    prediction_threshold: float | None = None
    per_column_method: dict[str, str] = Field(default_factory=dict)
    per_column_threshold: dict[str, float] = Field(default_factory=dict)
    drift_share: float = Field(0.3, gt=0, le=1, description="share of drifted features = DRIFT")

    sample_size: int = Field(20_000, ge=100)
    seed: int = 42
    min_rows: int = Field(500, ge=1, description="smaller current windows cannot be judged")

    # data-quality thresholds (broken feed -> DATA QUALITY, never retrain)
    null_share_increase: float = Field(0.2, gt=0, le=1)
    frozen_share: float = Field(0.99, gt=0, le=1)
    frozen_reference_max_share: float = Field(0.9, gt=0, le=1)
    unit_change_factor: float = Field(10.0, gt=1)
    out_of_range_share: float = Field(0.01, ge=0, le=1)
    new_category_share: float = Field(0.01, ge=0, le=1)
    valid_ranges: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)
    allowed_categories: dict[str, list[Any]] = Field(default_factory=dict)

    guards: GuardConfig = Field(default_factory=GuardConfig)

    @property
    def features(self) -> list[str]:
        return [*self.numerical_columns, *self.categorical_columns]

    def kind(self, column: str) -> ColumnKind:
        return "categorical" if column in self.categorical_columns else "numerical"

    def method_for(self, column: str) -> str:
        default = (
            self.categorical_method if self.kind(column) == "categorical" else self.numerical_method
        )
        return self.per_column_method.get(column, default)

    def threshold_for(self, column: str) -> float:
        if column in self.per_column_threshold:
            return self.per_column_threshold[column]
        method = self.method_for(column)
        default = self.default_threshold(self.kind(column))
        if column in self.per_column_method or default is None:
            return METHODS[method].default_threshold
        return default

    def default_threshold(self, kind: ColumnKind) -> float | None:
        return self.categorical_threshold if kind == "categorical" else self.numerical_threshold

    def prediction_threshold_value(self) -> float:
        if self.prediction_threshold is not None:
            return self.prediction_threshold
        return METHODS[self.prediction_method].default_threshold

    @model_validator(mode="after")
    def _check(self) -> DriftConfig:
        if not self.features:
            raise ValueError(
                "drift config lists no columns: set numerical_columns and/or categorical_columns"
            )
        both = set(self.numerical_columns) & set(self.categorical_columns)
        if both:
            raise ValueError(
                f"columns {sorted(both)} are listed as both numerical and categorical; keep one"
            )
        for key in ("per_column_method", "per_column_threshold", "valid_ranges"):
            unknown = set(getattr(self, key)) - set(self.features)
            if unknown:
                raise ValueError(
                    f"{key} names {sorted(unknown)}, which are not drift columns; "
                    f"known columns: {self.features}"
                )
        unknown = set(self.allowed_categories) - set(self.categorical_columns)
        if unknown:
            raise ValueError(f"allowed_categories names non-categorical columns {sorted(unknown)}")
        checks = [
            ("numerical_method", self.numerical_method, "numerical"),
            ("categorical_method", self.categorical_method, "categorical"),
            ("prediction_method", self.prediction_method, "numerical"),
        ]
        checks += [
            (f"per_column_method.{c}", m, self.kind(c)) for c, m in self.per_column_method.items()
        ]
        for key, method, kind in checks:
            if method not in METHODS:
                raise ValueError(
                    f"{key}: unknown drift method {method!r}; use one of {sorted(METHODS)}"
                )
            if kind not in METHODS[method].kinds:
                raise ValueError(
                    f"{key}: method {method!r} does not support {kind} columns; "
                    f"use one of {sorted(m for m, d in METHODS.items() if kind in d.kinds)}"
                )
        return self


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FeatureDrift:
    column: str
    kind: ColumnKind
    method: str
    score: float | None  # None: not computed (column empty or missing; see data quality)
    threshold: float
    drifted: bool

    @property
    def severity(self) -> float:
        """Score relative to its threshold, >= 1 when drifted, comparable across methods."""
        if self.score is None or math.isnan(self.score):
            return -1.0
        if METHODS[self.method].higher_is_drift:
            return self.score / self.threshold if self.threshold else math.inf
        return self.threshold / self.score if self.score else math.inf


@dataclasses.dataclass(frozen=True)
class PredictionDrift:
    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclasses.dataclass(frozen=True)
class DataQualityFinding:
    column: str
    issue: Issue
    detail: str


@dataclasses.dataclass(frozen=True)
class ClassificationQuality:
    """Quality on labelled rows; ``reference`` is None when the reference has no labels."""

    current: dict[str, float | None]
    reference: dict[str, float | None] | None
    current_labelled_rows: int
    reference_labelled_rows: int


@dataclasses.dataclass
class DriftResult:
    """Everything the e-mail, the registry row and the Asset event need from one drift run."""

    features: list[FeatureDrift]
    drifted_share: float
    n_drifted: int
    n_features: int
    dataset_drift: bool
    drift_share_threshold: float
    prediction: PredictionDrift | None
    data_quality: list[DataQualityFinding]
    classification: ClassificationQuality | None
    reference_rows: int
    current_rows: int
    reference_rows_total: int
    current_rows_total: int
    verdict: Verdict
    _snapshot: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def has_report(self) -> bool:
        """False when the window was empty or too small for Evidently (see data_quality)."""
        return self._snapshot is not None

    @property
    def broken_columns(self) -> list[str]:
        """Columns with data-quality findings, in order of first finding."""
        return list(dict.fromkeys(f.column for f in self.data_quality))

    def ranked_features(self) -> list[FeatureDrift]:
        """Features by severity, most drifted first (= by score when methods share a scale)."""
        return sorted(self.features, key=lambda f: f.severity, reverse=True)

    def html(self) -> str:
        """The full Evidently HTML report (megabytes: upload it, link it, never inline it)."""
        return self._require_snapshot().get_html_str(as_iframe=False)

    def json(self) -> str:
        """The Evidently snapshot as JSON (metrics with their configuration)."""
        return self._require_snapshot().json()

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable summary for the registry row, XCom and Asset event extras."""
        return {
            "verdict": str(self.verdict),
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
                    "kind": f.kind,
                }
                for f in self.ranked_features()
            },
            "prediction": dataclasses.asdict(self.prediction) if self.prediction else None,
            "data_quality": [dataclasses.asdict(f) for f in self.data_quality],
            "classification": dataclasses.asdict(self.classification)
            if self.classification
            else None,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "reference_rows_total": self.reference_rows_total,
            "current_rows_total": self.current_rows_total,
        }

    def _require_snapshot(self) -> Any:
        if self._snapshot is None:
            raise RuntimeError(
                "this drift result has no Evidently report (the current window was empty or "
                "too small to test); read data_quality for the reason"
            )
        return self._snapshot


# ---------------------------------------------------------------------------------------------
# sampling and preparation
# ---------------------------------------------------------------------------------------------


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

    target = cfg.target_column
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


def _prepare(df: pd.DataFrame, cfg: DriftConfig, extra: Iterable[str]) -> pd.DataFrame:
    """Only the monitored columns (never ids), numerics coerced to float, strings for categories."""
    import numpy as np
    import pandas as pd

    cols = [c for c in [*cfg.features, *extra] if c in df.columns]
    out = df.loc[:, cols].copy()
    for c in cols:
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


# ---------------------------------------------------------------------------------------------
# data quality (pandas)
# ---------------------------------------------------------------------------------------------


_MIN_VALUES_FOR_SHAPE = 30  # fewer non-null values cannot show a frozen column


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def check_data_quality(
    reference: pd.DataFrame, current: pd.DataFrame, cfg: DriftConfig
) -> list[DataQualityFinding]:
    """Findings that mean the feed is broken (not the world changed); cheap and explicit."""
    findings: list[DataQualityFinding] = []
    if len(current) < cfg.min_rows:
        findings.append(
            DataQualityFinding(
                "*",
                "too_few_rows",
                f"current window has {len(current)} rows; at least {cfg.min_rows} are needed "
                "for a drift test: check the upstream feed volume",
            )
        )
        if len(current) == 0:
            return findings
    for col in cfg.features:
        if col not in current.columns:
            findings.append(
                DataQualityFinding(col, "nulls", "column missing from the current data (100% null)")
            )
            continue
        findings += _column_findings(col, reference[col], current[col], cfg)
    return findings


def _column_findings(
    col: str, ref: pd.Series, cur: pd.Series, cfg: DriftConfig
) -> list[DataQualityFinding]:
    out: list[DataQualityFinding] = []
    ref_null, cur_null = float(ref.isna().mean()), float(cur.isna().mean())
    if cur_null - ref_null >= cfg.null_share_increase:
        out.append(
            DataQualityFinding(
                col, "nulls", f"null share {cur_null:.0%} vs {ref_null:.0%} in the reference"
            )
        )
    ref_v, cur_v = ref.dropna(), cur.dropna()
    if cur_v.empty or ref_v.empty:
        return out
    ref_top = float(ref_v.value_counts(normalize=True).iloc[0])
    cur_counts = cur_v.value_counts(normalize=True)
    if (
        len(cur_v) >= _MIN_VALUES_FOR_SHAPE
        and float(cur_counts.iloc[0]) >= cfg.frozen_share
        and ref_top <= cfg.frozen_reference_max_share
    ):
        out.append(
            DataQualityFinding(
                col,
                "frozen",
                f"{float(cur_counts.iloc[0]):.0%} of values are {str(cur_counts.index[0])[:30]!r}; "
                f"the reference's most common value covers {ref_top:.0%}",
            )
        )
    if cfg.kind(col) == "categorical":
        out += _category_findings(col, ref_v, cur_v, cfg)
    else:
        out += _numeric_findings(col, ref_v, cur_v, cfg)
    return out


def _category_findings(
    col: str, ref_v: pd.Series, cur_v: pd.Series, cfg: DriftConfig
) -> list[DataQualityFinding]:
    allowed = cfg.allowed_categories.get(col)
    known = {str(v) for v in (allowed if allowed is not None else ref_v.unique())}
    unseen = cur_v[~cur_v.astype(str).isin(known)]
    share = len(unseen) / len(cur_v)
    if share <= 0 or share < cfg.new_category_share:
        return []
    values = sorted({str(v)[:30] for v in unseen.unique()})
    shown = ", ".join(repr(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
    source = "the allowed list" if allowed is not None else "the reference"
    return [
        DataQualityFinding(
            col, "new_category", f"{share:.1%} of rows have values not in {source}: {shown}"
        )
    ]


def _numeric_findings(
    col: str, ref_v: pd.Series, cur_v: pd.Series, cfg: DriftConfig
) -> list[DataQualityFinding]:
    out: list[DataQualityFinding] = []
    ratio = _scale_ratio(ref_v, cur_v)
    f = cfg.unit_change_factor
    if ratio is not None and (ratio >= f or ratio <= 1 / f):
        out.append(
            DataQualityFinding(
                col,
                "unit_change",
                f"values are ~{_fmt(ratio)}x the reference's (mean {_fmt(cur_v.mean())} vs "
                f"{_fmt(ref_v.mean())}): a unit or scale change upstream",
            )
        )
    lo, hi = cfg.valid_ranges.get(col, (None, None))
    if lo is not None or hi is not None:
        bad = (cur_v < lo if lo is not None else False) | (cur_v > hi if hi is not None else False)
        share = float(bad.mean())
        if share > 0 and share >= cfg.out_of_range_share:
            out.append(
                DataQualityFinding(
                    col,
                    "out_of_range",
                    f"{share:.1%} of values outside [{lo}, {hi}] (min {_fmt(cur_v.min())}, "
                    f"max {_fmt(cur_v.max())})",
                )
            )
    return out


def _scale_ratio(ref_v: pd.Series, cur_v: pd.Series) -> float | None:
    """Current/reference scale, when the mean and 90th percentile of |x| agree on it."""
    ratios = []
    for stat in (lambda s: s.abs().mean(), lambda s: s.abs().quantile(0.9)):
        r, c = float(stat(ref_v)), float(stat(cur_v))
        if r > 0 and c > 0:
            ratios.append(c / r)
    if not ratios:
        return None
    if all(x > 1 for x in ratios) or all(x < 1 for x in ratios):
        return min(ratios, key=lambda x: abs(math.log(x)))  # the less extreme of the two
    return None


# ---------------------------------------------------------------------------------------------
# Evidently
# ---------------------------------------------------------------------------------------------


def _definition(cfg: DriftConfig, num: list[str], cat: list[str], classify: bool) -> Any:
    from evidently import BinaryClassification, DataDefinition

    classification = None
    if classify:
        classification = [
            BinaryClassification(
                target=cfg.target_column, prediction_probas=cfg.prediction_column, pos_label=1
            )
        ]
    return DataDefinition(
        numerical_columns=num, categorical_columns=cat, classification=classification
    )


def _run_evidently(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    cfg: DriftConfig,
    columns: list[str],
    with_prediction: bool,
    classify: bool,
    name: str | None,
) -> Any:
    from evidently import Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import ClassificationPreset, DataDriftPreset, DataSummaryPreset

    pred = cfg.prediction_column
    num = [c for c in columns if cfg.kind(c) == "numerical"]
    cat = [c for c in columns if cfg.kind(c) == "categorical"]
    if with_prediction:
        num.append(pred)
    if classify:
        cat.append(cfg.target_column)
    metrics: list[Any] = [
        DataDriftPreset(
            columns=columns,
            num_method=cfg.numerical_method,
            cat_method=cfg.categorical_method,
            per_column_method={c: cfg.method_for(c) for c in columns},
            per_column_threshold={c: cfg.threshold_for(c) for c in columns},
            drift_share=cfg.drift_share,
        )
    ]
    if with_prediction:
        metrics.append(
            ValueDrift(
                column=pred,
                method=cfg.prediction_method,
                threshold=cfg.prediction_threshold_value(),
            )
        )
    metrics.append(DataSummaryPreset(columns=[*columns, *([pred] if with_prediction else [])]))
    if classify:
        metrics.append(ClassificationPreset())
    keep = [*num, *cat]
    if classify:  # Evidently's confusion matrix needs integer labels, not 0.0/1.0
        ref = ref.assign(**{cfg.target_column: ref[cfg.target_column].astype(int)})
        cur = cur.assign(**{cfg.target_column: cur[cfg.target_column].astype(int)})
    definition = _definition(cfg, num, cat, classify)
    report = Report(metrics, include_tests=False)
    with warnings.catch_warnings():
        # evidently 0.7's legacy metrics trip pandas' downcasting FutureWarning on every run
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"evidently\.")
        return report.run(
            current_data=Dataset.from_pandas(cur[keep], data_definition=definition),
            reference_data=Dataset.from_pandas(ref[keep], data_definition=definition),
            name=name,
        )


def _value_drift_scores(snapshot_dict: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-column {score, method, threshold} from ``snapshot.dict()`` ValueDrift entries."""
    out: dict[str, dict[str, Any]] = {}
    for metric in snapshot_dict.get("metrics", []):
        config = metric.get("config") or {}
        kind = str(config.get("type", ""))
        if not (
            kind.endswith(":ValueDrift")
            or str(metric.get("metric_name", "")).startswith("ValueDrift(")
        ):
            continue
        value = metric.get("value")
        if isinstance(value, Mapping):  # tolerate a future {"value": x} shape
            value = value.get("value", value.get("score"))
        column = config.get("column")
        if column is None or value is None:
            continue
        out[column] = {
            "score": float(value),
            "method": config.get("method"),
            "threshold": config.get("threshold"),
        }
    return out


# ---------------------------------------------------------------------------------------------
# classification quality (sklearn, on the same samples)
# ---------------------------------------------------------------------------------------------


def _quality(y: pd.Series, p: pd.Series) -> dict[str, float | None]:
    from sklearn import metrics as skm

    y_true = y.astype(int).to_numpy()
    proba = p.astype(float).clip(1e-7, 1 - 1e-7).to_numpy()
    pred = (proba >= 0.5).astype(int)
    two_classes = len(set(y_true.tolist())) == 2
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, proba)) if two_classes else None,
        "pr_auc": float(skm.average_precision_score(y_true, proba)) if two_classes else None,
        "log_loss": float(skm.log_loss(y_true, proba, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y_true, proba)),
        "accuracy": float(skm.accuracy_score(y_true, pred)),
        "precision": float(skm.precision_score(y_true, pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, pred, zero_division=0)),
        "positive_rate": float(y_true.mean()),
        "mean_score": float(proba.mean()),
    }


def _classification(
    ref: pd.DataFrame, cur: pd.DataFrame, cfg: DriftConfig
) -> ClassificationQuality | None:
    t, p = cfg.target_column, cfg.prediction_column
    if p is None or t not in cur.columns or p not in cur.columns:
        return None
    cur_l = cur[[t, p]].dropna()
    if cur_l.empty:
        return None
    ref_l = ref[[t, p]].dropna() if t in ref.columns and p in ref.columns else ref.iloc[0:0]
    return ClassificationQuality(
        current=_quality(cur_l[t], cur_l[p]),
        reference=_quality(ref_l[t], ref_l[p]) if len(ref_l) else None,
        current_labelled_rows=len(cur_l),
        reference_labelled_rows=len(ref_l),
    )


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


def _verdict(
    findings: Sequence[DataQualityFinding], dataset_drift: bool, pred_drift: bool
) -> Verdict:
    if findings:
        return Verdict.DATA_QUALITY
    if dataset_drift or pred_drift:
        return Verdict.DRIFT
    return Verdict.OK


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    cfg: DriftConfig,
    labels_current: pd.Series | pd.DataFrame | None = None,
    *,
    name: str | None = None,
) -> DriftResult:
    """Compare current with reference: data quality first, then Evidently drift, then a verdict.

    ``labels_current`` (late labels) is either a Series aligned with ``current`` or a DataFrame
    with ``cfg.label_join_keys`` and ``cfg.target_column``; labels are joined before sampling.
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
    if labels_current is not None:
        current = _attach_labels(current, labels_current, cfg)

    extra = [c for c in (cfg.prediction_column, cfg.target_column) if c]
    ref = _prepare(sample(reference, cfg.sample_size, cfg.seed), cfg, extra)
    cur = _prepare(sample(current, cfg.sample_size, cfg.seed), cfg, extra)

    findings = check_data_quality(ref, cur, cfg)
    testable = [
        c
        for c in cfg.features
        if c in cur.columns and cur[c].notna().any() and ref[c].notna().any()
    ]
    pred = cfg.prediction_column
    with_prediction = bool(
        pred
        and pred in ref.columns
        and pred in cur.columns
        and ref[pred].notna().any()
        and cur[pred].notna().any()
    )
    classification = _classification(ref, cur, cfg)
    classify = bool(
        with_prediction
        and classification is not None
        and classification.reference is not None
        and cur[cfg.target_column].notna().all()
        and ref[cfg.target_column].notna().all()
        and cur[cfg.target_column].nunique() == 2
        and ref[cfg.target_column].nunique() == 2
    )

    snapshot, scores = None, {}
    if len(cur) >= cfg.min_rows and testable:
        snapshot = _run_evidently(ref, cur, cfg, testable, with_prediction, classify, name)
        scores = _value_drift_scores(snapshot.dict())
        absent = [c for c in testable if c not in scores]
        if absent:
            raise RuntimeError(
                f"Evidently's snapshot has no ValueDrift result for {absent}; the snapshot "
                "format may have changed (bantay expects evidently 0.7.x)"
            )
        for col in testable:
            if scores[col]["method"] not in (None, cfg.method_for(col)):
                log.warning(
                    "Evidently used method %s for %s, bantay configured %s",
                    scores[col]["method"],
                    col,
                    cfg.method_for(col),
                )

    features = []
    for col in cfg.features:
        method, threshold = cfg.method_for(col), cfg.threshold_for(col)
        s = scores.get(col)
        score = s["score"] if s else None
        drifted = score is not None and METHODS[method].compare(score, threshold)
        features.append(FeatureDrift(col, cfg.kind(col), method, score, threshold, drifted))

    prediction = None
    if pred and pred in scores:
        p_thr = cfg.prediction_threshold_value()
        p_score = scores[pred]["score"]
        prediction = PredictionDrift(
            pred,
            cfg.prediction_method,
            p_score,
            p_thr,
            METHODS[cfg.prediction_method].compare(p_score, p_thr),
        )

    n_drifted = sum(f.drifted for f in features)
    share = n_drifted / len(features)
    dataset_drift = share >= cfg.drift_share
    verdict = _verdict(findings, dataset_drift, bool(prediction and prediction.drifted))
    log.info(
        "drift verdict %s: %d of %d features drifted, prediction drift %s, %d data-quality findings",
        verdict,
        n_drifted,
        len(features),
        prediction.drifted if prediction else "n/a",
        len(findings),
    )
    return DriftResult(
        features=features,
        drifted_share=share,
        n_drifted=n_drifted,
        n_features=len(features),
        dataset_drift=dataset_drift,
        drift_share_threshold=cfg.drift_share,
        prediction=prediction,
        data_quality=findings,
        classification=classification,
        reference_rows=len(ref),
        current_rows=len(cur),
        reference_rows_total=len(reference),
        current_rows_total=len(current),
        verdict=verdict,
        _snapshot=snapshot,
    )


# ---------------------------------------------------------------------------------------------
# retrain guards (pure)
# ---------------------------------------------------------------------------------------------


class Action(StrEnum):
    RETRAIN_TRIGGERED = "retrain_triggered"
    ALREADY_TRIGGERED = "already_triggered"
    HELD_PERSISTENCE = "guard_held:persistence"
    HELD_COOLDOWN = "guard_held:cooldown"
    HELD_RUNNING = "guard_held:running"
    HELD_RATE_LIMIT = "guard_held:rate_limit"
    NO_ACTION = "no_action"
    DATA_QUALITY_ALERT = "data_quality_alert"


@dataclasses.dataclass(frozen=True)
class DayRecord:
    """One prior daily drift decision for a model (a registry ``drift_reports`` row)."""

    date: date
    verdict: str
    decision: str


@dataclasses.dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    until: date | None = None  # cooldown end, when the cooldown guard held
    streak: int = 0  # consecutive DRIFT days incl. today
    needed: int = 0  # consecutive DRIFT days the persistence guard asks for

    @property
    def triggers_retrain(self) -> bool:
        return self.action is Action.RETRAIN_TRIGGERED


def _field(rec: Any, *names: str) -> Any:
    for n in names:
        if isinstance(rec, Mapping) and n in rec:
            return rec[n]
        if hasattr(rec, n):
            return getattr(rec, n)
    raise ValueError(f"history record {rec!r} has none of the fields {names}")


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _coerce(rec: Any) -> DayRecord:
    """Accept DayRecord, mappings, or registry rows (``report_date``) alike."""
    if isinstance(rec, DayRecord):
        return rec
    return DayRecord(
        date=_as_date(_field(rec, "date", "report_date")),
        verdict=str(_field(rec, "verdict")),
        decision=str(_field(rec, "decision") or ""),
    )


def decide_retrain(
    verdict: Verdict | str,
    today: date,
    history: Iterable[Any],
    cfg: GuardConfig,
    *,
    retrain_running: bool = False,
    retrains: Iterable[date | datetime] = (),
) -> Decision:
    """Decide whether today's verdict triggers a retrain, without I/O.

    ``history``: prior daily records (date, verdict, decision) of this model; a record for
    ``today`` itself (a re-run) is honoured for idempotency and otherwise ignored.
    ``retrains``: start times of recent retrains of any cause (schedule, drift, a person).
    """
    verdict = Verdict(str(verdict))
    records = sorted((_coerce(r) for r in history), key=lambda r: r.date)
    same_day = [r for r in records if r.date == today]
    past = [r for r in records if r.date < today]
    if any(r.decision == Action.RETRAIN_TRIGGERED for r in same_day):
        return Decision(
            Action.ALREADY_TRIGGERED,
            f"a retrain was already triggered for {today}; re-running the date does not repeat it",
        )
    if verdict is Verdict.DATA_QUALITY:
        return Decision(
            Action.DATA_QUALITY_ALERT,
            "broken feed: retraining on it would learn the breakage; fix the feed first",
        )
    if verdict is Verdict.OK:
        return Decision(Action.NO_ACTION, "no drift")

    streak, needed = _drift_streak(today, past), cfg.persistence_days
    if retrain_running:
        return Decision(
            Action.HELD_RUNNING, "a retrain is already running", streak=streak, needed=needed
        )
    if streak < needed:
        return Decision(
            Action.HELD_PERSISTENCE,
            f"drift on {streak} of {needed} consecutive days needed",
            streak=streak,
            needed=needed,
        )
    triggered = [r.date for r in past if r.decision == Action.RETRAIN_TRIGGERED]
    last = max([*(_as_date(t) for t in retrains), *triggered], default=None)
    if last is not None and (today - last).days < cfg.cooldown_days:
        until = last + timedelta(days=cfg.cooldown_days)
        return Decision(
            Action.HELD_COOLDOWN,
            f"last retrain on {last}; cooldown of {cfg.cooldown_days} days until {until}",
            until=until,
            streak=streak,
            needed=needed,
        )
    recent = [d for d in triggered if (today - d).days < 7]
    if len(recent) >= cfg.max_retrains_per_7d:
        return Decision(
            Action.HELD_RATE_LIMIT,
            f"{len(recent)} drift-triggered retrains in the last 7 days "
            f"(limit {cfg.max_retrains_per_7d}); a person must look",
            streak=streak,
            needed=needed,
        )
    return Decision(
        Action.RETRAIN_TRIGGERED,
        f"drift on {streak} consecutive days (needed {cfg.persistence_days})",
        streak=streak,
        needed=needed,
    )


def _drift_streak(today: date, past: Sequence[DayRecord]) -> int:
    """Consecutive DRIFT days ending today (today counts); a missing day breaks the streak."""
    by_day = {r.date: r.verdict for r in past}
    streak, day = 1, today - timedelta(days=1)
    while by_day.get(day) == Verdict.DRIFT:
        streak += 1
        day -= timedelta(days=1)
    return streak
