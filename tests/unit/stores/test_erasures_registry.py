"""The registry's erasure audit: append-only rows carrying the keyed hash, never the id."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bantay.stores.registry import Registry


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


def test_record_and_read_back(registry):
    touched = {"raw": {"rows": 3, "paths": ["/lake/raw/x/date=2026-09-01/part-0.parquet"]}}
    record = registry.erasures.record(
        "a" * 64, actor="ops", reason="family request", touched=touched, rows=3
    )
    assert record.subject == "a" * 64 and record.rows == 3 and record.at.tzinfo is not None
    assert registry.erasures.of("a" * 64) == [record]
    assert registry.erasures.of("b" * 64) == []


@pytest.mark.parametrize("subject", ["100042", "A" * 64, "a" * 63])
def test_the_subject_must_be_a_keyed_hash(registry, subject):
    with pytest.raises(ValueError, match="never the id"):
        registry.erasures.record(subject, actor="ops", reason="r", touched={}, rows=0)


def test_no_reason_is_refused(registry):
    with pytest.raises(ValueError, match="needs a reason"):
        registry.erasures.record("a" * 64, actor="ops", reason=" ", touched={}, rows=0)


@pytest.mark.parametrize("statement", ["UPDATE erasures SET rows = 0", "DELETE FROM erasures"])
def test_rows_cannot_be_changed(registry, statement):
    registry.erasures.record("a" * 64, actor="ops", reason="r", touched={}, rows=1)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), registry.engine.begin() as c:
        c.execute(sa.text(statement))
