"""The data contract against hostile and careless deliveries.

Each case breaks the day under test in one way and asserts: rejected (or accepted, where that is
right), the message names the rule and the column, the evidence is kept in its own attempt
folder with ``reason.json``, and ZERO rows of the bad delivery reach the accepted tree (the only
data Feast materializes and training reads).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bantay import simulate as sim
from bantay.features.contract import ContractViolation, enforce
from bantay.layout import accepted_root, partition_dir, partition_path
from bantay.settings import ContractSettings
from bantay.simulate.catalogue import LABEL_SOURCE, SOURCE_FEATURES
from bantay.simulate.world import population

DAY = dt.date(2026, 9, 10)
HISTORY = 7
SCENARIO = sim.Scenario(learners=300, seed=13)
CFG = ContractSettings()
SOURCES = tuple(SOURCE_FEATURES)
ACT = "learning_activity"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Seven accepted days of history, then the raw delivery of DAY (good until a test breaks it)."""
    data = tmp_path_factory.mktemp("lake")
    raw = data / "raw"
    first = DAY - dt.timedelta(days=HISTORY)
    sim.write_range(raw, first, HISTORY + 1, SCENARIO)
    history = [first + dt.timedelta(days=i) for i in range(HISTORY)]
    enforce(raw, data / "quarantine", SOURCES, history, CFG, labels=(LABEL_SOURCE,))
    return data


@pytest.fixture
def lake(template, tmp_path) -> Path:
    data = tmp_path / "lake"
    shutil.copytree(template, data, symlinks=True)
    return data


def folder(lake: Path, source: str = ACT, day: dt.date = DAY) -> Path:
    return partition_dir(lake / "raw", source, day)


# What the data contract promises for every hostile delivery (docs/RELIABILITY.md).
REFUSED = (
    "Refused, naming the rule and the column; the evidence kept with reason.json; no row of it "
    "reaches the accepted tree."
)


def good(source: str = ACT, day: dt.date = DAY) -> pd.DataFrame:
    return sim.partition(source, day, SCENARIO)


def write(lake: Path, frame: pd.DataFrame, source: str = ACT, name: str = "part-0.parquet"):
    path = folder(lake, source) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    sim.write_table(frame, path)
    return path


def run(lake: Path, *, as_of: dt.date | None = None, days=(DAY,)):
    return enforce(
        lake / "raw",
        lake / "quarantine",
        SOURCES,
        list(days),
        CFG,
        run_id="hostile",
        labels=(LABEL_SOURCE,),
        as_of=as_of,
    )


def leaked(lake: Path, source: str = ACT, day: dt.date = DAY) -> int:
    """Rows of ``source`` on ``day`` in the accepted tree (what Feast and training can read)."""
    path = partition_path(accepted_root(lake), source, day)
    return pq.ParquetFile(path).metadata.num_rows if path.is_file() else 0


def rejected(lake: Path, rule: str, column: str | None, source: str = ACT, attempt: int = 1):
    """Run the contract, expect a rejection naming ``rule`` and ``column``; return the message."""
    with pytest.raises(ContractViolation) as err:
        run(lake)
    message = str(err.value)
    assert f"[{rule}]" in message, message
    if column:
        assert f"column {column!r}" in message, message
    assert f"{source} {DAY}" in message
    assert "Traceback" not in message and len(message) < 4000
    evidence = partition_dir(lake / "quarantine", source, DAY) / f"attempt-{attempt}"
    reason = json.loads((evidence / "reason.json").read_text())
    assert reason["passed"] is False and reason["run_id"] == "hostile"
    assert any(v["rule"] == rule for v in reason["violations"])
    assert leaked(lake, source) == 0
    assert not folder(lake, source).exists()  # moved out of the raw tree whole
    return message, evidence


def test_good_day_is_accepted_whole(lake):
    results = run(lake)
    assert all(r.passed for r in results)
    for source in SOURCES:
        assert leaked(lake, source) == len(good(source))


# -- values ---------------------------------------------------------------------------------


@pytest.mark.promise("data contract", "a float column that is all NaN", says=REFUSED)
def test_all_nan_float_column_counts_as_null(lake):
    write(lake, good().assign(attendance_rate=np.nan))
    message, _ = rejected(lake, "nulls", "attendance_rate")
    assert "100.0% nulls or NaN" in message


def test_some_nan_above_tolerance(lake):
    frame = good()
    frame.loc[frame.index[: len(frame) // 10], "quiz_score_avg"] = np.nan
    write(lake, frame)
    rejected(lake, "nulls", "quiz_score_avg")


@pytest.mark.promise("data contract", "infinite values", says=REFUSED)
def test_infinite_values(lake):
    frame = good()
    frame.loc[frame.index[:3], "study_minutes"] = np.inf
    write(lake, frame)
    message, _ = rejected(lake, "range", "study_minutes")
    assert "3 values outside" in message


def test_negative_values(lake):
    frame = good()
    frame.loc[frame.index[:4], "attendance_rate"] = -0.5
    write(lake, frame)
    rejected(lake, "range", "attendance_rate")


def test_frozen_column(lake):
    write(lake, good().assign(quiz_score_avg=71.5))
    message, _ = rejected(lake, "frozen", "quiz_score_avg")
    assert "one value in all" in message


@pytest.mark.promise("data contract", "two different rows for one learner and day", says=REFUSED)
def test_conflicting_rows_for_one_learner_in_a_day(lake):
    frame = good()
    twin = frame.head(5).copy()
    twin["event_timestamp"] += pd.Timedelta(minutes=1)
    twin["quiz_score_avg"] = 100 - twin["quiz_score_avg"]
    write(lake, pd.concat([frame, twin], ignore_index=True))
    message, _ = rejected(lake, "conflicts", "quiz_score_avg")
    assert "5 learners appear more than once" in message


def test_exact_duplicate_rows(lake):
    frame = good()
    write(lake, pd.concat([frame, frame.head(7)], ignore_index=True))
    message, _ = rejected(lake, "duplicates", None)
    assert "7 duplicate keys" in message


@pytest.mark.promise("data contract", "a feed whose learner ids were re-keyed", says=REFUSED)
def test_rekeyed_feed_fails_against_the_days_profile(lake):
    write(lake, good().assign(learner_id=good()["learner_id"] + 7_000_000))
    message, _ = rejected(lake, "ids", "learner_id")
    assert "not in the day's profile" in message


def test_rekeyed_profile_fails_against_yesterdays(lake):
    profile = good("learner_profile")
    write(lake, profile.assign(learner_id=profile["learner_id"] * 31), "learner_profile")
    rejected(lake, "ids", "learner_id", source="learner_profile")


def test_id_format(lake):
    frame = good()
    frame.loc[frame.index[:2], "learner_id"] = -1
    write(lake, frame)
    message, _ = rejected(lake, "ids", "learner_id")
    assert "2 ids not in 1..2^53" in message


def test_null_ids(lake):
    frame = good()
    frame["learner_id"] = frame["learner_id"].astype("Int64")
    frame.loc[frame.index[:1], "learner_id"] = pd.NA
    write(lake, frame)
    rejected(lake, "nulls", "learner_id")


def test_timestamps_in_another_day(lake):
    frame = good()
    frame.loc[frame.index[:10], "event_timestamp"] -= pd.Timedelta(days=3)
    write(lake, frame)
    rejected(lake, "timestamps", "event_timestamp")


@pytest.mark.promise("data contract", "timestamps without a timezone", says=REFUSED)
def test_timezone_naive_timestamps(lake):
    frame = good()
    frame["event_timestamp"] = frame["event_timestamp"].dt.tz_localize(None)
    write(lake, frame)
    message, _ = rejected(lake, "schema", "event_timestamp")
    assert "naive timestamps" in message


def test_other_timezone_is_the_same_instant_and_accepted(lake):
    frame = good()
    write(lake, frame.assign(event_timestamp=frame["event_timestamp"].dt.tz_convert("Asia/Manila")))
    run(lake)
    stored = pq.read_table(partition_path(accepted_root(lake), ACT, DAY)).to_pandas()
    assert str(stored["event_timestamp"].dt.tz) == "UTC"
    assert stored["event_timestamp"].tolist() == frame["event_timestamp"].tolist()


@pytest.mark.promise("data contract", "huge strings and learner data in bad values", says=REFUSED)
def test_huge_and_private_strings_are_never_echoed(lake):
    profile = good("learner_profile").copy()
    profile["region"] = profile["region"].astype(object)
    secret = "maria.santos@example.org " * 40_000  # ~1 MB
    profile.loc[profile.index[:3], "region"] = secret
    profile.loc[profile.index[3:6], "region"] = "juan.dela.cruz@example.org"
    write(lake, profile.assign(region=profile["region"].astype("string")), "learner_profile")
    message, evidence = rejected(lake, "range", "region", source="learner_profile")
    reason = (evidence / "reason.json").read_text()
    for text in (message, reason):
        assert "@example.org" not in text and "santos" not in text
    assert "6 values in 2 unknown categories" in message
    assert len(reason) < 5000


# -- shape and files ------------------------------------------------------------------------


def test_extra_column(lake):
    write(lake, good().assign(full_name="x"))
    message, _ = rejected(lake, "schema", None)
    assert "1 unexpected columns ['full_name']" in message


def test_thousand_long_extra_columns_keep_the_message_bounded(lake):
    frame = good()
    wide = pd.DataFrame({f"{'c' * 200}{i}": 0.0 for i in range(1000)}, index=frame.index)
    write(lake, pd.concat([frame, wide], axis=1))
    message, _ = rejected(lake, "schema", None)
    assert "1000 unexpected columns" in message and len(message) < 2000


def test_renamed_column(lake):
    write(lake, good().rename(columns={"study_minutes": "study_mins"}))
    message, _ = rejected(lake, "schema", None)
    assert "missing columns ['study_minutes']" in message and "study_mins" in message


@pytest.mark.promise("data contract", "a column of the wrong type", says=REFUSED)
def test_wrong_dtype(lake):
    write(lake, good().assign(quiz_score_avg=good()["quiz_score_avg"].astype(str)))
    message, _ = rejected(lake, "schema", "quiz_score_avg")
    assert "type string; expected type float64" in message


def test_nested_column_type(lake):
    table = pa.Table.from_pandas(good(), preserve_index=False)
    i = table.column_names.index("study_minutes")
    table = table.set_column(
        i,
        "study_minutes",
        pa.array([{"v": 1.0}] * table.num_rows, pa.struct([("v", pa.float64())])),
    )
    path = folder(lake) / "part-0.parquet"
    pq.write_table(table, path)
    rejected(lake, "schema", "study_minutes")


def test_narrower_integer_ids_are_accepted_as_int64(lake):
    table = pa.Table.from_pandas(good(), preserve_index=False)
    table = table.set_column(0, "learner_id", table["learner_id"].cast(pa.int32()))
    pq.write_table(table, folder(lake) / "part-0.parquet", coerce_timestamps="us")
    run(lake)
    stored = pq.read_schema(partition_path(accepted_root(lake), ACT, DAY))
    assert stored.field("learner_id").type == pa.int64()
    assert leaked(lake) == table.num_rows


def test_empty_file_with_the_right_schema(lake):
    write(lake, good().head(0))
    message, _ = rejected(lake, "row_count", None)
    assert "0 rows" in message


@pytest.mark.promise("data contract", "a zero-byte file", says=REFUSED)
def test_zero_byte_file(lake):
    (folder(lake) / "part-0.parquet").write_bytes(b"")
    rejected(lake, "readable", None)


@pytest.mark.promise("data contract", "a CSV file named .parquet", says=REFUSED)
def test_csv_named_parquet(lake):
    good().to_csv(folder(lake) / "part-0.parquet", index=False)
    rejected(lake, "readable", None)


@pytest.mark.promise("data contract", "a truncated parquet file", says=REFUSED)
def test_truncated_parquet(lake):
    path = folder(lake) / "part-0.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    rejected(lake, "readable", None)


def test_permission_denied(lake, monkeypatch):
    real = pq.read_table

    def denied(path, *args, **kwargs):
        if str(path).endswith(f"{ACT}/date={DAY}/part-0.parquet"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", denied)
    message, _ = rejected(lake, "readable", None)
    assert "permission denied" in message


def test_non_parquet_file_beside_the_partition(lake):
    (folder(lake) / "notes.csv").write_text("learner_id\n1\n")
    message, evidence = rejected(lake, "files", None)
    assert "non-parquet file" in message
    assert (evidence / "notes.csv").is_file() and (evidence / "part-0.parquet").is_file()


def test_directory_where_a_file_should_be(lake):
    (folder(lake) / "part-0.parquet").unlink()
    (folder(lake) / "part-0.parquet").mkdir()
    rejected(lake, "files", None)


@pytest.mark.promise("data contract", "a symlink pointing out of the lake", says=REFUSED)
def test_symlink_out_of_the_tree(lake, tmp_path):
    outside = tmp_path / "outside.parquet"
    sim.write_table(good(), outside)
    (folder(lake) / "part-0.parquet").unlink()
    (folder(lake) / "part-0.parquet").symlink_to(outside)
    message, evidence = rejected(lake, "files", None)
    assert "symlink" in message
    assert outside.is_file()  # the target is never touched
    assert (evidence / "part-0.parquet").is_symlink()


def test_partition_folder_is_a_symlink(lake, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(folder(lake), elsewhere)
    folder(lake).symlink_to(elsewhere, target_is_directory=True)
    rejected(lake, "files", None)
    assert (elsewhere / "part-0.parquet").is_file()  # moved the link, not the target's files


@pytest.mark.promise("data contract", "a second file with bad rows in the same day", says=REFUSED)
def test_second_file_with_bad_rows_rejects_the_whole_folder(lake):
    extra = good().head(20).assign(study_minutes=9_999.0)
    extra["learner_id"] = extra["learner_id"]  # same learners, other values
    write(lake, extra, name="part-1.parquet")
    rejected(lake, "range", "study_minutes")


def test_second_good_file_is_validated_and_accepted_with_the_first(lake):
    frame = good()
    write(lake, frame.iloc[: len(frame) // 2])
    write(lake, frame.iloc[len(frame) // 2 :], name="part-1.parquet")
    run(lake)
    assert leaked(lake) == len(frame)


def test_folder_without_part_0_is_still_read(lake):
    frame = good()
    (folder(lake) / "part-0.parquet").unlink()
    write(lake, frame.assign(study_minutes=frame["study_minutes"] * 60), name="delivery.parquet")
    message, evidence = rejected(lake, "range", "study_minutes")
    assert (evidence / "delivery.parquet").is_file()


def test_files_with_different_schemas(lake):
    write(lake, good().drop(columns=["late_submissions"]), name="part-1.parquet")
    rejected(lake, "schema", None)


@pytest.mark.promise(
    "data contract", "no delivery at all", says="Said as missing, never as a bad delivery."
)
def test_missing_partition_is_said_as_missing(lake):
    shutil.rmtree(folder(lake))
    with pytest.raises(ContractViolation) as err:
        run(lake)
    message = str(err.value)
    assert f"{ACT} {DAY}: missing" in message and "[missing]" in message
    assert "readable" not in message
    assert leaked(lake) == 0


def test_empty_partition_folder_is_missing(lake):
    shutil.rmtree(folder(lake))
    folder(lake).mkdir()
    with pytest.raises(ContractViolation, match=r"\[missing\]: found empty folder"):
        run(lake)


def test_partition_dated_far_in_the_future(lake):
    far = DAY + dt.timedelta(days=400)
    sim.write_day(lake / "raw", far, SCENARIO, sources=(ACT,))
    with pytest.raises(ContractViolation) as err:
        enforce(lake / "raw", lake / "quarantine", (ACT,), [far], CFG, as_of=DAY)
    assert "[future]" in str(err.value) and "400 days after the run's date" in str(err.value)
    assert leaked(lake, ACT, far) == 0
    assert (partition_dir(lake / "quarantine", ACT, far) / "attempt-1" / "reason.json").is_file()


# -- labels ---------------------------------------------------------------------------------


def labels(n: int = 200) -> pd.DataFrame:
    pop = population(SCENARIO)
    observed = pd.Timestamp(DAY - dt.timedelta(days=14), tz="UTC") + pd.Timedelta(hours=23)
    return pd.DataFrame(
        {
            "learner_id": pop.learner_id[:n],
            "event_timestamp": observed,
            "at_risk": np.arange(n) % 2,
            "disengaged": (np.arange(n) // 2) % 2,
            "created_timestamp": pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=6),
        }
    ).astype({"event_timestamp": "datetime64[us, UTC]", "created_timestamp": "datetime64[us, UTC]"})


def test_good_labels_are_accepted(lake):
    write(lake, labels(), LABEL_SOURCE)
    run(lake)
    assert leaked(lake, LABEL_SOURCE) == 200


def test_a_small_cohort_with_no_positive_label_is_accepted(lake):
    """Not frozen: a rare outcome is legitimately all 0 in 150 learners."""
    write(lake, labels(150).assign(at_risk=0), LABEL_SOURCE)
    run(lake)
    assert leaked(lake, LABEL_SOURCE) == 150


def test_label_out_of_range(lake):
    frame = labels()
    frame.loc[frame.index[:3], "at_risk"] = 7
    write(lake, frame, LABEL_SOURCE)
    message, _ = rejected(lake, "range", "at_risk", source=LABEL_SOURCE)
    assert "within [0, 1]" in message


def test_null_labels(lake):
    frame = labels().astype({"at_risk": "Int64"})
    frame.loc[frame.index[:3], "at_risk"] = pd.NA
    write(lake, frame, LABEL_SOURCE)
    rejected(lake, "nulls", "at_risk", source=LABEL_SOURCE)


def test_labels_from_the_future(lake):
    write(
        lake,
        labels().assign(event_timestamp=labels()["event_timestamp"] + pd.Timedelta(days=30)),
        LABEL_SOURCE,
    )
    rejected(lake, "timestamps", "event_timestamp", source=LABEL_SOURCE)


def test_conflicting_labels(lake):
    frame = labels()
    twin = frame.head(4).assign(at_risk=1 - frame.head(4)["at_risk"])
    twin["event_timestamp"] += pd.Timedelta(seconds=30)
    write(lake, pd.concat([frame, twin], ignore_index=True), LABEL_SOURCE)
    rejected(lake, "conflicts", "at_risk", source=LABEL_SOURCE)


def test_rekeyed_labels(lake):
    write(lake, labels().assign(learner_id=labels()["learner_id"] + 9_000_000), LABEL_SOURCE)
    rejected(lake, "ids", "learner_id", source=LABEL_SOURCE)


# -- evidence and the accepted tree ---------------------------------------------------------


def test_every_attempt_keeps_its_own_evidence(lake):
    write(lake, good().assign(attendance_rate=np.nan))
    rejected(lake, "nulls", "attendance_rate")
    write(lake, good().assign(quiz_score_avg=71.5))
    _, second = rejected(lake, "frozen", "quiz_score_avg", attempt=2)
    first = second.parent / "attempt-1"
    assert json.loads((first / "reason.json").read_text())["violations"][0]["rule"] == "nulls"
    assert pq.read_table(first / "part-0.parquet")["attendance_rate"].null_count > 0


def test_a_rejected_redelivery_withdraws_the_accepted_day(lake):
    run(lake)
    assert leaked(lake) > 0
    write(lake, good().assign(study_minutes=good()["study_minutes"] * 60))
    rejected(lake, "range", "study_minutes")
    assert leaked(lake) == 0


def test_late_rows_of_the_next_day_are_invisible_until_it_is_accepted(lake):
    nxt = DAY + dt.timedelta(days=1)
    sim.write_day(lake / "raw", nxt, SCENARIO)
    poisoned = sim.partition(ACT, nxt, SCENARIO).assign(attendance_rate=np.nan)
    sim.write_table(poisoned, partition_path(lake / "raw", ACT, nxt))
    run(lake)  # day D only
    assert leaked(lake, ACT, nxt) == 0
    with pytest.raises(ContractViolation, match=r"\[nulls\] column 'attendance_rate'"):
        run(lake, days=(nxt,))
    assert leaked(lake, ACT, nxt) == 0


def test_the_accepted_file_is_what_was_checked_not_what_is_in_raw_later(lake):
    run(lake)
    write(lake, good().assign(study_minutes=599.0))  # swapped after validation, not re-run
    stored = pq.read_table(partition_path(accepted_root(lake), ACT, DAY))
    assert stored["study_minutes"].to_pylist() == good()["study_minutes"].tolist()


def test_raw_tree_cannot_be_read_around_the_contract():
    """The Feast sources are declared over the accepted tree only."""
    repo = Path(__file__).resolve().parents[3] / "feature_repo" / "learner_features.py"
    text = repo.read_text()
    assert '"accepted")' in text and '"raw")' not in text
    assert os.path.basename(str(accepted_root(Path("/d")))) == "accepted"


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line",
    [
        ("storage:\n  bucket: ok\n   prefix: [unclosed\n", 3),
        ("features:\n\tschedule: daily\n", 2),
        ("models: [{name: learner_risk}\n", 2),
    ],
)
def test_malformed_yaml_is_one_message_naming_file_and_line(tmp_path, monkeypatch, text, line):
    from bantay.cli import main
    from bantay.settings import ConfigError, load_settings

    path = tmp_path / "bantay.yaml"
    path.write_text(text)
    monkeypatch.setenv("BANTAY_CONFIG", str(path))
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith(f"{path}, line {line}") and "fix the YAML syntax" in message
    assert main(["config", "check"]) == 2


def test_rejected_labels_never_reach_performance_monitoring(lake, monkeypatch):
    from bantay.monitoring.window import matured_labels
    from bantay.settings import load_settings

    frame = labels()
    frame.loc[frame.index[:3], "at_risk"] = 7
    write(lake, frame, LABEL_SOURCE)
    rejected(lake, "range", "at_risk", source=LABEL_SOURCE)
    sim.write_table(frame, folder(lake, LABEL_SOURCE) / "part-0.parquet")  # re-delivered, unchecked
    monkeypatch.setenv("BANTAY_DATA_DIR", str(lake))
    settings = load_settings()
    seen = matured_labels(settings.layout, settings.model("learner_risk"), DAY)
    assert not (seen["at_risk"] == 7).any()
    assert not (seen.get("_matured") == pd.Timestamp(DAY)).any()
