"""Tombstones: keyed hashes of erased learners, and the data contract dropping their rows from
every later delivery (counted, never an error) so the accepted tree never sees them again."""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest

from bantay import simulate as sim
from bantay.features.contract import enforce
from bantay.features.tombstones import Tombstones, add, keyed_hash, learner_id
from bantay.layout import partition_path
from bantay.schema import ENTITY
from bantay.settings import ContractSettings
from bantay.simulate.catalogue import SOURCE_FEATURES

DAY = dt.date(2026, 9, 10)
SCENARIO = sim.Scenario(learners=300, seed=5)
KEY = b"k" * 32
GONE = 100_007


def test_learner_id_is_a_whole_number():
    assert learner_id(" 100007 ") == 100_007
    for bad in ("abc", "-3", "1.5", ""):
        with pytest.raises(ValueError, match="not a non-negative whole number"):
            learner_id(bad)


def test_keyed_hash_depends_on_the_key_and_hides_the_id():
    digest = keyed_hash(GONE, KEY)
    assert len(digest) == 64 and str(GONE) not in digest
    assert digest == keyed_hash(GONE, KEY)
    assert digest != keyed_hash(GONE, b"another key of 32 bytes........")
    assert digest != keyed_hash(GONE + 1, KEY)


def test_add_is_idempotent_and_read_recognises(tmp_path):
    path = tmp_path / "erasure" / "tombstones.txt"
    assert add(path, keyed_hash(GONE, KEY)) is True
    assert add(path, keyed_hash(GONE, KEY)) is False
    assert path.read_text().count("\n") == 1
    stones = Tombstones.read(path, lambda: KEY)
    assert stones.holds(GONE) and stones.holds(str(GONE)) and not stones.holds(GONE + 1)
    assert not stones.holds("not an id")


def test_no_list_needs_no_key(tmp_path):
    def no_key() -> bytes:
        raise AssertionError("the key must not be asked for")

    assert not Tombstones.read(tmp_path / "none.txt", no_key)


def test_contract_drops_tombstoned_rows_from_raw_and_accepted(tmp_path):
    raw, quarantine, accepted = tmp_path / "raw", tmp_path / "quarantine", tmp_path / "accepted"
    sim.write_range(raw, DAY - dt.timedelta(days=7), 8, SCENARIO)
    add(tmp_path / "t.txt", keyed_hash(GONE, KEY))
    stones = Tombstones.read(tmp_path / "t.txt", lambda: KEY)
    sources = tuple(SOURCE_FEATURES)
    results = enforce(
        raw, quarantine, sources, [DAY], ContractSettings(), accepted_dir=accepted,
        tombstones=stones,
    )  # fmt: skip
    assert all(r.passed for r in results)
    erased = {r.source: r.erased for r in results}
    assert erased and all(n >= 1 for n in erased.values()), erased
    for source in sources:
        for tree in (raw, accepted):
            ids = pq.read_table(partition_path(tree, source, DAY))[ENTITY].to_pylist()
            assert GONE not in ids and GONE + 1 in ids, (tree, source)
    again = enforce(
        raw, quarantine, sources, [DAY], ContractSettings(), accepted_dir=accepted,
        tombstones=stones,
    )  # fmt: skip
    assert all(r.erased == 0 for r in again)  # already gone from the delivery
