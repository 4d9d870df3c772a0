"""OpenLineage datasets of bantay's data, named once at table level, with their facets.

Every dataset lives in the namespace ``bantay://<project>`` and is named as a whole table, the
same for its writer and its readers, so a lineage graph joins them: ``raw/<feed>`` (what upstream
delivered), ``accepted/<feed>`` (what the data contract let through), ``feast/feature_view/<view>``,
``training_set/<model>``, ``predictions/<model>``, ``registry/model_versions`` and a model version
as ``s3://<bucket>/<prefix>/models/<model>/versions/<version>``. Partitions (days) and learners
never appear in a name: no personal data leaves in an event.

Facets: the schema of a feed from its declaration (``features.feeds``), the data contract's result
as data-quality facets (rows, nulls per column, failed rules), and ``bantayModelVersion`` linking a
version to its training set and gate verdict. ``openlineage.client`` is imported inside the
builders: DAG files import this module at parse time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bantay.settings.feeds import FeedSettings

SCHEME = "bantay"
FACET_SCHEMA = "https://bantay.invalid/spec/facets/1-0-0/BantayModelVersionFacet.json"
_KEY_TYPES = {
    "learner_id": "int64",
    "event_timestamp": "timestamp",
    "created_timestamp": "timestamp",
}


def namespace(project: str) -> str:
    """The namespace of every dataset of ``project``."""
    if not project or "/" in project:
        raise ValueError(
            f"project {project!r} must be a plain name like 'bantay' (settings.project)"
        )
    return f"{SCHEME}://{project}"


def raw_name(feed: str) -> str:
    return f"raw/{feed}"


def accepted_name(feed: str) -> str:
    return f"accepted/{feed}"


def view_name(view: str) -> str:
    return f"feast/feature_view/{view}"


def training_set_name(model: str) -> str:
    return f"training_set/{model}"


def predictions_name(model: str) -> str:
    return f"predictions/{model}"


REGISTRY_NAME = "registry/model_versions"
DRIFT_RECORDS_NAME = "registry/drift_reports"


def version_name(bucket: str, prefix: str, model: str, version: str) -> str:
    """A published model version, named by where it lives (immutable once written)."""
    return f"s3://{bucket}/{prefix.strip('/')}/models/{model}/versions/{version}"


def drift_reports_name(bucket: str, prefix: str, model: str) -> str:
    """Where ``model``'s daily drift reports are written (one folder per day below it)."""
    return f"s3://{bucket}/{prefix.strip('/')}/reports/drift/{model}"


def schema_facet(feed: FeedSettings):
    """The columns of ``feed`` as its declaration states them, partition keys first."""
    from openlineage.client.facet_v2 import schema_dataset

    fields = [
        schema_dataset.SchemaDatasetFacetFields(name=k, type=t) for k, t in _KEY_TYPES.items()
    ]
    fields += [
        schema_dataset.SchemaDatasetFacetFields(
            name=name, type=spec.dtype, description="categorical" if spec.is_categorical else None
        )
        for name, spec in feed.columns.items()
    ]
    return schema_dataset.SchemaDatasetFacet(fields=fields)


def quality_facets(results: Sequence[Any]) -> dict[str, Any]:
    """Data-quality input facets from the data contract's results for one feed (one result per
    partition checked): total rows, missing values per column, and each failed rule."""
    from openlineage.client.facet_v2 import (
        data_quality_assertions_dataset as assertions,
    )
    from openlineage.client.facet_v2 import (
        data_quality_metrics_input_dataset as metrics,
    )

    nulls: dict[str, int] = {}
    for result in results:
        for column, count in result.nulls.items():
            nulls[column] = nulls.get(column, 0) + count
    failed = sorted({(v.rule, v.column) for r in results for v in r.violations}, key=str)
    checks = [
        assertions.Assertion(assertion=rule, success=False, column=column, severity="error")
        for rule, column in failed
    ]
    checks.append(assertions.Assertion(assertion="data_contract", success=not failed))
    return {
        "dataQualityMetrics": metrics.DataQualityMetricsInputDatasetFacet(
            rowCount=sum(r.rows for r in results),
            fileCount=sum(len(r.files) for r in results),
            columnMetrics={c: metrics.ColumnMetrics(nullCount=n) for c, n in nulls.items()},
        ),
        "dataQualityAssertions": assertions.DataQualityAssertionsDatasetFacet(assertions=checks),
    }


def input_dataset(project: str, name: str, facets: dict | None = None, input_facets=None):
    from openlineage.client.event_v2 import InputDataset

    return InputDataset(
        namespace=namespace(project), name=name, facets=facets or {}, inputFacets=input_facets or {}
    )


def output_dataset(project: str, name: str, facets: dict | None = None):
    from openlineage.client.event_v2 import OutputDataset

    return OutputDataset(namespace=namespace(project), name=name, facets=facets or {})


def quarantine_name(feed: str) -> str:
    return f"quarantine/{feed}"


def contract_lineage(
    project: str, feeds: Iterable[FeedSettings], results: Sequence[Any], refused: bool = False
) -> tuple[list, list]:
    """The data contract: each feed's raw deliveries in (with the contract's verdict on them),
    its accepted table out (with its declared schema); ``refused`` results (the contract
    failed) went to the feed's quarantine instead."""
    out_name = quarantine_name if refused else accepted_name
    inputs, outputs = [], []
    for feed in feeds:
        mine = [r for r in results if r.source == feed.name]
        if not mine:
            continue
        schema = {"schema": schema_facet(feed)}
        inputs.append(input_dataset(project, raw_name(feed.name), schema, quality_facets(mine)))
        outputs.append(output_dataset(project, out_name(feed.name), schema))
    return inputs, outputs


def materialize_lineage(project: str, feeds: Iterable[FeedSettings]) -> tuple[list, list]:
    """Materialization: each accepted features feed into its feature view (named like the feed,
    as the Feast repo defines them)."""
    feeds = [f for f in feeds if not f.is_labels]
    inputs = [input_dataset(project, accepted_name(f.name)) for f in feeds]
    outputs = [
        output_dataset(project, view_name(f.name), {"schema": schema_facet(f)}) for f in feeds
    ]
    return inputs, outputs


def scoring_lineage(
    project: str, model: str, views: Iterable[str], version: str | None, where: tuple[str, str]
) -> tuple[list, list]:
    """Scoring: the model's feature views and its production version in, the prediction log
    out. ``where`` is the model store's (bucket, prefix)."""
    inputs = [input_dataset(project, view_name(v)) for v in views]
    if version:
        inputs.append(input_dataset(project, version_name(*where, model, version)))
    return inputs, [output_dataset(project, predictions_name(model))]


def training_set_lineage(project: str, model: str, views: Iterable[str], label_feed: str):
    """The point-in-time training set: the model's feature views and its accepted label feed in."""
    inputs = [input_dataset(project, view_name(v)) for v in views]
    inputs.append(input_dataset(project, accepted_name(label_feed)))
    return inputs, [output_dataset(project, training_set_name(model))]


def version_lineage(
    project: str, model: str, version: str, where: tuple[str, str], gate: dict[str, Any]
) -> tuple[list, list]:
    """A published version: its training set in; the version (with its link to the training
    set and the gate's verdict) and its registry record out."""
    facet = model_version_facet(model, version, training_set_name(model), gate)
    outputs = [
        output_dataset(
            project, version_name(*where, model, version), {"bantayModelVersion": facet}
        ),
        output_dataset(project, REGISTRY_NAME),
    ]
    return [input_dataset(project, training_set_name(model))], outputs


def evaluation_lineage(project: str, model: str, version: str, gate: dict[str, Any]):
    """The evaluation: the training set in; the candidate's registry record (with the gate's
    verdict on it) out."""
    facet = model_version_facet(model, version, training_set_name(model), gate)
    outputs = [output_dataset(project, REGISTRY_NAME, {"bantayModelVersion": facet})]
    return [input_dataset(project, training_set_name(model))], outputs


def gate_of(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The gate's verdict from what the evaluate task hands on."""
    verdict = "passed" if evaluation.get("passed") else "rejected"
    return {"verdict": verdict, "failed": [str(r)[:200] for r in evaluation.get("reasons") or []]}


def drift_lineage(project: str, model: str, version: str | None, where: tuple[str, str]):
    """The drift check: the prediction log and the production version's reference sample in;
    the day's report and its registry record out."""
    inputs = [input_dataset(project, predictions_name(model))]
    if version:
        inputs.append(input_dataset(project, version_name(*where, model, version)))
    outputs = [
        output_dataset(project, drift_reports_name(*where, model)),
        output_dataset(project, DRIFT_RECORDS_NAME),
    ]
    return inputs, outputs


def model_version_facet(model: str, version: str, training_set: str, gate: dict[str, Any]):
    """``bantayModelVersion``: which training set a version was fitted on and what the gate said
    (verdict and the names of failed checks, never data)."""
    failed = gate.get("failed") or []
    return _version_facet_class()(
        model=model,
        version=version,
        trainingSet=training_set,
        gateVerdict=str(gate.get("verdict", "unknown")),
        failedChecks=[str(f) for f in failed],
    )


_FACET_CLASS: list[type] = []


def _version_facet_class() -> type:
    """The custom facet class, defined on first use (keeps openlineage out of DAG parsing)."""
    if _FACET_CLASS:
        return _FACET_CLASS[0]
    import attr
    from openlineage.client.facet_v2 import DatasetFacet

    @attr.define
    class BantayModelVersionFacet(DatasetFacet):
        model: str
        version: str
        trainingSet: str  # noqa: N815 (OpenLineage's spelling)
        gateVerdict: str  # noqa: N815
        failedChecks: list[str] = attr.field(factory=list)  # noqa: N815

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA

    _FACET_CLASS.append(BantayModelVersionFacet)
    return BantayModelVersionFacet


def service_views(feast: Any, service: str) -> list[str]:
    """The feature views a Feast feature service reads (``feast`` is a ``FeatureStore``)."""
    return [p.name for p in feast.get_feature_service(service).feature_view_projections]
