"""The words for fairness across slices and for attribution drift: the subject's details of a
FAIRNESS day, what to do about it, and the lines the drift e-mail shows every day."""

from __future__ import annotations

from bantay.monitoring.fairness_results import AttributionCheck, FairnessCheck, SliceRecall
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


def _lean(a: AttributionCheck) -> list[str]:
    lines = [
        f"the model now leans on {f.feature} much more than it did "
        f"(mean |attribution| {f.reference:.3f} -> {f.current:.3f}, {f.change:+.0%})"
        for f in a.leaning_more[:3]
    ]
    lines += [
        f"the model now leans on {f.feature} much less than it did "
        f"(mean |attribution| {f.reference:.3f} -> {f.current:.3f}, {f.change:+.0%})"
        for f in a.leaning_less[:2]
    ]
    return lines


def attribution_lines(a: AttributionCheck | None) -> list[str]:
    """The day's attribution drift in sentences (empty when the version has no explanation)."""
    if a is None:
        return []
    alarm = "ALARM: " if a.drifted else ""
    lines = [
        f"{alarm}importance ranking against the version's own: NDCG {a.ndcg:.3f} "
        f"(alarm below {a.min_ndcg:g}; {a.rows} learners)"
    ]
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
