"""``bantay erase LEARNER_ID``: one learner out of every store bantay owns, kept out by a
tombstone, with an audit row in the registry. The id is hashed (HMAC-SHA256 under the erasure
key, :func:`bantay.stores.connections.erasure_key`) before anything is recorded; it is printed
nowhere and stored nowhere."""

from __future__ import annotations

import argparse
import json
from typing import Any


def erase(
    learner: int, *, reason: str, actor: str, dry_run: bool, retrain: bool = False
) -> dict[str, Any]:
    """Erase ``learner`` everywhere (or, with ``dry_run``, say what would be touched); with
    ``retrain``, retrain the production versions that were fitted on them."""
    from bantay.cli.retrain import affected_production
    from bantay.cli.retrain import retrain as trigger_retraining
    from bantay.features.erasure import erase_files
    from bantay.features.tombstones import add, keyed_hash
    from bantay.monitoring.erasure import erase_samples
    from bantay.serving.erasure import erase_baselines, erase_references
    from bantay.settings import get_settings
    from bantay.stores.connections import erasure_key
    from bantay.stores.feast_store import store as feature_store
    from bantay.stores.model_store import ModelStore
    from bantay.stores.online_erasure import erase_online
    from bantay.stores.registry import registry_for

    if not reason or not reason.strip():
        raise ValueError("--reason is empty; say why the learner is erased (it is recorded)")
    settings = get_settings()
    key = erasure_key()
    subject = keyed_hash(learner, key)
    registry = registry_for(settings)  # refuses early when not migrated
    storage = settings.storage
    store = ModelStore.from_connection(storage.bucket, storage.prefix, conn_id=storage.aws_conn_id)
    tombstoned = False if dry_run else add(settings.layout.tombstones, subject)
    # Evidence samples first: the prediction logs and references recognise the learner's rows.
    models = [m.name for m in settings.models]
    samples = erase_samples(store, registry, settings.layout, models, learner, dry_run=dry_run)
    files = erase_files(settings.layout, learner, dry_run=dry_run, key=key)
    online = erase_online(feature_store(settings).config, learner, dry_run=dry_run)
    versions = erase_references(store, learner, subject, dry_run=dry_run)
    baselines = erase_baselines(store, registry, learner, subject, dry_run=dry_run)
    trained = _training_sets(registry, subject, dry_run=dry_run)
    touched = _touched(files, online, versions, baselines)
    touched.update(_touched_elsewhere(samples, trained))
    rows = sum(s["rows"] for s in touched.values())
    summary = {
        "subject": subject,
        "dry_run": dry_run,
        "tombstone": "added" if tombstoned else "would be added" if dry_run else "already there",
        "rows": rows,
        "touched": touched,
        "versions_that_saw_the_learner": sorted(
            {f"{v.model} {v.version}" for v in [*versions, *baselines]}
            | {f"{m} {v}" for m, v in trained}
        ),
        "versions_trained_on_the_learner": [f"{m} {v}" for m, v in trained],
        "versions_without_training_manifest": _unmanifested(registry, models),
    }
    if not dry_run and (rows or tombstoned):
        record = registry.erasures.record(
            subject, actor=actor, reason=reason, touched=touched, rows=rows
        )
        summary["audit_id"] = record.id
    if not rows and not tombstoned:
        summary["note"] = "nothing held this learner; nothing was touched"
    if retrain:
        affected = affected_production(registry, models, subject, trained)
        summary["retraining"] = trigger_retraining(affected, subject, dry_run=dry_run)
    return summary


def _unmanifested(registry: Any, models: list[str]) -> list[str]:
    """Registered versions that recorded no training-set manifest (trained without an erasure
    key, or before manifests were kept): they may have seen any learner."""
    found = []
    for model in models:
        for record in registry.versions.of(model):
            manifest = (record.lineage or {}).get("training_set_manifest") or {}
            if manifest.get("learners") is None:
                found.append(f"{model} {record.version}")
    return found


def _training_sets(registry: Any, subject: str, *, dry_run: bool) -> list[tuple[str, str]]:
    """The versions whose training-set manifest lists the learner (one query); unless
    ``dry_run``, the learner's line is removed from each (the audit row records which)."""
    if dry_run:
        return registry.training_sets.versions_with(subject)
    return registry.training_sets.forget(subject)


def _touched_elsewhere(samples: list, trained: list[tuple[str, str]]) -> dict[str, Any]:
    """The evidence samples in S3 and the training-set manifests that held the learner."""
    stores: dict[str, Any] = {}
    if samples:
        stores["drift_samples"] = {
            "rows": sum(x.rows for x in samples),
            "paths": [x.uri for x in samples],
        }
    if trained:
        stores["training_sets"] = {
            "rows": len(trained),
            "paths": [f"registry:training_learners {m} {v}" for m, v in trained],
        }
    return stores


def _touched(
    files: list, online: dict[str, int], versions: list, baselines: list
) -> dict[str, Any]:
    """Counts and paths per store (never a value of the learner's rows)."""
    stores: dict[str, Any] = {}
    for t in files:
        entry = stores.setdefault(t.store, {"rows": 0, "paths": []})
        entry["rows"] += t.rows
        entry["paths"].append(t.path)
    if online:
        stores["online"] = {"rows": sum(online.values()), "paths": sorted(online)}
    if versions:
        stores["references"] = {
            "rows": sum(v.rows for v in versions),
            "paths": [v.uri for v in versions],
        }
    if baselines:
        stores["baselines"] = {
            "rows": sum(b.rows for b in baselines),
            "paths": [b.uri for b in baselines],
        }
    return stores


def run_erase(args: argparse.Namespace) -> int:
    from bantay.cli.erase_batch import erase_batch
    from bantay.features.tombstones import learner_id

    if args.requests:
        if args.learner_id is not None:
            raise ValueError("give a LEARNER_ID or --requests, not both")
        summary = erase_batch(actor=args.actor, dry_run=args.dry_run, retrain=args.retrain)
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    if args.learner_id is None or args.reason is None:
        raise ValueError(
            "bantay erase needs a LEARNER_ID and --reason (or --requests for the waiting "
            "request files)"
        )
    summary = erase(
        learner_id(args.learner_id),
        reason=args.reason,
        actor=args.actor,
        dry_run=args.dry_run,
        retrain=args.retrain,
    )
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def add_erase_command(sub: argparse._SubParsersAction, actor: str) -> None:
    p = sub.add_parser(
        "erase",
        help="remove a learner from every store bantay keeps, and keep them out (tombstone)",
    )
    p.add_argument(
        "learner_id", metavar="LEARNER_ID", nargs="?", help="the learner's id, as feeds carry it"
    )
    p.add_argument("--reason", help="why (recorded in the registry's audit row)")
    p.add_argument(
        "--requests",
        action="store_true",
        help="erase every request file waiting in <data>/erasure/requests/ (JSON lists of "
        "{learner_id, reason}); each file is deleted when done",
    )
    p.add_argument("--actor", default=actor, help="who asked (default: $USER)")
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be touched; change nothing"
    )
    p.add_argument(
        "--retrain",
        action="store_true",
        help="trigger the training DAG of every model whose production version was fitted on "
        "the learner (printing the command where Airflow is not reachable)",
    )
    p.set_defaults(func=run_erase)
