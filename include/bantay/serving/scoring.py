"""Daily batch scoring: the production model (verified before unpickling) on the day's features,
written as one prediction-log partition per model and day; a staged shadow candidate is scored
beside production and the log keeps both.

Prediction log: ``<data>/predictions/<model>/date=YYYY-MM-DD/part-0.parquet`` with learner_id,
event_timestamp (end of the scored day, so matured labels join on it), the features used, score,
model_version, observed (the learner has its own row that day in every feature view, rather than
values carried forward from an earlier day; the drift check judges a day on those learners), and
shadow_score / shadow_version when a shadow is staged; while a randomised experiment runs
(``bantay.serving.experiment``, its challenger staged as the shadow) also arm, assignment_probability,
served_score / served_version (the score of the arm's model: what staff see) and experiment_id;
and (unless the model's
``explain.enabled`` is off) reason_1 .. reason_4, a counsellor's words for why the learner's risk
is up (``bantay.serving.reasons``; empty where nothing actionable pushes it up), with every
feature's attribution attr_<feature> and attr_base (log-odds: attr_base + the sum of attr_* is
the score's logit). Re-running a date replaces its partition. With the model's
``output_ids: pseudonym`` the day is also written for downstream systems without ids
(``bantay.serving.output``).

A nightly batch reads its features from the accepted partitions with the online store's as-of
semantics (``bantay.serving.batch_features``: one columnar read instead of a Feast online lookup
per learner); ``online_feature_frame`` (Feast's online store) stays for lookups of a few learners.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.exc import SQLAlchemyError

from bantay.layout import Layout, partition_path
from bantay.schema import ENTITY, TIMESTAMP
from bantay.serving.batch_features import OBSERVED, batch_features, distinct_ids
from bantay.serving.experiment import (
    ARM,
    ASSIGNMENT_PROBABILITY,
    CHALLENGER,
    EXPERIMENT_ID,
    SERVED_SCORE,
    SERVED_VERSION,
    assign,
    assignment_probability,
)
from bantay.serving.output import write_output
from bantay.serving.promotion import Promotion
from bantay.serving.reasons import attribution_columns, reason_codes, reason_summary
from bantay.settings import ExplainConfig, ModelSettings
from bantay.stores.connections import erasure_key
from bantay.stores.model_store import ModelStoreError
from bantay.stores.registry import RegistryError
from bantay.training.explain import AttributionError, Explainer
from bantay.training.pipeline import predict_scores

if TYPE_CHECKING:
    from pathlib import Path

    from feast import FeatureStore

    from bantay.stores.model_store import ModelStore
    from bantay.stores.registry import Registry

log = logging.getLogger(__name__)
BATCH = 5_000


def active_learners(layout: Layout, day: dt.date, population: str) -> np.ndarray:
    """Learners enrolled on ``day``: those in that day's snapshot of the ``population`` feed
    (``features.feeds``' population feed)."""
    path = partition_path(layout.accepted, population, day)
    if not path.is_file():
        raise FileNotFoundError(
            f"no accepted {population} partition for {day} at {path}; run bantay_features "
            "for that day first (it validates and accepts the day)"
        )
    return distinct_ids(pq.read_table(path, columns=[ENTITY])[ENTITY].to_numpy())


def online_feature_frame(
    feast: FeatureStore, feature_service: str, learners: np.ndarray
) -> pd.DataFrame:
    """Online features for ``learners`` in batches (bounded request size and memory)."""
    service = feast.get_feature_service(feature_service)
    parts = []
    for start in range(0, len(learners), BATCH):
        rows = [{ENTITY: int(i)} for i in learners[start : start + BATCH]]
        parts.append(feast.get_online_features(features=service, entity_rows=rows).to_df())
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[ENTITY])


def agreement(primary: np.ndarray, shadow: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """How far the shadow model agrees with production on the same learners."""
    both = (primary >= threshold) == (shadow >= threshold)
    k = max(1, len(primary) // 10)
    top_p = set(np.argsort(-primary)[:k])
    top_s = set(np.argsort(-shadow)[:k])
    return {
        "rows": int(len(primary)),
        "decision_agreement": float(both.mean()) if len(both) else float("nan"),
        "top_decile_overlap": len(top_p & top_s) / k,
        "mean_abs_diff": float(np.abs(primary - shadow).mean()) if len(primary) else float("nan"),
        "spearman": float(pd.Series(primary).corr(pd.Series(shadow), method="spearman")),
    }


def checked_shadow(
    model: str, store: ModelStore, registry: Registry
) -> tuple[Any, dict[str, Any]] | str | None:
    """The staged shadow (model object, manifest) after the promotion policy's checks, None when
    nothing is staged, or why it was refused.

    A refused shadow never stops production scoring (a shadow only ever sits beside it): the
    day is scored without it and the refusal is logged as an error and kept in the summary.
    """
    try:
        if store.pointers.shadow(model) is None:
            return None
        loaded = Promotion(store, registry).load_shadow(model)
    except (ModelStoreError, RegistryError, SQLAlchemyError) as exc:
        log.error("shadow of %s not scored: %s", model, exc)
        return str(exc)
    return None if loaded is None else (loaded[0], loaded[1])


def apply_experiment(frame: pd.DataFrame, record: dict[str, Any] | None) -> dict[str, Any] | None:
    """Put each scored learner in its arm of the running experiment ``record`` and serve the
    arm's score; None when no experiment runs. Refused (every learner served production, said
    in the summary) when the shadow scored is not the challenger or the unit column is missing."""
    if record is None:
        return None
    unit = record["plan"]["unit"]
    shadow = frame["shadow_version"].iloc[0] if "shadow_version" in frame and len(frame) else None
    refusal = None
    if shadow != record["challenger"]:
        refusal = (
            f"experiment {record['id']} names challenger {record['challenger']} but the shadow "
            f"scored is {shadow}; every learner was served production"
        )
    elif unit not in frame.columns:
        refusal = f"experiment {record['id']} assigns by {unit!r}, a column the day lacks"
    if refusal:
        log.error("%s", refusal)
        return {"id": record["id"], "refused": refusal}
    share = float(record["plan"]["share"])
    frame[ARM] = assign(record["key"], frame[unit].to_numpy(), share)
    frame[ASSIGNMENT_PROBABILITY] = assignment_probability(frame[ARM].to_numpy(), share)
    challenger = frame[ARM] == CHALLENGER
    frame[SERVED_SCORE] = np.where(challenger, frame["shadow_score"], frame["score"])
    frame[SERVED_VERSION] = np.where(challenger, frame["shadow_version"], frame["model_version"])
    frame[EXPERIMENT_ID] = record["id"]
    return {"id": record["id"], "challenger_rows": int(challenger.sum()), "rows": len(frame)}


def score_frame(
    frame: pd.DataFrame,
    fitted: Any,
    manifest: dict[str, Any],
    cfg: ExplainConfig,
    features: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Add ``score`` to ``frame`` and, when explanations are on, ``reason_1`` .. ``reason_n`` and
    the attributions (``attr_<feature>``, ``attr_base``), for the whole batch at once; returns
    what the explanation did (or why it was left out: scores are written either way).
    ``features``: the version's (default: its manifest's)."""
    features = features or manifest["features"]
    if not cfg.enabled or frame.empty:
        frame["score"] = predict_scores(fitted, frame, features)
        return {"enabled": cfg.enabled, "rows": len(frame)}
    try:
        explainer, baseline = version_explainer(fitted, features, manifest, cfg, frame)
        frame["score"], attributions = explainer.scored(explainer.transform(frame))
    except AttributionError as exc:
        log.error(
            "%s %s scored without reasons: %s", manifest.get("model"), manifest["version"], exc
        )
        frame["score"] = predict_scores(fitted, frame, features)
        return {"enabled": True, "refused": str(exc)}
    reasons = reason_codes(attributions, frame, cfg)
    for part in (reasons, attribution_columns(attributions, frame.index)):
        for column in part.columns:
            frame[column] = part[column]
    return {
        "enabled": True,
        "method": attributions.method,
        "baseline": baseline,
        "rows_with_reasons": int(reasons.iloc[:, 0].notna().sum()),
        "first_reason": reason_summary(reasons),
    }


def version_explainer(
    fitted: Any,
    features: dict[str, list[str]],
    manifest: dict[str, Any],
    cfg: ExplainConfig,
    frame: pd.DataFrame,
) -> tuple[Explainer, str]:
    """The explainer of a version: a linear model against the training mean its manifest
    stores; a version published before it stored one against the scored day's own mean
    (said in the summary). Returns the explainer and which baseline it uses."""
    names = [*features["numerical"], *features["categorical"]]
    stored = (manifest.get("explanation") or {}).get("baseline")
    explainer = Explainer(fitted, names, baseline=stored, tree_method=cfg.tree_method)
    if stored is not None:
        return explainer, "training rows"
    day = explainer.baseline_of(frame)
    if day is None:
        return explainer, "tree cover"
    log.warning(
        "version %s stores no explanation baseline: explained against the day's mean",
        manifest["version"],
    )
    return Explainer(fitted, names, baseline=day, tree_method=cfg.tree_method), "scored day"


def write_log(frame: pd.DataFrame, path: Path) -> None:
    """Write (replace) a day's prediction log at ``path``: a reader sees the old file or the
    whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def score_day(
    day: dt.date,
    *,
    model: ModelSettings,
    layout: Layout,
    store: ModelStore,
    registry: Registry,
    feast: FeatureStore,
) -> dict[str, Any]:
    """Score every active learner for ``day``; write (replace) the day's prediction log.

    A staged shadow is checked against ``registry`` before it is loaded, as production was when
    it was promoted."""
    # Asked first: a pseudonymous output without its key fails before anything is written.
    key = erasure_key() if model.output_ids == "pseudonym" else None
    fitted, manifest = store.load_production(model.name)
    learners = active_learners(layout, day, model.feeds.population)
    frame = batch_features(feast, model.feature_service, learners, day, observed=True)
    features = manifest.get("features") or model.declared_features()
    names = [*features["numerical"], *features["categorical"]]
    for missing in sorted(set(names) - set(frame.columns)):
        frame[missing] = np.nan  # no learner to score, or a view not online yet
    explained = score_frame(frame, fitted, manifest, model.reasons, features)
    frame["model_version"] = manifest["version"]
    summary: dict[str, Any] = {
        "model": model.name,
        "date": day.isoformat(),
        "version": manifest["version"],
        "rows": len(frame),
        "mean_score": float(frame["score"].mean()) if len(frame) else None,
        "missing_feature_share": float(frame[names].isna().any(axis=1).mean())
        if len(frame)
        else None,
        "observed_share": float(frame[OBSERVED].mean()) if len(frame) else None,
        "explanation": explained,
    }
    shadow = checked_shadow(model.name, store, registry)
    if isinstance(shadow, str):
        summary["shadow"] = {"refused": shadow}
    elif shadow is not None and shadow[1]["version"] != manifest["version"]:
        shadow_model, shadow_manifest = shadow
        frame["shadow_score"] = predict_scores(
            shadow_model, frame, shadow_manifest.get("features") or features
        )
        frame["shadow_version"] = shadow_manifest["version"]
        summary["shadow"] = {
            "version": shadow_manifest["version"],
            **agreement(frame["score"].to_numpy(), frame["shadow_score"].to_numpy()),
        }
        experiment = apply_experiment(frame, store.pointers.experiment(model.name))
        if experiment is not None:
            summary["experiment"] = experiment
    end_of_day = pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59), dt.UTC))
    frame.insert(1, TIMESTAMP, end_of_day)
    frame[TIMESTAMP] = frame[TIMESTAMP].astype("datetime64[us, UTC]")
    path = layout.prediction_path(model.name, day)
    write_log(frame, path)
    summary["path"] = str(path)
    if key is not None:
        summary["output"] = str(write_output(layout, model.name, day, frame, key))
    log.info("scored %s for %s: %s", model.name, day, summary)
    return summary
