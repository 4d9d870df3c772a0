"""What an experiment's analysis reads: the prediction-log days it scored (each learner's arm,
unit and the score its arm served), the labels matured by the day of the analysis, and each
serving version's decision threshold; turned into one row per learner outcome observed after
the start (``bantay.monitoring.experiment.OBSERVATION_COLUMNS``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from bantay.layout import Layout
from bantay.monitoring.experiment import (
    ARM_COL,
    FLAGGED,
    MATURED,
    OUTCOME,
    UNIT,
    ExperimentResult,
    analyse,
)
from bantay.monitoring.experiment_guardrails import flagged_volume, recall_gap, slice_sources
from bantay.monitoring.paired import version_threshold
from bantay.monitoring.window import MATURED as LABEL_MATURED
from bantay.monitoring.window import matured_labels
from bantay.schema import ENTITY, TIMESTAMP
from bantay.serving.experiment import (
    ARM,
    CHALLENGER,
    CONTROL,
    EXPERIMENT_ID,
    SERVED_SCORE,
    SERVED_VERSION,
    stop_experiment,
)
from bantay.settings import ModelSettings

if TYPE_CHECKING:
    from bantay.stores.model_store import ModelStore
    from bantay.stores.registry import Registry

_COLUMNS = (ENTITY, TIMESTAMP, ARM, SERVED_SCORE, SERVED_VERSION, EXPERIMENT_ID)


class ExperimentDataError(ValueError):
    """Nothing to analyse yet (the message says what to run or wait for)."""


def experiment_log(
    layout: Layout,
    model: str,
    record: dict[str, Any],
    as_of: dt.date,
    extra: tuple[str, ...] = (),
) -> pd.DataFrame:
    """The rows of ``record``'s experiment in the prediction log, from its start to ``as_of``
    (with the ``extra`` columns the log has, e.g. the slices' sources)."""
    start = dt.date.fromisoformat(record["start"])
    unit = record["plan"]["unit"]
    parts = []
    for i in range((as_of - start).days + 1):
        path = layout.prediction_path(model, start + dt.timedelta(days=i))
        if not path.is_file():
            continue
        names = pq.read_schema(path).names
        if EXPERIMENT_ID not in names:
            continue
        wanted = list(dict.fromkeys([*_COLUMNS, unit, *extra]))
        frame = pd.read_parquet(path, columns=[c for c in wanted if c in names])
        frame = frame[frame[EXPERIMENT_ID] == record["id"]]
        if len(frame):
            parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(_COLUMNS))


def observations(
    log: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    label: str,
    unit: str,
    start: dt.date,
    thresholds: dict[str, float],
    carry: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One row per matured outcome observed from ``start`` on of a learner the experiment
    scored: its unit and arm (from its first experiment row), the outcome, whether its arm's
    model flagged it on a day up to the observation, and when the label matured; with the
    ``carry`` columns of the log (the learner's first experiment row)."""
    cut = np.array([thresholds.get(str(v), np.inf) for v in log[SERVED_VERSION]])
    log = log.assign(**{FLAGGED: log[SERVED_SCORE].to_numpy(float) >= cut})
    first = log.sort_values(TIMESTAMP).drop_duplicates(ENTITY)[
        list(dict.fromkeys([ENTITY, unit, ARM]))
    ]
    carried = (
        log.sort_values(TIMESTAMP)
        .drop_duplicates(ENTITY)
        .set_index(ENTITY)[[c for c in carry if c in log.columns]]
    )
    observed = pd.to_datetime(labels[TIMESTAMP], utc=True)
    rows = labels[observed >= pd.Timestamp(start, tz="UTC")]
    rows = rows.merge(first, on=ENTITY, how="inner")
    flagged_days = log.loc[log[FLAGGED], [ENTITY, TIMESTAMP]].rename(columns={TIMESTAMP: "_day"})
    first_flag = flagged_days.groupby(ENTITY)["_day"].min()
    when = pd.to_datetime(rows[ENTITY].map(first_flag), utc=True)
    return pd.DataFrame(
        {
            UNIT: rows[unit].astype(str).to_numpy(),
            ARM_COL: rows[ARM].to_numpy(),
            OUTCOME: rows[label].astype(int).to_numpy(),
            FLAGGED: (when <= pd.to_datetime(rows[TIMESTAMP], utc=True)).fillna(False).to_numpy(),
            MATURED: pd.to_datetime(rows[LABEL_MATURED]).dt.tz_localize(None).to_numpy(),
            **{c: rows[ENTITY].map(carried[c]).to_numpy() for c in carried.columns},
        }
    )


def experiment_report(
    model: ModelSettings,
    layout: Layout,
    registry: Registry | None,
    record: dict[str, Any],
    as_of: dt.date,
) -> ExperimentResult:
    """The experiment ``record`` of ``model`` judged on everything matured by ``as_of``."""
    sources = slice_sources(model.slices)
    log = experiment_log(layout, model.name, record, as_of, sources)
    if log.empty:
        raise ExperimentDataError(
            f"experiment {record['id']} of {model.name} has no scored day in "
            f"{layout.predictions / model.name} from {record['start']} to {as_of}; let "
            "bantay_scoring run (it puts each learner in its arm)"
        )
    versions = sorted(set(log[SERVED_VERSION].dropna().astype(str)))
    thresholds = {}
    for version in versions:
        found = registry.versions.get(model.name, version) if registry is not None else None
        thresholds[version] = version_threshold(found.metrics if found else None)
    start = dt.date.fromisoformat(record["start"])
    labels = matured_labels(layout, model, as_of, first=start)
    rows = observations(
        log,
        labels,
        label=model.label,
        unit=record["plan"]["unit"],
        start=start,
        thresholds=thresholds,
        carry=sources,
    )
    result = analyse(rows, record, as_of)
    guards = (
        recall_gap(rows, model.slices, model.drift.fairness, model.gate.max_recall_gap),
        flagged_volume(
            log, thresholds, float(record["plan"]["share"]), record["plan"].get("capacity")
        ),
    )
    return dataclasses.replace(result, guardrails=tuple(g for g in guards if g))


def decision_as_of(
    model: ModelSettings,
    layout: Layout,
    registry: Registry | None,
    record: dict[str, Any],
    as_of: dt.date,
) -> dict[str, Any]:
    """The analysis of ``record`` as of ``as_of`` as a dict; "not yet" with the reason when
    there is nothing to analyse."""
    try:
        return experiment_report(model, layout, registry, record, as_of).to_dict()
    except ExperimentDataError as exc:
        return {"decision": "not yet", "reason": str(exc)}


def stop_with_decision(
    model: ModelSettings,
    layout: Layout,
    store: ModelStore,
    registry: Registry | None,
    *,
    actor: str,
    reason: str,
    as_of: dt.date,
) -> dict[str, Any]:
    """Stop ``model``'s running experiment, recording who, why and what the analysis said as
    of ``as_of`` (``bantay experiment stop`` and the Experiment tab's Stop both come here)."""
    running = store.pointers.experiment(model.name)
    analysis = decision_as_of(model, layout, registry, running, as_of) if running else None
    decision = {k: analysis[k] for k in ("decision", "reason")} if analysis else None
    return stop_experiment(
        store, registry, model.name, actor=actor, reason=reason, decision=decision
    )


def day_arms(rows: pd.DataFrame, share_of: Any) -> dict[str, Any] | None:
    """The experiment ``rows`` (a day's prediction log) were scored in: its ``id``, the
    challenger's ``share`` (``share_of(id)``, None when its record is gone) and the version
    each arm was served; None on a day scored without arms."""
    if EXPERIMENT_ID not in rows.columns or ARM not in rows.columns:
        return None
    scored = rows[rows[EXPERIMENT_ID].notna()]
    if scored.empty:
        return None
    experiment = str(scored[EXPERIMENT_ID].mode().iloc[0])
    scored = scored[scored[EXPERIMENT_ID] == experiment]
    served = {}
    for arm in (CONTROL, CHALLENGER):
        versions = scored.loc[scored[ARM] == arm, SERVED_VERSION].dropna().astype(str)
        served[arm] = str(versions.mode().iloc[0]) if len(versions) else None
    return {"id": experiment, "share": share_of(experiment), "served": served}
