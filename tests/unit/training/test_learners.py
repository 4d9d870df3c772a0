"""A version's training-set manifest: the distinct learners of its training set as keyed hashes,
or, without an erasure key, a lineage entry saying there is none."""

from __future__ import annotations

import pandas as pd
import pytest

from bantay.features.tombstones import keyed_hash
from bantay.training.learners import manifest_subjects, training_subjects

KEY = b"an erasure key kept by the operators"


def test_each_distinct_learner_once_as_its_keyed_hash():
    frame = pd.DataFrame({"learner_id": [7, 7, 3, None], "x": [1, 2, 3, 4]})
    subjects = training_subjects(frame, KEY)
    assert subjects == sorted([keyed_hash(7, KEY), keyed_hash(3, KEY)])
    assert all(s != "7" and len(s) == 64 for s in subjects)


def test_a_frame_without_learners_is_refused():
    with pytest.raises(ValueError, match="'learner_id'"):
        training_subjects(pd.DataFrame({"x": [1]}), KEY)


def test_without_a_key_the_lineage_says_there_is_no_manifest(monkeypatch):
    monkeypatch.delenv("BANTAY_ERASURE_KEY", raising=False)
    monkeypatch.setattr("bantay.training.learners.erasure_key", _no_key)
    subjects, entry = manifest_subjects(pd.DataFrame({"learner_id": [1]}))
    assert subjects is None and entry["learners"] is None and "erasure key" in entry["why"]


def test_with_a_key_the_lineage_counts_the_learners(monkeypatch):
    monkeypatch.setenv("BANTAY_ERASURE_KEY", KEY.decode())
    subjects, entry = manifest_subjects(pd.DataFrame({"learner_id": [1, 2, 2]}))
    assert subjects == sorted([keyed_hash(1, KEY), keyed_hash(2, KEY)])
    assert entry == {"learners": 2, "where": "training_learners"}


def _no_key() -> bytes:
    raise ValueError("no erasure key: set $BANTAY_ERASURE_KEY")
