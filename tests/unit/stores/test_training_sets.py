"""Training-set manifests in the registry: which versions saw a learner is one query, a re-run
replaces a version's manifest, an erasure removes the learner's lines and says where they were."""

from __future__ import annotations

import pytest

from bantay.features.tombstones import keyed_hash
from bantay.stores.registry import Registry

KEY = b"k" * 32


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


def _h(learner: int) -> str:
    return keyed_hash(learner, KEY)


def test_versions_that_saw_a_learner(registry):
    registry.training_sets.record("m", "v1", [_h(1), _h(2)])
    registry.training_sets.record("m", "v2", [_h(2), _h(3)])
    registry.training_sets.record("other", "v1", [_h(2)])
    assert registry.training_sets.versions_with(_h(2)) == [
        ("m", "v1"),
        ("m", "v2"),
        ("other", "v1"),
    ]
    assert registry.training_sets.versions_with(_h(1)) == [("m", "v1")]
    assert registry.training_sets.versions_with(_h(9)) == []
    assert registry.training_sets.of("m", "v2") == sorted([_h(2), _h(3)])


def test_a_rerun_replaces_the_manifest(registry):
    registry.training_sets.record("m", "v1", [_h(1), _h(2)])
    assert registry.training_sets.record("m", "v1", [_h(3), _h(3)]) == 1
    assert registry.training_sets.of("m", "v1") == [_h(3)]
    assert registry.training_sets.versions_with(_h(1)) == []


def test_forget_removes_the_learner_everywhere_and_is_harmless_again(registry):
    registry.training_sets.record("m", "v1", [_h(1), _h(2)])
    registry.training_sets.record("m", "v2", [_h(1)])
    assert registry.training_sets.forget(_h(1)) == [("m", "v1"), ("m", "v2")]
    assert registry.training_sets.versions_with(_h(1)) == []
    assert registry.training_sets.of("m", "v1") == [_h(2)]
    assert registry.training_sets.has("m", "v1") and not registry.training_sets.has("m", "v2")
    assert registry.training_sets.forget(_h(1)) == []


@pytest.mark.parametrize("subject", ["100042", "A" * 64])
def test_a_manifest_keeps_hashes_never_ids(registry, subject):
    with pytest.raises(ValueError, match="never the ids"):
        registry.training_sets.record("m", "v1", [subject])
    assert registry.training_sets.of("m", "v1") == []
