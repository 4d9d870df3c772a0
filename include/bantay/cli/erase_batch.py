"""Batches of erasure requests: ``bantay erase --requests`` and the ``bantay_erase`` DAG.

Requests arrive as files in ``<data>/erasure/requests/`` (``Layout.erasure_requests``), each a
JSON list of ``{"learner_id": ..., "reason": ..., "actor": ...}`` (actor optional). Ids stay out
of Airflow: not in a run's conf, its XCom or its log (which keep them for as long as Airflow
keeps runs); the summary names learners only by their keyed hash. A file is read whole and
checked before anything is erased, every request in it is erased, then the file is deleted (a
dry run deletes nothing). With ``retrain``, each affected model's training DAG is triggered
once for the whole batch, not once per learner.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bantay.cli.erase import erase


def read_requests(path: Path, actor: str) -> list[dict[str, Any]]:
    """The requests of one file, checked (ValueError naming the file and the fix)."""
    from bantay.features.tombstones import learner_id

    try:
        items = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"erasure requests {path} are not readable JSON ({exc}); write a list of "
            '{"learner_id": ..., "reason": ...} objects'
        ) from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(
            f"erasure requests {path} must be a JSON list of "
            '{"learner_id": ..., "reason": ...} objects'
        )
    requests = []
    for n, item in enumerate(items, 1):
        reason = str(item.get("reason") or "").strip()
        if not reason:
            raise ValueError(f"request {n} in {path} has no reason; say why (it is recorded)")
        try:
            learner = learner_id(item.get("learner_id", ""))
        except ValueError:
            raise ValueError(
                f"request {n} in {path} has no valid learner_id (a non-negative whole number)"
            ) from None
        requests.append({"learner": learner, "reason": reason, "actor": item.get("actor") or actor})
    return requests


def erase_batch(*, actor: str, dry_run: bool, retrain: bool) -> dict[str, Any]:
    """Every waiting request file, erased; the files deleted unless ``dry_run``."""
    from bantay.cli.retrain import affected_production
    from bantay.cli.retrain import retrain as trigger_retraining
    from bantay.settings import get_settings
    from bantay.stores.registry import registry_for

    settings = get_settings()
    folder = settings.layout.erasure_requests
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    batches = [(path, read_requests(path, actor)) for path in files]  # all checked first
    done, affected = [], {}
    for path, requests in batches:
        for request in requests:
            summary = erase(
                request["learner"],
                reason=request["reason"],
                actor=request["actor"],
                dry_run=dry_run,
            )
            done.append({k: summary.get(k) for k in ("subject", "rows", "tombstone", "audit_id")})
            trained = [tuple(v.split(" ", 1)) for v in summary["versions_trained_on_the_learner"]]
            if retrain:
                models = [m.name for m in settings.models]
                registry = registry_for(settings)
                for entry in affected_production(registry, models, summary["subject"], trained):
                    affected.setdefault(entry["model"], entry)
        if not dry_run:
            path.unlink()
    result: dict[str, Any] = {
        "dry_run": dry_run,
        "files": [p.name for p, _ in batches],
        "erased": done,
    }
    if retrain:
        batch = hashlib.sha256("\n".join(result["files"]).encode()).hexdigest()
        result["retraining"] = trigger_retraining(list(affected.values()), batch, dry_run=dry_run)
    return result
