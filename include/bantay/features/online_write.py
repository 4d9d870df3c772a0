"""bantay's own online write into Feast's Redis store: the rows Feast's materialization would
write, in Feast's key and value format, without Feast's row-at-a-time conversion.

For one feature view and one window it reads only the accepted partitions that can hold rows of
the window (a partition holds event times from ``max_lateness_days`` before its day to its day's
end, as the data contract checks), keeps the rows inside the window (both ends inclusive, as
Feast's offline stores filter), then the latest row per learner (latest event time, then latest
created time, as Feast's ``pull_latest_from_table_or_query``), drops tombstoned learners, and
writes each batch of learners as one RESP buffer of HSETs (:mod:`bantay.stores.feast_redis`).
A view this cannot write (another source, a feature type without a bulk encoding, a Redis
cluster, key TTLs) is left to Feast's own materialization (:func:`writable`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from feast import FeatureStore, FeatureView, FileSource
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bantay.features.tombstones import Tombstones
from bantay.stores import feast_redis as fr

BATCH = 50_000  # learners per RESP buffer: ~25 MiB of commands, flat memory at any scale
PARTITION = "date=*"
SEND_ATTEMPTS = 4  # a batch cut off by a dropped connection is sent again, up to this many times
DROPPED = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)

log = logging.getLogger(__name__)


def writable(feast: FeatureStore, view: FeatureView) -> bool:
    """Whether :func:`write_view` writes ``view`` exactly as Feast's materialization would."""
    source = view.batch_source
    return (
        fr.bulk_client(feast.config) is not None
        and fr.feature_kinds(view) is not None
        and isinstance(source, FileSource)
        and not source.field_mapping
        and Path(source.path).parent.name == PARTITION
        and len(view.entity_columns) == 1
        and view.entity_columns[0].dtype.to_value_type().name == "INT64"
    )


def partition_files(view: FeatureView, start: dt.datetime, end: dt.datetime, lateness_days: int):
    """The parquet files of the partitions whose rows may fall in ``[start, end]``."""
    glob = Path(view.batch_source.path)
    root = glob.parent.parent
    first, last = start.date(), end.date() + dt.timedelta(days=lateness_days)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return sorted(f for d in days for f in (root / f"date={d.isoformat()}").glob(glob.name))


def latest_rows(
    view: FeatureView, start: dt.datetime, end: dt.datetime, lateness_days: int
) -> pa.Table:
    """The latest row per entity of ``view`` with an event time in ``[start, end]``."""
    source = view.batch_source
    key = view.entity_columns[0].name
    ts, created = source.timestamp_field, source.created_timestamp_column
    columns = [key, ts, *([created] if created else []), *(f.name for f in view.features)]
    files = partition_files(view, start, end, lateness_days)
    if not files:
        return pa.table({c: [] for c in columns})
    table = pa.concat_tables(
        [pq.read_table(f, columns=columns) for f in files], promote_options="permissive"
    )
    micros = fr.utc_micros(table[ts])
    lo, hi = (
        int((t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1))
        for t in (start, end)
    )
    inside = (micros >= lo) & (micros <= hi)
    table, micros = table.filter(pa.array(inside)), micros[inside]
    ids = table[key].to_numpy()
    order_keys = [micros, ids]
    if created:
        order_keys.insert(0, fr.utc_micros(table[created]))
    order = np.lexsort(order_keys)  # by id, then event time, then created time
    ids = ids[order]
    last = np.ones(len(ids), dtype=bool)
    last[:-1] = ids[1:] != ids[:-1]
    return table.take(pa.array(order[last]))


def _batch_commands(feast: FeatureStore, view: FeatureView, rows: pa.Table) -> bytes:
    kinds = fr.feature_kinds(view) or {}
    source = view.batch_source
    key = view.entity_columns[0].name
    fields = [
        (fr.feature_key(view.name, name), fr.value_field(rows[name], kind))
        for name, kind in kinds.items()
    ]
    fields.append(
        (
            fr.timestamp_key(view.name),
            fr.timestamp_field(fr.utc_micros(rows[source.timestamp_field])),
        )
    )
    keys = fr.entity_keys(
        rows[key].to_numpy(),
        key,
        feast.project,
        feast.config.entity_key_serialization_version,
    )
    return fr.hset_commands(keys, fields)


def write_view(
    feast: FeatureStore,
    view: FeatureView,
    start: dt.datetime,
    end: dt.datetime,
    *,
    lateness_days: int,
    tombstones: Tombstones | None = None,
    client: Redis | None = None,
) -> int:
    """Write the window's latest row per learner of ``view`` to Feast's Redis online store;
    returns the number of learners written. Tombstoned learners are never written."""
    rows = latest_rows(view, start, end, lateness_days)
    if tombstones and rows.num_rows:
        rows = rows.filter(pc.invert(tombstones.mask(rows[view.entity_columns[0].name])))
    client = client or fr.bulk_client(feast.config)
    if client is None:
        raise ValueError(
            f"feature view {view.name}: the online store of {feast.repo_path} is not one plain "
            "Redis server; materialize it with Feast's own materialization"
        )
    for offset in range(0, rows.num_rows, BATCH):
        batch = rows.slice(offset, BATCH)
        _send(client, _batch_commands(feast, view, batch), batch.num_rows, view.name)
    return rows.num_rows


def _send(client: Redis, commands: bytes, count: int, view: str) -> None:
    """Send one batch; when the connection drops (Redis restarted, a network blip) send the
    whole batch again on a new connection. HSET of the same values is idempotent, so a batch
    that was partly applied before the drop ends the same as one applied once."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            fr.send(client, commands, count)
            return
        except DROPPED as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            log.warning(
                "%s: Redis connection dropped (%s); sending the batch of %d again (%d of %d)",
                view,
                exc,
                count,
                attempt + 1,
                SEND_ATTEMPTS,
            )
            time.sleep(0.2 * 2**attempt)
