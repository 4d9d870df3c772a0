"""The words for fairness across slices and for attribution drift: the subject's details of a
FAIRNESS day, what to do about it, and the lines the drift e-mail shows every day."""

from __future__ import annotations

from bantay.monitoring.fairness_results import (
    REFERENCE_BASIS,
    AttributionCheck,
    FairnessCheck,
    FeatureLean,
    SliceRecall,
)
from bantay.monitoring.results import DriftResult


def _best(check: FairnessCheck, worst: SliceRecall) -> SliceRecall | None:
    judged = [r for r in check.recalls if r.slice == worst.slice and r.recall is not None]
    return max(judged, key=lambda r: r.recall or 0.0, default=None)


def _worst(check: FairnessCheck) -> SliceRecall | None:
    return max(check.regressed, key=lambda r: r.gap or 0.0, default=None)


def fairness_details(result: DriftResult) -> str:
    """The regressed slice in a few words, for the subject of a FAIRNESS day."""
    check = result.fairness
    worst = _worst(check) if check else None
    if check is None or worst is None:
        return "no slice regressed"
    best = _best(check, worst)
    versus = f" vs {best.recall:.2f} in {best.group}" if best and best.recall is not None else ""
    return (
        f"recall {worst.recall:.2f} for {worst.slice}={worst.group}{versus} "
        f"(gap {worst.gap:.2f} > {check.allowed_gap:.2f})"
    )


def fairness_todo(result: DriftResult) -> str:
    """What to do on a FAIRNESS day."""
    check = result.fairness
    worst = _worst(check) if check else None
    where = f"{worst.slice}={worst.group}" if worst else "one slice"
    days = ", ".join(check.labelled_days[-1:]) if check and check.labelled_days else "?"
    return (
        f"A person must look: the model now misses more at-risk learners in {where} than in "
        f"the best slice, beyond the allowed gap, on labels matured up to {days}. A drift "
        "retrain does not repair this; check the slice's data and labels, and whether a "
        "per-slice threshold or a fairness-aware retrain is needed."
    )


def _lean_line(f: FeatureLean, more: bool) -> str:
    word = "more" if more else "less"
    if (
        f.flagged_before is not None
        and f.flagged_now is not None
        and abs(f.flagged_now - f.flagged_before) >= abs((f.share_now or 0) - (f.share_before or 0))
    ):
        where, before, now = "among the highest-scored learners ", f.flagged_before, f.flagged_now
    else:
        where, before, now = "", f.share_before, f.share_now
    share = f"{before:.0%} -> {now:.0%} of the attribution; " if before is not None else ""
    return (
        f"{where}the model now leans on {f.feature} much {word} than it did "
        f"({share}mean |attribution| {f.reference:.3f} -> {f.current:.3f}, {f.change:+.0%})"
    )


def _lean(a: AttributionCheck) -> list[str]:
    return [_lean_line(f, True) for f in a.leaning_more[:3]] + [
        _lean_line(f, False) for f in a.leaning_less[:2]
    ]


def _shift_line(a: AttributionCheck) -> str | None:
    if a.max_shift is None or (a.shift is None and a.flagged_shift is None):
        return None
    parts = []
    if a.shift is not None:
        parts.append(f"{a.shift:.1%} over all {a.rows} scored")
    if a.flagged_shift is not None:
        parts.append(f"{a.flagged_shift:.1%} among the {a.flagged_rows} highest-scored")
    if a.basis != REFERENCE_BASIS:
        return (
            f"attribution moved between features over {a.days} day(s) against the {a.basis}: "
            f"{' and '.join(parts)} ({OLDER})"
        )
    alarm = "ALARM: " if _over(a) else ""
    return (
        f"{alarm}attribution moved between features over {a.days} day(s) against the "
        f"{a.basis}: {' and '.join(parts)} (alarm at {a.max_shift:.0%})"
    )


def _over(a: AttributionCheck) -> bool:
    return a.max_shift is not None and any(
        s is not None and s >= a.max_shift for s in (a.shift, a.flagged_shift)
    )


# How an older version's attributions are judged (see ``monitoring.attribution``).
OLDER = (
    "the version predates its drift reference's explanation, so against its test rows: "
    "reported, never an alarm"
)


def attribution_todo(a: AttributionCheck) -> str:
    """What to do on a day only what the model leans on moved."""
    moved = a.leaning_more[:1] + a.leaning_less[:1]
    which = "; ".join(_lean_line(f, f in a.leaning_more) for f in moved)
    return (
        "Look at what the model leans on: no input moved beyond its drift threshold, yet "
        + (f"{which}. " if which else "its attribution moved between features. ")
        + "A feed that no longer tracks its learner (a join that mixes learners up) or a "
        "changed relation between features does this: check the upstream joins before "
        "trusting the flags. No retrain is started."
    )


def attribution_lines(a: AttributionCheck | None) -> list[str]:
    """The day's attribution drift in sentences (empty when the version has no explanation)."""
    if a is None:
        return []
    alarm = "ALARM: " if a.ndcg < a.min_ndcg else ""
    lines = [
        f"{alarm}importance ranking against the version's {a.basis}: NDCG {a.ndcg:.3f} "
        f"(alarm below {a.min_ndcg:g}; {a.rows} learner-days)"
    ]
    shift = _shift_line(a)
    if shift:
        lines.append(shift)
    elif a.basis != REFERENCE_BASIS:
        lines.append(OLDER)
    lines += _lean(a)
    if a.top_reason_changed is not None:
        lines.append(
            f"top reason changed since yesterday for {a.top_reason_changed:.0%} of "
            f"{a.flagged_compared} flagged learners scored both days"
        )
    return lines


def fairness_lines(check: FairnessCheck | None) -> list[str]:
    """Per slice group: flag rate and its ratio (four-fifths), recall and its gap, or too small."""
    if check is None:
        return []
    lines = [f"decision threshold {check.threshold:.3f}"]
    for r in check.rates:
        if r.too_small:
            lines.append(f"{r.slice}={r.group}: too small ({r.rows} learners), not judged")
            continue
        ratio = "n/a" if r.ratio is None else f"{r.ratio:.2f}"
        low = " BELOW four-fifths" if r.ratio is not None and r.ratio < check.min_flag_ratio else ""
        lines.append(f"{r.slice}={r.group}: flagged {r.flag_rate:.1%}, ratio {ratio}{low}")
    for r in check.recalls:
        if r.too_small or r.recall is None:
            lines.append(
                f"{r.slice}={r.group}: recall too small to judge ({r.positives} positives)"
            )
            continue
        lines.append(
            f"{r.slice}={r.group}: recall {r.recall:.2f} ({r.low:.2f}-{r.high:.2f}), "
            f"gap to best {r.gap:.2f} ({r.gap_low:.2f}-{r.gap_high:.2f}; allowed "
            f"{check.allowed_gap:.2f})"
        )
    return lines
