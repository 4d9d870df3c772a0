"""The words on-call reads: subject lines that put the decision first (a phone shows ~60
characters), the one sentence of what to do, and the banner that opens the Evidently report.
Wording follows the facts: the verdict, the guard's decision and the approval mode."""

from __future__ import annotations

from datetime import date
from typing import Literal

from bantay.monitoring.guards import Decision
from bantay.monitoring.results import DriftResult
from bantay.notify.fairness_wording import attribution_todo, fairness_details, fairness_todo
from bantay.vocabulary import Action, Verdict

Approval = Literal["auto", "manual"]


def as_decision(decision: Decision | Action | str | None) -> Decision | None:
    if decision is None or isinstance(decision, Decision):
        return decision
    return Decision(Action(str(decision)), reason="")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def decision_phrase(d: Decision | None, verdict: Verdict, approval: Approval = "auto") -> str:
    """The decision in a few words: the first thing after the verdict in a subject."""
    if verdict is Verdict.DATA_QUALITY:
        return "fix the feed, no retrain"
    if verdict is Verdict.FAIRNESS:
        return "a slice fell behind, a person must look"
    if d is not None and d.action is Action.DRIFT_ANSWERED:
        return "drift answered by the new model"
    if d is None or d.action is Action.NO_ACTION:
        return "watching, no action" if verdict is Verdict.WATCH else "nothing to do"
    return {
        Action.RETRAIN_TRIGGERED: "retraining started"
        + (", approval needed" if approval == "manual" else " (auto-approve)"),
        Action.ALREADY_TRIGGERED: "retraining already started",
        Action.HELD_PERSISTENCE: f"watching, day {d.streak} of {d.needed}",
        Action.HELD_COOLDOWN: f"no retrain until {d.until}",
        Action.HELD_SCHEDULED: f"scheduled retrain on {d.until}",
        Action.HELD_LABELS: f"retrain when labels mature {d.until}",
        Action.HELD_QUALITY: "inputs moved, quality holds",
        Action.HELD_RUNNING: "a retrain is already running",
        Action.HELD_RATE_LIMIT: "a person must look",
        Action.HELD_DATA_QUALITY: "no retrain: broken days in window",
        Action.DATA_QUALITY_ALERT: "fix the feed, no retrain",
    }.get(d.action, str(d.action))


def _evidence(d: Decision | None) -> str:
    """The measured quality inside a quality-holds reason: ``... holds (<evidence>): ...``."""
    reason = d.reason if d else ""
    return reason.partition("(")[2].rpartition("):")[0] or "measured on matured labels"


def details(result: DriftResult) -> str:
    """What was found, after the decision."""
    if result.verdict is Verdict.DATA_QUALITY:
        columns = [c for c in result.broken_columns if c != "*"]
        issues = sorted({f.issue.replace("_", " ") for f in result.today_findings})
        where = ", ".join(columns) if columns else f"{result.current_rows_total} rows"
        return f"{', '.join(issues)} in {where}"
    if result.verdict is Verdict.FAIRNESS:
        return fairness_details(result)
    if result.verdict is Verdict.PERFORMANCE and result.performance is not None:
        p = result.performance
        return f"ROC AUC {p.reference:.2f} -> {p.current:.2f} on labels of {p.labelled_day}"
    drifted = [f.column for f in result.ranked_features() if f.drifted]
    if result.prediction is not None and result.prediction.drifted:
        drifted.insert(0, "score")
    if drifted:
        spread = ", widespread" if result.dataset_drift else ""
        return (
            f"{result.n_drifted} of {result.n_features} features drifted{spread}: "
            + ", ".join(drifted[:3])
            + (" ..." if len(drifted) > 3 else "")
        )
    watched = [f.column for f in result.watched]
    if watched:
        return "moved this week: " + ", ".join(watched[:3]) + (" ..." if len(watched) > 3 else "")
    return f"0 of {result.n_features} features drifted"


def subject_line(
    result: DriftResult,
    *,
    model: str,
    date: date | str,
    decision: Decision | Action | str | None = None,
    approval: Approval = "auto",
) -> str:
    """``[bantay] <VERDICT> <model> <date>: <decision>; <details>``."""
    d = as_decision(decision)
    head = f"[bantay] {result.verdict} {model} {date}: "
    return f"{head}{decision_phrase(d, result.verdict, approval)}; {details(result)}"


def what_to_do(
    result: DriftResult,
    decision: Decision | Action | str | None = None,
    approval: Approval = "auto",
) -> str:
    """The one sentence on-call needs first, by verdict, guard decision and approval mode."""
    d = as_decision(decision)
    if result.verdict is Verdict.DATA_QUALITY:
        columns = [c for c in result.broken_columns if c != "*"]
        issues = sorted({f.issue.replace("_", " ") for f in result.today_findings})
        where = f"for {', '.join(columns)}" if columns else "(row volume)"
        return (
            f"Data engineers: check the upstream feed {where} ({', '.join(issues)}); "
            "do not retrain on this data. Automatic retraining is blocked until the feed is fixed."
        )
    if result.verdict is Verdict.FAIRNESS:
        return fairness_todo(result)
    if d is not None and d.action is Action.DRIFT_ANSWERED:
        return f"Nothing to do: {d.reason}."
    if result.verdict is Verdict.OK:
        return "Nothing to do: no monitored feature, nor the score, moved on this day or this week."
    if result.verdict is Verdict.WATCH and not result.watched and result.attribution:
        return attribution_todo(result.attribution)
    if result.verdict is Verdict.WATCH:
        names = ", ".join(f.column for f in result.watched[:3])
        return (
            f"Nothing to do yet: {names} moved over the week but not on the newest day; "
            "bantay keeps watching and says so if it returns."
        )
    return _what_to_do_about(d, approval)


def _what_to_do_about(d: Decision | None, approval: Approval) -> str:
    """What to do about a day that moved (DRIFT, PERFORMANCE), by the guard's decision."""
    action = d.action if d else None
    if action is Action.RETRAIN_TRIGGERED:
        if approval == "manual":
            return (
                "Retraining started. A person must approve the candidate in Airflow "
                "(Required Actions) before it reaches production."
            )
        return (
            "Nothing to do now: retraining started and a candidate that passes the validation "
            "gate is promoted automatically; an e-mail says how it ended."
        )
    if action is Action.ALREADY_TRIGGERED:
        return "Nothing to do: retraining for this date was already started."
    if action is Action.HELD_PERSISTENCE:
        days = f" (day {d.streak} of {d.needed})" if d and d.needed else ""
        return (
            f"Watch: the change is new{days}; retraining starts automatically if it persists. "
            "Check the top features below for an upstream cause."
        )
    if action is Action.HELD_LABELS:
        return (
            f"No retrain yet: the labels of the drifted period mature on {d.until if d else '?'}; "
            "a retrain before then would learn pre-drift data only. It starts then if the "
            "drift persists."
        )
    if action is Action.HELD_QUALITY:
        return (
            f"No retrain: the inputs moved but the model's quality holds "
            f"({_evidence(d)}). If the new inputs are the norm (a new term, a new intake), "
            "re-baseline: bantay rebaseline --model MODEL --reason '...' (recorded with your "
            "name); the next scheduled retrain learns them too."
        )
    if action is Action.HELD_SCHEDULED:
        return (
            f"Nothing to do: the scheduled retrain on {d.until if d else '?'} comes first and "
            "trains on the newest matured labels."
        )
    if action is Action.HELD_COOLDOWN:
        return (
            f"The model was retrained recently; automatic retraining is held until "
            f"{d.until if d else 'the cooldown ends'}. If quality is suffering, trigger the "
            "training DAG manually in Airflow."
        )
    if action is Action.HELD_DATA_QUALITY:
        return (
            "No retrain: a day of this window had broken data (see Data quality). Retraining "
            "resumes once the window is clean."
        )
    if action is Action.HELD_RUNNING:
        return "A retrain is already running: follow it in Airflow; no new one was started."
    if action is Action.HELD_RATE_LIMIT:
        return (
            "A person must look: drift keeps returning after retrains (rate limit reached). "
            "Look for a lasting change or a broken feature before training again."
        )
    return "Review the drifted features below and decide whether to retrain."
