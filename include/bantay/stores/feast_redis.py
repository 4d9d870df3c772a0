"""Feast's Redis online format, written in bulk.

Feast keeps one Redis hash per entity key (``serialize_entity_key`` + project name); a feature
view's row is a set of fields in it: ``mmh3("<view>:<feature>")`` -> a serialized ``ValueProto``,
and ``_ts:<view>`` -> the row's event time as a serialized ``google.protobuf.Timestamp``. Feast
builds each of those messages in Python, one row at a time. Here the same bytes are built a whole
column at a time with numpy (protobuf's wire format for one scalar is a tag byte and a varint or a
fixed-width little-endian number), and a batch's HSET commands are laid out as one RESP buffer
sent on one connection: Redis holds exactly what Feast's own writer would have written, so Feast's
readers (``get_online_features``, its feature server) read it unchanged.

An encoded column is a list of :class:`Part` (a ``Field``): each an ``(n, width)`` byte matrix and
each row's used length. A batch's parts, RESP framing included, are laid side by side and packed
row by row once (:func:`pack`), so no row's bytes are ever a Python object.
"""

from __future__ import annotations

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
from redis.exceptions import ResponseError

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
    """Rows of bytes: ``matrix[i, :lengths[i]]`` is row i's bytes."""

    matrix: np.ndarray
    lengths: np.ndarray


# A field's bytes per row: its parts one after another (packed only once, with the whole batch).
Field = list[Part]


def literal(data: bytes, n: int) -> Part:
    """The same bytes on each of ``n`` rows (a broadcast view, no copy)."""
    row = np.frombuffer(data, dtype=np.uint8)
    return Part(np.broadcast_to(row, (n, len(row))), np.full(n, len(row), dtype=np.int64))


def fixed(values: np.ndarray, dtype: str) -> Part:
    """Each value's little-endian bytes in ``dtype`` (``<f8``, ``<i8``, ...)."""
    values = np.ascontiguousarray(values, dtype=dtype)
    width = values.dtype.itemsize
    n = len(values)
    return Part(values.view(np.uint8).reshape(n, width), np.full(n, width, dtype=np.int64))


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


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def table_part(rows: Sequence[bytes], index: np.ndarray) -> Part:
    """Row i is ``rows[index[i]]``: few distinct values (strings, length prefixes) looked up."""
    width = max((len(r) for r in rows), default=0)
    table = np.zeros((len(rows), width), dtype=np.uint8)
    for i, r in enumerate(rows):
        table[i, : len(r)] = np.frombuffer(r, dtype=np.uint8)
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    return Part(table[index], lengths[index])


def length(field: Sequence[Part]) -> np.ndarray:
    total = np.zeros(len(field[0].lengths), dtype=np.int64)
    for p in field:
        total += p.lengths
    return total


def pack(parts: Sequence[Part]) -> tuple[bytes, np.ndarray]:
    """All rows' bytes, row after row, and each row's total length: each byte column of each
    part is scattered to its rows' positions (one numpy operation per column, none per row)."""
    sizes = length(parts)
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    at = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], out=at[1:])
    for p in parts:
        lengths = p.lengths
        uniform = lengths.size == 0 or lengths.min() == lengths.max()
        for j in range(p.matrix.shape[1]):
            if uniform:
                if j >= lengths[0]:
                    break
                out[at + j] = p.matrix[:, j] if p.matrix.strides[0] else p.matrix[0, j]
            else:
                rows = lengths > j
                out[at[rows] + j] = p.matrix[rows, j]
        at += lengths
    return out.tobytes(), sizes


def split(data: bytes, lengths: np.ndarray) -> list[bytes]:
    """``pack``'s buffer cut back into one ``bytes`` per row."""
    ends = np.cumsum(lengths).tolist()
    return [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def _blank(field: Field, empty: np.ndarray | None) -> Field:
    """Rows marked ``empty`` get no bytes: Feast writes a null (and a NaN float) as an empty
    ``ValueProto``, and protobuf omits a zero scalar field."""
    if empty is None or not empty.any():
        return field
    return [Part(p.matrix, np.where(empty, 0, p.lengths)) for p in field]


def _nulls(column: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    if column.null_count == 0:
        return None
    return np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False))


def value_field(column: pa.ChunkedArray | pa.Array, kind: str) -> Field:
    """The serialized ``ValueProto`` of every value of ``column`` (``kind``: a :data:`_TAGS` key)."""
    if kind not in _TAGS:
        raise ValueError(f"no bulk encoding for a {kind!r} value; such a view is written by Feast")
    n = len(column)
    tag = literal(bytes([_TAGS[kind]]), n)
    nulls = _nulls(column)
    if kind in ("double", "float"):
        values = np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False))
        nan = np.isnan(values)
        body = fixed(values, "<f8" if kind == "double" else "<f4")
        return _blank([tag, body], nan if nulls is None else (nulls | nan))
    if kind in ("int64", "int32", "bool"):
        if kind == "bool":
            column = pc.cast(column, pa.int8())
        values = np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False))
        return _blank([tag, varint(values)], nulls)
    if kind == "string":
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        encoded = pc.dictionary_encode(pc.fill_null(column, ""))
        words = [w.encode() for w in encoded.dictionary.to_pylist()]
        rows = [bytes([_TAGS["string"]]) + _varint_bytes(len(w)) + w for w in words]
        return _blank([table_part(rows, encoded.indices.to_numpy(zero_copy_only=False))], nulls)
    raise AssertionError(kind)  # every key of _TAGS is handled above


def timestamp_field(micros: np.ndarray) -> Field:
    """Serialized ``google.protobuf.Timestamp`` of each UTC time in microseconds since the epoch
    (zero fields omitted, as protobuf does)."""
    micros = np.asarray(micros, dtype=np.int64)
    seconds, rest = np.divmod(micros, 1_000_000)
    nanos = rest * 1000
    n = len(micros)
    out: Field = []
    for tag, values in ((_SECONDS_TAG, seconds), (_NANOS_TAG, nanos)):
        out += _blank([literal(bytes([tag]), n), varint(values)], values == 0)
    return out


def feature_key(view: str, feature: str) -> bytes:
    """The hash field Feast keeps ``view.feature`` under."""
    return _mmh3(f"{view}:{feature}")


def timestamp_key(view: str) -> bytes:
    """The hash field Feast keeps ``view``'s event time under."""
    return f"_ts:{view}".encode()


def entity_keys(ids: np.ndarray, join_key: str, project: str, version: int = 3) -> Field:
    """Feast's Redis key of each int64 entity id: the serialized entity key, then the project."""
    probe = b""
    if version >= 3:
        probe = serialize_entity_key(
            EntityKeyProto(join_keys=[join_key], entity_values=[ValueProto(int64_val=0)]),
            entity_key_serialization_version=version,
        )
    if not probe.endswith(bytes(8)):
        raise ValueError(
            f"entity_key_serialization_version {version}: only version 3 is written in bulk; "
            "set entity_key_serialization_version: 3 in feature_store.yaml"
        )
    n = len(ids)
    return [literal(probe[:-8], n), fixed(ids, "<i8"), literal(project.encode(), n)]


def _bulk(field: Field) -> Field:
    """RESP bulk string around each row: ``$<len>\r\n<bytes>\r\n``."""
    sizes = length(field)
    n = len(sizes)
    digits = [b"$%d\r\n" % k for k in range(int(sizes.max(initial=0)) + 1)]
    return [table_part(digits, sizes), *field, literal(b"\r\n", n)]


def hset_commands(keys: Field, fields: Sequence[tuple[bytes, Field]]) -> bytes:
    """One RESP ``HSET key field value ...`` per row, every row's fields the same names."""
    n = len(keys[0].lengths)
    parts = [literal(f"*{2 + 2 * len(fields)}\r\n$4\r\nHSET\r\n".encode(), n), *_bulk(keys)]
    for name, values in fields:
        parts.append(literal(b"$%d\r\n%s\r\n" % (len(name), name), n))
        parts.extend(_bulk(values))
    return pack(parts)[0]


def send(client: Redis, commands: bytes, count: int) -> None:
    """Send ``count`` pipelined commands laid out in ``commands`` and read their replies.

    Every reply to HSET is one line (``:<n>`` or ``-<error>``), so the replies are counted in the
    raw bytes instead of parsed one by one; the first error reply is raised with its text.
    """
    conn = client.connection_pool.get_connection()
    try:
        conn.send_packed_command([commands], check_health=True)
        replies = bytearray()
        lines = 0
        while lines < count:
            chunk = conn._sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(
                    f"Redis closed the connection after {lines} of {count} replies"
                )
            lines += chunk.count(b"\r\n")
            replies += chunk
        if replies.startswith(b"-") or b"\n-" in replies:
            at = 0 if replies.startswith(b"-") else replies.index(b"\n-") + 1
            error = replies[at + 1 : replies.index(b"\r\n", at)].decode(errors="replace")
            raise ResponseError(f"Redis refused a bulk write: {error}")
    except BaseException:
        conn.disconnect()
        raise
    finally:
        client.connection_pool.release(conn)


def utc_micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Microseconds since the epoch of a timestamp column (naive times are taken as UTC)."""
    cast = pc.cast(column, pa.timestamp("us", tz="UTC"))
    return np.asarray(cast.to_numpy(zero_copy_only=False)).astype("datetime64[us]").astype(np.int64)


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
