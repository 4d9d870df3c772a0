"""The evaluated artifact, bound by digest: the files a run stages for publishing, their sha256
as the gate evaluated them, and the check that they are still those bytes.

Evaluation records the digests with the candidate; approval and publishing (``bantay.serving.
publish``) read the staged bytes once through :func:`verify_staged` and use only those bytes, so
nothing can be swapped between the check and its use.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from bantay.layout import Layout
from bantay.training.run import RunContext, run_dir

if TYPE_CHECKING:
    from bantay.stores.registry import Registry

STAGED_FILES = ("model.joblib", "reference.parquet", "evaluation.json")


class StagedArtifactChanged(RuntimeError):
    """A staged file no longer hashes to what the gate evaluated; nothing was published."""


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def staged_digests(layout: Layout, ctx: RunContext) -> dict[str, str]:
    """sha256 of every file the run staged for publishing."""
    folder = run_dir(layout, ctx)
    return {name: sha256((folder / name).read_bytes()) for name in STAGED_FILES}


def verify_staged(
    registry: Registry, layout: Layout, ctx: RunContext, version: str
) -> dict[str, bytes]:
    """The staged files' bytes, read once and checked against the digests the registry recorded
    when the gate evaluated ``version`` (callers deserialize these bytes, never the files again,
    so nothing can be swapped between check and use); raises :class:`StagedArtifactChanged`."""
    record = registry.versions.get(ctx.model, version)
    expected = ((record.lineage or {}) if record else {}).get("artifacts")
    if not expected:
        raise StagedArtifactChanged(
            f"{ctx.model} {version} has no evaluated digests in the registry (evaluated before "
            "digests were recorded, or never evaluated): re-run the training DAG so the gate "
            "evaluates the files it publishes"
        )
    folder = run_dir(layout, ctx)
    try:
        bodies = {name: (folder / name).read_bytes() for name in expected}
    except FileNotFoundError as exc:
        raise StagedArtifactChanged(
            f"a staged file of {ctx.model} {version} is gone ({exc.filename}); nothing was "
            "published: re-run the training DAG"
        ) from None
    found = {name: sha256(body) for name, body in bodies.items()}
    changed = sorted(n for n in expected if found[n] != expected[n])
    if changed:
        detail = "; ".join(
            f"{n} is sha256 {found[n]} but the gate evaluated {expected[n]}" for n in changed
        )
        raise StagedArtifactChanged(
            f"refusing {ctx.model} {version}: files in {folder} changed after the gate "
            f"evaluated them ({detail}). Nothing was published and production is unchanged; "
            "find out who wrote there, then re-run the training DAG"
        )
    return bodies
