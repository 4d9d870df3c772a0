"""Feast's Redis online format, written in bulk.

Feast keeps one Redis hash per entity key (``serialize_entity_key`` + project name); a feature
view's row is a set of fields in it: ``mmh3("<view>:<feature>")`` -> a serialized ``ValueProto``,
and ``_ts:<view>`` -> the row's event time as a serialized ``google.protobuf.Timestamp``. Feast
builds each of those messages in Python, one row at a time. Here the same bytes are built a whole
column at a time with numpy (protobuf's wire format for one scalar is a tag byte and a varint or a
fixed-width little-endian number), and a batch's HSET commands are laid out as one RESP buffer
sent on one connection: Redis holds exactly what Feast's own writer would have written, so Feast's
readers (``get_online_features``, its feature server) read it unchanged.

An encoded column is a :class:`Part`: an ``(n, width)`` byte matrix and each row's used length;
parts are concatenated row by row (:func:`pack`), so a row's message never leaves numpy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from feast import FeatureView, RepoConfig
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3
from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig, RedisType
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from redis import Redis

# ValueProto's oneof fields as protobuf tags (field number << 3 | wire type).
_TAGS = {
    "string": 0x12,  # string_val = 2, length-delimited
    "int32": 0x18,  # int32_val = 3, varint
    "int64": 0x20,  # int64_val = 4, varint
    "double": 0x29,  # double_val = 5, 64-bit
    "float": 0x35,  # float_val = 6, 32-bit
    "bool": 0x38,  # bool_val = 7, varint
}
_SECONDS_TAG, _NANOS_TAG = 0x08, 0x10  # google.protobuf.Timestamp


@dataclass(frozen=True)
class Part:
    """Rows of bytes of one field or literal: ``matrix[i, :lengths[i]]`` is row i's bytes."""

    matrix: np.ndarray
    lengths: np.ndarray


def literal(data: bytes, n: int) -> Part:
    """The same bytes on each of ``n`` rows (a broadcast view, no copy)."""
    row = np.frombuffer(data, dtype=np.uint8)
    return Part(np.broadcast_to(row, (n, len(row))), np.full(n, len(row), dtype=np.int64))


def varint(values: np.ndarray) -> Part:
    """Protobuf varints of int64 values (negatives as ten bytes, two's complement, as protobuf)."""
    v = np.asarray(values).astype(np.int64).view(np.uint64)
    shifts = np.arange(10, dtype=np.uint64) * np.uint64(7)
    shifted = v[:, None] >> shifts
    lengths = np.maximum(1, np.count_nonzero(shifted, axis=1)).astype(np.int64)
    more = np.arange(10) < (lengths - 1)[:, None]
    matrix = ((shifted & np.uint64(0x7F)) | (more.astype(np.uint64) << np.uint64(7))).astype(
        np.uint8
    )
    return Part(matrix, lengths)


def concat(parts: Sequence[Part]) -> Part:
    """Row i of the result is row i of every part, one after another (still a matrix)."""
    data, lengths = pack(parts)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    width = int(lengths.max(initial=0))
    if width == 0:
        return Part(np.zeros((len(lengths), 0), dtype=np.uint8), lengths)
    index = offsets[:-1, None] + np.arange(width)
    valid = np.arange(width) < lengths[:, None]
    flat = np.frombuffer(data, dtype=np.uint8)
    matrix = np.where(valid, flat[np.minimum(index, len(flat) - 1)], 0).astype(np.uint8)
    return Part(matrix, lengths)


def pack(parts: Sequence[Part]) -> tuple[bytes, np.ndarray]:
    """All rows' bytes, row after row, and each row's total length."""
    matrices = np.concatenate([np.asarray(p.matrix) for p in parts], axis=1)
    used = np.concatenate(
        [np.arange(p.matrix.shape[1]) < p.lengths[:, None] for p in parts], axis=1
    )
    return matrices[used].tobytes(), np.sum([p.lengths for p in parts], axis=0)


def split(data: bytes, lengths: np.ndarray) -> list[bytes]:
    """``pack``'s buffer cut back into one ``bytes`` per row."""
    ends = np.cumsum(lengths).tolist()
    return [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def _drop_nulls(part: Part, nulls: np.ndarray | None) -> Part:
    """Feast writes a null (and a NaN float) as an empty ``ValueProto``: zero bytes."""
    if nulls is None or not nulls.any():
        return part
    return Part(part.matrix, np.where(nulls, 0, part.lengths))


def _nulls(column: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    if column.null_count == 0:
        return None
    return np.asarray(pc.is_null(column, nan_is_null=True).to_numpy(zero_copy_only=False))


def value_part(column: pa.ChunkedArray | pa.Array, kind: str) -> Part:
    """The serialized ``ValueProto`` of every value of ``column`` (``kind``: a :data:`_TAGS` key)."""
    n = len(column)
    tag = literal(bytes([_TAGS[kind]]), n)
    if kind in ("double", "float"):
        width, dtype = (8, "<f8") if kind == "double" else (4, "<f4")
        values = np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False), dtype=dtype)
        nulls = _nulls(column)
        nan = np.isnan(values)
        nulls = nan if nulls is None else (nulls | nan)
        body = Part(values.view(np.uint8).reshape(n, width), np.full(n, width, dtype=np.int64))
        return _drop_nulls(concat([tag, body]), nulls)
    if kind in ("int64", "int32", "bool"):
        if kind == "bool":
            column = pc.cast(column, pa.int8())
        values = np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False)).astype(np.int64)
        return _drop_nulls(concat([tag, varint(values)]), _nulls(column))
    if kind == "string":
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        encoded = pc.dictionary_encode(pc.fill_null(column, ""))
        words = [s.encode() for s in encoded.dictionary.to_pylist()]
        heads = concat(
            [literal(bytes([_TAGS["string"]]), len(words)), varint([len(w) for w in words])]
        )
        rows = [
            bytes(h[:k]) + w for h, k, w in zip(heads.matrix, heads.lengths, words, strict=True)
        ]
        width = max((len(r) for r in rows), default=0)
        table = np.zeros((len(rows), width), dtype=np.uint8)
        for i, r in enumerate(rows):
            table[i, : len(r)] = np.frombuffer(r, dtype=np.uint8)
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        index = encoded.indices.to_numpy(zero_copy_only=False)
        return _drop_nulls(Part(table[index], lengths[index]), _nulls(column))
    raise ValueError(f"no bulk encoding for a {kind!r} value; such a view is written by Feast")


def timestamp_part(micros: np.ndarray) -> Part:
    """Serialized ``google.protobuf.Timestamp`` of each UTC time in microseconds since the epoch
    (zero fields omitted, as protobuf does)."""
    micros = np.asarray(micros, dtype=np.int64)
    seconds, rest = np.divmod(micros, 1_000_000)
    nanos = rest * 1000
    n = len(micros)
    parts = []
    for tag, values in ((_SECONDS_TAG, seconds), (_NANOS_TAG, nanos)):
        field = concat([literal(bytes([tag]), n), varint(values)])
        parts.append(_drop_nulls(field, values == 0))
    return concat(parts)


def field_name(view: str, feature: str) -> bytes:
    """The hash field Feast keeps ``view.feature`` under."""
    return _mmh3(f"{view}:{feature}")


def timestamp_field(view: str) -> bytes:
    return f"_ts:{view}".encode()


def entity_key_part(ids: np.ndarray, join_key: str, project: str, version: int = 3) -> Part:
    """Feast's Redis key of each int64 entity id: the serialized entity key, then the project."""
    probe = serialize_entity_key(
        EntityKeyProto(join_keys=[join_key], entity_values=[ValueProto(int64_val=0)]),
        entity_key_serialization_version=version,
    )
    if version < 3 or not probe.endswith(bytes(8)):
        raise ValueError(
            f"entity_key_serialization_version {version}: only version 3 is written in bulk; "
            "set entity_key_serialization_version: 3 in feature_store.yaml"
        )
    ids = np.asarray(ids, dtype="<i8")
    n = len(ids)
    body = Part(ids.view(np.uint8).reshape(n, 8), np.full(n, 8, dtype=np.int64))
    return concat([literal(probe[:-8], n), body, literal(project.encode(), n)])


def _bulk(part: Part) -> list[Part]:
    """RESP bulk string around each row: ``$<len>\\r\\n<bytes>\\r\\n``."""
    n = len(part.lengths)
    digits = [str(k).encode() for k in range(int(part.lengths.max(initial=0)) + 1)]
    width = max(len(d) for d in digits)
    table = np.zeros((len(digits), width), dtype=np.uint8)
    for i, d in enumerate(digits):
        table[i, : len(d)] = np.frombuffer(d, dtype=np.uint8)
    sizes = np.array([len(d) for d in digits], dtype=np.int64)
    head = Part(table[part.lengths], sizes[part.lengths])
    return [literal(b"$", n), head, literal(b"\r\n", n), part, literal(b"\r\n", n)]


def hset_commands(keys: Part, fields: Sequence[tuple[bytes, Part]]) -> bytes:
    """One RESP ``HSET key field value ...`` per row, every row's fields the same names."""
    n = len(keys.lengths)
    parts = [literal(f"*{2 + 2 * len(fields)}\r\n$4\r\nHSET\r\n".encode(), n), *_bulk(keys)]
    for name, values in fields:
        parts.append(literal(b"$%d\r\n%s\r\n" % (len(name), name), n))
        parts.extend(_bulk(values))
    return pack(parts)[0]


def send(client: Redis, commands: bytes, count: int) -> None:
    """Send ``count`` pipelined commands laid out in ``commands`` and read every reply; the first
    error reply is raised (as redis-py raises it)."""
    conn = client.connection_pool.get_connection()
    try:
        conn.send_packed_command([commands], check_health=True)
        errors = []
        for _ in range(count):
            try:
                conn.read_response()
            except Exception as exc:  # an error reply; keep reading so the connection stays usable
                errors.append(exc)
        if errors:
            raise errors[0]
    except BaseException:
        conn.disconnect()
        raise
    finally:
        client.connection_pool.release(conn)


def utc_micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Microseconds since the epoch of a timestamp column (naive times are taken as UTC)."""
    cast = pc.cast(column, pa.timestamp("us", tz="UTC"))
    return np.asarray(cast.to_numpy(zero_copy_only=False)).astype("datetime64[us]").astype(np.int64)


def as_datetime(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(micros))


# Feast's feature types the bulk encoder writes, by the name of their ValueType.
KINDS = {
    "DOUBLE": "double",
    "FLOAT": "float",
    "INT64": "int64",
    "INT32": "int32",
    "STRING": "string",
    "BOOL": "bool",
}


def bulk_client(config: RepoConfig) -> Redis | None:
    """A redis-py client for the online store of ``config`` when it is one plain Redis server
    written the way the bulk writer writes (no key TTL, unversioned views); None otherwise."""
    online = config.online_store
    if (
        not isinstance(online, RedisOnlineStoreConfig)
        or online.redis_type != RedisType.redis
        or online.key_ttl_seconds
        or config.registry.enable_online_feature_view_versioning
        or config.entity_key_serialization_version < 3
    ):
        return None
    nodes, kwargs = RedisOnlineStore._parse_connection_string(online.connection_string)
    return Redis(host=nodes[0]["host"], port=int(nodes[0]["port"]), **kwargs)


def feature_kinds(view: FeatureView) -> dict[str, str] | None:
    """Each feature's bulk encoding, or None when a feature has a type only Feast writes."""
    kinds = {}
    for feature in view.features:
        kind = KINDS.get(feature.dtype.to_value_type().name)
        if kind is None:
            return None
        kinds[feature.name] = kind
    return kinds
