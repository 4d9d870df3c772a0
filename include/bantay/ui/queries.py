"""What the bantay pages read, and the only module of the UI that knows where it lives.

Sources: the registry (versions, the promotion audit log, drift rows), the production and shadow
pointers and version manifests in S3, drift reports in S3, and the prediction log. Nothing here
writes anything; one ``Reader`` per process keeps only the clients (an engine, an S3 client).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from bantay.airflow.training_runs import training_dag_id
from bantay.monitoring.day_check import CHECK_FILE, DayCheck
from bantay.serving.experiment import latest_experiment
from bantay.settings import Settings, get_settings
from bantay.stores.model_store import ModelStore, ModelStoreError
from bantay.stores.registry import (
    DriftReportRecord,
    DriftReportRow,
    PromotionRecord,
    Registry,
    RegistryError,
    VersionRecord,
)
from bantay.ui.links import DRIFT
from bantay.vocabulary import ModelStatus

log = logging.getLogger(__name__)

__all__ = [
    "DriftReportRecord",
    "ModelStatus",
    "PromotionRecord",
    "Reader",
    "ServingDay",
    "VersionRecord",
    "reader",
]


@dataclass(frozen=True)
class ServingDay:
    """One day of the prediction log, summarised."""

    day: dt.date
    versions: tuple[str, ...]
    rows: int
    mean_score: float | None
    above_threshold: float | None
    missing_features: float | None
    shadow_version: str | None = None
    agreement: float | None = None
    threshold: float | None = None  # the decision threshold of the (first) version served
    score_gap: float | None = None  # mean |shadow score - production score| of the day


@dataclass
class Reader:
    """Read-only access to everything the pages show."""

    settings: Settings
    registry: Registry
    store: ModelStore
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Reader:
        settings = settings or get_settings()
        registry = Registry.from_settings(settings)
        store = ModelStore.from_connection(
            settings.storage.bucket, settings.storage.prefix, settings.storage.aws_conn_id
        )
        return cls(settings, registry, store)

    # -- configuration ---------------------------------------------------------------------

    def model_names(self) -> list[str]:
        return [m.name for m in self.settings.models]

    def known_model(self, model: str) -> bool:
        return model in self.model_names()

    # -- S3 --------------------------------------------------------------------------------

    def pointer(self, model: str) -> dict[str, Any] | None:
        """``production.json`` of ``model``, or None (never promoted, or S3 unreachable)."""
        return self._s3(
            lambda: self.store.pointers.current(model), f"production pointer of {model}"
        )

    def shadow(self, model: str) -> dict[str, Any] | None:
        return self._s3(lambda: self.store.pointers.shadow(model), f"shadow pointer of {model}")

    def experiment(self, model: str) -> dict[str, Any] | None:
        """The running randomised experiment, else the last one stopped, else None."""
        return self._s3(lambda: latest_experiment(self.store, model), f"experiment of {model}")

    def manifest(self, model: str, version: str) -> dict[str, Any] | None:
        """The version's manifest, or None when it was never published (e.g. rejected)."""
        return self._s3(
            lambda: self.store.versions.manifest(model, version), None, quiet=(ModelStoreError,)
        )

    def reference(self, model: str, version: str) -> Any:
        """The drift reference sample stored with ``version`` (a DataFrame, sha256-checked),
        or None when it was never published."""
        return self._s3(
            lambda: self.store.versions.reference(model, version),
            f"drift reference of {model} {version}",
            quiet=(ModelStoreError,),
        )

    def version_uri(self, model: str, version: str) -> str:
        return self.store.objects.uri(self.store.objects.version_key(model, version, ""))

    def report_html(self, record: DriftReportRecord) -> bytes | None:
        """The Evidently report of a drift row, read through the store's client."""
        uri = record.report_html_uri
        if not uri or not uri.startswith(f"s3://{self.store.objects.bucket}/"):
            return None
        key = uri.removeprefix(f"s3://{self.store.objects.bucket}/")
        found = self._s3(lambda: self.store.objects.get(key), f"report {uri}")
        return found[0] if found else None

    def day_check(self, model: str, day: dt.date) -> DayCheck | None:
        """The day's check as its e-mail was made of it (kept beside the report), or None for
        a day checked before it was kept, or by hand without a record."""
        key = self.store.objects.report_key(model, day.isoformat(), CHECK_FILE)
        found = self._s3(lambda: self.store.objects.get(key), f"e-mail facts of {model} {day}")
        if not found:
            return None
        try:
            return DayCheck.from_data(json.loads(found[0]))
        except (ValueError, KeyError, TypeError) as exc:
            self.errors.append(f"could not read the e-mail facts of {model} {day}: {exc}")
            return None

    def _s3(self, read, what: str | None, quiet: tuple[type[Exception], ...] = ()) -> Any:
        try:
            return read()
        except quiet:
            return None
        except (ModelStoreError, ValueError) as exc:
            if what:
                self.errors.append(f"could not read the {what}: {exc}")
            log.warning("bantay UI: %s", exc)
            return None

    # -- registry --------------------------------------------------------------------------

    def versions(self, model: str) -> list[VersionRecord]:
        """Every registered version, newest first."""
        return list(reversed(self._registry(lambda: self.registry.versions.of(model), [])))

    def version(self, model: str, version: str) -> VersionRecord | None:
        return self._registry(lambda: self.registry.versions.get(model, version), None)

    def promotions(self, model: str) -> list[PromotionRecord]:
        """The audit log, newest first."""
        return list(reversed(self._registry(lambda: self.registry.promotions.of(model), [])))

    def drift(self, model: str, since: dt.date | None = None) -> list[DriftReportRecord]:
        """Drift rows from ``since``, oldest first."""
        return self._registry(lambda: self.registry.drift.reports(model, since=since), [])

    def drift_day(self, model: str, day: dt.date) -> DriftReportRecord | None:
        rows = self.drift(model, since=day)
        return rows[0] if rows and rows[0].report_date == day else None

    def recent_drift(self, model: str, days: int) -> tuple[list[DriftReportRecord], int]:
        """The rows of the ``days`` days ending with the last report (oldest first), and how
        many rows the model has in all; two indexed queries, whatever the history's length."""

        def read():
            with self.registry.engine.connect() as conn:
                last, total = conn.execute(
                    sa.select(sa.func.max(DriftReportRow.report_date), sa.func.count()).where(
                        DriftReportRow.model == model
                    )
                ).one()
            if last is None:
                return [], 0
            return self.registry.drift.reports(
                model, since=last - dt.timedelta(days=days - 1)
            ), total

        return self._registry(read, ([], 0))

    def versions_of_run(self, dag_id: str, run_id: str) -> list[VersionRecord]:
        """The versions a training run registered (normally one).

        A run is named by its DAG and its run id together: every model's training DAG makes
        runs called ``scheduled__<date>`` (and a manual trigger may reuse an id), so the run id
        alone would also find the other models' versions. The registry keeps the run id only;
        the model is the one ``dag_id`` trains.
        """
        model = self.model_of_training_dag(dag_id)
        if model is None:
            return []
        return self._registry(
            lambda: [v for v in self.registry.versions.of_run(run_id) if v.model == model], []
        )

    def drift_of_run(self, dag_id: str, run_id: str) -> list[DriftReportRecord]:
        """The drift rows a ``bantay_drift`` run wrote (one per model), of configured models.

        Only that DAG writes drift rows; a run of any other DAG with the same run id has none.
        """
        if dag_id != DRIFT:
            return []
        known = set(self.model_names())
        return self._registry(
            lambda: [d for d in self.registry.drift.of_run(run_id) if d.model in known],
            [],
        )

    def model_of_training_dag(self, dag_id: str) -> str | None:
        """The configured model whose training DAG is ``dag_id`` (``bantay_training_<model>``)."""
        return next((m for m in self.model_names() if training_dag_id(m) == dag_id), None)

    def _registry(self, read, default):
        try:
            return read()
        except RegistryError as exc:
            self.errors.append(str(exc))
        except Exception as exc:  # an unmigrated or unreachable database: say so, keep serving
            if type(exc).__module__.startswith("sqlalchemy"):
                self.errors.append(
                    f"the registry could not be read ({type(exc).__name__}); has any bantay DAG "
                    "run yet? Check the bantay_registry connection"
                )
                log.warning("bantay UI: registry read failed: %s", exc)
            else:
                raise
        return default

    # -- prediction log --------------------------------------------------------------------

    def serving_days(
        self, model: str, days: int, thresholds: Mapping[str, float]
    ) -> list[ServingDay]:
        """The last ``days`` days of the prediction log that exist, newest first; a row counts
        as flagged when its score reaches the decision threshold of the version that scored it
        (``thresholds``: version -> threshold; a version without one counts nowhere)."""
        root = self.settings.predictions_dir / model
        if not root.is_dir():
            return []
        parts = sorted(root.glob("date=*/part-0.parquet"), reverse=True)[:days]
        features = set(self.settings_features())
        return [serving_day(path, thresholds, features) for path in parts]

    def settings_features(self) -> list[str]:
        return list(self.settings.features.feature_columns())


def _missing_share(meta: Any, features: set[str]) -> float | None:
    """The share of feature cells that are null, from the parquet footer's statistics."""
    nulls = cells = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            if column.path_in_schema in features:
                stats = column.statistics
                nulls += stats.null_count if stats is not None and stats.has_null_count else 0
                cells += group.num_rows
    return nulls / cells if cells else None


def serving_day(path, thresholds: Mapping[str, float], features: set[str]) -> ServingDay:
    """One partition: score columns read, each row judged at its own version's threshold."""
    day = dt.date.fromisoformat(path.parent.name.split("=", 1)[1])
    parquet = pq.ParquetFile(path)
    rows = parquet.metadata.num_rows
    names = set(parquet.schema_arrow.names)
    wanted = [c for c in ("score", "model_version", "shadow_score", "shadow_version") if c in names]
    table = parquet.read(columns=wanted)
    versions = table.column("model_version") if "model_version" in names else None
    served = tuple(sorted(set(versions.unique().to_pylist()))) if versions is not None else ()
    score = table.column("score") if "score" in names else None
    cut = None
    if versions is not None and thresholds:
        known = pa.array(list(thresholds), pa.string())
        index = pc.index_in(versions.cast(pa.string()), value_set=known)
        cut = pc.take(pa.array(list(thresholds.values()), pa.float64()), index)
    above = flagged = None
    if score is not None and cut is not None and rows:
        flagged = pc.greater_equal(score, cut)
        above = pc.mean(flagged.cast("double")).as_py()
    shadow_version = agreement = gap = None
    if "shadow_score" in names and flagged is not None:
        shadow_version = table.column("shadow_version")[0].as_py()
        shadow = pc.greater_equal(table.column("shadow_score"), cut)
        agreement = pc.mean(pc.equal(flagged, shadow).cast("double")).as_py()
        gap = pc.mean(pc.abs(pc.subtract(table.column("shadow_score"), score))).as_py()
    return ServingDay(
        day=day,
        versions=served,
        rows=rows,
        mean_score=pc.mean(score).as_py() if score is not None and rows else None,
        above_threshold=above,
        missing_features=_missing_share(parquet.metadata, features),
        shadow_version=shadow_version,
        agreement=agreement,
        threshold=thresholds.get(served[0]) if served else None,
        score_gap=gap,
    )


_READER: Reader | None = None
_LOCK = threading.Lock()


def reader() -> Reader:
    """The process's Reader (clients are reused; a fresh error list per request)."""
    global _READER
    with _LOCK:
        if _READER is None:
            _READER = Reader.from_settings()
        return Reader(_READER.settings, _READER.registry, _READER.store)


def reset() -> None:
    """Forget the process's clients (tests change settings between modules)."""
    global _READER
    with _LOCK:
        _READER = None
