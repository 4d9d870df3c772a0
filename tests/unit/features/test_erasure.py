"""Erasing a learner from the files of one layout: every Parquet tree (raw, accepted,
quarantine, predictions, runs), quarantine reasons and the outbox; a dry run writes nothing and
a second run touches nothing."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bantay.features.erasure import ERASED, erase_files
from bantay.layout import Layout, partition_path
from bantay.schema import ENTITY

GONE, KEPT = 100_042, 100_043
DAY = dt.date(2026, 9, 1)


def _frame(ids):
    return pd.DataFrame(
        {
            ENTITY: pd.array(ids, dtype="int64"),
            "score": [0.5] * len(ids),
            "event_timestamp": pd.Timestamp("2026-09-01", tz="UTC"),
        }
    )


@pytest.fixture
def layout(tmp_path):
    lay = Layout(home=tmp_path / "home", data=tmp_path / "home" / "data")
    for root in (lay.raw, lay.accepted):
        path = partition_path(root, "learning_activity", DAY)
        path.parent.mkdir(parents=True)
        _frame([GONE, KEPT, GONE]).to_parquet(path, index=False)
    attempt = lay.quarantine / "family_contact" / "date=2026-09-01" / "attempt-1"
    attempt.mkdir(parents=True)
    _frame([GONE]).to_parquet(attempt / "part-0.parquet", index=False)
    (attempt / "reason.json").write_text(json.dumps({"found": f"id {GONE} twice; {GONE}0 ok"}))
    pred = lay.prediction_path("learner_risk", DAY)
    pred.parent.mkdir(parents=True)
    _frame([KEPT]).to_parquet(pred, index=False)  # the learner was never scored here
    run = lay.run_dir("learner_risk", "manual__1")
    _frame([GONE, KEPT]).to_parquet(run / "training_set.parquet", index=False)
    pd.DataFrame({"x": [GONE]}).to_parquet(run / "no_ids.parquet", index=False)
    box = lay.outbox("learner_risk")
    box.mkdir(parents=True)
    (box / "a.eml").write_text(f"Subject: drift\n\nlearner {GONE} slipped\n")
    (box / "b.eml").write_text(f"Subject: drift\n\n{GONE}9 learners\n")  # another number
    return lay


def _ids(path):
    return pq.read_table(path)[ENTITY].to_pylist()


def test_dry_run_lists_and_writes_nothing(layout):
    before = {p: p.read_bytes() for p in layout.home.rglob("*") if p.is_file()}
    touched = erase_files(layout, GONE, dry_run=True)
    assert {t.store for t in touched} == {"raw", "accepted", "quarantine", "runs", "outbox"}
    assert all(t.action.startswith("would") for t in touched)
    assert {p: p.read_bytes() for p in layout.home.rglob("*") if p.is_file()} == before


def test_erase_removes_rows_mentions_and_messages_once(layout):
    touched = erase_files(layout, GONE)
    rows = {(t.store, t.action): t.rows for t in touched}
    assert rows[("raw", "rewritten")] == 2 and rows[("accepted", "rewritten")] == 2
    assert rows[("runs", "rewritten")] == 1 and rows[("outbox", "removed")] == 1
    for root in (layout.raw, layout.accepted):
        assert _ids(partition_path(root, "learning_activity", DAY)) == [KEPT]
    reason = next(layout.quarantine.rglob("reason.json")).read_text()
    assert str(GONE) + " " not in reason and ERASED in reason and f"{GONE}0" in reason
    assert not (layout.outbox("learner_risk") / "a.eml").exists()
    assert (layout.outbox("learner_risk") / "b.eml").exists()
    assert not list(layout.home.rglob(".*.erasing"))  # every rewrite was renamed into place
    assert erase_files(layout, GONE) == []  # a second run touches nothing


def test_temp_files_left_by_interrupted_writers_are_erased_too(layout):
    folder = partition_path(layout.accepted, "learning_activity", DAY).parent
    _frame([GONE, KEPT]).to_parquet(folder / ".part-0.parquet.tmp", index=False)
    (folder / ".half.tmp").write_bytes(b"PAR1 cut short")
    touched = erase_files(layout, GONE)
    assert str(folder / ".part-0.parquet.tmp") in {t.path for t in touched}
    assert _ids(folder / ".part-0.parquet.tmp") == [KEPT]


def test_string_ids_are_matched_too(layout):
    path = partition_path(layout.raw, "learning_activity", DAY)
    frame = _frame([GONE, KEPT])
    frame[ENTITY] = [f" {GONE}", str(KEPT)]
    frame.to_parquet(path, index=False)
    erase_files(layout, GONE)
    assert _ids(path) == [str(KEPT)]
