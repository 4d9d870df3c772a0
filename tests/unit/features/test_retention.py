"""Retention over a temporary lake and a real (SQLite) registry: the dry run lists exactly what
the real run deletes, both follow each kind's period, and an accepted day a production, approved
or rollback-target version needs is never deleted."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from bantay.features.retention import enforce, plan_reports, protected_days, report_lines
from bantay.layout import Layout, partition_path
from bantay.settings.core import Settings
from bantay.settings.retention import RetentionConfig
from bantay.stores.registry import Registry

TODAY = dt.date(2027, 6, 1)
MODEL = "learner_risk"


def _ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


def _lineage(first: dt.date, last: dt.date) -> dict:
    return {
        "data_window": [f"{first} 00:00:00+00:00", f"{last} 23:00:00+00:00"],
        "as_of": f"{last + dt.timedelta(days=2)}T00:00:00+00:00",
        "reference": {"first": str(last - dt.timedelta(days=13)), "last": str(last)},
    }


def _settings(tmp_path, **periods) -> Settings:
    return Settings(home=tmp_path / "home", data_dir=tmp_path / "data", retention=periods)


def _lake(layout: Layout, ages: range) -> None:
    for age in ages:
        for root, name in (
            (layout.raw, "learning_activity"),
            (layout.accepted, "learning_activity"),
            (layout.accepted, "term_outcomes"),
            (layout.quarantine, "family_contact"),
            (layout.predictions, MODEL),
        ):
            path = partition_path(root, name, _ago(age))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"PAR1")


def _day_folders(layout: Layout, root) -> set[str]:
    return {p.parent.name for p in root.rglob("part-0.parquet")}


def test_nothing_is_deleted_without_a_period(tmp_path, registry):
    settings = _settings(tmp_path)
    _lake(settings.layout, range(0, 900, 100))
    summary = enforce(settings, TODAY, dry_run=False, registry=registry)
    assert summary["deleted"] == [] and "nothing is deleted" in report_lines(summary)[0]
    assert len(list(settings.layout.raw.rglob("part-0.parquet"))) == 9


def test_dry_run_lists_exactly_what_the_real_run_deletes(tmp_path, registry):
    settings = _settings(tmp_path, raw=30, quarantine=10, predictions=100)
    layout = settings.layout
    _lake(layout, range(0, 200, 5))
    before = sorted(str(p) for p in layout.data.rglob("*"))
    dry = enforce(settings, TODAY, dry_run=True, registry=registry)
    assert sorted(str(p) for p in layout.data.rglob("*")) == before  # a dry run deletes nothing
    done = enforce(settings, TODAY, dry_run=False, registry=registry)
    assert done["deleted"] == dry["deleted"] and done["deleted"]
    ages = {
        k: sorted(e["age_days"] for e in done["deleted"] if e["kind"] == k)
        for k in ("raw", "quarantine", "predictions", "accepted")
    }
    assert ages["raw"] == list(range(35, 200, 5))
    assert ages["quarantine"] == list(range(15, 200, 5))
    assert ages["predictions"] == list(range(105, 200, 5))
    assert ages["accepted"] == []  # no period: kept
    assert _day_folders(layout, layout.raw) == {f"date={_ago(a)}" for a in range(0, 31, 5)}
    assert _day_folders(layout, layout.accepted) == {f"date={_ago(a)}" for a in range(0, 200, 5)}
    again = enforce(settings, TODAY, dry_run=False, registry=registry)
    assert again["deleted"] == []  # re-running deletes nothing more
    line = report_lines(dry)[0]
    assert line.startswith("would delete ") and "(age " in line


def test_accepted_days_a_kept_version_needs_are_never_deleted(tmp_path, registry):
    settings = _settings(tmp_path, accepted=70, lookback_days=7)
    layout = settings.layout
    _lake(layout, range(0, 400))
    # production fitted on days 300..245 ago; approved on 200..150; an archived version that the
    # newest promotion replaced (the rollback target) on 380..360; a rejected one on 120..100.
    for version, (first, last), status in (
        ("v-old", (380, 360), "approved"),
        ("v-prod", (300, 245), "approved"),
        ("v-appr", (200, 150), "approved"),
        ("v-rej", (120, 100), "rejected"),
    ):
        registry.versions.upsert(
            MODEL,
            version,
            status=status,
            lineage=_lineage(_ago(first), _ago(last)),
            rejection_reason="worse" if status == "rejected" else None,
        )
    registry.versions.set_status(MODEL, "v-old", "production")
    registry.versions.set_status(MODEL, "v-prod", "production")
    registry.promotions.record(
        MODEL, "v-prod", from_version="v-old", actor="t", reason="r", kind="promote"
    )
    protected = protected_days(registry, [MODEL], 7)
    done = enforce(settings, TODAY, dry_run=False, registry=registry)
    deleted = {dt.date.fromisoformat(e["path"].rsplit("=", 1)[1]) for e in done["deleted"]}
    kept = {dt.date.fromisoformat(e["path"].rsplit("=", 1)[1]) for e in done["kept"]}
    assert deleted and not deleted & set(protected)
    assert kept == {d for d in protected if (TODAY - d).days > 70 and (TODAY - d).days < 400}
    for version, (first, last) in (
        ("v-old", (380, 360)),
        ("v-prod", (300, 245)),
        ("v-appr", (200, 150)),
    ):
        for age in range(first + 7, last - 3, -1):  # lookback .. as_of (2 days after)
            for feed in ("learning_activity", "term_outcomes"):
                assert partition_path(layout.accepted, feed, _ago(age)).is_file(), (version, age)
    # The rejected version keeps nothing: its days are gone (beyond the lookback of others).
    assert not partition_path(layout.accepted, "term_outcomes", _ago(110)).exists()
    assert all(_ago(a) in deleted for a in (71, 100, 130, 400 - 1))
    needed = {n for e in done["kept"] for n in e["needed_by"]}
    assert needed == {f"{MODEL} v-old", f"{MODEL} v-prod", f"{MODEL} v-appr"}
    assert any("needed by learner_risk v-prod" in line for line in report_lines(done))


def test_a_kept_version_without_a_window_keeps_every_accepted_day(tmp_path, registry):
    settings = _settings(tmp_path, accepted=70, raw=70)
    _lake(settings.layout, range(60, 120, 10))
    registry.versions.upsert(MODEL, "v1", status="approved")
    done = enforce(settings, TODAY, dry_run=False, registry=registry)
    assert {e["kind"] for e in done["deleted"]} == {"raw"}
    assert (
        len(done["kept"]) == 2 * 4
        and "without a recorded window" in done["kept"][0]["needed_by"][0]
    )


def test_the_outbox_by_the_time_each_message_was_written(tmp_path, registry):
    settings = _settings(tmp_path, outbox=30)
    box = settings.layout.outbox(MODEL)
    box.mkdir(parents=True)
    for name, age in (("old.eml", 31), ("new.eml", 30)):
        (box / name).write_text("Subject: x\n")
        stamp = dt.datetime.combine(_ago(age), dt.time(12), dt.UTC).timestamp()
        os.utime(box / name, (stamp, stamp))
    done = enforce(settings, TODAY, dry_run=False, registry=registry)
    assert [(e["kind"], e["path"], e["age_days"]) for e in done["deleted"]] == [
        ("outbox", str(box / "old.eml"), 31)
    ]
    assert not (box / "old.eml").exists() and (box / "new.eml").exists()


class FakeObjects:
    """The S3 objects a retention plan lists and deletes."""

    bucket, prefix = "b", "p"

    def __init__(self, keys):
        self.keys = set(keys)

    def keys_under(self, prefix):
        return sorted(k for k in self.keys if k.startswith(prefix))

    def uri(self, key):
        return f"s3://{self.bucket}/{key}"

    def delete(self, key):
        self.keys.discard(key)


def test_reports_and_drift_samples_in_s3_by_their_day(tmp_path, registry):
    keys = {
        f"p/reports/drift/{MODEL}/{_ago(age)}/{name}"
        for age in (5, 40, 100)
        for name in ("report.html", "report.json", "check.json")
    } | {f"p/models/{MODEL}/versions/v1/reference.parquet"}
    objects = FakeObjects(keys)
    settings = _settings(tmp_path, reports=30, drift_samples=60)
    done = enforce(settings, TODAY, dry_run=False, registry=registry, objects=objects)
    gone = keys - objects.keys
    assert gone == {
        f"p/reports/drift/{MODEL}/{_ago(a)}/{n}"
        for a, n in (
            (40, "report.html"),
            (40, "report.json"),
            (100, "report.html"),
            (100, "report.json"),
            (100, "check.json"),
        )
    }
    assert {e["path"] for e in done["deleted"]} == {f"s3://b/{k}" for k in gone}
    assert plan_reports(objects, RetentionConfig(), TODAY) == []


def test_a_period_shorter_than_what_runs_read_is_refused(tmp_path):
    with pytest.raises(ValueError, match="retention.accepted is 30 days.*at least 70"):
        _settings(tmp_path, accepted=30)
    with pytest.raises(ValueError, match="retention.raw"):
        _settings(tmp_path, raw=0)
