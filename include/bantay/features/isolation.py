"""A broken feed stops only the models that read it.

The data contract quarantines a failing feed's day and accepts every other feed's. A model whose
features come only from feeds that passed is released to scoring that night; a model reading a
failed feed is held (it is scored again once the feed is fixed and its day re-validated). The
population feed is read by every model; a labels feed holds no scoring (it feeds training and the
performance checks, which read only accepted labels anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bantay.features.contract import ContractResult


@dataclass(frozen=True)
class Release:
    """Which models a features run releases to scoring, and why the others are held."""

    released: list[str]
    held: dict[str, str] = field(default_factory=dict)

    def to_extra(self) -> dict[str, object]:
        return {"models": self.released, "held": self.held}


def failed_feeds(results: Iterable[ContractResult]) -> dict[str, list[str]]:
    """Each feed that failed or is missing, with its days."""
    failed: dict[str, list[str]] = {}
    for result in results:
        if not result.passed:
            failed.setdefault(result.source, []).append(result.day.isoformat())
    return failed


def release(
    reads: Mapping[str, Iterable[str]],
    failed: Mapping[str, list[str]],
    unreadable: Mapping[str, str] | None = None,
) -> Release:
    """``reads``: each model's features feeds (its feature views' feeds and the population);
    ``failed``: :func:`failed_feeds`; ``unreadable``: models whose feeds could not be told
    (their feature service is not in Feast's registry), with why. A model is held when it reads
    any failed feed, or when its feeds cannot be told."""
    released, held = [], dict(unreadable or {})
    for model, feeds in reads.items():
        broken = sorted(set(feeds) & set(failed))
        if broken:
            days = sorted({d for f in broken for d in failed[f]})
            held[model] = (
                f"feed(s) {', '.join(broken)} quarantined or missing for {', '.join(days)}"
            )
        else:
            released.append(model)
    return Release(released, held)
