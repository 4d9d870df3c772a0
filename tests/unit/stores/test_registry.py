"""Unit tests of bantay.stores.registry (on an embedded SQLite file) and bantay.stores.connections."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import sqlalchemy as sa

from bantay.stores.connections import connection_to_sqlalchemy_url, redact_url, registry_url
from bantay.stores.registry import (
    ALEMBIC_VERSION_TABLE,
    InvalidTransition,
    Registry,
    RegistryError,
    VersionNotFound,
    new_version_id,
)
from bantay.vocabulary import ModelStatus

WHEN = dt.datetime(2026, 11, 22, 3, 15, tzinfo=dt.UTC)


@pytest.fixture
def registry(tmp_path) -> Registry:
    reg = Registry(f"sqlite:///{tmp_path / 'nested' / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


# -- version ids ----------------------------------------------------------------------------


def test_version_ids_sort_by_time_and_are_reproducible_with_a_salt():
    earlier = new_version_id("learner_risk", WHEN, salt="run-1")
    later = new_version_id("learner_risk", WHEN + dt.timedelta(seconds=1), salt="run-0")
    assert earlier.startswith("v20261122T031500-")
    assert earlier < later
    assert new_version_id("learner_risk", WHEN, salt="run-1") == earlier
    assert new_version_id("learner_risk", WHEN, salt="run-2") != earlier


def test_version_ids_without_salt_differ_and_use_utc():
    manila = dt.timezone(dt.timedelta(hours=8))
    a = new_version_id("m", WHEN.astimezone(manila))
    b = new_version_id("m", WHEN)
    assert a[:16] == b[:16] == "v20261122T031500"
    assert a != b


def test_version_id_refuses_naive_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        new_version_id("m", dt.datetime(2026, 11, 22))


# -- migrations -----------------------------------------------------------------------------


def test_upgrade_is_repeatable_and_uses_own_version_table(registry):
    registry.upgrade()
    registry.upgrade()
    assert registry.current_revision() == "0009"
    tables = set(sa.inspect(registry.engine).get_table_names())
    expected = {"model_versions", "promotions", "drift_reports", "baselines"}
    assert {*expected, ALEMBIC_VERSION_TABLE} <= tables
    assert "alembic_version" not in tables


def test_concurrent_upgrades_on_a_fresh_sqlite_file_all_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    registries = [Registry(url) for _ in range(4)]
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
    assert registries[0].current_revision() == "0009"
    for reg in registries:
        reg.dispose()


@pytest.mark.promise("registry", "an unreachable database with a password in its URL")
def test_unreachable_database_is_a_clear_error_without_the_password(tmp_path):
    reg = Registry("postgresql+psycopg2://bantay:hunter2-secret@127.0.0.1:1/registry")
    with pytest.raises(RegistryError) as info:
        reg.upgrade()
    message = str(info.value)
    assert "cannot migrate the registry database" in message
    assert "127.0.0.1:1" in message
    assert "hunter2-secret" not in message
    assert "hunter2-secret" not in repr(reg)


# -- versions -------------------------------------------------------------------------------


def test_upsert_by_run_id_rewrites_its_own_record_never_duplicates(registry):
    first = registry.versions.upsert(
        "m",
        "v1",
        airflow_run_id="scheduled__2026-11-22",
        metrics={"roc_auc": 0.7},
        reason="schedule",
    )
    again = registry.versions.upsert(
        "m", "v2", airflow_run_id="scheduled__2026-11-22", metrics={"roc_auc": 0.8}
    )
    assert again.id == first.id
    assert again.version == "v2"
    assert again.metrics == {"roc_auc": 0.8}
    assert again.reason == "schedule"  # None keeps the stored value
    assert [v.version for v in registry.versions.of("m")] == ["v2"]
    assert registry.versions.get("m", "v1") is None


def test_upsert_without_run_id_is_keyed_on_version(registry):
    registry.versions.upsert("m", "v1", params={"C": 1.0})
    registry.versions.upsert("m", "v1", params={"C": 0.1}, gate=[{"check": "auc", "passed": True}])
    (record,) = registry.versions.of("m")
    assert record.params == {"C": 0.1}
    assert record.gate == [{"check": "auc", "passed": True}]
    assert record.status is ModelStatus.CANDIDATE


def test_upsert_refuses_a_version_owned_by_another_run(registry):
    registry.versions.upsert("m", "v1", airflow_run_id="run-a")
    with pytest.raises(RegistryError, match="already registered by run 'run-a'"):
        registry.versions.upsert("m", "v1", airflow_run_id="run-b")


def test_upsert_leaves_an_approved_record_alone_and_refuses_to_replace_its_version(registry):
    registry.versions.upsert("m", "v1", airflow_run_id="run-a", metrics={"auc": 0.9})
    registry.versions.set_status("m", "v1", "approved")
    kept = registry.versions.upsert("m", "v1", airflow_run_id="run-a", metrics={"auc": 0.1})
    assert kept.status is ModelStatus.APPROVED
    assert kept.metrics == {"auc": 0.9}
    with pytest.raises(RegistryError, match="cannot be replaced by v2"):
        registry.versions.upsert("m", "v2", airflow_run_id="run-a")


def test_rerun_after_rejection_starts_again_as_candidate(registry):
    registry.versions.upsert("m", "v1", airflow_run_id="run-a")
    registry.versions.set_status("m", "v1", "rejected", reason="roc_auc 0.61 < 0.70")
    assert registry.versions.get("m", "v1").rejection_reason == "roc_auc 0.61 < 0.70"
    again = registry.versions.upsert("m", "v2", airflow_run_id="run-a")
    assert again.status is ModelStatus.CANDIDATE
    assert again.rejection_reason is None


def test_new_records_cannot_start_in_production(registry):
    with pytest.raises(RegistryError, match="production is reached by promotion"):
        registry.versions.upsert("m", "v1", status="production")


@pytest.mark.promise("registry", "every status change the lifecycle forbids")
def test_status_transitions_follow_the_lifecycle(registry):
    registry.versions.upsert("m", "v1")
    with pytest.raises(InvalidTransition, match="from 'candidate' to 'production'"):
        registry.versions.set_status("m", "v1", ModelStatus.PRODUCTION)
    registry.versions.set_status("m", "v1", "approved")
    registry.versions.set_status("m", "v1", "approved")  # same status again: no-op, no error
    registry.versions.set_status("m", "v1", "production")
    with pytest.raises(InvalidTransition, match=r"allowed from 'production': \['archived'\]"):
        registry.versions.set_status("m", "v1", "approved")
    registry.versions.set_status("m", "v1", "archived")
    assert registry.versions.set_status("m", "v1", "production").status is ModelStatus.PRODUCTION


def test_rejected_is_final_and_needs_a_reason(registry):
    registry.versions.upsert("m", "v1")
    with pytest.raises(RegistryError, match="needs a reason"):
        registry.versions.set_status("m", "v1", "rejected")
    registry.versions.set_status("m", "v1", "rejected", reason="fairness gap")
    with pytest.raises(InvalidTransition, match="none \\(final\\)"):
        registry.versions.set_status("m", "v1", "approved")


def test_unknown_status_and_unknown_version_are_clear_errors(registry):
    registry.versions.upsert("m", "v1")
    with pytest.raises(ValueError, match="unknown model status 'live'"):
        registry.versions.set_status("m", "v1", "live")
    with pytest.raises(VersionNotFound, match=r"no version 'v9' of model 'm'.*\['v1'\]"):
        registry.versions.set_status("m", "v9", "approved")


def test_production_is_unique_per_model(registry):
    for v in ("v1", "v2"):
        registry.versions.upsert("m", v, status="approved")
    registry.versions.upsert("other", "v1", status="approved")
    registry.versions.set_status("m", "v1", "production")
    registry.versions.set_status("other", "v1", "production")
    registry.versions.set_status("m", "v2", "production")
    assert registry.versions.production("m").version == "v2"
    assert registry.versions.get("m", "v1").status is ModelStatus.ARCHIVED
    assert registry.versions.production("other").version == "v1"
    # Rolling back to the archived (older, lower id) version also keeps exactly one.
    registry.versions.set_status("m", "v1", "production")
    assert registry.versions.production("m").version == "v1"
    assert registry.versions.get("m", "v2").status is ModelStatus.ARCHIVED


def test_timestamps_are_timezone_aware_utc(registry):
    record = registry.versions.upsert("m", "v1")
    assert record.created_at.tzinfo is not None
    assert record.created_at.utcoffset() == dt.timedelta(0)


# -- promotions -----------------------------------------------------------------------------


def test_promotions_are_appended_in_order_and_cannot_be_changed(registry):
    registry.promotions.record("m", "v1", actor="bantay_training", reason="first")
    registry.promotions.record(
        "m", "v2", from_version="v1", actor="ana", reason="better", kind="promote"
    )
    registry.promotions.record(
        "m", "v1", from_version="v2", actor="ana", reason="bad", kind="rollback"
    )
    log = registry.promotions.of("m")
    assert [(p.from_version, p.to_version, p.kind) for p in log] == [
        (None, "v1", "promote"),
        ("v1", "v2", "promote"),
        ("v2", "v1", "rollback"),
    ]
    assert not any(hasattr(registry, name) for name in ("delete_promotion", "update_promotion"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), registry.engine.begin() as c:
        c.execute(sa.text("UPDATE promotions SET actor = 'mallory'"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), registry.engine.begin() as c:
        c.execute(sa.text("DELETE FROM promotions"))
    assert [p.actor for p in registry.promotions.of("m")] == ["bantay_training", "ana", "ana"]


@pytest.mark.promise("registry", "audit rows written out of time order")
def test_promotions_read_in_time_order_when_rows_arrive_out_of_order(registry):
    """A repaired audit row (written after a later swap) still reads in the order of the swaps;
    equal times keep the order they were written in."""
    registry.promotions.record("m", "v2", from_version="v1", actor="a", reason="second", at=WHEN)
    registry.promotions.record(
        "m", "v1", actor="a", reason="first", at=WHEN - dt.timedelta(hours=1)
    )
    registry.promotions.record("m", "v3", from_version="v2", actor="a", reason="same time", at=WHEN)
    log = registry.promotions.of("m")
    assert [p.to_version for p in log] == ["v1", "v2", "v3"]
    assert [p.at for p in log] == sorted(p.at for p in log)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"actor": "", "reason": "x"}, "needs an actor"),
        ({"actor": "ana", "reason": " "}, "needs a reason"),
        ({"actor": "ana", "reason": "x", "kind": "demote"}, "kind 'demote'"),
    ],
)
def test_promotion_entries_need_actor_reason_and_known_kind(registry, kwargs, message):
    with pytest.raises(ValueError, match=message):
        registry.promotions.record("m", "v1", **kwargs)


# -- drift reports --------------------------------------------------------------------------


def _drift(registry: Registry, day: int, decision: str = "no_action", **kw):
    values = {
        "verdict": "OK",
        "drifted_share": 0.0,
        "n_drifted": 0,
        "n_features": 12,
        "decision": decision,
    }
    values.update(kw)
    return registry.drift.upsert("m", dt.date(2026, 11, day), **values)


def test_drift_report_upsert_per_day(registry):
    first = _drift(registry, 20, airflow_run_id="r1")
    again = _drift(
        registry,
        20,
        decision="retrain_triggered",
        verdict="DRIFT",
        drifted_share=0.5,
        n_drifted=6,
        feature_scores={"attendance_rate": 0.31},
        report_html_uri="s3://b/p/reports/drift/m/2026-11-20/report.html",
        airflow_run_id="r2",
    )
    assert again.id == first.id
    assert again.created_at == first.created_at
    assert again.updated_at >= first.updated_at
    (stored,) = registry.drift.reports("m")
    assert stored.verdict == "DRIFT"
    assert stored.feature_scores == {"attendance_rate": 0.31}
    assert stored.airflow_run_id == "r2"


def test_drift_reports_since_and_retrains_triggered(registry):
    _drift(
        registry, 10, decision="retrain_triggered", verdict="DRIFT", drifted_share=0.4, n_drifted=5
    )
    _drift(
        registry,
        15,
        decision="guard_held:cooldown",
        verdict="DRIFT",
        drifted_share=0.4,
        n_drifted=5,
    )
    _drift(
        registry, 18, decision="retrain_triggered", verdict="DRIFT", drifted_share=0.5, n_drifted=6
    )
    _drift(registry, 19, decision="data_quality_alert", verdict="DATA QUALITY")
    assert [
        r.report_date.day for r in registry.drift.reports("m", since=dt.date(2026, 11, 15))
    ] == [
        15,
        18,
        19,
    ]
    retrains = registry.drift.retrains_since("m", dt.date(2026, 11, 11))
    assert [r.report_date for r in retrains] == [dt.date(2026, 11, 18)]
    assert len(registry.drift.retrains_since("m", dt.date(2026, 11, 1))) == 2
    assert registry.drift.retrains_since("other", dt.date(2026, 11, 1)) == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"verdict": "MAYBE"}, "verdict 'MAYBE'"),
        ({"drifted_share": 1.5}, "between 0 and 1"),
        ({"n_drifted": 13}, "n_drifted=13"),
        ({"decision": ""}, "needs a decision"),
    ],
)
def test_drift_report_validation(registry, kw, message):
    with pytest.raises(ValueError, match=message):
        _drift(registry, 1, **kw)


# -- connections ----------------------------------------------------------------------------


def test_redact_url_hides_password_and_secret_query_values():
    url = "postgresql+psycopg2://bantay:s3cr3t-pw@db.internal:5432/registry?sslmode=require&password=x9"
    redacted = redact_url(url)
    assert "s3cr3t-pw" not in redacted and "x9" not in redacted
    assert redacted.startswith("postgresql+psycopg2://bantay:***@db.internal:5432/registry?")
    assert "sslmode=require" in redacted
    assert (
        redact_url("sqlite:////var/lib/bantay/registry.db")
        == "sqlite:////var/lib/bantay/registry.db"
    )


def test_registry_url_precedence(monkeypatch, tmp_path):
    from bantay.settings import load_settings

    monkeypatch.setenv("BANTAY_HOME", str(tmp_path))
    monkeypatch.delenv("BANTAY_REGISTRY_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_BANTAY_REGISTRY", raising=False)
    assert registry_url(load_settings()) == f"sqlite:///{tmp_path / 'registry.db'}"

    monkeypatch.setenv(
        "AIRFLOW_CONN_BANTAY_REGISTRY",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db",
                "login": "bantay",
                "password": "p@ss/word",
                "schema": "registry",
                "port": 5432,
                "extra": {"sslmode": "require"},
            }
        ),
    )
    url = registry_url(load_settings())
    assert sa.engine.make_url(url).password == "p@ss/word"
    assert url.startswith("postgresql+psycopg2://bantay:")
    assert "__extra__" not in url

    monkeypatch.setenv("BANTAY_REGISTRY_URL", "postgres://u@envhost/reg")
    assert registry_url(load_settings()) == "postgresql+psycopg2://u@envhost/reg"


def test_connection_extra_sqlalchemy_url_wins():
    from airflow.sdk.definitions.connection import Connection

    conn = Connection(
        conn_id="x",
        conn_type="postgres",
        host="ignored",
        extra=json.dumps({"sqlalchemy_url": "postgresql://u@h/db?sslmode=verify-full"}),
    )
    assert connection_to_sqlalchemy_url(conn) == "postgresql+psycopg2://u@h/db?sslmode=verify-full"


def test_what_a_run_wrote_is_found_by_its_run_id(registry):
    registry.versions.upsert("m", "v1", airflow_run_id="train-1")
    registry.versions.upsert("other", "v2", airflow_run_id="train-1")
    registry.versions.upsert("m", "v3", airflow_run_id="train-2")
    assert [(v.model, v.version) for v in registry.versions.of_run("train-1")] == [
        ("m", "v1"),
        ("other", "v2"),
    ]
    assert registry.versions.of_run("never-ran") == []
    _drift(registry, 20, airflow_run_id="drift-20")
    _drift(registry, 21, airflow_run_id="drift-21")
    (row,) = registry.drift.of_run("drift-21")
    assert (row.model, row.report_date) == ("m", dt.date(2026, 11, 21))


def test_a_rebaseline_is_recorded_once_and_never_rewritten(registry):
    def record(version: str, reason: str):
        return registry.baselines.record(
            "m",
            version,
            reference_uri=f"s3://b/p/models/m/versions/{version}/baselines/x.parquet",
            sha256="ab" * 32,
            first_day=dt.date(2026, 11, 1),
            last_day=dt.date(2026, 11, 14),
            rows=2000,
            actor="a person",
            reason=reason,
        )

    assert registry.baselines.current("m", "v1") is None
    record("v1", "new term")
    newest = record("v1", "new term, second look")
    record("v2", "other version")
    assert registry.baselines.current("m", "v1") == newest
    assert [b.version for b in registry.baselines.of("m")] == ["v1", "v1", "v2"]
    with pytest.raises(ValueError, match="reason"):
        record("v1", " ")
    with registry.engine.begin() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text("DELETE FROM baselines"))
