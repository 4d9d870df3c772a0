"""``bantay experiment start|status|stop MODEL``: a randomised experiment between production
and a challenger, decided on the learners' matured outcomes (``bantay.serving.experiment`` for
the arms, ``bantay.monitoring.experiment`` for the group-sequential analysis)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from bantay.cli.commands import _logs_to_stderr


def add_experiment_command(sub: argparse._SubParsersAction, user: str) -> None:
    p = sub.add_parser(
        "experiment",
        help="a randomised experiment: a share of learners (or schools) see the challenger's "
        "flags; decided on their matured outcomes",
    )
    verbs = p.add_subparsers(dest="verb", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--bucket", help="S3 bucket (default: storage.bucket from settings)")
    store.add_argument("--prefix", help="S3 key prefix (default: storage.prefix from settings)")
    store.add_argument("--conn-id", help="Airflow AWS connection id (default: storage.aws_conn_id)")
    store.add_argument("model", help="model name, e.g. learner_risk")
    changing = argparse.ArgumentParser(add_help=False)
    changing.add_argument("--reason", required=True, help="why; recorded with the experiment")
    changing.add_argument("--actor", default=user, help="who (default: $USER)")
    s = verbs.add_parser(
        "start", parents=[store, changing], help="register the design and start scoring arms"
    )
    s.add_argument("version", help="the challenger version")
    s.add_argument("--share", type=float, default=0.5, help="share in the challenger's arm")
    s.add_argument(
        "--unit",
        default="learner_id",
        help="what is randomised: learner_id, or a grouping column of the scored day (a "
        "school or class, where staff would otherwise see both lists)",
    )
    s.add_argument("--alpha", type=float, default=0.05, help="two-sided level (default 0.05)")
    s.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    s.add_argument("--base-rate", type=float, default=0.12, help="expected adverse-outcome rate")
    s.add_argument(
        "--min-effect", type=float, default=0.02, help="smallest absolute fall worth detecting"
    )
    s.add_argument("--looks", type=int, default=5, help="planned analyses (default 5)")
    s.add_argument("--look-every-days", type=int, default=7, help="days between analyses")
    s.add_argument(
        "--design-effect", type=float, default=1.0, help="sample inflation for group units"
    )
    s.add_argument(
        "--capacity",
        type=int,
        help="flagged learners a day staff can act on: the flagged-volume guardrail (default: "
        "not shown)",
    )
    s.add_argument("--start", metavar="DATE", help="first day scored in arms (default today)")
    s.set_defaults(func=run_experiment_start)
    st = verbs.add_parser("status", parents=[store], help="the design, the arms and the decision")
    st.add_argument("--as-of", metavar="DATE", help="judge outcomes matured by DATE")
    st.add_argument("--json", action="store_true", help="as JSON")
    st.set_defaults(func=run_experiment_status)
    sp = verbs.add_parser("stop", parents=[store, changing], help="stop it (recorded)")
    sp.set_defaults(func=run_experiment_stop)


def _store(args: argparse.Namespace) -> Any:
    from bantay.settings import get_settings
    from bantay.stores.model_store import ModelStore

    storage = get_settings().storage
    return ModelStore.from_connection(
        args.bucket or storage.bucket,
        args.prefix or storage.prefix,
        conn_id=args.conn_id or storage.aws_conn_id,
    )


def run_experiment_start(args: argparse.Namespace) -> int:
    from bantay.monitoring.experiment_stats import sample_size
    from bantay.serving.experiment import ExperimentPlan, new_record, start_experiment
    from bantay.settings import get_settings
    from bantay.simulate.scenario import parse_date
    from bantay.stores.registry import registry_for

    _logs_to_stderr()

    settings = get_settings()
    model = settings.model(args.model)
    plan = ExperimentPlan(
        share=args.share,
        unit=args.unit,
        alpha=args.alpha,
        power=args.power,
        base_rate=args.base_rate,
        min_effect=args.min_effect,
        looks=args.looks,
        look_every_days=args.look_every_days,
        design_effect=args.design_effect,
        capacity=args.capacity,
    )
    sample = sample_size(
        plan.base_rate,
        plan.min_effect,
        alpha=plan.alpha,
        power=plan.power,
        looks=plan.looks,
        design_effect=plan.design_effect,
    )
    store = _store(args)
    record = new_record(
        model.name,
        args.version,
        store.pointers.require(model.name)["version"],
        plan,
        start=parse_date(args.start) if args.start else dt.datetime.now(dt.UTC).date(),
        label_delay_days=model.label_delay_days,
        sample=sample.as_dict(),
        actor=args.actor,
        reason=args.reason,
    )
    record = start_experiment(store, registry_for(settings), record)
    print(json.dumps(_public(record), indent=2, sort_keys=True, default=str))
    return 0


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """The record without its assignment key (kept in the store, never printed)."""
    return {k: v for k, v in record.items() if k != "key"}


def _analysis(settings: Any, record: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    from bantay.monitoring.experiment_inputs import decision_as_of
    from bantay.stores.registry import registry_for

    model = settings.model(record["model"])
    return decision_as_of(model, settings.layout, registry_for(settings), record, as_of)


def run_experiment_status(args: argparse.Namespace) -> int:
    from bantay.serving.experiment import latest_experiment
    from bantay.settings import get_settings
    from bantay.simulate.scenario import parse_date

    _logs_to_stderr()

    settings = get_settings()
    record = latest_experiment(_store(args), args.model)
    if record is None:
        raise ValueError(
            f"{args.model} has never run an experiment; start one with 'bantay experiment "
            f"start {args.model} VERSION --reason ...'"
        )
    as_of = parse_date(args.as_of) if args.as_of else dt.datetime.now(dt.UTC).date()
    status = {"experiment": _public(record), "analysis": _analysis(settings, record, as_of)}
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True, default=str))
    else:
        print(_table(status))
    return 0


def _table(status: dict[str, Any]) -> str:
    record, analysis = status["experiment"], status["analysis"]
    plan, sample = record["plan"], record["sample_size"]
    lines = [
        f"experiment {record['id']} of {record['model']}: {record['status']}",
        f"  {record['challenger']} (challenger, {plan['share']:.0%} of {plan['unit']}) against "
        f"{record['control']}; started {record['start']} by {record['started_by']}",
        f"  design: alpha {plan['alpha']}, power {plan['power']}, base rate "
        f"{plan['base_rate']}, minimum effect {plan['min_effect']}: {sample['per_arm']} "
        f"outcomes per arm over {plan['looks']} looks ({', '.join(record['schedule'])})",
        f"  decision: {analysis['decision']} ({analysis['reason']})",
    ]
    for look in analysis.get("looks", []):
        arms = "; ".join(
            f"{a['arm']} {a['adverse']}/{a['outcomes']} adverse, "
            f"{_pct(a['at_risk_never_flagged'])} of at-risk never flagged"
            for a in look["arms"]
        )
        lines.append(
            f"  {look['date']}: t={look['fraction']:.2f} z={look['z']:+.2f} "
            f"bound={look['bound'] or float('inf'):.2f} diff={look['difference']:+.4f} "
            f"[{look['interval'][0]:+.4f}, {look['interval'][1]:+.4f}]: {arms}"
        )
    for guard in analysis.get("guardrails", []):
        lines.append(f"  guardrail {guard['name']}: {guard['state']} ({guard['detail']})")
    if record["status"] == "stopped":
        lines.append(
            f"  stopped {record['stopped_at']} by {record['stopped_by']}: {record['stop_reason']}"
        )
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def run_experiment_stop(args: argparse.Namespace) -> int:
    from bantay.monitoring.experiment_inputs import stop_with_decision
    from bantay.settings import get_settings
    from bantay.stores.registry import registry_for

    _logs_to_stderr()

    settings = get_settings()
    record = stop_with_decision(
        settings.model(args.model),
        settings.layout,
        _store(args),
        registry_for(settings),
        actor=args.actor,
        reason=args.reason,
        as_of=dt.datetime.now(dt.UTC).date(),
    )
    print(json.dumps(_public(record), indent=2, sort_keys=True, default=str))
    return 0
