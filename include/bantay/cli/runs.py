"""``bantay train``, ``bantay score`` and ``bantay check-drift``: a DAG's task bodies run by hand,
in the order the DAG runs them, with the collaborators its tasks get from
:func:`bantay.airflow.edge.for_model`. Progress goes to stderr, the one-line result to stdout.

What only Airflow does stays with Airflow: a training run by hand stops at the gate (or, with
``--publish`` and ``approval: auto``, approves as the DAG's auto-approval does and publishes);
a drift check by hand e-mails nobody and starts no retrain.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Any

CLI_RUN_PREFIX = "cli__"


def progress(message: str) -> None:
    """A progress line for the person watching (stderr, so stdout holds only the result)."""
    print(f"bantay: {message}", file=sys.stderr, flush=True)


def day_arg(value: str | None, option: str) -> dt.date:
    """``--day``/``--as-of``: an ISO date; default yesterday (UTC), the last day that ended."""
    if not value:
        return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


def _actor() -> str:
    return os.environ.get("USER") or "unknown"


def run_score(args: argparse.Namespace) -> int:
    from bantay.airflow.edge import for_model

    res = for_model(args.model)  # names the configured models before any heavy import
    day = day_arg(args.day, "--day")
    from bantay.serving.scoring import score_day
    from bantay.stores.feast_store import store as feature_store

    progress(f"{res.name}: scoring {day} with the production version (bantay_scoring's task)")
    summary = score_day(
        day,
        model=res.model,
        layout=res.layout,
        store=res.store,
        registry=res.registry,
        feast=feature_store(res.settings),
    )
    if "shadow" in summary:
        progress(f"shadow beside production: {summary['shadow']}")
    print(
        f"{res.name}: scored {summary['rows']:,} learners on {day} with version "
        f"{summary['version']}; prediction log {summary['path']}"
    )
    return 0


def run_check_drift(args: argparse.Namespace) -> int:
    from bantay.airflow.edge import for_model

    res = for_model(args.model)
    day = day_arg(args.day, "--day")
    from bantay.monitoring.check import check_day
    from bantay.notify.drift_day import day_subject
    from bantay.notify.email import report_banner

    progress(f"{res.name}: checking {day} against the production version's reference")
    checked = check_day(
        res.model,
        res.layout,
        res.registry,
        res.store,
        day,
        banner=lambda result, decision: report_banner(
            result, model=res.name, decision=decision, approval=res.model.approval
        ),
        run_id=None,
        retrain_running=False,
        link_expiry_seconds=res.settings.storage.presign_expiry_hours * 3600,
        starts_retrain=False,
    )
    progress(f"decision: {checked.decision.reason}")
    if checked.decision.triggers_retrain:
        from bantay.airflow.training_runs import training_dag_id

        print(
            f"{res.name}: {checked.result.verdict} on {day}: a retrain is due "
            f"({checked.decision.reason}); not recorded or started from here: bantay_drift's "
            f"run of {day} starts it, or trigger {training_dag_id(res.name)} with a reason"
        )
        return 0
    report = checked.report_html or "none (too few rows for a report)"
    print(f"{day_subject(checked, res.model)}; report {report}; no e-mail sent by hand")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from bantay.airflow.edge import for_model

    res = for_model(args.model)
    if args.publish and res.model.approval != "auto":
        raise ValueError(
            f"--publish: model {res.name} has approval: {res.model.approval}, so a person "
            f"approves it in the UI; run {res.name}'s training DAG instead, or drop --publish"
        )
    ctx = _training_context(res, args)
    progress(f"{res.name}: training as of {ctx.as_of} ({ctx.reason}); run {ctx.run_id}")
    _require_window(res, ctx)
    training = _training_set(res, ctx)
    evaluation = _tune_and_evaluate(res, ctx, training)
    version = evaluation["version"]
    if not evaluation["passed"]:
        print(
            f"{res.name}: candidate {version} rejected by the gate: "
            + "; ".join(evaluation["reasons"])
        )
        return 1
    auc = evaluation["metrics"].get("roc_auc")
    passed = f"{res.name}: candidate {version} passed the gate" + (
        f" (test ROC AUC {auc:.3f})" if isinstance(auc, float) else ""
    )
    if not args.publish:
        print(f"{passed}; not published (publishing goes through approval: --publish)")
        return 0
    result = _approve_and_publish(res, ctx, version)
    print(f"{passed}; approved (approval: auto), published and promoted: {result['s3']}")
    return 0


def _training_context(res: Any, args: argparse.Namespace) -> Any:
    """The run a DAG's ``plan`` task would make of a manual trigger with these answers."""
    from bantay.airflow.planning import plan_training
    from bantay.training.run import RunContext

    now = dt.datetime.now(dt.UTC)
    params: dict[str, Any] = {
        "reason": args.reason or f"trained by hand by {_actor()}",
        "force": bool(args.force_reason),
        "force_reason": args.force_reason,
    }
    if args.as_of:
        day = day_arg(args.as_of, "--as-of")
        params["as_of"] = dt.datetime.combine(day, dt.time(), dt.UTC).isoformat()
    plan = plan_training(res.name, params, "manual", [], now)
    return RunContext(
        model=res.name,
        run_id=f"{CLI_RUN_PREFIX}{now.isoformat(timespec='seconds')}",
        as_of=plan.as_of,
        reason=plan.reason,
        force_reason=plan.force_reason,
        trigger=plan.trigger,
    )


def _require_window(res: Any, ctx: Any) -> None:
    """The training DAG's sensor, looked at once: every day of the window decided."""
    from bantay.airflow.planning import training_window
    from bantay.features.readiness import check_training_window, model_sources
    from bantay.stores.feast_store import store as feature_store

    days = training_window(ctx.as_of, res.model.training_window_days)
    sources = model_sources(
        res.model, feast=feature_store(res.settings), validated=res.settings.features.sources
    )
    check = check_training_window(
        days, sources, [res.model.label_source], layout=res.layout, features=res.settings.features
    )
    if not check.ready:
        raise ValueError(
            f"{check.summary()}\nRun bantay_features for those days (or bantay features "
            "materialize --start DAY --end DAY), or pass an earlier --as-of"
        )
    progress(check.summary())


def _training_set(res: Any, ctx: Any) -> dict[str, Any]:
    from bantay.stores.feast_store import store as feature_store
    from bantay.training.dataset import build_training_set

    training = build_training_set(
        ctx, model=res.model, layout=res.layout, feast=feature_store(res.settings)
    )
    progress(f"training set: {training['rows']:,} rows, window {training['window']}")
    return training


def _tune_and_evaluate(res: Any, ctx: Any, training: dict[str, Any]) -> dict[str, Any]:
    from bantay.monitoring.episodes import regime_since
    from bantay.stores.feast_store import store as feature_store
    from bantay.training.candidate import evaluate_candidate
    from bantay.training.tuning import trials, tune_one

    results = []
    settings = trials(res.model)
    for i, trial in enumerate(settings, 1):
        result = tune_one(training, trial, model=res.model)
        results.append(result)
        auc = result.get("roc_auc")
        scored = f"validation ROC AUC {auc:.3f}" if isinstance(auc, float) else "no ROC AUC"
        progress(f"trial {i}/{len(settings)} {trial.get('trial_id')}: {scored}")
    regime = regime_since(res.registry, res.name, dt.datetime.fromisoformat(ctx.as_of))
    evaluation = evaluate_candidate(
        ctx,
        training,
        results,
        regime,
        model=res.model,
        layout=res.layout,
        registry=res.registry,
        store=res.store,
        feast=feature_store(res.settings),
    )
    progress("gate:\n" + evaluation["gate_table"])
    return evaluation


def _approve_and_publish(res: Any, ctx: Any, version: str) -> dict[str, Any]:
    """The training DAG's ``auto_approve`` and ``publish_and_promote``, in that order."""
    from bantay.serving.publish import publish_and_promote
    from bantay.training.approval import record_approval

    record_approval(
        ctx,
        version,
        True,
        "bantay (approval: auto)",
        f"gate passed; trained by hand by {_actor()}",
        registry=res.registry,
        layout=res.layout,
    )
    progress(f"{version} approved; publishing and promoting")
    return publish_and_promote(
        ctx, version, model=res.model, layout=res.layout, store=res.store, registry=res.registry
    )
