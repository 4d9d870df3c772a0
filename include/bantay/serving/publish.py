"""Publishing an approved version: its staged bytes, still the ones the gate evaluated, uploaded
to the model store as an immutable version, then the production pointer moved to it.

Training ends at an approved version (``bantay.training.approval``); this is where serving takes
it over, through the promotion policy (:class:`bantay.serving.promotion.Promotion`).
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import joblib
import pandas as pd

from bantay.layout import Layout
from bantay.serving.promotion import Promotion
from bantay.settings import ModelSettings
from bantay.training.explain import check_additivity
from bantay.training.run import RunContext
from bantay.training.staging import sha256, verify_staged
from bantay.vocabulary import ModelStatus

if TYPE_CHECKING:
    from bantay.stores.model_store import ModelStore
    from bantay.stores.registry import Registry

PUBLISHABLE = (ModelStatus.APPROVED, ModelStatus.PRODUCTION)


def publish_and_promote(
    ctx: RunContext,
    version: str,
    *,
    model: ModelSettings,
    layout: Layout,
    store: ModelStore,
    registry: Registry,
    actor: str | None = None,
) -> dict[str, Any]:
    """Upload the approved version (immutable), then move the production pointer to it, as
    ``actor`` (who approved it; the run when not known).

    Raises ``bantay.training.staging.StagedArtifactChanged`` when a staged file is not what the
    gate evaluated; nothing is published then."""
    record = registry.versions.get(ctx.model, version)
    if record is None or record.status not in PUBLISHABLE:
        raise RuntimeError(
            f"version {version} of {ctx.model} is {record.status if record else 'not registered'}; "
            "only an approved version is published"
        )
    bodies = verify_staged(registry, layout, ctx, version)
    fitted = joblib.load(io.BytesIO(bodies["model.joblib"]))
    reference = pd.read_parquet(io.BytesIO(bodies["reference.parquet"]))
    sample = reference.sample(
        n=min(len(reference), model.drift.sample_size), random_state=model.drift.seed
    )
    manifest = version_manifest(bodies, reference)
    refuse_unexplainable(fitted, reference, manifest, model)
    promotion = Promotion(store, registry)
    promotion.publish(ctx.model, version, fitted, manifest, sample)
    pointer = promotion.promote(
        ctx.model, version, actor=actor or f"airflow:{ctx.run_id}", reason=ctx.reason
    )
    return {
        "version": version,
        "pointer": pointer,
        "s3": store.objects.uri(store.objects.version_key(ctx.model, version, "")),
    }


def version_manifest(bodies: dict[str, bytes], reference: pd.DataFrame) -> dict[str, Any]:
    """The manifest of a version from its staged evaluation record, the reference's schema and
    the digests of the staged files it is published from."""
    evaluation = json.loads(bodies["evaluation.json"])
    return {
        "metrics": evaluation["metrics"],
        "params": evaluation["params"],
        "features": evaluation["features"],
        "label": evaluation["label"],
        "schema": {c: str(t) for c, t in reference.dtypes.items()},
        "gate": evaluation["gate"],
        # Absent for versions evaluated before explanations were recorded.
        **({"explanation": evaluation["explanation"]} if "explanation" in evaluation else {}),
        "lineage": {
            **evaluation["lineage"],
            "artifacts": {name: sha256(body) for name, body in bodies.items()},
        },
    }


def refuse_unexplainable(
    fitted: Any, reference: pd.DataFrame, manifest: dict[str, Any], model: ModelSettings
) -> float:
    """Check, on the version's reference rows, that the attributions serving will write add up
    to the model's margin (to 1e-6) before anything is published; raises
    ``bantay.training.explain.AttributionError`` naming the gap otherwise."""
    features = manifest["features"]
    names = [*features["numerical"], *features["categorical"]]
    probe = reference.head(2_000).reindex(columns=names)  # an absent feature: all missing
    return check_additivity(
        fitted,
        probe,
        features=names,
        baseline=(manifest.get("explanation") or {}).get("baseline"),
        tree_method=model.explain.tree_method,
    )
