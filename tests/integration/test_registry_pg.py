"""The registry on a real PostgreSQL database: migrations, upserts, lifecycle, audit, drift."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from bantay.stores.registry import ALEMBIC_VERSION_TABLE, InvalidTransition, Registry, RegistryError
from bantay.vocabulary import ModelStatus
from support.services import pg_url  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(pg_url):  # noqa: F811
    reg = Registry(pg_url)
    reg.upgrade()
    yield reg
    reg.dispose()


@pytest.mark.promise(
    "registry", "several processes migrating one empty PostgreSQL database at once"
)
def test_concurrent_upgrades_of_an_empty_database_converge_on_head(pg_url):  # noqa: F811
    registries = [Registry(pg_url) for _ in range(3)]
    barrier = threading.Barrier(len(registries))
    errors: list[BaseException] = []

    def start(reg: Registry) -> None:
        barrier.wait()
        try:
            reg.upgrade()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(r,)) for r in registries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    reg = registries[0]
    reg.upgrade()  # and once more, later
    assert reg.current_revision() == "0009"
    inspector = sa.inspect(reg.engine)
    assert {"model_versions", "promotions", "drift_reports", ALEMBIC_VERSION_TABLE} <= set(
        inspector.get_table_names()
    )
    column_types = {
        c["name"]: type(c["type"]).__name__ for c in inspector.get_columns("model_versions")
    }
    assert column_types["metrics"] == "JSONB"
    with reg.engine.connect() as conn:
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {ALEMBIC_VERSION_TABLE}")) == 1
    for r in registries:
        r.dispose()


def test_upsert_is_idempotent_per_run_and_json_round_trips(registry):
    lineage = {"window": ["2026-09-27", "2026-11-22"], "feature_service": "learner_risk_v1"}
    first = registry.versions.upsert(
        "learner_risk",
        "v20261122T031500-aaaa0001",
        airflow_run_id="scheduled__2026-11-22T03:15:00+00:00",
        metrics={"roc_auc": 0.81, "by_region": {"north": 0.8}},
        params={"C": 1.0},
        gate=[{"name": "min_roc_auc", "passed": True, "value": 0.81}],
        lineage=lineage,
        reason="schedule",
    )
    for _ in range(2):  # the same DAG run, re-run twice with a retrained model
        again = registry.versions.upsert(
            "learner_risk",
            "v20261122T031500-aaaa0002",
            airflow_run_id="scheduled__2026-11-22T03:15:00+00:00",
            metrics={"roc_auc": 0.82},
        )
    assert again.id == first.id
    records = registry.versions.of("learner_risk")
    assert len(records) == 1
    assert records[0].version == "v20261122T031500-aaaa0002"
    assert records[0].metrics == {"roc_auc": 0.82}
    assert records[0].lineage == lineage
    assert records[0].gate == [{"name": "min_roc_auc", "passed": True, "value": 0.81}]
    assert records[0].created_at.tzinfo is not None


@pytest.mark.promise("registry", "two runs writing the same version id")
def test_runs_cannot_steal_each_others_versions(registry):
    registry.versions.upsert("m", "v1", airflow_run_id="run-a")
    with pytest.raises(RegistryError, match="already registered by run 'run-a'"):
        registry.versions.upsert("m", "v1", airflow_run_id="run-b")
    registry.versions.upsert("m", "v2", airflow_run_id="run-b")
    registry.versions.upsert("m", "v3")  # registered by hand, no run
    with pytest.raises(RegistryError, match="belongs to another record"):
        registry.versions.upsert("m", "v3", airflow_run_id="run-b")
    assert sorted(v.version for v in registry.versions.of("m")) == ["v1", "v2", "v3"]


def test_lifecycle_and_single_production_on_postgres(registry):
    for v in ("v1", "v2"):
        registry.versions.upsert("m", v)
        registry.versions.set_status("m", v, "approved")
    with pytest.raises(InvalidTransition, match="from 'approved' to 'candidate'"):
        registry.versions.set_status("m", "v1", "candidate")
    registry.versions.set_status("m", "v1", "production")
    registry.versions.set_status("m", "v2", "production")
    assert registry.versions.production("m").version == "v2"
    assert registry.versions.get("m", "v1").status is ModelStatus.ARCHIVED
    registry.versions.set_status("m", "v1", "production")  # rollback: archived -> production
    statuses = {v.version: v.status for v in registry.versions.of("m")}
    assert statuses == {"v1": ModelStatus.PRODUCTION, "v2": ModelStatus.ARCHIVED}
    # The database itself refuses a second production row, whatever the code does.
    with pytest.raises(sa.exc.IntegrityError), registry.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE model_versions SET status = 'production' WHERE version = 'v2'")
        )


@pytest.mark.promise("registry", "UPDATE and DELETE on PostgreSQL's audit table")
def test_promotions_audit_log_is_append_only_in_the_database(registry):
    registry.promotions.record("m", "v1", actor="bantay_training", reason="gate passed")
    registry.promotions.record("m", "v2", from_version="v1", actor="ana", reason="manual")
    for statement in (
        "UPDATE promotions SET reason = 'rewritten'",
        "DELETE FROM promotions",
        "TRUNCATE promotions",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), registry.engine.begin() as c:
            c.execute(sa.text(statement))
    log = registry.promotions.of("m")
    assert [(p.to_version, p.reason) for p in log] == [("v1", "gate passed"), ("v2", "manual")]
    assert log[0].at <= log[1].at


def test_drift_report_upsert_on_postgres(registry):
    day = dt.date(2026, 11, 22)
    base = {"n_features": 12, "report_json_uri": "s3://b/p/reports/drift/m/2026-11-22/report.json"}
    first = registry.drift.upsert(
        "m", day, verdict="OK", drifted_share=0.0, n_drifted=0, decision="no_action", **base
    )
    second = registry.drift.upsert(
        "m",
        day,
        verdict="DRIFT",
        drifted_share=0.42,
        n_drifted=5,
        feature_scores={"attendance_rate": {"score": 0.3, "drifted": True}},
        decision="guard_held:persistence",
        decision_detail="drift seen 1 of 2 required days",
        **base,
    )
    assert second.id == first.id
    (stored,) = registry.drift.reports("m", since=day)
    assert stored.decision == "guard_held:persistence"
    assert stored.feature_scores["attendance_rate"]["drifted"] is True
    registry.drift.upsert(
        "m",
        day + dt.timedelta(days=1),
        verdict="DRIFT",
        drifted_share=0.5,
        n_drifted=6,
        decision="retrain_triggered",
        **base,
    )
    assert [r.report_date for r in registry.drift.retrains_since("m", day)] == [
        day + dt.timedelta(days=1)
    ]
    with pytest.raises(sa.exc.IntegrityError), registry.engine.begin() as conn:
        conn.execute(sa.text("UPDATE drift_reports SET verdict = 'MAYBE'"))


def test_downgrade_to_base_removes_everything(registry):
    from alembic import command

    from bantay.stores.registry import alembic_config

    with registry.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    tables = set(sa.inspect(registry.engine).get_table_names())
    assert not {"model_versions", "promotions", "drift_reports"} & tables
    registry.upgrade()
    assert registry.current_revision() == "0009"
