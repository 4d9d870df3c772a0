"""Data-quality checks in pandas: a broken feed (null jumps, frozen or stuck columns, unit
changes, values out of range, unseen categories) is a DATA QUALITY verdict, never a reason to
retrain. Every day of the window is checked on its own, so a break shows on its first day
instead of being diluted by the healthy days around it."""

from __future__ import annotations

import dataclasses
import logging
import math

import pandas as pd

from bantay.monitoring.results import DataQualityFinding
from bantay.settings.drift import DriftConfig

log = logging.getLogger(__name__)


_MIN_VALUES_FOR_SHAPE = 30  # fewer non-null values cannot show a frozen column
_MIN_PAIRS = 100  # fewer learner-day pairs cannot show a stuck column


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def check_data_quality(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    cfg: DriftConfig,
    *,
    previous: pd.DataFrame | None = None,
    baseline_repeat: dict[str, float] | None = None,
    day: str | None = None,
) -> list[DataQualityFinding]:
    """Findings that mean the feed is broken (not the world changed); cheap and explicit.

    ``previous``: the day before ``current`` (with ``learner_id``), for the stuck-column rule;
    ``baseline_repeat``: per column, the share of learners whose value is unchanged from one
    day to the next in the reference (see :func:`repeat_shares`).
    """
    findings = _check(reference, current, cfg)
    if previous is not None and baseline_repeat:
        findings += _stuck(current, previous, cfg, baseline_repeat)
    return [dataclasses.replace(f, day=day) for f in findings]


def _check(
    reference: pd.DataFrame, current: pd.DataFrame, cfg: DriftConfig
) -> list[DataQualityFinding]:
    findings: list[DataQualityFinding] = []
    if len(current) < cfg.min_rows:
        findings.append(
            DataQualityFinding(
                "*",
                "too_few_rows",
                f"the day has {len(current)} rows; at least {cfg.min_rows} are needed "
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
    top = float(cur_counts.iloc[0])
    # One value covers most rows and the rest shrank to a quarter of the reference's spread
    # (learners missing today keep yesterday's value, so a frozen feed is rarely 100 %).
    if (
        len(cur_v) >= _MIN_VALUES_FOR_SHAPE
        and top >= cfg.frozen_share
        and (1 - top) <= 0.25 * (1 - ref_top)
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


def repeat_shares(frame: pd.DataFrame, cfg: DriftConfig) -> dict[str, float]:
    """Per numerical column, the share of learners whose value did not change from one day to
    the next, over consecutive days present in ``frame`` (a reference sample spread over days).
    """
    key, ts = cfg.label_join_keys[0], cfg.label_join_keys[-1]
    if key not in frame.columns or ts not in frame.columns:
        return {}
    days = frame[ts].dt.normalize()
    left = frame.assign(_day=days)
    right = frame.assign(_day=days - pd.Timedelta(days=1))
    pairs = left.merge(right, on=[key, "_day"], suffixes=("", "_next"))
    if len(pairs) < _MIN_PAIRS:
        return {}
    out = {}
    for col in cfg.numerical_columns:
        if col in frame.columns:
            both = pairs[[col, f"{col}_next"]].dropna()
            if len(both) >= _MIN_PAIRS:
                out[col] = float((both[col] == both[f"{col}_next"]).mean())
    return out


def _stuck(
    current: pd.DataFrame, previous: pd.DataFrame, cfg: DriftConfig, baseline: dict[str, float]
) -> list[DataQualityFinding]:
    key = cfg.label_join_keys[0]
    if key not in current.columns or key not in previous.columns:
        return []
    cols = [c for c in baseline if c in current.columns and c in previous.columns]
    pairs = current[[key, *cols]].merge(previous[[key, *cols]], on=key, suffixes=("", "_prev"))
    out = []
    for col in cols:
        both = pairs[[col, f"{col}_prev"]].dropna()
        if len(both) < _MIN_PAIRS or baseline[col] > cfg.stuck_reference_max:
            continue
        same = float((both[col] == both[f"{col}_prev"]).mean())
        # Of the learners whose value normally changes from one day to the next, most did not.
        if (same - baseline[col]) >= cfg.stuck_share * (1 - baseline[col]):
            out.append(
                DataQualityFinding(
                    col,
                    "stuck",
                    f"{same:.0%} of learners have exactly yesterday's value (the reference: "
                    f"{baseline[col]:.0%}); the feed stopped updating",
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
