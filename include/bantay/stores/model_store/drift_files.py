"""The drift check's files in the store: each day's report (``store.reports``) and re-baseline
references of a production version (``store.baselines``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bantay.stores.model_store.errors import ArtifactCorrupt
from bantay.stores.model_store.objects import S3Objects
from bantay.stores.model_store.serialisation import dump_parquet, load_parquet, sha256_hex


class DriftReportFiles:
    """The files of each day's drift report; a re-run of the day replaces them."""

    def __init__(self, objects: S3Objects) -> None:
        self._objects = objects

    def put(self, model: str, day: str, name: str, body: bytes, content_type: str) -> str:
        """Write one file of a day's drift report (a re-run of the day replaces it); its URI."""
        key = self._objects.report_key(model, day, name)
        self._objects.put(key, body, content_type=content_type, overwrite=True)
        return self._objects.uri(key)


class BaselineFiles:
    """Re-baseline references: immutable files beside the version they re-baseline. The
    registry row that records one (``registry.baselines.record``) is what makes it count."""

    def __init__(self, objects: S3Objects) -> None:
        self._objects = objects

    def put(self, model: str, version: str, stamp: str, frame: pd.DataFrame) -> dict[str, Any]:
        """Store a re-baseline reference of ``version`` (immutable, keyed on ``stamp``);
        returns its ``uri``, ``sha256`` and ``rows``."""
        body = dump_parquet(frame)
        key = self._objects.version_key(model, version, f"baselines/{stamp}.parquet")
        self._objects.put(key, body, content_type="application/octet-stream")
        return {"uri": self._objects.uri(key), "sha256": sha256_hex(body), "rows": len(frame)}

    def read(self, uri: str, sha256: str) -> pd.DataFrame:
        """A re-baseline reference, checked against the sha256 its registry row recorded."""
        key = uri.removeprefix(f"s3://{self._objects.bucket}/")
        found = self._objects.get(key)
        if found is None or sha256_hex(found[0]) != sha256:
            raise ArtifactCorrupt(
                f"re-baseline reference {uri} is "
                f"{'missing' if found is None else 'not the file its registry row recorded'}; "
                "the drift check cannot trust it: re-baseline again (bantay rebaseline)"
            )
        return load_parquet(found[0])
