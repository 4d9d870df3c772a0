"""The OpenLineage datasets and facets bantay reports, serialized as the provider sends them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pyarrow as pa
import pytest
from openlineage.client.serde import Serde

from bantay.airflow import lineage
from bantay.features.rules import Violation, null_counts
from bantay.settings.feeds import FeedSettings


def _feed(name: str, **columns) -> FeedSettings:
    return FeedSettings.model_validate({"name": name, "columns": columns or {"x": {}}})


@dataclass
class _Result:
    """Stands in for the data contract's ContractResult: the fields the facets read."""

    source: str
    rows: int
    violations: list = field(default_factory=list)
    files: list = field(default_factory=list)
    nulls: dict = field(default_factory=dict)
    day: dt.date = dt.date(2026, 10, 1)


def _json(obj) -> dict:
    return json.loads(Serde.to_json(obj))


def test_namespace_rejects_a_path_like_project():
    assert lineage.namespace("school") == "bantay://school"
    with pytest.raises(ValueError, match="settings.project"):
        lineage.namespace("a/b")


def test_schema_facet_lists_keys_then_declared_columns_with_their_types():
    feed = _feed("visits", minutes={"type": "float"}, region={"type": "string"})
    fields = _json(lineage.schema_facet(feed))["fields"]
    assert [f["name"] for f in fields] == [
        "learner_id",
        "event_timestamp",
        "created_timestamp",
        "minutes",
        "region",
    ]
    assert fields[3]["type"] == "float64" and fields[4]["type"] == "string"
    assert fields[4]["description"] == "categorical"


def test_quality_facets_sum_rows_and_nulls_over_partitions_and_list_failed_rules():
    t1 = null_counts(pa.table({"minutes": [1.0, None, float("nan")], "id": [1, 2, 3]}))
    t2 = null_counts(pa.table({"minutes": [None, 2.0], "id": [None, 5]}))
    bad = Violation(rule="range", column="minutes", found="-1", expected=">= 0")
    facets = lineage.quality_facets(
        [_Result("visits", 3, files=["a"], nulls=t1), _Result("visits", 2, [bad], ["b"], t2)]
    )
    metrics = _json(facets["dataQualityMetrics"])
    assert metrics["rowCount"] == 5 and metrics["fileCount"] == 2
    assert metrics["columnMetrics"]["minutes"]["nullCount"] == 3  # NaN counts as missing
    assert metrics["columnMetrics"]["id"]["nullCount"] == 1
    checks = _json(facets["dataQualityAssertions"])["assertions"]
    assert {"assertion": "range", "success": False, "column": "minutes"}.items() <= checks[
        0
    ].items()
    assert checks[-1]["assertion"] == "data_contract" and checks[-1]["success"] is False


def test_contract_lineage_names_each_checked_feed_once_raw_in_accepted_out():
    feeds = [_feed("visits"), _feed("calls"), _feed("unchecked")]
    results = [_Result("visits", 4), _Result("visits", 6), _Result("calls", 1)]
    inputs, outputs = lineage.contract_lineage("bantay", feeds, results)
    assert [d.name for d in inputs] == ["raw/visits", "raw/calls"]
    assert [d.name for d in outputs] == ["accepted/visits", "accepted/calls"]
    assert _json(inputs[0])["inputFacets"]["dataQualityMetrics"]["rowCount"] == 10
    assert {d.namespace for d in inputs + outputs} == {"bantay://bantay"}


def test_materialize_lineage_skips_label_feeds():
    labels = FeedSettings.model_validate(
        {"name": "outcomes", "role": "labels", "columns": {"y": {"type": "int"}}}
    )
    inputs, outputs = lineage.materialize_lineage("p", [_feed("visits"), labels])
    assert [d.name for d in inputs] == ["accepted/visits"]
    assert [d.name for d in outputs] == ["feast/feature_view/visits"]


def test_scoring_reads_views_and_the_production_version_and_writes_predictions():
    inputs, outputs = lineage.scoring_lineage("p", "m", ["visits"], "v7", ("bkt", "pre/"))
    assert [d.name for d in inputs] == [
        "feast/feature_view/visits",
        "s3://bkt/pre/models/m/versions/v7",
    ]
    assert [d.name for d in outputs] == ["predictions/m"]


def test_version_facet_links_the_version_to_its_training_set_and_gate_verdict():
    gate = {"verdict": "approved", "failed": []}
    inputs, outputs = lineage.version_lineage("p", "m", "v2", ("bkt", "pre"), gate)
    assert [d.name for d in inputs] == ["training_set/m"]
    assert outputs[1].name == "registry/model_versions"
    facet = _json(outputs[0])["facets"]["bantayModelVersion"]
    assert facet["trainingSet"] == "training_set/m" and facet["gateVerdict"] == "approved"
    assert facet["_schemaURL"] == lineage.FACET_SCHEMA and facet["version"] == "v2"


def test_service_views_reads_the_feature_service_projections():
    class _Projection:
        def __init__(self, name):
            self.name = name

    class _Service:
        feature_view_projections = [_Projection("a"), _Projection("b")]

    class _Feast:
        """Stands in for a Feast FeatureStore: only get_feature_service is read."""

        def get_feature_service(self, name):
            assert name == "svc_v1"
            return _Service()

    assert lineage.service_views(_Feast(), "svc_v1") == ["a", "b"]


def test_gate_of_reads_the_evaluation_verdict_and_bounds_reasons():
    assert lineage.gate_of({"passed": True, "reasons": []}) == {"verdict": "passed", "failed": []}
    gate = lineage.gate_of({"passed": False, "reasons": ["auc fell " + "x" * 500]})
    assert gate["verdict"] == "rejected" and len(gate["failed"][0]) == 200


def test_evaluation_writes_the_registry_record_with_the_gate_verdict():
    inputs, outputs = lineage.evaluation_lineage(
        "p", "m", "v3", {"verdict": "rejected", "failed": ["auc"]}
    )
    assert [d.name for d in inputs] == ["training_set/m"]
    facet = _json(outputs[0])["facets"]["bantayModelVersion"]
    assert outputs[0].name == "registry/model_versions"
    assert facet["gateVerdict"] == "rejected" and facet["failedChecks"] == ["auc"]


def test_drift_reads_predictions_and_the_version_and_writes_the_report_folder():
    inputs, outputs = lineage.drift_lineage("p", "m", "v1", ("bkt", "pre"))
    assert [d.name for d in inputs] == ["predictions/m", "s3://bkt/pre/models/m/versions/v1"]
    assert [d.name for d in outputs] == ["s3://bkt/pre/reports/drift/m", "registry/drift_reports"]
    no_version, _ = lineage.drift_lineage("p", "m", None, ("bkt", "pre"))
    assert [d.name for d in no_version] == ["predictions/m"]


def test_refused_partitions_go_to_quarantine_with_their_failed_rules():
    bad = Violation(rule="nulls", column="x", found="9%", expected="2%")
    inputs, outputs = lineage.contract_lineage(
        "p", [_feed("visits")], [_Result("visits", 9, [bad])], refused=True
    )
    assert [d.name for d in outputs] == ["quarantine/visits"]
    checks = _json(inputs[0])["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(c["assertion"], c["success"]) for c in checks] == [
        ("nulls", False),
        ("data_contract", False),
    ]
