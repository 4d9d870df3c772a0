"""The training window check: which days hold a training run, which are decided, and what the
sensor says and does; the rule as a pure function, the lake read from bantay.layout's trees."""

from __future__ import annotations

import datetime as dt
import enum
import json

import pytest

from bantay.features.readiness import (
    DayStatus,
    FeaturesRun,
    SourceDays,
    check_training_window,
    check_window,
    plan_days,
    scan,
)
from bantay.layout import (
    REASON_FILE,
    accepted_root,
    new_attempt_dir,
    partition_dir,
    partition_path,
    quarantine_root,
    raw_root,
)
from bantay.settings import ModelSettings, Settings

FIRST = dt.date(2026, 11, 1)
WINDOW = [FIRST + dt.timedelta(days=i) for i in range(7)]  # 2026-11-01 .. 2026-11-07
LAST = WINDOW[-1]
FEATURES = ("learning_activity", "learner_profile")
LABELS = ("term_outcomes",)
# Well after the window: every day's own features run has stopped waiting.
LATER = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
TIMEOUT = dt.timedelta(hours=6)


def _days(*days: dt.date) -> frozenset[dt.date]:
    return frozenset(days)


def _all(extra: int = 0) -> frozenset[dt.date]:
    """Every window day, and ``extra`` days after it."""
    return frozenset(WINDOW + [LAST + dt.timedelta(days=i) for i in range(1, extra + 1)])


def _lake(**overrides: SourceDays) -> dict[str, SourceDays]:
    lake = {s: SourceDays(accepted=_all(extra=2)) for s in (*FEATURES, *LABELS)}
    return lake | overrides


def _check(lake, *, runs=(), now=LATER, lateness=1):
    return check_window(
        lake,
        WINDOW,
        FEATURES,
        labels=LABELS,
        runs=runs,
        now=now,
        lateness_days=lateness,
        sensor_timeout=TIMEOUT,
    )


def test_a_complete_window_is_ready():
    check = _check(_lake())
    assert check.ready
    assert check.waiting == {} and check.quarantined == {} and check.absent == {}
    assert check.summary() == (
        "training window 2026-11-01 .. 2026-11-07 complete: every day of every source accepted"
    )
    assert set(check.days) == {*FEATURES, *LABELS}
    assert all(len(states) == 7 for states in check.days.values())


def test_a_missing_day_holds_the_run_and_is_named():
    gap = dt.date(2026, 11, 7)
    lake = _lake(learning_activity=SourceDays(accepted=_all() - {gap}))
    check = _check(lake)
    assert not check.ready
    assert check.waiting == {"learning_activity": [gap]}
    assert check.lines() == [
        "waiting for 1 day of learning_activity: 2026-11-07 (nothing delivered yet)"
    ]


def test_a_quarantined_day_is_decided_and_listed():
    bad = dt.date(2026, 11, 3)
    lake = _lake(
        family_contact=SourceDays(),  # not one of this model's sources: never looked at
        learning_activity=SourceDays(accepted=_all(2) - {bad}, quarantined=_days(bad)),
    )
    check = _check(lake)
    assert check.ready
    assert check.quarantined == {"learning_activity": [bad]}
    assert "family_contact" not in check.days
    assert check.summary() == (
        "training window 2026-11-01 .. 2026-11-07 decided; training goes on without 1 day of "
        "learning_activity (quarantined): 2026-11-03"
    )


def test_a_quarantined_day_delivered_again_waits_for_its_new_verdict():
    bad = dt.date(2026, 11, 3)
    lake = _lake(
        learning_activity=SourceDays(
            accepted=_all(2) - {bad}, quarantined=_days(bad), delivered=_days(bad)
        )
    )
    check = _check(lake)
    assert check.waiting == {"learning_activity": [bad]}
    assert check.days["learning_activity"][bad].status is DayStatus.DELIVERED


def test_days_in_a_running_features_run_hold_the_run_and_name_it():
    """A backfill of 2026-11-03 .. 2026-11-04 rewriting accepted days; with a day of allowed
    lateness it may also rewrite 2026-11-02."""
    run = FeaturesRun(
        "manual__2026-11-21T10:00:00+00:00",
        "running",
        _days(dt.date(2026, 11, 3), dt.date(2026, 11, 4)),
    )
    check = _check(_lake(), runs=[run])
    held = [dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)]
    assert check.waiting == {s: held for s in (*FEATURES, *LABELS)}
    assert check.runs == [run.run_id]
    assert check.lines()[0] == (
        "waiting for 3 days of learning_activity: 2026-11-02, 2026-11-03, 2026-11-04 "
        "(bantay_features run manual__2026-11-21T10:00:00+00:00 running)"
    )


def test_a_features_run_outside_the_window_holds_nothing():
    run = FeaturesRun("scheduled__x", "running", _days(LAST + dt.timedelta(days=3)))
    assert _check(_lake(), runs=[run]).ready


def test_a_run_that_has_not_planned_yet_holds_the_whole_window():
    run = FeaturesRun("manual__queued", "queued", None)
    check = _check(_lake(), runs=[run])
    assert check.waiting["learner_profile"] == WINDOW
    assert check.lines()[0] == (
        "waiting for 7 days of learning_activity: 2026-11-01 .. 2026-11-07 "
        "(bantay_features run manual__queued queued, its days not planned yet)"
    )


def test_a_day_being_written_waits_even_when_an_older_version_is_accepted():
    day = dt.date(2026, 11, 5)
    lake = _lake(learner_profile=SourceDays(accepted=_all(2), writing=_days(day)))
    check = _check(lake)
    assert check.waiting == {"learner_profile": [day]}
    assert "the data contract is writing them" in check.lines()[0]


def test_a_delivered_day_without_a_verdict_never_closes_on_its_own():
    """The backfill that raced training: raw partitions of old days not validated yet, newer days
    accepted long ago. They are data on their way in, not a gap."""
    backlog = _days(dt.date(2026, 11, 2), dt.date(2026, 11, 3))
    lake = _lake(learning_activity=SourceDays(accepted=_all(2) - backlog, delivered=backlog))
    check = _check(lake, now=LATER + dt.timedelta(days=300))
    assert check.waiting == {"learning_activity": sorted(backlog)}
    assert "delivered to raw/, no data-contract verdict yet" in check.lines()[0]


def test_a_never_delivered_day_closes_when_a_later_day_is_decided_and_the_wait_is_over():
    gap = dt.date(2026, 11, 4)
    lake = _lake(learning_activity=SourceDays(accepted=_all(2) - {gap}))
    check = _check(lake)
    assert check.ready and check.absent == {"learning_activity": [gap]}
    assert "without 1 day of learning_activity (absent): 2026-11-04" in check.summary()
    # Its own features run may still be waiting for it (6 h after the day ended).
    early = dt.datetime(2026, 11, 5, 5, tzinfo=dt.UTC)
    assert _check(lake, now=early).waiting == {"learning_activity": [gap]}
    # With 6 days of allowed lateness the run of 2026-11-10, not there yet, may still pick it
    # up; with 5, the run of 2026-11-09 was the last one to look.
    assert _check(lake, lateness=6).waiting == {"learning_activity": [gap]}
    assert _check(lake, lateness=5).ready


def test_the_newest_day_is_not_closed_before_a_later_day_is_decided():
    gap = LAST
    lake = _lake(learning_activity=SourceDays(accepted=_all() - {gap}))
    assert _check(lake).waiting == {"learning_activity": [gap]}


def test_a_quarantined_later_day_also_closes_an_earlier_gap():
    gap, bad = dt.date(2026, 11, 6), dt.date(2026, 11, 7)
    lake = _lake(learning_activity=SourceDays(accepted=_all() - {gap, bad}, quarantined=_days(bad)))
    check = _check(lake)
    assert check.ready
    assert check.absent == {"learning_activity": [gap]}
    assert check.quarantined == {"learning_activity": [bad]}


def test_label_days_close_on_the_feature_sources_days():
    """Outcomes are delivered only when they mature: a label day with no delivery is closed once
    the run that would have checked a late delivery has validated its feature sources."""
    labelled = _days(dt.date(2026, 11, 1))
    lake = _lake(term_outcomes=SourceDays(accepted=labelled))
    check = _check(lake)
    assert check.ready
    assert check.absent == {"term_outcomes": WINDOW[1:]}
    # Feature sources decided only up to the window's end: its last label day stays open.
    short = _lake(
        term_outcomes=SourceDays(accepted=labelled),
        learning_activity=SourceDays(accepted=_all()),
    )
    assert _check(short).waiting == {"term_outcomes": [LAST]}


def test_a_window_before_the_lake_began_counts_as_absent():
    """A deployment with less history than training_window_days trains on what there is."""
    start = dt.date(2026, 11, 4)
    days = frozenset(d for d in _all(2) if d >= start)
    lake = {s: SourceDays(accepted=days) for s in (*FEATURES, *LABELS)}
    check = _check(lake)
    assert check.ready
    assert check.absent["learning_activity"] == WINDOW[:3]


def test_the_timeout_message_names_the_model_the_days_and_what_to_do():
    backlog = _days(dt.date(2026, 11, 2))
    lake = _lake(learning_activity=SourceDays(accepted=_all(2) - backlog, delivered=backlog))
    run = FeaturesRun("manual__backfill", "running", _days(dt.date(2026, 11, 6)))
    message = _check(lake, runs=[run]).timeout_message(
        "learner_risk", "2026-11-08T00:00:00+00:00", dt.timedelta(hours=8)
    )
    assert message.startswith(
        "the training window of model 'learner_risk' (2026-11-01 .. 2026-11-07, as of "
        "2026-11-08T00:00:00+00:00) is still incomplete after 8.0 h, so nothing was fitted:"
    )
    assert "- waiting for 1 day of learning_activity: 2026-11-02 (delivered to raw/" in message
    assert "2026-11-05, 2026-11-06 (bantay_features run manual__backfill running)" in message
    assert "trigger bantay_features with start_date/end_date over those days" in message
    assert "let the bantay_features run(s) named above finish" in message
    assert "deliver the partitions" not in message  # nothing is merely missing
    assert "clear wait_for_window" in message


def test_the_result_is_plain_json_for_xcom():
    gap = dt.date(2026, 11, 4)
    lake = _lake(learning_activity=SourceDays(accepted=_all() - {gap, LAST}))
    data = json.loads(json.dumps(_check(lake).to_dict()))
    assert data["window"] == ["2026-11-01", "2026-11-07"]
    assert data["ready"] is False
    assert data["waiting"] == {"learning_activity": ["2026-11-07"]}
    assert data["absent"] == {"learning_activity": ["2026-11-04"]}
    assert data["why"] == [
        "waiting for 1 day of learning_activity: 2026-11-07 (nothing delivered yet)"
    ]


def test_bad_inputs_are_refused_with_what_to_pass():
    with pytest.raises(ValueError, match="empty training window"):
        check_window({}, [], FEATURES, now=LATER, lateness_days=1, sensor_timeout=TIMEOUT)
    with pytest.raises(ValueError, match="no time zone"):
        _check(_lake(), now=dt.datetime(2026, 11, 20))


def test_plan_days_reads_a_features_plan_or_says_it_is_unknown():
    assert plan_days(["2026-11-03", "2026-11-04"]) == _days(
        dt.date(2026, 11, 3), dt.date(2026, 11, 4)
    )
    assert plan_days(None) is None
    assert plan_days(["not a day"]) is None
    assert plan_days({"days": 1}) is None


# -- the lake on disk ----------------------------------------------------------------------


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_scan_reads_the_trees_bantay_layout_defines(tmp_path):
    from bantay.layout import staging_path

    acc, qua, raw = accepted_root(tmp_path), quarantine_root(tmp_path), raw_root(tmp_path)
    src = "learning_activity"
    for day in WINDOW[:4]:
        _touch(partition_path(acc, src, day))
    _touch(partition_path(acc, src, LAST + dt.timedelta(days=1)))  # after the window
    _touch(partition_path(acc, src, FIRST - dt.timedelta(days=1)))  # before: not needed
    attempt = new_attempt_dir(qua, src, WINDOW[4])
    (attempt / REASON_FILE).write_text("{}")
    new_attempt_dir(qua, src, WINDOW[5])  # an attempt still being written: no reason yet
    _touch(partition_dir(raw, src, WINDOW[5]) / "part-0.parquet")
    (partition_dir(raw, src, WINDOW[6])).mkdir(parents=True)  # an empty folder: not delivered
    _touch(staging_path(acc, src, WINDOW[2]))
    (acc / src / "date=not-a-day").mkdir()  # not a partition: ignored
    (acc / src / "date=2026-11-06").mkdir(exist_ok=True)  # a folder with no file: not accepted

    lake = scan(tmp_path, [src, "term_outcomes"], WINDOW)
    got = lake[src]
    assert got.accepted == frozenset([*WINDOW[:4], LAST + dt.timedelta(days=1)])
    assert got.quarantined == _days(WINDOW[4])
    assert got.delivered == _days(WINDOW[5])
    assert got.writing == _days(WINDOW[2])
    assert lake["term_outcomes"] == SourceDays()


def test_a_lake_the_contract_loaded_is_ready(tmp_path):
    """The real thing end to end: simulated raw days through the data contract, then the check."""
    from bantay import simulate as sim
    from bantay.features.contract import enforce_for, label_sources

    settings = Settings(data_dir=tmp_path)
    lake = {"layout": settings.layout, "features": settings.features}
    days = sim.write_range(settings.raw_dir, FIRST, 3, sim.Scenario(learners=300, seed=4))
    now = LATER
    sources = ["learning_activity", "family_contact", "learner_profile"]
    before = check_training_window(days, sources, ["term_outcomes"], now=now, **lake)
    assert before.waiting == {s: days for s in [*sources, "term_outcomes"]}
    assert {s.status for s in before.days["learner_profile"].values()} == {DayStatus.DELIVERED}
    enforce_for(days, labels=label_sources(settings.models), **lake)
    after = check_training_window(days, sources, ["term_outcomes"], now=now, **lake)
    assert after.ready, after.summary()


# -- the sensor in the training DAG ----------------------------------------------------------


class FakeTI:
    """The Task SDK calls the sensor makes, answered from plain dicts."""

    def __init__(self, runs=None, task_states=None, plans=None, first_poke=None):
        self.runs = runs or {}  # run_id -> dag run state
        self.task_states = task_states or {}
        self.plans = plans or {}
        self.first_poke = first_poke
        self.pushed = {}

    def get_dr_count(self, dag_id, states=None, **_):
        assert dag_id == "bantay_features"
        return sum(1 for s in self.runs.values() if s in states)

    def get_task_states(self, dag_id, task_ids=None, **_):
        return {
            r: {t: s for t, s in tasks.items() if t in task_ids}
            for r, tasks in self.task_states.items()
        }

    def get_dagrun_state(self, dag_id, run_id):
        # Like the Task SDK: an enum whose str() is its name, not its value.
        return enum.Enum("DagRunState", {"S": self.runs[run_id]}, type=str).S

    def xcom_pull(self, task_ids=None, dag_id=None, run_id=None, **_):
        assert (task_ids, dag_id) == ("plan", "bantay_features")
        return self.plans.get(run_id)

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def get_first_reschedule_date(self, context):
        return self.first_poke


def test_features_runs_in_progress_come_from_the_task_sdk():
    from bantay.airflow.training_runs import features_runs_in_progress

    ti = FakeTI(
        runs={"done": "success", "backfill": "running", "next": "queued", "stale": "failed"},
        task_states={
            "done": {"materialize": "success"},
            "backfill": {"materialize": None},
            "next": {"materialize": None},
            "stale": {"materialize": None},  # marked failed by hand, tasks left unset
        },
        plans={"backfill": ["2026-11-03", "2026-11-04"]},
    )
    runs = features_runs_in_progress(ti)
    assert runs == [
        FeaturesRun("backfill", "running", _days(dt.date(2026, 11, 3), dt.date(2026, 11, 4))),
        FeaturesRun("next", "queued", None),
    ]
    assert features_runs_in_progress(FakeTI(runs={"done": "success"})) == []


def test_window_timeout_follows_the_features_wait():
    from bantay.airflow.training_runs import window_timeout
    from bantay.settings import FeatureSettings

    settings = Settings(features=FeatureSettings(sensor_timeout_hours=3))
    assert window_timeout(settings) == dt.timedelta(hours=5)


@pytest.fixture
def sensor(tmp_path, monkeypatch):
    """The wait_for_window callable of a real training DAG, over a lake in ``tmp_path``."""
    import airflow.sdk

    import bantay.airflow.edge
    import bantay.settings
    from support.dag_files import dag_file

    settings = Settings(data_dir=tmp_path, models=[ModelSettings(name="learner_risk")])
    monkeypatch.setattr(bantay.settings, "get_settings", lambda: settings)
    # The task resolves its settings at the edge, as every training task does.
    monkeypatch.setattr(bantay.airflow.edge, "get_settings", lambda: settings)
    monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: {})
    dag = dag_file("bantay_training").training_dag(settings, settings.models[0])
    task = dag.get_task("wait_for_window")
    assert task.mode == "reschedule" and task.poke_interval == 60
    return settings, task.python_callable


def _window(days):
    return {
        "as_of": "2026-11-08T00:00:00+00:00",
        "first": days[0].isoformat(),
        "last": days[-1].isoformat(),
        "sources": ["learning_activity"],
        "labels": ["term_outcomes"],
    }


def test_the_sensor_waits_then_fails_naming_the_days(sensor):
    from airflow.sdk.exceptions import AirflowSensorTimeout

    settings, poke = sensor
    acc = accepted_root(settings.data_dir)
    for day in WINDOW[:-1]:
        for source in ("learning_activity", "term_outcomes"):
            _touch(partition_path(acc, source, day))
    ti = FakeTI()
    result = poke(window=_window(WINDOW), ti=ti)
    assert result.is_done is False
    assert ti.pushed["waiting"]["waiting"] == {
        "learning_activity": ["2026-11-07"],
        "term_outcomes": ["2026-11-07"],
    }
    ti.first_poke = dt.datetime.now(dt.UTC) - dt.timedelta(hours=9)
    with pytest.raises(AirflowSensorTimeout, match="2026-11-07 .nothing delivered yet.") as err:
        poke(window=_window(WINDOW), ti=ti)
    assert "model 'learner_risk'" in str(err.value)


def test_the_sensor_passes_a_decided_window_and_says_what_it_lacks(sensor):
    settings, poke = sensor
    acc, qua = accepted_root(settings.data_dir), quarantine_root(settings.data_dir)
    for day in WINDOW:
        for source in ("learning_activity", "term_outcomes"):
            _touch(partition_path(acc, source, day))
    bad = WINDOW[2]
    partition_path(acc, "learning_activity", bad).unlink()
    (new_attempt_dir(qua, "learning_activity", bad) / REASON_FILE).write_text("{}")
    result = poke(window=_window(WINDOW), ti=FakeTI())
    assert result.is_done is True
    assert result.xcom_value["quarantined"] == {"learning_activity": ["2026-11-03"]}


def test_model_sources_come_from_the_feature_service_and_must_be_validated():
    from types import SimpleNamespace

    from bantay.features.readiness import model_sources

    views = ["learner_profile", "learning_activity", "learning_activity"]
    service = SimpleNamespace(feature_view_projections=[SimpleNamespace(name=v) for v in views])
    services = {"learner_engagement_v1": service}
    # Fake at the boundary: Feast's registry, handed in as the training DAG hands in the store.
    fake = SimpleNamespace(get_feature_service=services.__getitem__)
    model = ModelSettings(name="learner_engagement", feature_service="learner_engagement_v1")
    validated = Settings().features.sources
    assert model_sources(model, feast=fake, validated=validated) == [
        "learner_profile",
        "learning_activity",
    ]
    with pytest.raises(ValueError, match=r"reads feature view\(s\) \['learning_activity'\]"):
        model_sources(model, feast=fake, validated=("learner_profile",))
