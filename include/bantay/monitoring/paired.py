"""Is the shadow challenger better at predicting than production? A paired comparison on matured
labels: both models scored the same learners on the same nights (``score`` and
``shadow_score`` of the prediction log), so they are judged on exactly the same outcomes.

Agreement between the two models says nothing about outcomes; this does. Only learner-days whose
label window has closed count (scored on day ``d``, a label can only have matured by
``d + label_delay_days``); the rest are counted as excluded, with the day the next ones reach
their delay. Each learner counts once (their newest matured labelled day), because a learner's
weekly outcomes are strongly correlated and treating them as independent rows would make the
test overconfident.

The decision rests on one pre-declared test, DeLong's test of the ROC AUC difference at
``alpha`` (two-sided): "challenger better", "challenger worse", or "not yet". PR AUC (with a
paired bootstrap interval), recall at each version's own decision threshold (with McNemar's
test on the positives) and the per-slice figures are evidence beside it, not extra chances to
win.

What it measures when flags act: outcomes are observed under production's interventions. If
staff act on production's flags and acting works, production's prevented outcomes count as its
misses, so both models are judged on outcomes production already changed, and the difference
leans towards the challenger. Pairing removes sampling noise, not this bias: in
``benchmarks/eval_paired.py`` (two equally good models, staff acting on half of production's
flags) the shift is about as many standard errors for the paired difference as for the naive
comparison of each model's flagged learners, and the paired test's false wins grow with
efficacy. Given the staff capacity (``acting_capacity``), the comparison is made below the
acting cut: each day's top ``capacity`` learners of either model are left out, so every
learner acted on is, and what remains are outcomes no flag changed; the same cut for both
models keeps it fair. It then measures how well each model ranks the learners below both
cuts, not everyone. Without the cut a "challenger worse" still stands: the bias only
favours the challenger.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from bantay.monitoring.paired_report import table
from bantay.monitoring.paired_stats import (
    delong,
    delong_covariance,
    mcnemar,
    paired_bootstrap,
    percentile_interval,
)
from bantay.schema import ENTITY, TIMESTAMP
from bantay.training.evaluation import FALLBACK_THRESHOLD, category_label, slice_specs

BETTER = "challenger better"
WORSE = "challenger worse"
NOT_YET = "not yet"
SHADOW_SCORE, SHADOW_VERSION = "shadow_score", "shadow_version"
MATURED = "_matured"  # the day a label arrived (bantay.monitoring.window.matured_labels)


class PairedDataError(ValueError):
    """Nothing to compare yet: no shadow scored, or no label of a shadow-scored day matured."""


@dataclass(frozen=True)
class Side:
    """One model's figures on the compared learners."""

    versions: tuple[str, ...]
    roc_auc: float
    pr_auc: float
    thresholds: dict[str, float]
    flagged: int
    recall: float


@dataclass(frozen=True)
class SliceResult:
    """Both models on one slice value; ``skipped`` says why a group was not compared."""

    slice: str
    value: str
    rows: int
    positives: int
    production_roc_auc: float | None = None
    shadow_roc_auc: float | None = None
    p_value: float | None = None
    production_recall: float | None = None
    shadow_recall: float | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class Maturity:
    """Which shadow-scored learner-days could be judged on ``as_of``."""

    as_of: dt.date
    label_delay_days: int
    matured_rows: int
    unmatured_rows: int
    unlabelled_rows: int
    next_maturity: dt.date | None
    acting_capacity: int | None = None
    excluded_acting: int = 0


@dataclass(frozen=True)
class PairedComparison:
    """Production against the shadow challenger on the same learners, and the decision."""

    model: str
    shadow_version: str
    maturity: Maturity
    learners: int
    positives: int
    negatives: int
    production: Side
    shadow: Side
    roc_auc_difference: float
    roc_auc_interval: tuple[float, float]
    p_value: float
    pr_auc_difference: float
    pr_auc_interval: tuple[float, float] | None
    bootstrap_samples: int
    recall_difference: float
    recall_p_value: float
    alpha: float
    decision: str
    reason: str
    slices: tuple[SliceResult, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["maturity"]["as_of"] = self.maturity.as_of.isoformat()
        nxt = self.maturity.next_maturity
        out["maturity"]["next_maturity"] = nxt.isoformat() if nxt else None
        return out

    def as_table(self) -> str:
        return table(self)


def version_threshold(metrics: Mapping[str, Any] | None) -> float:
    """A version's decision threshold from its registry metrics: the score reaching its
    precision target on its test set (``test.threshold_at_precision``), else the fallback."""
    found = ((metrics or {}).get("test") or {}).get("threshold_at_precision")
    return float(found) if isinstance(found, int | float) else FALLBACK_THRESHOLD


def _shadow_rows(log: pd.DataFrame, model: str, shadow_version: str | None) -> pd.DataFrame:
    if SHADOW_SCORE not in log.columns or log[SHADOW_SCORE].notna().sum() == 0:
        raise PairedDataError(
            f"no shadow has scored {model} in the prediction log read; stage one with "
            f"'bantay shadow --model {model} --to VERSION' and let bantay_scoring run"
        )
    rows = log[log[SHADOW_SCORE].notna()]
    if shadow_version is None:
        shadow_version = str(rows.sort_values(TIMESTAMP)[SHADOW_VERSION].iloc[-1])
    rows = rows[rows[SHADOW_VERSION] == shadow_version]
    if rows.empty:
        seen = sorted(log[SHADOW_VERSION].dropna().astype(str).unique())
        raise PairedDataError(
            f"shadow version {shadow_version} of {model} has no scored rows; shadows scored: {seen}"
        )
    return rows


def _utc(stamps: pd.Series) -> pd.Series:
    """Timestamps as one dtype whatever the writer's precision (labels and logs join on them)."""
    return pd.to_datetime(stamps, utc=True).astype("datetime64[ns, UTC]")


def matured_rows(
    rows: pd.DataFrame, labels: pd.DataFrame, label: str, as_of: dt.date, delay: int
) -> tuple[pd.DataFrame, Maturity]:
    """The rows whose label window closed by ``as_of``, joined with their labels (inner)."""
    days = pd.to_datetime(rows[TIMESTAMP], utc=True).dt.date
    closed = (days + dt.timedelta(days=delay) <= as_of).to_numpy()
    waiting = days[~closed]
    if MATURED in labels.columns:
        labels = labels[pd.to_datetime(labels[MATURED]).dt.date <= as_of]
    right = labels[[ENTITY, TIMESTAMP, label]].dropna(subset=[label])
    right = right.drop_duplicates([ENTITY, TIMESTAMP], keep="last").astype({ENTITY: "int64"})
    right[TIMESTAMP] = _utc(right[TIMESTAMP])
    ripe = rows[closed].drop(columns=[label], errors="ignore")
    ripe = ripe.assign(**{TIMESTAMP: _utc(ripe[TIMESTAMP])})
    joined = ripe.merge(right, on=[ENTITY, TIMESTAMP], how="inner")
    maturity = Maturity(
        as_of=as_of,
        label_delay_days=delay,
        matured_rows=int(closed.sum()),
        unmatured_rows=int((~closed).sum()),
        unlabelled_rows=int(closed.sum()) - len(joined),
        next_maturity=(min(waiting) + dt.timedelta(days=delay)) if len(waiting) else None,
    )
    return joined, maturity


def below_acting_cut(rows: pd.DataFrame, capacity: int) -> tuple[pd.DataFrame, int]:
    """The rows outside each day's ``capacity`` highest scores of either model, and how many
    were left out.

    Staff act on at most ``capacity`` of production's flags a day, its highest scores first, so
    every learner acted on is among production's top ``capacity``: the rows left are outcomes
    no flag changed. Leaving out the shadow's top ``capacity`` as well keeps the cut the same
    for both models (cutting only production's top would truncate its ranking alone and favour
    the challenger). What is compared is then each model's ranking of the learners below both
    acting cuts, not of everyone.
    """
    if capacity < 0:
        raise ValueError(f"acting capacity {capacity} must be 0 or more flags acted on a day")
    by_day = rows.groupby(TIMESTAMP)
    top_a = by_day["score"].rank(method="first", ascending=False) <= capacity
    top_b = by_day[SHADOW_SCORE].rank(method="first", ascending=False) <= capacity
    top = (top_a | top_b).to_numpy()
    return rows[~top], int(top.sum())


def _no_labels_message(model: str, maturity: Maturity) -> str:
    when = (
        f"the next shadow-scored learner-days reach their {maturity.label_delay_days}-day "
        f"label delay on {maturity.next_maturity}"
        if maturity.next_maturity
        else "no shadow-scored day is still waiting for its label"
    )
    return (
        f"no label of a shadow-scored learner of {model} has matured by {maturity.as_of} "
        f"({maturity.unmatured_rows} learner-days still inside their label window, "
        f"{maturity.unlabelled_rows} matured without an outcome); {when}"
    )


def newest_per_learner(rows: pd.DataFrame) -> pd.DataFrame:
    """Each learner once: their newest labelled day."""
    return rows.sort_values([ENTITY, TIMESTAMP]).drop_duplicates(ENTITY, keep="last")


def _flags(scores: np.ndarray, versions: np.ndarray, thresholds: Mapping[str, float]) -> np.ndarray:
    """Whether each row is flagged at the threshold of the version that scored it."""
    cuts = np.array([thresholds.get(str(v), FALLBACK_THRESHOLD) for v in versions], dtype=float)
    return scores >= cuts


def _side(
    y: np.ndarray, scores: np.ndarray, versions: np.ndarray, thresholds: Mapping[str, float]
) -> Side:
    flagged = _flags(scores, versions, thresholds)
    used = tuple(sorted({str(v) for v in versions}))
    return Side(
        versions=used,
        roc_auc=float(delong_covariance(y, scores)[0][0]),
        pr_auc=float(average_precision_score(y, scores)),
        thresholds={v: float(thresholds.get(v, FALLBACK_THRESHOLD)) for v in used},
        flagged=int(flagged.sum()),
        recall=float(flagged[y == 1].mean()),
    )


def _decide(p_value: float, difference: float, alpha: float, enough: str | None) -> tuple[str, str]:
    """The decision and its reason: ``enough`` (why the sample is too small) wins."""
    if enough:
        return NOT_YET, enough
    if p_value < alpha:
        word = BETTER if difference > 0 else WORSE
        return word, f"ROC AUC difference {difference:+.4f}, DeLong p = {p_value:.3g} < {alpha:g}"
    return NOT_YET, (
        f"ROC AUC difference {difference:+.4f} is within noise (DeLong p = {p_value:.3g} >= "
        f"{alpha:g}); keep scoring in shadow"
    )


def _too_few(positives: int, negatives: int, min_class_rows: int) -> str | None:
    if min(positives, negatives) >= min_class_rows:
        return None
    return (
        f"{positives} positives and {negatives} negatives so far; at least {min_class_rows} "
        "of each are needed before a decision"
    )


def slice_keys(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """The slice value of each row as stable text; None when the log lacks its column."""
    spec = slice_specs([name])[name]
    try:
        keys = spec(frame) if callable(spec) else frame[spec]
    except KeyError:
        return None
    return pd.Series(keys, index=frame.index).map(category_label).astype(str)


def _slice_result(
    name: str,
    value: str,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    fa: np.ndarray,
    fb: np.ndarray,
    min_rows: int,
) -> SliceResult:
    n, pos = len(y), int(y.sum())
    if n < min_rows or pos == 0 or pos == n:
        reason = f"fewer than {min_rows} rows" if n < min_rows else "a single class"
        return SliceResult(name, value, n, pos, skipped=reason)
    test = delong(y, a, b)
    return SliceResult(
        name,
        value,
        n,
        pos,
        production_roc_auc=test.auc_a,
        shadow_roc_auc=test.auc_b,
        p_value=test.p_value,
        production_recall=float(fa[y == 1].mean()),
        shadow_recall=float(fb[y == 1].mean()),
    )


def compare_slices(
    rows: pd.DataFrame, label: str, slices: Sequence[str], flags: tuple[np.ndarray, np.ndarray]
) -> tuple[SliceResult, ...]:
    """Both models per value of each configured slice (no decision: evidence per group)."""
    y = rows[label].astype(int).to_numpy()
    a, b = rows["score"].to_numpy(float), rows[SHADOW_SCORE].to_numpy(float)
    out = []
    for name in slices:
        keys = slice_keys(rows, name)
        if keys is None:
            out.append(SliceResult(name, "*", len(rows), int(y.sum()), skipped="not in the log"))
            continue
        for value in sorted(keys.unique()):
            m = (keys == value).to_numpy()
            out.append(_slice_result(name, value, y[m], a[m], b[m], flags[0][m], flags[1][m], 50))
    return tuple(out)


def compare_shadow(
    log: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    model: str,
    label: str,
    as_of: dt.date,
    label_delay_days: int,
    thresholds: Mapping[str, float] | None = None,
    slices: Sequence[str] = (),
    alpha: float = 0.05,
    bootstrap: int = 1000,
    seed: int = 0,
    min_class_rows: int = 20,
    shadow_version: str | None = None,
    acting_capacity: int | None = None,
) -> PairedComparison:
    """Production against the shadow on the learners whose labels matured by ``as_of``.

    ``log``: prediction-log rows (``score``, ``model_version``, ``shadow_score``,
    ``shadow_version`` and the slice columns); ``labels``: the label feed's rows (a
    ``_matured`` column, when present, drops labels that arrived after ``as_of``);
    ``thresholds``: each version's decision threshold (see :func:`version_threshold`);
    ``acting_capacity``: the most flags staff act on a day; when given, the comparison is made
    below the acting cut (:func:`below_acting_cut`), on outcomes no flag changed.
    Raises :class:`PairedDataError` when no shadow scored or no label matured yet.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    rows = _shadow_rows(log, model, shadow_version)
    version = str(rows[SHADOW_VERSION].iloc[0])
    excluded = 0
    if acting_capacity is not None:
        rows, excluded = below_acting_cut(rows, acting_capacity)
    joined, maturity = matured_rows(rows, labels, label, as_of, label_delay_days)
    maturity = dataclasses.replace(
        maturity, acting_capacity=acting_capacity, excluded_acting=excluded
    )
    if joined.empty:
        raise PairedDataError(_no_labels_message(model, maturity))
    rows = newest_per_learner(joined)
    y = rows[label].astype(int).to_numpy()
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        raise PairedDataError(
            f"the {len(y)} matured learners of {model} hold a single class ({pos} positives); "
            f"wait for more labels (next maturity: {maturity.next_maturity or 'none pending'})"
        )
    options = _Options(
        dict(thresholds or {}), tuple(slices), alpha, bootstrap, seed, min_class_rows
    )
    return _compared(rows, y, model, label, version, maturity, options)


@dataclass(frozen=True)
class _Options:
    thresholds: dict[str, float]
    slices: tuple[str, ...]
    alpha: float
    bootstrap: int
    seed: int
    min_class_rows: int


def _compared(
    rows: pd.DataFrame,
    y: np.ndarray,
    model: str,
    label: str,
    version: str,
    maturity: Maturity,
    opt: _Options,
) -> PairedComparison:
    """Every figure of the comparison on the matured rows, and the decision."""
    thresholds, alpha = opt.thresholds, opt.alpha
    a, b = rows["score"].to_numpy(float), rows[SHADOW_SCORE].to_numpy(float)
    prod = _side(y, a, rows["model_version"].to_numpy(), thresholds)
    shadow = _side(y, b, rows[SHADOW_VERSION].to_numpy(), thresholds)
    test = delong(y, a, b)
    boot = (
        paired_bootstrap(y, a, b, average_precision_score, samples=opt.bootstrap, seed=opt.seed)
        if opt.bootstrap
        else np.array([])
    )
    fa = _flags(a, rows["model_version"].to_numpy(), thresholds)
    fb = _flags(b, rows[SHADOW_VERSION].to_numpy(), thresholds)
    decision, reason = _decide(
        test.p_value,
        test.difference,
        alpha,
        _too_few(test.positives, test.negatives, opt.min_class_rows),
    )
    if decision == BETTER and maturity.acting_capacity is None:
        reason += (
            "; if staff act on production's flags, its prevented outcomes count against it: "
            "give the acting capacity to judge below the acting cut"
        )
    return PairedComparison(
        model=model,
        shadow_version=version,
        maturity=maturity,
        learners=len(y),
        positives=test.positives,
        negatives=test.negatives,
        production=prod,
        shadow=shadow,
        roc_auc_difference=test.difference,
        roc_auc_interval=test.interval(alpha),
        p_value=test.p_value,
        pr_auc_difference=shadow.pr_auc - prod.pr_auc,
        pr_auc_interval=percentile_interval(boot, alpha),
        bootstrap_samples=int(boot.size),
        recall_difference=shadow.recall - prod.recall,
        recall_p_value=mcnemar(fa[y == 1], fb[y == 1]),
        alpha=alpha,
        decision=decision,
        reason=reason,
        slices=compare_slices(rows, label, opt.slices, (fa, fb)),
    )
