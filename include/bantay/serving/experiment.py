"""A randomised experiment between production and a challenger: what staff see for a share of
the learners comes from the challenger's flags.

``ExperimentPlan`` is what is registered before the experiment starts (share, unit of
assignment, alpha, power, base rate, minimum effect, the maturation schedule of its analyses);
``assign`` puts each unit in an arm by a keyed hash (HMAC-SHA256 of the unit's id with the
experiment's own key), so a learner, or a whole school when the unit is a grouping column,
stays in one arm for the experiment's life whatever night or machine scores it. The record is
kept in the model store (``models/<model>/experiment.json`` while it runs, and
``models/<model>/experiments/<id>.json`` for good), and the challenger is staged as the shadow,
so it is checked against the registry at every load as any serving version is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bantay.schema import ENTITY
from bantay.serving.promotion import Promotion
from bantay.vocabulary import check_name

if TYPE_CHECKING:
    from bantay.stores.model_store import ModelStore
    from bantay.stores.registry import Registry

log = logging.getLogger(__name__)

CONTROL = "control"
CHALLENGER = "challenger"
RUNNING = "running"
STOPPED = "stopped"
ARM = "arm"
ASSIGNMENT_PROBABILITY = "assignment_probability"
SERVED_SCORE = "served_score"
SERVED_VERSION = "served_version"
EXPERIMENT_ID = "experiment_id"
_SCALE = float(2**64)


class ExperimentError(ValueError):
    """An experiment cannot start, stop or score as asked (the message says what to do)."""


@dataclass(frozen=True)
class ExperimentPlan:
    """The pre-registered design: ``share`` of the units in the challenger's arm, ``unit`` the
    column that is randomised (``learner_id``, or a grouping column such as a school whose
    staff would otherwise see both lists), two-sided ``alpha``, ``power`` to detect an absolute
    fall of ``min_effect`` in the adverse-outcome rate ``base_rate``, analysed at ``looks``
    maturation dates ``look_every_days`` apart; ``design_effect`` inflates the sample size when
    whole groups are assigned (1 for learners)."""

    share: float = 0.5
    unit: str = ENTITY
    alpha: float = 0.05
    power: float = 0.8
    base_rate: float = 0.12
    min_effect: float = 0.02
    looks: int = 5
    look_every_days: int = 7
    design_effect: float = 1.0
    capacity: int | None = None  # flagged learners a day staff can act on (a guardrail)

    def __post_init__(self) -> None:
        checks = (
            (0 < self.share < 1, f"--share {self.share} must be in (0, 1), e.g. 0.5"),
            (0 < self.alpha < 0.5, f"--alpha {self.alpha} must be in (0, 0.5), e.g. 0.05"),
            (0.5 <= self.power < 1, f"--power {self.power} must be in [0.5, 1), e.g. 0.8"),
            (0 < self.base_rate < 1, f"--base-rate {self.base_rate} must be in (0, 1)"),
            (
                0 < self.min_effect < self.base_rate,
                f"--min-effect {self.min_effect} must be above 0 and below the base rate "
                f"{self.base_rate} (an absolute fall of the adverse-outcome rate)",
            ),
            (1 <= self.looks <= 20, f"--looks {self.looks} must be 1 to 20 analyses"),
            (self.look_every_days >= 1, "--look-every-days must be 1 or more"),
            (self.design_effect >= 1, f"--design-effect {self.design_effect} must be >= 1"),
            (
                self.capacity is None or self.capacity >= 1,
                f"--capacity {self.capacity} must be 1 or more flagged learners a day",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise ExperimentError(message)
        if self.unit != ENTITY:
            check_name("unit column", self.unit)

    def schedule(self, start: dt.date, label_delay_days: int) -> list[dt.date]:
        """The planned analysis dates: the first when a whole cadence of outcomes observed
        after ``start`` has matured, then every ``look_every_days``."""
        first = start + dt.timedelta(days=self.look_every_days + label_delay_days)
        return [first + dt.timedelta(days=k * self.look_every_days) for k in range(self.looks)]


def unit_position(key: str, units: np.ndarray) -> np.ndarray:
    """Each unit's place in [0, 1): the first 8 bytes of HMAC-SHA256(key, str(unit)). Stable
    across nights, processes and machines; unpredictable without the key."""
    secret = bytes.fromhex(key)
    values, inverse = np.unique(np.asarray(units).astype(str), return_inverse=True)
    places = np.array(
        [
            int.from_bytes(hmac.new(secret, v.encode(), hashlib.sha256).digest()[:8], "big")
            / _SCALE
            for v in values
        ]
    )
    return places[inverse] if len(values) else np.zeros(0)


def assign(key: str, units: np.ndarray, share: float) -> np.ndarray:
    """The arm of each unit: ``challenger`` for those whose place falls below ``share``."""
    return np.where(unit_position(key, units) < share, CHALLENGER, CONTROL)


def assignment_probability(arms: np.ndarray, share: float) -> np.ndarray:
    """The probability of the arm each unit got (for weighting around the flags' effects)."""
    return np.where(arms == CHALLENGER, share, 1.0 - share)


def new_record(
    model: str,
    challenger: str,
    control: str,
    plan: ExperimentPlan,
    *,
    start: dt.date,
    label_delay_days: int,
    sample: dict[str, Any],
    actor: str,
    reason: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The record of an experiment about to start (its key drawn now, kept with it)."""
    now = now or dt.datetime.now(dt.UTC)
    return {
        "id": f"{now:%Y%m%dT%H%M%SZ}-{challenger}",
        "model": model,
        "challenger": challenger,
        "control": control,
        "plan": asdict(plan),
        "start": start.isoformat(),
        "schedule": [d.isoformat() for d in plan.schedule(start, label_delay_days)],
        "sample_size": sample,
        "key": secrets.token_hex(32),
        "status": RUNNING,
        "started_at": now.isoformat(),
        "started_by": actor,
        "reason": reason,
    }


def plan_of(record: dict[str, Any]) -> ExperimentPlan:
    return ExperimentPlan(**record["plan"])


def start_experiment(
    store: ModelStore, registry: Registry | None, record: dict[str, Any]
) -> dict[str, Any]:
    """Stage the challenger as the shadow (the promotion policy's checks) and make ``record``
    the running experiment; refused while another runs."""
    model = record["model"]
    running = store.pointers.experiment(model)
    if running is not None:
        raise ExperimentError(
            f"{model} already runs experiment {running['id']} ({running['challenger']}); stop it "
            f"first (bantay experiment stop {model} --reason ...)"
        )
    promotion = Promotion(store, registry)
    production = store.pointers.require(model)["version"]
    if record["challenger"] == production:
        raise ExperimentError(
            f"{record['challenger']} is {model}'s production version; an experiment needs a "
            "challenger other than production"
        )
    promotion.stage_shadow(
        model,
        record["challenger"],
        actor=record["started_by"],
        reason=f"experiment {record['id']}: {record['reason']}",
    )
    store.pointers.put_experiment(model, record, running=True)
    log.info("%s: experiment %s started by %s", model, record["id"], record["started_by"])
    return record


def stop_experiment(
    store: ModelStore,
    registry: Registry | None,
    model: str,
    *,
    actor: str,
    reason: str,
    decision: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Stop the running experiment (recorded with who, why and what the analysis said), and
    its challenger's shadow scoring when the shadow is still the challenger."""
    record = store.pointers.experiment(model)
    if record is None:
        raise ExperimentError(f"{model} runs no experiment; 'bantay experiment status {model}'")
    if not reason.strip():
        raise ExperimentError("--reason is empty: say why the experiment stops")
    record = {
        **record,
        "status": STOPPED,
        "stopped_at": (now or dt.datetime.now(dt.UTC)).isoformat(),
        "stopped_by": actor,
        "stop_reason": reason,
        "decision_at_stop": decision,
    }
    store.pointers.put_experiment(model, record, running=False)
    shadow = store.pointers.shadow(model)
    if shadow is not None and shadow.get("version") == record["challenger"]:
        Promotion(store, registry).stop_shadow(model, actor=actor, reason=reason)
    log.info("%s: experiment %s stopped by %s: %s", model, record["id"], actor, reason)
    return record


def latest_experiment(store: ModelStore, model: str) -> dict[str, Any] | None:
    """The running experiment, else the last one stopped, else None."""
    running = store.pointers.experiment(model)
    if running is not None:
        return running
    ids = store.pointers.experiment_ids(model)
    return store.pointers.experiment_record(model, ids[-1]) if ids else None
