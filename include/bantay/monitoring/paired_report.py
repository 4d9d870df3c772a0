"""A shadow comparison as a person reads it: a short table and a one-line decision."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bantay.monitoring.paired import PairedComparison


def _interval(pair: tuple[float, float] | None) -> str:
    return f"[{pair[0]:+.4f}, {pair[1]:+.4f}]" if pair else "-"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _auc(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def decision_line(c: PairedComparison) -> str:
    return f"{c.model}: {c.decision} ({c.shadow_version} vs production): {c.reason}"


def _head(c: PairedComparison) -> list[str]:
    m = c.maturity
    waiting = f"; next on {m.next_maturity}" if m.next_maturity else ""
    acting = (
        [
            f"below the acting cut: {m.excluded_acting} learner-days in either model's top "
            f"{m.acting_capacity} of their day left out (outcomes a flag may have changed)"
        ]
        if m.acting_capacity is not None
        else []
    )
    return [
        f"shadow {c.shadow_version} vs production {', '.join(c.production.versions)} "
        f"on matured labels as of {m.as_of}",
        *acting,
        f"learners compared: {c.learners} ({c.positives} positive, {c.negatives} negative); "
        f"excluded: {m.unmatured_rows} learner-days inside their {m.label_delay_days}-day "
        f"label window{waiting}, {m.unlabelled_rows} matured without an outcome",
        "",
    ]


def _metrics(c: PairedComparison) -> list[str]:
    p, s = c.production, c.shadow
    thr_p = ", ".join(f"{t:.3f}" for t in p.thresholds.values())
    thr_s = ", ".join(f"{t:.3f}" for t in s.thresholds.values())
    rows = [
        ("metric", "production", "shadow", "difference", f"{1 - c.alpha:.0%} interval / p"),
        (
            "ROC AUC",
            _auc(p.roc_auc),
            _auc(s.roc_auc),
            f"{c.roc_auc_difference:+.4f}",
            f"{_interval(c.roc_auc_interval)} DeLong p={c.p_value:.3g}",
        ),
        (
            "PR AUC",
            _auc(p.pr_auc),
            _auc(s.pr_auc),
            f"{c.pr_auc_difference:+.4f}",
            f"{_interval(c.pr_auc_interval)} bootstrap n={c.bootstrap_samples}",
        ),
        (
            "recall at own threshold",
            f"{_pct(p.recall)} @{thr_p}",
            f"{_pct(s.recall)} @{thr_s}",
            f"{c.recall_difference:+.1%}",
            f"McNemar p={c.recall_p_value:.3g}",
        ),
    ]
    return _columns(rows)


def _slices(c: PairedComparison) -> list[str]:
    if not c.slices:
        return []
    rows = [("slice", "rows", "positives", "ROC AUC prod", "ROC AUC shadow", "p", "recall p/s")]
    for r in c.slices:
        if r.skipped:
            rows.append(
                (f"{r.slice}={r.value}", str(r.rows), str(r.positives), "", "", "", r.skipped)
            )
            continue
        rows.append(
            (
                f"{r.slice}={r.value}",
                str(r.rows),
                str(r.positives),
                _auc(r.production_roc_auc),
                _auc(r.shadow_roc_auc),
                f"{r.p_value:.3g}",
                f"{_pct(r.production_recall)} / {_pct(r.shadow_recall)}",
            )
        )
    return ["", *_columns(rows)]


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def table(c: PairedComparison) -> str:
    """The comparison as a short table, the slices below it, the decision last."""
    return "\n".join([*_head(c), *_metrics(c), *_slices(c), "", decision_line(c)])
