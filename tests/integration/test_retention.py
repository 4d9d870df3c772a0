"""Retention against the real stores: a PostgreSQL registry says which versions are kept (the
production version, an approved one, the rollback target), an S3 endpoint on loopback holds the
drift reports and evidence samples. ``bantay retention --dry-run`` lists exactly what the real
run deletes; nothing a kept version needs is deleted; the versions' own files are untouched."""

from __future__ import annotations

import datetime as dt

import pytest

from bantay.features.retention import enforce
from bantay.layout import partition_path
from bantay.settings.core import Settings
from bantay.stores.model_store import ModelStore
from bantay.stores.registry import Registry
from support.services import moto_s3, pg_url, s3_bucket, s3_hook_over  # noqa: F401

pytestmark = pytest.mark.integration

TODAY = dt.date(2027, 6, 1)
MODEL, PREFIX = "learner_risk", "bantay/test"
FEEDS = ("learning_activity", "family_contact", "learner_profile", "term_outcomes")


def _ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def _lineage(first: int, last: int) -> dict:
    return {
        "data_window": [f"{_ago(first)} 00:00:00+00:00", f"{_ago(last)} 23:00:00+00:00"],
        "as_of": f"{_ago(last - 14)}T00:00:00+00:00",
        "reference": {"first": str(_ago(last + 13)), "last": str(_ago(last))},
    }


@pytest.fixture
def registry(pg_url):  # noqa: F811
    reg = Registry(pg_url)
    reg.upgrade()
    for version, (first, last), status in (
        ("v-rollback", (500, 445), "approved"),
        ("v-prod", (300, 245), "approved"),
        ("v-approved", (200, 145), "approved"),
        ("v-archived", (700, 645), "approved"),
    ):
        reg.versions.upsert(MODEL, version, status=status, lineage=_lineage(first, last))
    for version in ("v-archived", "v-rollback", "v-prod"):
        reg.versions.set_status(MODEL, version, "production")
    for before, after in (("v-archived", "v-rollback"), ("v-rollback", "v-prod")):
        reg.promotions.record(
            MODEL, after, from_version=before, actor="t", reason="r", kind="promote"
        )
    yield reg
    reg.dispose()


def test_retention_deletes_what_policy_says_and_never_what_a_kept_version_needs(
    tmp_path,
    registry,
    s3_bucket,  # noqa: F811
):
    client, bucket = s3_bucket
    store = ModelStore(s3_hook_over(client), bucket, PREFIX)
    settings = Settings(
        home=tmp_path / "home",
        data_dir=tmp_path / "data",
        retention={
            "raw": 90,
            "accepted": 90,
            "predictions": 90,
            "reports": 60,
            "drift_samples": 120,
            "lookback_days": 14,
        },
    )
    layout = settings.layout
    for age in range(0, 760, 3):
        for feed in FEEDS:
            for root in (layout.raw, layout.accepted):
                path = partition_path(root, feed, _ago(age))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"PAR1")
        if age % 30 == 0:
            for name in ("report.html", "report.json", "check.json"):
                store.reports.put(MODEL, str(_ago(age)), name, b"{}", "application/json")
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/models/{MODEL}/versions/v-prod/x", Body=b"1")
    dry = enforce(settings, TODAY, dry_run=True, registry=registry, objects=store.objects)
    done = enforce(settings, TODAY, dry_run=False, registry=registry, objects=store.objects)
    assert done["deleted"] == dry["deleted"] and done["kept"] == dry["kept"]

    def present(age: int, feed: str) -> bool:
        return partition_path(layout.accepted, feed, _ago(age)).is_file()

    kept_spans = {
        "v-rollback": (514, 445 - 14),
        "v-prod": (314, 245 - 14),
        "v-approved": (214, 145 - 14),
    }
    for version, (oldest, newest) in kept_spans.items():
        for age in range(newest, oldest + 1):
            if age % 3 == 0:
                assert all(present(age, f) for f in FEEDS), (version, age)
    # The archived version that is no rollback target keeps nothing; nor do days between.
    assert not any(present(a, f) for a in (690, 660, 600, 390, 99) for f in FEEDS)
    assert all(present(a, f) for a in (0, 90) for f in FEEDS)
    assert not any(partition_path(layout.raw, f, _ago(93)).exists() for f in FEEDS)
    assert {e["kind"] for e in done["deleted"]} == {"raw", "accepted", "reports", "drift_samples"}
    needers = {n for e in done["kept"] for n in e["needed_by"]}
    assert needers == {f"{MODEL} v-rollback", f"{MODEL} v-prod", f"{MODEL} v-approved"}

    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    left = {(k.rsplit("/", 2)[1], k.rsplit("/", 1)[1]) for k in keys if "/reports/" in k}
    assert left == {
        (str(_ago(a)), n)
        for a in range(0, 760, 30)
        for n in ("report.html", "report.json", "check.json")
        if (a <= 60 if n != "check.json" else a <= 120)
    }
    assert f"{PREFIX}/models/{MODEL}/versions/v-prod/x" in keys
    assert (
        enforce(settings, TODAY, dry_run=False, registry=registry, objects=store.objects)["deleted"]
        == []
    )
