"""The bulk encoder writes the bytes Feast's own code writes: values (nulls and NaN included),
event times, Redis keys, and RESP commands that Redis's own parser would read back."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from feast.infra.online_stores.helpers import _mmh3, _redis_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

from bantay.stores import feast_redis as fr

NAN = float("nan")
CASES = [
    ("double", ValueType.DOUBLE, pa.array([1.0, None, NAN, 0.0, -2.5, 1e300, 5e-324])),
    ("float", ValueType.FLOAT, pa.array([1.5, None, NAN, 0.0, -3.25], pa.float32())),
    ("int64", ValueType.INT64, pa.array([1, None, 0, -3, 127, 128, 300, 2**62, -(2**63)])),
    ("int32", ValueType.INT32, pa.array([1, None, 0, -3, 300, 2**31 - 1], pa.int32())),
    ("string", ValueType.STRING, pa.array(["ncr", None, "", "ünï", "x" * 200, "ncr"])),
    ("bool", ValueType.BOOL, pa.array([True, False, None, True])),
]


def _rows(field: fr.Field) -> list[bytes]:
    return fr.split(*fr.pack(field))


@pytest.mark.parametrize(("kind", "value_type", "column"), CASES, ids=[c[0] for c in CASES])
def test_values_are_feasts_value_protos(kind, value_type, column):
    want = [
        v.SerializeToString() for v in python_values_to_proto_values(column.to_pylist(), value_type)
    ]
    assert _rows(fr.value_field(column, kind)) == want
    chunked = pa.chunked_array([column.slice(0, 2), column.slice(2)])
    assert _rows(fr.value_field(chunked, kind)) == want


def test_event_times_are_protobuf_timestamps():
    times = [
        dt.datetime(2026, 3, 1, 6, 3, 30, 322447, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC),  # no nanos field
        dt.datetime(1970, 1, 1, 0, 0, 0, 5, tzinfo=dt.UTC),  # no seconds field
    ]
    want = []
    for t in times:
        ts = Timestamp()
        ts.FromDatetime(t)
        want.append(ts.SerializeToString())
    column = pa.array(times, pa.timestamp("us", tz="UTC"))
    assert _rows(fr.timestamp_field(fr.utc_micros(column))) == want


def test_keys_and_field_names_are_feasts():
    ids = np.array([0, 100_001, -5, 2**40])
    want = [
        _redis_key(
            "bantay", EntityKey(join_keys=["learner_id"], entity_values=[Value(int64_val=int(i))])
        )
        for i in ids
    ]
    assert _rows(fr.entity_keys(ids, "learner_id", "bantay")) == want
    assert fr.feature_key("learning_activity", "study_minutes") == _mmh3(
        "learning_activity:study_minutes"
    )
    assert fr.timestamp_key("learning_activity") == b"_ts:learning_activity"


def test_an_old_entity_key_serialization_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="entity_key_serialization_version: 3"):
        fr.entity_keys(np.array([1]), "learner_id", "bantay", version=2)


def test_hset_commands_are_valid_resp():
    hiredis = pytest.importorskip("hiredis")
    keys = fr.entity_keys(np.array([7, 8]), "learner_id", "p")
    values = fr.value_field(pa.array([1.0, None]), "double")
    data = fr.hset_commands(keys, [(b"abcd", values), (b"_ts:v", [fr.literal(b"\x08\x01", 2)])])
    reader = hiredis.Reader()
    reader.feed(data)
    first, second = reader.gets(), reader.gets()
    assert reader.gets() is False  # nothing left over
    key7, key8 = _rows(keys)
    assert first == [
        b"HSET",
        key7,
        b"abcd",
        b")" + np.float64(1.0).tobytes(),
        b"_ts:v",
        b"\x08\x01",
    ]
    assert second == [b"HSET", key8, b"abcd", b"", b"_ts:v", b"\x08\x01"]


def test_a_type_without_a_bulk_encoding_is_named():
    with pytest.raises(ValueError, match="'bytes'"):
        fr.value_field(pa.array([b"x"]), "bytes")
