"""Page contents: what each bantay page says, computed from the read model (no I/O of its own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bantay.monitoring.attribution import global_importance
from bantay.training.explain import TOLERANCE
from bantay.training.fairness import CANDIDATE
from bantay.ui import charts
from bantay.ui.queries import DriftReportRecord, PromotionRecord, Reader, VersionRecord
from bantay.vocabulary import is_drift_reason

PRIMARY = ("pr_auc", "roc_auc")
STRIP_DAYS = 90
RETRAIN = "retrain_triggered"
HELD = "guard_held:"
# What training falls back to when the precision target is out of reach (no threshold found).
FALLBACK_THRESHOLD = 0.5


def test_metrics(version: VersionRecord | None) -> dict[str, Any]:
    return dict((version.metrics.get("test") or {}) if version else {})


def baseline_metrics(version: VersionRecord | None) -> dict[str, Any]:
    """The production model of the time, scored on this version's own test set."""
    return dict((version.metrics.get("production_on_same_test") or {}) if version else {})


def compared_metrics(version: VersionRecord | None) -> dict[str, Any]:
    """This version's scores on the rows production was scored on (older versions: its test)."""
    if version is None:
        return {}
    return dict(version.metrics.get("candidate_on_compared_rows") or test_metrics(version))


def changes(version: VersionRecord | None) -> dict[str, float | None]:
    """Primary metrics minus production's on the same test set (None without a baseline)."""
    mine, base = compared_metrics(version), baseline_metrics(version)
    return {
        k: (mine[k] - base[k]) if isinstance(base.get(k), int | float) and k in mine else None
        for k in PRIMARY
    }


def gate_summary(version: VersionRecord) -> dict[str, Any]:
    """``passed 11/11, 1 skipped`` or the failed checks, plus the worst fairness gap.

    A skipped check (nothing to compare against, too few rows) did not pass: it counts apart,
    and the count is of the checks that applied."""
    checks = [c for c in version.gate if isinstance(c, dict)]
    failed = [c["name"] for c in checks if not c.get("passed")]
    overridden = [c["name"] for c in checks if c.get("status") == "overridden"]
    skipped = [c["name"] for c in checks if c.get("status") == "skipped"]
    fairness = [c for c in checks if str(c.get("name", "")).startswith("fairness")]
    applicable = len(checks) - len(skipped)
    return {
        "passed": not failed,
        "n_passed": applicable - len(failed),
        "n": applicable,
        "n_checks": len(checks),
        "failed": failed,
        "overridden": overridden,
        "skipped": skipped,
        "fairness_gap": fairness[0].get("value") if fairness else None,
    }


def gate_rows(version: VersionRecord) -> list[dict[str, Any]]:
    """Every check, failures first (then overridden, skipped, passed), as the version page shows."""
    order = {"failed": 0, "overridden": 1, "skipped": 2, "passed": 3}
    checks = [c for c in version.gate if isinstance(c, dict)]
    return sorted(checks, key=lambda c: order.get(str(c.get("status")), 4))


def decided_by(version: VersionRecord) -> str:
    """Who let this version through (or stopped it) and their note."""
    if version.status_reason:
        return version.status_reason
    if version.rejection_reason:
        return f"gate: {version.rejection_reason}"
    return "–"


def decision_threshold(version: VersionRecord) -> float:
    """The score cut of ``version``: the threshold reaching its precision target on its test
    set (``metrics.test.threshold_at_precision``), else training's fallback."""
    found = test_metrics(version).get("threshold_at_precision")
    return float(found) if isinstance(found, int | float) else FALLBACK_THRESHOLD


def decision_thresholds(versions: list[VersionRecord]) -> dict[str, float]:
    """Every version's decision threshold, by version id."""
    return {v.version: decision_threshold(v) for v in versions}


def served_before(promotions: list[PromotionRecord]) -> set[str]:
    """The versions the audit log ever made production."""
    return {p.to_version for p in promotions if p.to_version}


def rollback_targets(
    versions: list[VersionRecord], promotions: list[PromotionRecord], production: str | None
) -> list[VersionRecord]:
    """What ``model`` may be rolled back to: archived versions that served before, newest
    first (``versions`` newest first)."""
    served = served_before(promotions)
    return [
        v
        for v in versions
        if v.status == "archived" and v.version in served and v.version != production
    ]


def label_rate(version: VersionRecord) -> float | None:
    train = (version.lineage.get("split") or {}).get("train") or {}
    return train.get("label_rate")


def compare_pick(versions: list[VersionRecord], production: str | None) -> tuple[str, str]:
    """The two versions the Versions tab offers to compare: production (else the second
    newest) as A and the newest other version as B (``versions`` newest first)."""
    ids = [v.version for v in versions]
    first = production if production in ids else (ids[1] if len(ids) > 1 else "")
    second = next((i for i in ids if i != first), "")
    return first, second


def shadow_days(
    reader: Reader, model: str, versions: list[VersionRecord], days: int
) -> dict[str, Any] | None:
    """The staged shadow of ``model`` and its agreement with production by day (newest first;
    only the days the staged version scored), or None when no shadow is staged."""
    marker = reader.shadow(model)
    if not marker:
        return None
    served = reader.serving_days(model, days, decision_thresholds(versions))
    scored = [d for d in served if d.shadow_version == marker.get("version")]
    return {"marker": marker, "days": scored}


# -- Models page -----------------------------------------------------------------------------


@dataclass
class Guard:
    cooldown_until: dt.date | None
    retrains_7d: int
    max_retrains_7d: int
    holding: str | None = None  # the guard that held the newest drift day's retrain, if any
    why: str | None = None  # and what it said (with when it releases)


def streak(reports: list[DriftReportRecord]) -> int:
    """How many days in a row (ending with the last report) had the last report's verdict."""
    if not reports:
        return 0
    last = reports[-1].verdict
    n = 0
    for r in reversed(reports):
        if r.verdict != last:
            break
        n += 1
    return n


def held_by(row: DriftReportRecord | None) -> tuple[str, str] | None:
    """(guard, what it said without the evidence) when ``row``'s decision is a guard's hold."""
    if row is None or not row.decision.startswith(HELD):
        return None
    guard = row.decision.split(":", 1)[1].replace("_", " ")
    return guard, (row.decision_detail or "").split("; evidence:", 1)[0]


def guard_state(reader: Reader, model: str, reports: list[DriftReportRecord]) -> Guard:
    policy = reader.settings.model(model).drift
    retrains = [r.report_date for r in reports if r.decision == RETRAIN]
    today = reports[-1].report_date if reports else dt.date.today()
    until = retrains[-1] + dt.timedelta(days=policy.guards.cooldown_days) if retrains else None
    week = [d for d in retrains if d > today - dt.timedelta(days=7)]
    held = held_by(reports[-1] if reports else None)
    return Guard(
        cooldown_until=until if until and until > today else None,
        retrains_7d=len(week),
        max_retrains_7d=policy.guards.max_retrains_per_7d,
        holding=held[0] if held else None,
        why=held[1] if held else None,
    )


def latest_hold(reader: Reader, model: str) -> dict[str, Any] | None:
    """The model's latest drift decision when it is a guard's hold (what a Retrain button must
    say beside it), else None."""
    recent, _ = reader.recent_drift(model, 1)
    return hold_of(recent)


def hold_of(reports: list[DriftReportRecord]) -> dict[str, Any] | None:
    """The newest of ``reports`` (oldest first) as a hold to state, when it is one."""
    last = reports[-1] if reports else None
    held = held_by(last)
    if last is None or held is None:
        return None
    guard, why = held
    return {"day": last.report_date, "guard": guard, "why": why, "labels": guard == "labels"}


def production_since(
    promotions: list[PromotionRecord], version: str | None
) -> PromotionRecord | None:
    """The audit entry that made ``version`` production most recently (newest-first input)."""
    return next((p for p in promotions if p.to_version == version), None)


def model_header(reader: Reader, model: str) -> dict[str, Any]:
    """What every Model page shows on top: what serves, since when, by whom, why."""
    pointer = reader.pointer(model)
    prod_id = (pointer or {}).get("version")
    production = reader.version(model, prod_id) if prod_id else None
    if production is None and prod_id is None:
        production = next((v for v in reader.versions(model) if v.status == "production"), None)
        prod_id = production.version if production else None
    promotions = reader.promotions(model)
    return {
        "name": model,
        "pointer": pointer,
        "prod_id": prod_id,
        "production": production,
        "promotion": production_since(promotions, prod_id),
        "promotions": promotions,
    }


def model_row(reader: Reader, model: str) -> dict[str, Any]:
    """One row of the Models page."""
    header = model_header(reader, model)
    versions = reader.versions(model)
    shadow = reader.shadow(model)
    recent, _ = reader.recent_drift(model, STRIP_DAYS)
    serving = reader.serving_days(model, 1, decision_thresholds(versions)) if shadow else []
    production = header["production"]
    return {
        **header,
        "metrics": test_metrics(production),
        "changes": changes(production),
        "shadow": shadow,
        "agreement": serving[0].agreement if serving else None,
        "last_drift": recent[-1] if recent else None,
        "streak": streak(recent),
        "guard": guard_state(reader, model, recent),
        "hold": hold_of(recent),
        "last_version": versions[0] if versions else None,
        "waiting": [v for v in versions if v.status == "candidate"],
        "rollback_targets": rollback_targets(versions, header["promotions"], header["prod_id"]),
    }


def model_rows(reader: Reader) -> list[dict[str, Any]]:
    """Every configured model's row; the models are read side by side (S3 and SQL wait)."""
    names = reader.model_names()
    if len(names) == 1:
        return [model_row(reader, names[0])]
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        return list(pool.map(lambda m: model_row(reader, m), names))


# -- Drift tab -------------------------------------------------------------------------------


def drift_tab(reader: Reader, model: str, promotions: list[PromotionRecord]) -> dict[str, Any]:
    rows, total = reader.recent_drift(model, STRIP_DAYS)
    policy = reader.settings.model(model).drift
    last = rows[-1].report_date if rows else dt.date.today()
    first = last - dt.timedelta(days=STRIP_DAYS - 1)
    by_day = {r.report_date: r for r in rows if r.report_date >= first}
    moves: dict[dt.date, list[str]] = {}
    for p in promotions:
        moves.setdefault(p.at.date(), []).append(p.kind)
    strip = []
    for i in range(STRIP_DAYS):
        day = first + dt.timedelta(days=i)
        row = by_day.get(day)
        strip.append(
            {
                "day": day,
                "row": row,
                "retrain": bool(row and row.decision == RETRAIN),
                "moves": moves.get(day, []),
            }
        )
    recent = [r for r in rows if r.report_date >= first]
    return {
        "strip": strip,
        "first": first,
        "last": last,
        "ratios": charts.ratio_chart(strip),
        "line": charts.share_line(strip, policy.drift_share),
        "threshold": policy.drift_share,
        "heat_days": recent[-charts.HEATMAP_DAYS :],
        "heatmap": charts.heatmap(recent),
        "table": list(reversed(recent)),
        "older": total - len(recent),
    }


def top_features(row: DriftReportRecord, n: int = 3) -> list[str]:
    drifted = [
        (name, s.get("score") or 0.0)
        for name, s in charts.feature_entries(row).items()
        if s.get("drifted")
    ]
    return [name for name, _ in sorted(drifted, key=lambda x: -x[1])[:n]]


# -- Global explanation and fairness of one version ------------------------------------------

# How each explanation method reaches its attributions, as the pages say it.
METHODS = {
    "linear": "exact attributions of the logistic regression: coefficient times the distance "
    "from the training mean",
    "tree_path": "per-split contributions along every tree path",
    "tree_shapley": "exact Tree SHAP",
}


def explanation_of(version: VersionRecord | None) -> dict[str, Any]:
    """The version's stored explanation (method, additivity check, global explanation); empty
    for a version registered before explanations were recorded."""
    found = version.metrics.get("explanation") if version else None
    return dict(found) if isinstance(found, Mapping) else {}


def importances(version: VersionRecord | None) -> dict[str, float]:
    """Mean |attribution| per feature on the version's test rows, as stored (largest first)."""
    return global_importance(version.metrics) if version else {}


def ranks(importance: Mapping[str, float]) -> dict[str, int]:
    """Each feature's rank by importance, 1 for the one the model leans on most (ties keep
    the stored order)."""
    ordered = sorted(importance, key=lambda f: -importance[f])
    return {f: i for i, f in enumerate(ordered, start=1)}


def leans_on(version: VersionRecord, protected: Collection[str]) -> dict[str, Any] | None:
    """What the version page says the model leans on: every feature by mean |attribution| on
    the version's test rows, largest first, with its share of the total and the length of its
    bar, protected attributes marked; the method and whether its additivity check stayed within
    tolerance. None when the version has no explanation."""
    importance = importances(version)
    if not importance:
        return None
    record = explanation_of(version)
    total, top = sum(importance.values()), max(importance.values())
    rank = ranks(importance)
    features = [
        {
            "feature": f,
            "value": importance[f],
            "share": importance[f] / total if total > 0 else None,
            "bar": charts.bar_width(importance[f], top),
            "rank": rank[f],
            "protected": f in protected,
        }
        for f in sorted(importance, key=rank.__getitem__)
    ]
    additivity = record.get("additivity") or {}
    error, tolerance = additivity.get("max_error"), additivity.get("tolerance", TOLERANCE)
    known = isinstance(error, int | float) and isinstance(tolerance, int | float)
    on = record.get("global") or {}
    return {
        "method": record.get("method"),
        "method_words": METHODS.get(str(record.get("method")), record.get("method") or "–"),
        "on": on.get("on") or "test rows",
        "rows": on.get("rows"),
        "max_error": error,
        "tolerance": tolerance,
        "within": (error <= tolerance) if known else None,
        "probe_rows": additivity.get("probe_rows"),
        "features": features,
        "bar_width": charts.BAR_WIDTH,
    }


def fairness_gaps(
    record: Mapping[str, Any] | None, who: str = CANDIDATE
) -> dict[str, dict[str, Any]]:
    """Per slice of a fairness record (:func:`bantay.training.fairness.slice_fairness`): the
    recall gap of ``who`` (best judged group minus worst, with its interval and both groups;
    None when fewer than two groups were large enough to judge), how many groups were judged,
    and the groups too small to judge with their rows and positives."""
    out: dict[str, dict[str, Any]] = {}
    for name, found in ((record or {}).get("slices") or {}).items():
        groups = (found or {}).get("groups") or {}
        small = [
            {"group": g, "rows": info.get("rows"), "positives": info.get("positives")}
            for g, info in groups.items()
            if info.get("too_small")
        ]
        out[str(name)] = {
            "gap": ((found or {}).get("gaps") or {}).get(who),
            "judged": len(groups) - len(small),
            "too_small": small,
        }
    return out


# -- Version page ----------------------------------------------------------------------------


def version_page(reader: Reader, model: str, version: VersionRecord) -> dict[str, Any]:
    settings = reader.settings.model(model)
    policy = settings.drift
    manifest = reader.manifest(model, version.version)
    as_of = version.lineage.get("as_of")
    window = None
    overlaps: list[DriftReportRecord] = []
    if as_of:
        end = dt.datetime.fromisoformat(as_of).date() - dt.timedelta(days=1)
        start = end - dt.timedelta(days=policy.reference_days - 1)
        window = (start, end)
        overlaps = [
            r
            for r in reader.drift(model, since=start)
            if r.report_date <= end and r.verdict != "OK"
        ]
    mine, base = compared_metrics(version), baseline_metrics(version)
    metric_rows = [
        {"name": k, "mine": mine.get(k), "base": base.get(k)}
        for k in mine
        if isinstance(mine.get(k), int | float)
    ]
    return {
        "gate": gate_summary(version),
        "checks": gate_rows(version),
        "metric_rows": metric_rows,
        "compared_with": version.lineage.get("compared_with"),
        "slices": version.metrics.get("slices") or {},
        "fairness": version.metrics.get("fairness_versus_champion") or {},
        "explanation": leans_on(version, settings.reasons.protected),
        "manifest": manifest,
        "files": (manifest or {}).get("files") or {},
        "uri": reader.version_uri(model, version.version) if manifest else None,
        "reference_window": window,
        "reference_overlaps": overlaps,
        "rollback_target": version.status == "archived"
        and version.version in served_before(reader.promotions(model)),
    }


# -- Drift day -------------------------------------------------------------------------------


def drift_day_page(reader: Reader, model: str, row: DriftReportRecord) -> dict[str, Any]:
    promotions = reader.promotions(model)  # newest first
    end_of_day = dt.datetime.combine(row.report_date + dt.timedelta(days=1), dt.time(), dt.UTC)
    watched = next((p.to_version for p in promotions if p.at < row.created_at), None)
    started = None
    if row.decision == RETRAIN:
        started = next(
            (
                v
                for v in reversed(reader.versions(model))
                if v.created_at >= row.created_at and is_drift_reason(v.reason)
            ),
            None,
        )
    return {
        "watched": watched,
        "started": started,
        "hold": latest_hold(reader, model),
        "score_drift": charts.score_drift(row),
        "top": top_features(row, n=20),
        "end_of_day": end_of_day,
        "scores": sorted(
            charts.feature_entries(row).items(),
            key=lambda kv: -(kv[1].get("score") or 0.0),
        ),
    }
