"""Retention: delete what is older than its kind's period (``retention:`` in ``bantay.yaml``),
never what a kept version needs.

Each kind and where it lives: ``raw``, ``accepted`` and ``quarantine`` day folders of the lake
(``<kind>/<feed>/date=D/``), the prediction logs (``predictions/<model>/date=D/``, and the
pseudonymous batch outputs beside them, ``outputs/<model>/date=D/``), the e-mail
outbox (``outbox/<model>/*.eml``, aged by the time the message was written), and in S3 each
day's drift report (``reports/drift/<model>/D/report.html|json``, kind ``reports``) and the
drift check's evidence samples beside it (``check.json``, kind ``drift_samples``).

A day is expired when it is more than its kind's period older than ``today`` (the day the task
runs for). Accepted days that a production, approved or rollback-target version still needs
(:func:`protected_days`: its training window from ``lookback_days`` before it to the day its
labels had matured by, and its drift reference) are kept whatever their age, and listed as kept
with the versions that need them. :func:`plan` is the dry run; :func:`apply` deletes exactly
what the plan lists.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bantay.layout import PARTITION_GLOB, Layout, partition_day
from bantay.settings import Settings
from bantay.settings.retention import RetentionConfig
from bantay.stores.model_store import model_store_for
from bantay.stores.registry import registry_for
from bantay.vocabulary import ModelStatus

KEPT_STATUSES = (ModelStatus.PRODUCTION, ModelStatus.APPROVED)
UNKNOWN_WINDOW = "a kept version without a recorded window"
REPORT_FILES = {"report.html": "reports", "report.json": "reports", "check.json": "drift_samples"}


@dataclass(frozen=True)
class Expired:
    """One thing retention deletes (or keeps, when a version needs it)."""

    kind: str
    path: str  # a folder or file of the lake, or an s3:// URI
    age_days: int
    needed_by: tuple[str, ...] = field(default=())  # the versions that keep it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """What retention deletes, and the expired accepted days it keeps for kept versions."""

    delete: list[Expired]
    kept: list[Expired]


def _day(value: Any) -> dt.date:
    """The day of an ISO date or timestamp (as lineage records them)."""
    return dt.date.fromisoformat(str(value)[:10])


def version_days(lineage: dict[str, Any], lookback_days: int) -> tuple[dt.date, dt.date] | None:
    """The first and last accepted day a version's lineage needs; None when it does not say."""
    window = lineage.get("data_window") or []
    if len(window) != 2:
        return None
    try:
        ends = [_day(window[0]), _day(window[1])]
        if lineage.get("as_of"):
            ends.append(_day(lineage["as_of"]))  # its labels matured by then
        reference = lineage.get("reference") or {}
        ends += [_day(reference[k]) for k in ("first", "last") if reference.get(k)]
    except ValueError:
        return None
    return min(ends) - dt.timedelta(days=lookback_days), max(ends)


def kept_versions(registry: Any, model: str) -> list[Any]:
    """Production and approved versions of ``model``, and its rollback target (the version the
    newest promotion replaced)."""
    records = registry.versions.of(model)
    kept = {r.version for r in records if r.status in KEPT_STATUSES}
    promotions = registry.promotions.of(model)
    if promotions and promotions[-1].from_version:
        kept.add(promotions[-1].from_version)
    return [r for r in records if r.version in kept]


def protected_days(
    registry: Any, models: list[str], lookback_days: int
) -> dict[dt.date, list[str]] | None:
    """Each accepted day a kept version needs, with those versions; None (keep every accepted
    day) when a kept version's lineage does not say which days it was built from."""
    days: dict[dt.date, list[str]] = {}
    for model in models:
        for record in kept_versions(registry, model):
            span = version_days(record.lineage or {}, lookback_days)
            if span is None:
                return None
            day = span[0]
            while day <= span[1]:
                days.setdefault(day, []).append(f"{model} {record.version}")
                day += dt.timedelta(days=1)
    return days


def _day_folders(root: Path) -> Iterator[tuple[Path, dt.date]]:
    """``root/<name>/date=D`` folders (symlinks neither followed nor deleted through)."""
    if not root.is_dir() or root.is_symlink():
        return
    for name in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for folder in sorted(name.glob(PARTITION_GLOB)):
            if folder.is_dir() and not folder.is_symlink():
                try:
                    yield folder, partition_day(folder)
                except ValueError:
                    continue  # not a day partition: not retention's to judge


def _lake_roots(layout: Layout) -> list[tuple[str, Path]]:
    """Each kind's day-partitioned trees (the pseudonymous outputs age with the predictions)."""
    return [
        ("raw", layout.raw),
        ("accepted", layout.accepted),
        ("quarantine", layout.quarantine),
        ("predictions", layout.predictions),
        ("predictions", layout.outputs),
    ]


def plan_files(
    layout: Layout,
    retention: RetentionConfig,
    today: dt.date,
    protected: dict[dt.date, list[str]] | None,
) -> Plan:
    """The lake's day folders and the outbox's messages older than their kind's period."""
    periods, delete, kept = retention.periods(), [], []
    for kind, root in _lake_roots(layout):
        if kind not in periods:
            continue
        for folder, day in _day_folders(root):
            age = (today - day).days
            if age <= periods[kind]:
                continue
            if kind == "accepted" and (protected is None or day in protected):
                needs = tuple(protected[day]) if protected is not None else (UNKNOWN_WINDOW,)
                kept.append(Expired(kind, str(folder), age, needs))
            else:
                delete.append(Expired(kind, str(folder), age))
    if "outbox" in periods and layout.outboxes.is_dir():
        for path in sorted(layout.outboxes.rglob("*")):
            if path.is_file() and not path.is_symlink():
                written = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()
                age = (today - written).days
                if age > periods["outbox"]:
                    delete.append(Expired("outbox", str(path), age))
    return Plan(delete, kept)


def plan_reports(objects: Any, retention: RetentionConfig, today: dt.date) -> list[Expired]:
    """Drift reports and evidence samples in S3 older than their kind's period."""
    periods = retention.periods()
    if "reports" not in periods and "drift_samples" not in periods:
        return []
    expired = []
    for key in objects.keys_under(f"{objects.prefix}/reports/drift/"):
        parts = key.rsplit("/", 2)
        kind = REPORT_FILES.get(parts[-1])
        if len(parts) != 3 or kind not in periods:
            continue
        try:
            age = (today - dt.date.fromisoformat(parts[1])).days
        except ValueError:
            continue  # not a day's folder
        if age > periods[kind]:
            expired.append(Expired(kind, objects.uri(key), age))
    return expired


def plan(
    layout: Layout,
    retention: RetentionConfig,
    today: dt.date,
    *,
    registry: Any,
    models: list[str],
    objects: Any | None,
) -> Plan:
    """Everything retention deletes on ``today`` (and the accepted days it keeps); changes
    nothing. ``objects``: the S3 store's objects (None: S3 is not looked at)."""
    protected = (
        protected_days(registry, models, retention.lookback_days)
        if "accepted" in retention.periods()
        else {}
    )
    files = plan_files(layout, retention, today, protected)
    reports = plan_reports(objects, retention, today) if objects is not None else []
    return Plan([*files.delete, *reports], files.kept)


def apply(found: Plan, objects: Any | None) -> list[Expired]:
    """Delete exactly what ``found`` lists; what was deleted (a path already gone is skipped)."""
    done = []
    for item in found.delete:
        if item.path.startswith("s3://"):
            if objects is None:
                continue
            objects.delete(item.path.removeprefix(f"s3://{objects.bucket}/"))
            done.append(item)
            continue
        path = Path(item.path)
        if path.is_symlink() or not path.exists():
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        done.append(item)
    return done


def enforce(
    settings: Settings,
    today: dt.date,
    *,
    dry_run: bool,
    registry: Any | None = None,
    objects: Any | None = None,
) -> dict[str, Any]:
    """Plan retention for ``today`` and, unless ``dry_run``, delete exactly that; a summary
    (:func:`report_lines` words it). The registry and S3 are opened only when a period needs
    them (the protected days; the reports)."""
    retention = settings.retention
    periods = retention.periods()
    summary: dict[str, Any] = {"today": today.isoformat(), "dry_run": dry_run, "periods": periods}
    if not periods:
        return {**summary, "deleted": [], "kept": []}
    if registry is None and "accepted" in periods:
        registry = registry_for(settings)
    if objects is None and {"reports", "drift_samples"} & set(periods):
        objects = model_store_for(settings).objects
    found = plan(
        settings.layout,
        retention,
        today,
        registry=registry,
        models=[m.name for m in settings.models],
        objects=objects,
    )
    deleted = found.delete if dry_run else apply(found, objects)
    summary["deleted"] = [e.to_dict() for e in deleted]
    summary["kept"] = [e.to_dict() for e in found.kept]
    return summary


def report_lines(summary: dict[str, Any]) -> list[str]:
    """What a person reads: one line per deletion, then the expired days kept for versions."""
    if not summary["periods"]:
        return ["retention: no period is set (retention: in bantay.yaml); nothing is deleted"]
    verb = "would delete" if summary["dry_run"] else "deleted"
    lines = [
        f"{verb} {e['kind']} {e['path']} (age {e['age_days']} days)" for e in summary["deleted"]
    ]
    lines += [
        f"kept {e['kind']} {e['path']} (age {e['age_days']} days): needed by "
        + ", ".join(e["needed_by"])
        for e in summary["kept"]
    ]
    periods = ", ".join(f"{k} {v} days" for k, v in summary["periods"].items())
    lines.append(
        f"retention on {summary['today']} ({periods}): {len(summary['deleted'])} {verb}, "
        f"{len(summary['kept'])} expired accepted day folder(s) kept for versions"
    )
    return lines
