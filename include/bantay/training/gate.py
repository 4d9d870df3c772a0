"""The validation gate: decide whether a trained candidate may go to production.

Everything here is a pure function over metrics already computed on the test set, so the same
gate runs in a DAG task, in a test, and from the CLI. The report is made of ``Check`` rows a person
can read in the task log, in the approval form and in the version manifest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from bantay.settings.gate import GateConfig
from bantay.training.evaluation import recall_gap

Status = Literal["passed", "failed", "skipped", "overridden"]
STATUSES: tuple[str, ...] = ("passed", "failed", "skipped", "overridden")
PRIMARY_METRICS: tuple[str, ...] = ("pr_auc", "roc_auc")


@dataclass(frozen=True)
class Check:
    """One named verdict: what was measured, against what bound, and why it matters.

    ``passed`` is what the gate counts; ``status`` says how it got there (a check skipped for lack
    of a baseline, or overridden by a person, still counts as passed, and says so).
    """

    name: str
    value: Any
    threshold: Any
    passed: bool
    detail: str
    status: Status | None = None

    def __post_init__(self) -> None:
        if self.status is None:
            object.__setattr__(self, "status", "passed" if self.passed else "failed")
        if self.status not in STATUSES:
            raise ValueError(
                f"Check {self.name!r} has status {self.status!r}; use one of {', '.join(STATUSES)}."
            )
        if (self.status == "failed") == bool(self.passed):
            raise ValueError(
                f"Check {self.name!r} says passed={self.passed} but status={self.status!r}; "
                "a failed status must have passed=False and every other status passed=True."
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for XCom and the manifest."""
        return {
            "name": self.name,
            "value": _jsonable(self.value),
            "threshold": _jsonable(self.threshold),
            "passed": bool(self.passed),
            "status": self.status,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        """Rebuild a check that crossed a task boundary as a dict."""
        missing = [k for k in ("name", "passed", "detail") if k not in data]
        if missing:
            raise ValueError(
                f"A check passed to the gate is missing {', '.join(missing)}: {dict(data)!r}. "
                "Pass Check objects or the dicts made by Check.to_dict()."
            )
        return cls(
            name=str(data["name"]),
            value=data.get("value"),
            threshold=data.get("threshold"),
            passed=bool(data["passed"]),
            detail=str(data["detail"]),
            status=data.get("status"),
        )


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict: every check, and whether a person forced the regression check."""

    checks: tuple[Check, ...]
    force_reason: str | None = None
    primary_metric: str = "pr_auc"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every check passed, was skipped with a reason, or was overridden."""
        return all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def reasons(self) -> list[str]:
        """One sentence per failed check, for the log, the e-mail and the approval form."""
        return [f"{c.name}: {c.detail}" for c in self.failed_checks]

    def check(self, name: str) -> Check:
        """The check called ``name``; KeyError names the ones that exist."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"No check named {name!r}; the report has {[c.name for c in self.checks]}.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the version manifest and the registry."""
        return {
            "passed": self.passed,
            "decision": "approve" if self.passed else "reject",
            "primary_metric": self.primary_metric,
            "forced": self.force_reason is not None,
            "force_reason": self.force_reason,
            "reasons": self.reasons,
            "checks": [c.to_dict() for c in self.checks],
            **self.extra,
        }

    def as_table(self) -> str:
        """A markdown table: readable as plain text in the task log, rendered in the approval UI."""
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"**Validation gate: {verdict}**", ""]
        if self.force_reason is not None:
            lines += [f"Regression check overridden by a person: {_md_cell(self.force_reason)}", ""]
        lines += [
            "| check | status | value | threshold | detail |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in self.checks:
            cells = [c.name, c.status or "", _fmt(c.value), _fmt(c.threshold), c.detail]
            lines.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
        if self.reasons:
            lines += ["", "Why it failed:"] + [f"- {_md_cell(r)}" for r in self.reasons]
        return "\n".join(lines)


def run_gate(
    candidate_metrics: Mapping[str, Any],
    production_metrics: Mapping[str, Any] | None,
    slice_metrics: Mapping[str, Mapping[str, Mapping[str, Any]]],
    data_checks: Iterable[Check | Mapping[str, Any]],
    predictions: Sequence[float] | np.ndarray,
    cfg: GateConfig,
    *,
    force_reason: str | None = None,
    compared_candidate: Mapping[str, Any] | None = None,
    fairness_versus: Check | None = None,
) -> GateReport:
    """Judge a candidate against fixed bounds and against production on the same test set.

    ``candidate_metrics`` and ``production_metrics`` come from ``bantay.training.evaluation.evaluate`` on the
    SAME test rows; ``production_metrics`` is None when no model is in production yet.
    ``compared_candidate``: the candidate's metrics on the rows production was scored on, when
    those are a part of the test set (the rows neither model was fitted on); default: the
    candidate's test metrics. ``force_reason`` lets a person accept a regression (and only that)
    with a written reason. ``fairness_versus``: the candidate's recall gaps against the champion's
    (``bantay.training.fairness.versus_champion_check``), never overridden by a force reason.
    """
    reason = _clean_force_reason(force_reason)
    checks: list[Check] = []
    checks += _quality_checks(candidate_metrics, cfg)
    versus = compared_candidate if compared_candidate is not None else candidate_metrics
    checks.append(_regression_check(versus, production_metrics, cfg, reason))
    checks.append(_fairness_check(slice_metrics, cfg))
    if fairness_versus is not None:
        checks.append(fairness_versus)
    checks += [c if isinstance(c, Check) else Check.from_dict(c) for c in data_checks]
    checks += _model_sanity_checks(predictions, cfg)
    return GateReport(checks=tuple(checks), force_reason=reason, primary_metric=cfg.primary_metric)


def _clean_force_reason(force_reason: str | None) -> str | None:
    if force_reason is None:
        return None
    if not isinstance(force_reason, str) or not force_reason.strip():
        raise ValueError(
            f"force_reason was given as {force_reason!r}, which is empty. Forcing a regressing "
            "model into production needs a written reason (who decided, and why); pass None "
            "to run the gate without forcing."
        )
    return force_reason.strip()


def _quality_checks(metrics: Mapping[str, Any], cfg: GateConfig) -> list[Check]:
    out = []
    for metric, bound in (("roc_auc", cfg.min_roc_auc), ("pr_auc", cfg.min_pr_auc)):
        value = _metric(metrics, metric, "candidate_metrics")
        if value is None:
            detail = (
                f"candidate {metric} is undefined on the test set (it has a single class); "
                "widen the test window so it holds both classes"
            )
            out.append(Check(f"quality.{metric}", None, bound, False, detail))
            continue
        ok = value >= bound
        verb = "meets" if ok else "is below"
        detail = f"candidate {metric} {value:.4f} {verb} the minimum {bound:.4f}"
        out.append(Check(f"quality.{metric}", value, bound, ok, detail))
    return out


def _regression_check(
    candidate: Mapping[str, Any],
    production: Mapping[str, Any] | None,
    cfg: GateConfig,
    force_reason: str | None,
) -> Check:
    metric = cfg.primary_metric
    name = f"regression.{metric}"
    bound = cfg.max_regression
    if production is None:
        detail = "no production model yet: nothing to compare against, so this check is skipped"
        return Check(name, None, bound, True, detail, status="skipped")
    cand = _metric(candidate, metric, "candidate_metrics")
    prod = _metric(production, metric, "production_metrics")
    if prod is None:
        detail = (
            f"production {metric} is undefined on this test set, so no comparison is possible; "
            "skipped"
        )
        return Check(name, None, bound, True, detail, status="skipped")
    if cand is None:
        ok, drop = False, None
        detail = f"candidate {metric} is undefined while production scores {prod:.4f}"
    else:
        drop = prod - cand
        ok = drop <= bound + 1e-12
        if ok:
            detail = (
                f"candidate {metric} {cand:.4f} vs production {prod:.4f} on the same test set: "
                f"change {-drop:+.4f} is within the allowed drop {bound:.4f}"
            )
        else:
            detail = (
                f"candidate {metric} {cand:.4f} is {drop:.4f} worse than production {prod:.4f} "
                f"on the same test set; the allowed drop is {bound:.4f}"
            )
    if ok:
        if force_reason is not None:
            detail += " (a force reason was given but not needed)"
        return Check(name, drop, bound, True, detail)
    if force_reason is not None:
        detail = f"{detail}; overridden: {force_reason}"
        return Check(name, drop, bound, True, detail, status="overridden")
    return Check(name, drop, bound, False, detail)


def _fairness_check(
    slice_metrics: Mapping[str, Mapping[str, Mapping[str, Any]]], cfg: GateConfig
) -> Check:
    name = "fairness.recall_gap"
    bound = cfg.max_recall_gap
    gap, worst, best = recall_gap(slice_metrics, min_positives=cfg.min_slice_positives)
    if gap is None:
        detail = (
            "no slice dimension has two or more groups with enough rows and at least "
            f"{cfg.min_slice_positives} positives, so the recall gap cannot be measured; skipped"
        )
        return Check(name, None, bound, True, detail, status="skipped")
    se, counts = _gap_stderr(slice_metrics, worst, best)
    noise = f"sampling error about {se:.4f} with {counts[0]} and {counts[1]} positives"
    ok = gap - cfg.recall_gap_z * se <= bound + 1e-12
    if ok:
        detail = f"largest recall gap {gap:.4f} ({worst} vs {best}; {noise}) is within {bound:.4f}"
    else:
        detail = (
            f"recall differs by {gap:.4f} between {worst} and {best} ({noise}), more than the "
            f"allowed {bound:.4f}: the model misses at-risk learners in {worst} more often"
        )
    return Check(name, gap, bound, ok, detail)


def _gap_stderr(
    slice_metrics: Mapping[str, Mapping[str, Mapping[str, Any]]], *groups: str | None
) -> tuple[float, list[int]]:
    """Binomial standard error of the difference of two groups' recalls, and their positives."""
    variance, counts = 0.0, []
    for group in groups:
        dim, _, value = str(group).partition("=")
        m = slice_metrics[dim][value]
        r, p = float(m["recall"]), int(m["positives"])
        variance += r * (1.0 - r) / p
        counts.append(p)
    return math.sqrt(variance), counts


def _model_sanity_checks(predictions: Sequence[float] | np.ndarray, cfg: GateConfig) -> list[Check]:
    scores = np.asarray(predictions, dtype=float).ravel()
    n = scores.size
    finite = np.isfinite(scores)
    in_range = finite & (scores >= 0.0) & (scores <= 1.0)
    bad = int(n - in_range.sum())
    if n == 0:
        valid = Check(
            "model.scores_valid", 0, "> 0 rows", False, "the candidate produced no test scores"
        )
    elif bad:
        valid = Check(
            "model.scores_valid",
            bad,
            0,
            False,
            f"{bad} of {n} candidate scores are NaN, infinite or outside [0, 1]",
        )
    else:
        valid = Check("model.scores_valid", 0, 0, True, f"all {n} scores are probabilities")
    std = float(np.std(scores[finite])) if finite.any() else 0.0
    distinct = int(np.unique(scores[finite]).size)
    if distinct <= 1:
        spread = Check(
            "model.prediction_std",
            std,
            cfg.min_prediction_std,
            False,
            "the candidate gives every test row the same score: it is constant and ranks nothing",
        )
    elif std < cfg.min_prediction_std:
        spread = Check(
            "model.prediction_std",
            std,
            cfg.min_prediction_std,
            False,
            f"prediction std {std:.4f} is below {cfg.min_prediction_std:.4f}: "
            "the candidate barely separates learners",
        )
    else:
        spread = Check(
            "model.prediction_std",
            std,
            cfg.min_prediction_std,
            True,
            f"prediction std {std:.4f} over {distinct} distinct scores",
        )
    return [valid, spread]


def _metric(metrics: Mapping[str, Any], key: str, which: str) -> float | None:
    if key not in metrics:
        raise KeyError(
            f"{which} has no {key!r} (keys: {sorted(metrics)}); compute it with "
            "bantay.training.evaluation.evaluate on the test set."
        )
    value = metrics[key]
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float | np.floating):
        return f"{float(value):.4f}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
