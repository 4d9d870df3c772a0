"""One learner in the prediction log: the scores of the last days, the reasons written with
them, and the learner's values against the day's scored population.

Reads ``<predictions>/<model>/date=<day>/part-0.parquet`` (what scoring writes), one learner's
rows at a time through Parquet's row filter; the population's medians come from the newest day's
feature columns. Pseudonyms are resolved over the learners the log holds, hashed once per
partition set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bantay.features.tombstones import pseudonym
from bantay.schema import ENTITY
from bantay.serving.reasons import ATTRIBUTION, REASON, WORDING, written
from bantay.settings import ExplainConfig

PART = "part-0.parquet"


@dataclass(frozen=True)
class LearnerDay:
    """One day's score of the learner, by which version, and the reasons written with it."""

    day: dt.date
    version: str | None
    score: float
    threshold: float | None
    reasons: tuple[str, ...]

    @property
    def flagged(self) -> bool | None:
        return None if self.threshold is None else self.score >= self.threshold


@dataclass(frozen=True)
class Standing:
    """One actionable feature of the learner on a day, against the day's scored population."""

    domain: str
    label: str
    value: str
    usual: str
    push: float | None  # attribution (log-odds): > 0 raised the learner's risk

    @property
    def effect(self) -> str:
        if self.push is None or abs(self.push) < 1e-9:
            return "no effect"
        return "raises risk" if self.push > 0 else "lowers risk"


def partitions(root: Path, days: int) -> list[Path]:
    """The newest ``days`` partitions of one model's prediction log, newest first."""
    if not root.is_dir():
        return []
    return sorted(root.glob(f"date=*/{PART}"), reverse=True)[:days]


def _day(path: Path) -> dt.date:
    return dt.date.fromisoformat(path.parent.name.split("=", 1)[1])


def _rows(path: Path, learner: int, wanted: Sequence[str]) -> dict[str, list]:
    names = set(pq.read_schema(path).names)
    columns = [c for c in dict.fromkeys([ENTITY, *wanted]) if c in names]
    table = pq.read_table(path, columns=columns, filters=[(ENTITY, "=", learner)])
    return table.to_pydict()


def learner_days(
    parts: Sequence[Path], learner: int, thresholds: Mapping[str, float], max_reasons: int = 4
) -> list[LearnerDay]:
    """The learner's score on every partition that holds it, newest first, flagged at the
    decision threshold of the version that scored it."""
    reasons = [REASON.format(i) for i in range(1, max_reasons + 1)]
    out = []
    for path in parts:
        rows = _rows(path, learner, ["score", "model_version", *reasons])
        if not rows.get(ENTITY):
            continue
        version = (rows.get("model_version") or [None])[0]
        out.append(
            LearnerDay(
                day=_day(path),
                version=version,
                score=float(rows["score"][0]),
                threshold=thresholds.get(version) if version else None,
                reasons=tuple(rows[c][0] for c in reasons if c in rows and rows[c][0]),
            )
        )
    return out


def standing(path: Path, learner: int, cfg: ExplainConfig) -> list[Standing]:
    """The learner's value of every actionable feature the partition holds, beside the day's
    median over every scored learner, with the feature's push on the learner's risk;
    strongest push up first."""
    names = set(pq.read_schema(path).names)
    features = cfg.actionable(sorted(names))
    if not features:
        return []
    mine = _rows(path, learner, [*features, *(ATTRIBUTION.format(f) for f in features)])
    if not mine.get(ENTITY):
        return []
    population = pq.read_table(path, columns=features)
    out = []
    for f in features:
        label, kind = WORDING.get(f, (f.replace("_", " "), "number"))
        column = population.column(f).cast("double")
        median = pc.approximate_median(column).as_py() if column.null_count < len(column) else None
        push = (mine.get(ATTRIBUTION.format(f)) or [None])[0]
        out.append(
            Standing(
                domain=cfg.domains[f],
                label=label,
                value=written(np.array([mine[f][0]], dtype=object), kind)[0],
                usual=written(np.array([median], dtype=object), kind)[0],
                push=None if push is None else float(push),
            )
        )
    return sorted(out, key=lambda s: -(s.push or 0.0))


def resolve_pseudonym(parts: Sequence[Path], wanted: str, key: bytes) -> int | None:
    """The learner whose pseudonym is ``wanted`` among those the partitions hold; None if none."""
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in parts)
    return _pseudonyms(stamp, key).get(wanted)


@lru_cache(maxsize=4)
def _pseudonyms(stamp: tuple[tuple[str, int], ...], key: bytes) -> dict[str, int]:
    ids: set[int] = set()
    for path, _ in stamp:
        column = pq.read_table(path, columns=[ENTITY]).column(ENTITY)
        ids.update(int(i) for i in pc.unique(column).to_pylist() if i is not None)
    return {pseudonym(i, key): i for i in ids}
