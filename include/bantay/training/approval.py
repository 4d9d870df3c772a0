"""Where training ends: a person's (or the auto mode's) decision on a candidate, recorded in the
registry. Approved moves the candidate on to publishing; rejected is final and keeps the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bantay.layout import Layout
from bantay.training.run import RunContext
from bantay.training.staging import sha256, verify_staged
from bantay.vocabulary import ModelStatus

if TYPE_CHECKING:
    from bantay.stores.registry import Registry


def record_approval(
    ctx: RunContext,
    version: str,
    approved: bool,
    by: str,
    note: str,
    *,
    registry: Registry,
    layout: Layout,
) -> None:
    """Approved moves the candidate on (once its staged files are still what the gate evaluated:
    the approval names the model's digest); rejected is final and keeps the reason."""
    if approved:
        digest = sha256(verify_staged(registry, layout, ctx, version)["model.joblib"])
        reason = f"approved by {by}: {note} (model.joblib sha256 {digest[:12]})"
        registry.versions.set_status(ctx.model, version, ModelStatus.APPROVED, reason=reason)
    else:
        registry.versions.set_status(
            ctx.model, version, ModelStatus.REJECTED, reason=f"rejected by {by}: {note}"
        )
