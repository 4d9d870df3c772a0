"""The batch output with pseudonyms: downstream reads scores, reasons and a keyed hash of each
learner, never the id, a feature value or an attribution; the same key gives the same
pseudonym (the one the UI shows), another key another; erasure removes the learner's rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bantay.features.erasure import erase_files
from bantay.features.tombstones import keyed_hash, pseudonym, pseudonyms
from bantay.layout import Layout
from bantay.schema import ENTITY, PSEUDONYM
from bantay.serving.output import output_frame, write_output
from bantay.settings.core import ModelSettings

KEY = b"an erasure key kept by the operators"
DAY = dt.date(2026, 9, 1)


def _predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            ENTITY: [100042, 100043],
            "event_timestamp": pd.Timestamp("2026-09-01 23:59", tz="UTC"),
            "attendance_rate": [0.5, 0.9],
            "score": [0.8, 0.1],
            "model_version": "v1",
            "observed": True,
            "reason_1": ["Attendance", ""],
            "attr_attendance_rate": [0.3, -0.2],
        }
    )


def test_the_pseudonym_is_a_keyed_hash_of_the_id():
    assert pseudonym(100042, KEY) == pseudonym("100042", KEY) == keyed_hash(100042, KEY)[:16]


def test_a_batch_of_pseudonyms_is_each_ids_own():
    ids = [100042, 7, 100042, 999_999_999]
    assert pseudonyms(ids, KEY) == [pseudonym(i, KEY) for i in ids]
    assert pseudonyms(ids, KEY) != pseudonyms(ids, b"another key, another pseudonym")
    assert len(pseudonym(1, KEY)) == 16 and pseudonym(1, KEY) != pseudonym(1, b"another key" * 2)
    assert pseudonym(1, KEY) != pseudonym(2, KEY)


def test_the_output_carries_no_id_feature_or_attribution():
    out = output_frame(_predictions(), KEY)
    assert list(out.columns) == [PSEUDONYM, "event_timestamp", "score", "model_version", "reason_1"]
    assert out[PSEUDONYM].tolist() == [pseudonym(100042, KEY), pseudonym(100043, KEY)]


def test_written_beside_the_log_and_erased_by_pseudonym(tmp_path):
    layout = Layout(home=tmp_path, data=tmp_path / "data")
    path = write_output(layout, "learner_risk", DAY, _predictions(), KEY)
    assert path == layout.output_path("learner_risk", DAY)
    body = path.read_bytes()
    assert b"100042" not in body and ENTITY not in pq.read_schema(path).names
    dry = erase_files(layout, 100042, dry_run=True, key=KEY)
    assert [(t.store, t.rows) for t in dry] == [("outputs", 1)] and path.read_bytes() == body
    done = erase_files(layout, 100042, dry_run=False, key=KEY)
    assert [(t.store, t.rows, t.action) for t in done] == [("outputs", 1, "rewritten")]
    assert pq.read_table(path)[PSEUDONYM].to_pylist() == [pseudonym(100043, KEY)]
    assert erase_files(layout, 100042, dry_run=False, key=KEY) == []


def test_output_ids_default_to_id_and_allow_only_id_or_pseudonym():
    assert ModelSettings(name="mm").output_ids == "id"
    assert ModelSettings(name="mm", output_ids="pseudonym").output_ids == "pseudonym"
    with pytest.raises(ValueError, match="output_ids"):
        ModelSettings(name="mm", output_ids="hash")
