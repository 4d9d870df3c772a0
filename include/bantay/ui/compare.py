"""Compare two versions of a model: what the Compare page says (no I/O beyond the ``Reader``).

Side by side: gate checks, metrics (on the same test rows when the registry has them), recall by
slice, each version's recall gap per slice with its interval, what each model leans on (its global
explanation and how far the ranking of features moved), data windows, feature service,
parameters, and how far the drift reference moved between the two versions, feature by feature. A version's content is immutable once registered (only its
status moves), so the comparison of two versions is cached per (store, model, a, b); statuses
are read fresh on every request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from bantay.monitoring.attribution import ranking_ndcg
from bantay.settings.drift import DriftConfig
from bantay.training.fairness import CANDIDATE
from bantay.ui import views
from bantay.ui.distances import FeatureShift, reference_shifts
from bantay.ui.queries import Reader, VersionRecord

CACHE_SIZE = 64
_CACHE: OrderedDict[tuple[str, ...], dict[str, Any]] = OrderedDict()
_LOCK = threading.Lock()


def older_newer(a: VersionRecord, b: VersionRecord) -> tuple[VersionRecord, VersionRecord]:
    """The two versions in the order they were registered."""
    return (a, b) if (a.created_at, a.version) <= (b.created_at, b.version) else (b, a)


def side_by_side(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, Any]]:
    """Every key of either mapping (left's order first), both values, and whether they differ."""
    keys = list(left) + [k for k in right if k not in left]
    return [
        {"name": k, "a": left.get(k), "b": right.get(k), "differs": left.get(k) != right.get(k)}
        for k in keys
    ]


def gate_pairs(a: VersionRecord, b: VersionRecord) -> list[dict[str, Any]]:
    """Each gate check of either version: status and value on each side."""

    def by_name(v: VersionRecord) -> dict[str, dict[str, Any]]:
        return {str(c.get("name")): c for c in v.gate if isinstance(c, dict)}

    rows = side_by_side(by_name(a), by_name(b))
    for row in rows:
        row["differs"] = (row["a"] or {}).get("status") != (row["b"] or {}).get("status")
    return rows


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}


def metric_rows(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, Any]]:
    """Numeric metrics of both sides and the change (b minus a)."""
    rows = side_by_side(numeric(left), numeric(right))
    for row in rows:
        both = row["a"] is not None and row["b"] is not None
        row["change"] = row["b"] - row["a"] if both else None
    return rows


def test_window(v: VersionRecord) -> tuple[Any, Any] | None:
    bounds = (v.lineage.get("split") or {}).get("boundaries") or {}
    start, end = bounds.get("test_start"), bounds.get("test_end")
    return (start, end) if start or end else None


def same_rows(a: VersionRecord, b: VersionRecord) -> dict[str, Any] | None:
    """Both versions' metrics on the newer one's test rows, when the registry has them: the
    newer version was evaluated against the older one (production then) on those rows."""
    older, newer = older_newer(a, b)
    base = views.baseline_metrics(newer)
    if newer.lineage.get("compared_with") != older.version or not base:
        return None
    scores = {older.version: base, newer.version: views.compared_metrics(newer)}
    return {
        "on": newer.version,
        "rows": (newer.lineage.get("compared_on") or {}).get("rows"),
        "metrics": metric_rows(scores[a.version], scores[b.version]),
    }


def slice_rows(a: VersionRecord, b: VersionRecord) -> list[dict[str, Any]]:
    """Recall by slice (slice, value) on each side, each on its own test set."""

    def recalls(v: VersionRecord) -> dict[tuple[str, str], Any]:
        slices = v.metrics.get("slices") or {}
        return {
            (str(name), str(value)): (s or {}).get("recall")
            for name, groups in slices.items()
            if isinstance(groups, dict)
            for value, s in groups.items()
        }

    rows = metric_rows(recalls(a), recalls(b))
    for row in rows:
        row["slice"], row["value"] = row.pop("name")
    return rows


def explanation_rows(
    a: VersionRecord, b: VersionRecord, protected: Collection[str]
) -> dict[str, Any] | None:
    """The two global explanations side by side: per feature each version's mean |attribution|
    and rank, the change (b minus a) and whether the rank moved, in A's order (features only B
    explains after, in B's); and the NDCG of B's ranking graded by A's importances (1: the
    same order). None when neither version has an explanation."""
    left, right = views.importances(a), views.importances(b)
    if not left and not right:
        return None
    rank_a, rank_b = views.ranks(left), views.ranks(right)
    order = sorted(left, key=rank_a.__getitem__)
    order += sorted((f for f in right if f not in left), key=rank_b.__getitem__)
    both = bool(left and right)
    rows = [
        {
            "feature": f,
            "a": left.get(f),
            "b": right.get(f),
            "change": right[f] - left[f] if f in left and f in right else None,
            "rank_a": rank_a.get(f),
            "rank_b": rank_b.get(f),
            "rank_changed": both and rank_a.get(f) != rank_b.get(f),
            "protected": f in protected,
        }
        for f in order
    ]
    return {
        "rows": rows,
        "methods": (views.explanation_of(a).get("method"), views.explanation_of(b).get("method")),
        "missing": [v.version for v, found in ((a, left), (b, right)) if not found],
        "ndcg": ranking_ndcg(left, right) if both else None,
        "shared": len(set(left) & set(right)),
    }


def fairness_rows(a: VersionRecord, b: VersionRecord) -> dict[str, Any] | None:
    """Per slice, each version's recall gap (best minus worst judged group, with its interval)
    on its own test rows, the change (b minus a), and each one's groups too small to judge;
    None when neither version recorded its own fairness."""
    records = [v.metrics.get("fairness") or {} for v in (a, b)]
    if not any(r.get("slices") for r in records):
        return None
    left, right = (views.fairness_gaps(r) for r in records)
    rows = []
    for name in list(left) + [n for n in right if n not in left]:
        gaps = [((side.get(name) or {}).get("gap") or {}).get("value") for side in (left, right)]
        known = all(isinstance(g, int | float) for g in gaps)
        rows.append(
            {
                "slice": name,
                "a": left.get(name),
                "b": right.get(name),
                "change": gaps[1] - gaps[0] if known else None,
            }
        )
    return {
        "rows": rows,
        "basis": [
            {
                "rows": r.get("rows"),
                "threshold": (r.get("thresholds") or {}).get(CANDIDATE),
                "n_boot": r.get("n_boot"),
                "ci_quantiles": r.get("ci_quantiles"),
                "min_slice_rows": r.get("min_slice_rows"),
                "min_slice_positives": r.get("min_slice_positives"),
            }
            if r.get("slices")
            else None
            for r in records
        ],
        "missing": [v.version for v, r in zip((a, b), records, strict=True) if not r.get("slices")],
    }


def lineage_rows(a: VersionRecord, b: VersionRecord) -> list[dict[str, Any]]:
    """Data windows, what was fitted, the test period and the feature service, side by side."""

    def facts(v: VersionRecord) -> dict[str, Any]:
        lineage, fitted = v.lineage, v.lineage.get("fitted") or {}
        return {
            "data window": lineage.get("data_window"),
            "fitted from": fitted.get("since"),
            "fitted until": fitted.get("until"),
            "fitted rows": fitted.get("rows"),
            "training rows": lineage.get("training_rows"),
            "test period": test_window(v),
            "as of": lineage.get("as_of"),
            "feature service": lineage.get("feature_service"),
            "feature views": lineage.get("feature_views"),
            "why trained": v.reason,
        }

    return side_by_side(facts(a), facts(b))


def drift_thresholds(config: DriftConfig, kinds: dict[str, str]) -> dict[str, float | None]:
    """The drift check's threshold of each feature, where it uses the method the page does
    (a feature judged with another method has no threshold here)."""
    default = {
        "numerical": ("wasserstein", config.numerical_threshold),
        "categorical": ("jensenshannon", config.categorical_threshold),
    }
    kind_method = {"numerical": config.numerical_method, "categorical": config.categorical_method}
    out: dict[str, float | None] = {}
    for name, kind in kinds.items():
        method, threshold = default[kind]
        used = config.per_column_method.get(name, kind_method[kind])
        out[name] = config.per_column_threshold.get(name, threshold) if used == method else None
    return out


def reference_changes(
    reader: Reader, model: str, a: VersionRecord, b: VersionRecord
) -> list[FeatureShift] | None:
    """How far each feature's reference moved from the older version to the newer one; None
    when either version has no stored reference (never published)."""
    older, newer = older_newer(a, b)
    before = reader.reference(model, older.version)
    after = reader.reference(model, newer.version) if before is not None else None
    if before is None or after is None:
        return None
    settings = reader.settings.model(model)
    declared = settings.declared_features()
    kinds = {name: kind for kind, names in declared.items() for name in names}
    thresholds = drift_thresholds(settings.drift, kinds)
    return reference_shifts(before, after, kinds, thresholds)


def comparison(reader: Reader, model: str, a: VersionRecord, b: VersionRecord) -> dict[str, Any]:
    """Everything the Compare page shows of ``a`` and ``b`` but their statuses (cached)."""
    key = (reader.store.objects.bucket, reader.store.objects.prefix, model, a.version, b.version)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    older, _ = older_newer(a, b)
    protected = reader.settings.model(model).reasons.protected
    found = {
        "older": older.version,
        "gate": gate_pairs(a, b),
        "gate_summary": (views.gate_summary(a), views.gate_summary(b)),
        "metrics": metric_rows(views.test_metrics(a), views.test_metrics(b)),
        "same_rows": same_rows(a, b),
        "test_windows": (test_window(a), test_window(b)),
        "slices": slice_rows(a, b),
        "fairness": fairness_rows(a, b),
        "explanations": explanation_rows(a, b, protected),
        "lineage": lineage_rows(a, b),
        "params": side_by_side(a.params, b.params),
        "shifts": reference_changes(reader, model, a, b),
    }
    if reader.errors:  # an S3 read failed: say so now, try again next time
        return found
    with _LOCK:
        _CACHE[key] = found
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return found


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
