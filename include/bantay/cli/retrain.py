"""``bantay erase --retrain``: the production versions that were fitted on an erased learner are
retrained, so serving stops using a model that learned from them. A version is affected when its
training-set manifest listed the learner (in this erasure or an earlier one of the same subject,
whose audit row names the versions), or when it has no manifest (trained without an erasure key,
so it may have seen anyone). Each affected model's training DAG is triggered with
``airflow dags trigger`` (deterministic run id: a second trigger of the same erasure is refused by
Airflow, not run twice); where Airflow is not reachable the exact command is printed instead."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from typing import Any

TRIGGER_TIMEOUT_SECONDS = 120


def affected_production(
    registry: Any, models: list[str], subject: str, trained: list[tuple[str, str]]
) -> list[dict[str, str]]:
    """Each model whose production version saw ``subject`` (or cannot say it did not)."""
    saw = set(trained)
    for record in registry.erasures.of(subject):
        for path in (record.touched.get("training_sets") or {}).get("paths", []):
            _, model, version = path.rsplit(" ", 2)
            saw.add((model, version))
    found = []
    for model in models:
        production = registry.versions.production(model)
        if production is None:
            continue
        key = (model, production.version)
        if key in saw:
            found.append({"model": model, "version": production.version, "why": "trained on it"})
        elif not registry.training_sets.has(*key):
            why = "no training-set manifest (trained without an erasure key)"
            found.append({"model": model, "version": production.version, "why": why})
    return found


def trigger_command(model: str, version: str, subject: str) -> list[str]:
    """The ``airflow dags trigger`` that retrains ``model`` after the erasure of ``subject``."""
    from bantay.airflow.training_runs import training_dag_id

    reason = f"learner erased (erasure {subject[:12]}): {version} was trained on them"
    return [
        "airflow",
        "dags",
        "trigger",
        training_dag_id(model),
        "--run-id",
        f"erasure__{subject[:16]}__{version}",
        "--conf",
        json.dumps({"reason": reason}),
    ]


def retrain(affected: list[dict[str, str]], subject: str, *, dry_run: bool) -> list[dict]:
    """Trigger (or, in a dry run or without Airflow, show) each affected model's retraining."""
    airflow = shutil.which("airflow")
    done = []
    for entry in affected:
        command = trigger_command(entry["model"], entry["version"], subject)
        shown = shlex.join(command)
        if dry_run:
            done.append({**entry, "retrain": "would trigger", "command": shown})
            continue
        if airflow is None:
            status = "not triggered: no airflow command here; run it where Airflow runs"
            done.append({**entry, "retrain": status, "command": shown})
            continue
        try:
            ran = subprocess.run(
                [airflow, *command[1:]],
                capture_output=True,
                text=True,
                timeout=TRIGGER_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            status = f"not triggered ({type(exc).__name__}); run the command where Airflow runs"
            done.append({**entry, "retrain": status, "command": shown})
            continue
        if ran.returncode == 0:
            done.append({**entry, "retrain": "triggered", "command": shown})
        else:
            last = (ran.stderr.strip().splitlines() or ["no message"])[-1]
            status = f"not triggered (airflow said: {last[:200]}); run the command where it runs"
            done.append({**entry, "retrain": status, "command": shown})
    return done
