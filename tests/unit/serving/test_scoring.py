"""Daily scoring and the shadow: the staged version is checked against the registry before it is
loaded, and a refused shadow is reported without stopping production scoring."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from bantay.serving.scoring import checked_shadow
from bantay.vocabulary import ModelStatus

SHA = "a" * 64


class _Store:
    """The shadow marker as the bucket holds it (``store.pointers.shadow``); loading records
    that it happened."""

    def __init__(self, marker: dict[str, Any] | None) -> None:
        self.marker = marker
        self.loaded: list[str] = []
        self.pointers = SimpleNamespace(shadow=lambda model: self.marker)

    def load_shadow(self, model: str):
        self.loaded.append(self.marker["version"])
        return object(), {"version": self.marker["version"]}, self.marker


class _Registry:
    def __init__(self, status: ModelStatus | None, sha256: str | None = SHA) -> None:
        self.status, self.sha256 = status, sha256
        self.versions = SimpleNamespace(get=self.version)

    def version(self, model: str, version: str):
        if self.status is None:
            return None
        return SimpleNamespace(status=self.status, artifact_sha256=self.sha256)


MARKER = {"model": "m", "version": "v2", "sha256": SHA, "staged_at": dt.datetime.now().isoformat()}


@pytest.mark.parametrize(
    ("registry", "refusal"),
    [
        (_Registry(ModelStatus.REJECTED), "status is 'rejected'"),
        (_Registry(ModelStatus.CANDIDATE), "status is 'candidate'"),
        (_Registry(None), "registry does not know"),
        (_Registry(ModelStatus.APPROVED, sha256="b" * 64), "registry recorded bbbb"),
    ],
    ids=["rejected", "candidate", "unregistered", "other-digest"],
)
def test_a_shadow_the_registry_does_not_vouch_for_is_never_loaded(registry, refusal):
    store = _Store(MARKER)
    found = checked_shadow("m", store, registry)
    assert isinstance(found, str) and refusal in found, found
    assert store.loaded == []


def test_an_approved_shadow_with_its_published_digest_is_loaded():
    store = _Store(MARKER)
    _, manifest = checked_shadow("m", store, _Registry(ModelStatus.APPROVED))
    assert manifest["version"] == "v2" and store.loaded == ["v2"]


def test_no_marker_needs_no_registry():
    assert checked_shadow("m", _Store(None), None) is None
