"""Every path bantay reads or writes, in one place: the data lake, the prediction log, the e-mail
outbox, the files of a training run and the embedded databases. :class:`Layout` is built from the
settings (``settings.layout``); nothing else joins path segments of its own.

The lake is Hive-partitioned by day so Feast's file sources, pyarrow datasets and people all read
the same tree::

    <data>/raw/<source>/date=YYYY-MM-DD/*.parquet           what upstream delivered (untrusted)
    <data>/accepted/<source>/date=YYYY-MM-DD/part-0.parquet exactly the rows the data contract
                                                             validated; the ONLY tree Feast and
                                                             training read
    <data>/quarantine/<source>/date=YYYY-MM-DD/attempt-N/   a rejected delivery + reason.json,
                                                             one folder per attempt, never reused
    <data>/predictions/<model>/date=YYYY-MM-DD/part-0.parquet
    <data>/outputs/<model>/date=YYYY-MM-DD/part-0.parquet    the batch output with pseudonyms
                                                             (a model's output_ids: pseudonym)
    <home>/runs/<model>/<run key>/                           intermediate files of one training run
    <home>/outbox/<model>/*.eml                              a copy of every e-mail, sent or not
    <home>/registry.db, feast_registry.db, online_store.db   the embedded (SQLite) databases
    <data>/erasure/tombstones.txt                            keyed hashes of erased learners, one
                                                             a line: the contract drops their rows
    <data>/erasure/requests/*.json                           erasure requests waiting for
                                                             bantay_erase (removed when done)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

PARTITION_FILE = "part-0.parquet"
PARTITION_GLOB = "date=*"
RAW, ACCEPTED, QUARANTINE = "raw", "accepted", "quarantine"
ATTEMPT_PREFIX = "attempt-"
REASON_FILE = "reason.json"


def raw_root(data_dir: Path) -> Path:
    """Where upstream feeds deliver; nothing reads it except the data contract."""
    return Path(data_dir) / RAW


def accepted_root(data_dir: Path) -> Path:
    """Validated partitions only: the Feast file sources and the label reader read this tree."""
    return Path(data_dir) / ACCEPTED


def quarantine_root(data_dir: Path) -> Path:
    return Path(data_dir) / QUARANTINE


def partition_dir(root: Path, name: str, day: dt.date) -> Path:
    """``<root>/<name>/date=<day>``: one day of one source (raw, quarantine) or model (predictions)."""
    return Path(root) / name / f"date={day.isoformat()}"


def partition_path(root: Path, name: str, day: dt.date) -> Path:
    """The file a writer puts in a day's folder."""
    return partition_dir(root, name, day) / PARTITION_FILE


def staging_path(root: Path, name: str, day: dt.date) -> Path:
    """Where the data contract writes a day before renaming it into place.

    While it exists the day is being (re)written: the training window check waits on it. A
    left-over one means a write was interrupted; the next contract run of the day replaces it.
    """
    return partition_path(root, name, day).with_name(f".{PARTITION_FILE}.tmp")


def partition_day(folder: Path) -> dt.date:
    """The day of a ``date=YYYY-MM-DD`` folder; ValueError naming the folder otherwise."""
    key, _, value = Path(folder).name.partition("=")
    if key != "date":
        raise ValueError(
            f"{folder} is not a day partition (expected a folder named date=YYYY-MM-DD)"
        )
    return dt.date.fromisoformat(value)


def attempt_dirs(quarantine_dir: Path, name: str, day: dt.date) -> list[Path]:
    """Earlier quarantine attempts of one partition, oldest first."""
    folder = partition_dir(quarantine_dir, name, day)
    found = [p for p in folder.glob(f"{ATTEMPT_PREFIX}*") if p.is_dir()]
    return sorted(found, key=lambda p: int(p.name.removeprefix(ATTEMPT_PREFIX) or 0))


def new_attempt_dir(quarantine_dir: Path, name: str, day: dt.date) -> Path:
    """A fresh ``attempt-N`` folder (created exclusively: evidence is never overwritten)."""
    folder = partition_dir(quarantine_dir, name, day)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(attempt_dirs(quarantine_dir, name, day)) + 1
    while True:
        path = folder / f"{ATTEMPT_PREFIX}{n}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


@dataclass(frozen=True)
class Layout:
    """The paths of one deployment: ``home`` (local state) and ``data`` (the lake)."""

    home: Path
    data: Path

    @property
    def raw(self) -> Path:
        return raw_root(self.data)

    @property
    def accepted(self) -> Path:
        return accepted_root(self.data)

    @property
    def quarantine(self) -> Path:
        return quarantine_root(self.data)

    @property
    def predictions(self) -> Path:
        return Path(self.data) / "predictions"

    @property
    def outputs(self) -> Path:
        """What downstream systems read when ids must not leave bantay (``output_ids:
        pseudonym``): one day of scores per model, learners as pseudonyms."""
        return Path(self.data) / "outputs"

    def output_path(self, model: str, day: dt.date) -> Path:
        """One day of a model's pseudonymous batch output."""
        return partition_path(self.outputs, model, day)

    def prediction_path(self, model: str, day: dt.date) -> Path:
        """One day of a model's prediction log."""
        return partition_path(self.predictions, model, day)

    def outbox(self, model: str) -> Path:
        """Where a model's e-mails are kept as ``.eml`` files, whether SMTP took them or not."""
        return Path(self.home) / "outbox" / model

    def run_dir(self, model: str, key: str) -> Path:
        """Intermediate files of one training run, keyed on the DAG run so a re-run overwrites."""
        path = Path(self.home) / "runs" / model / key
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def tombstones(self) -> Path:
        """Keyed hashes of erased learners (one a line): the data contract drops their rows."""
        return Path(self.data) / "erasure" / "tombstones.txt"

    @property
    def erasure_requests(self) -> Path:
        """Batches of erasure requests (``*.json``) waiting for ``bantay_erase``; each file is
        removed once every request in it is done."""
        return Path(self.data) / "erasure" / "requests"

    @property
    def runs(self) -> Path:
        """Every training run's folder (``run_dir``), of every model."""
        return Path(self.home) / "runs"

    @property
    def outboxes(self) -> Path:
        """Every model's outbox (``outbox``)."""
        return Path(self.home) / "outbox"

    def deadline_marker(self, model: str) -> Path:
        """Set once the nightly deadline e-mail told that ``model`` has no production version."""
        return Path(self.data) / "deadline" / f"{model}.no_production_version_notified"

    @property
    def registry_db(self) -> Path:
        """The embedded model registry (SQLite) when no registry connection is configured."""
        return Path(self.home) / "registry.db"

    @property
    def feast_registry_db(self) -> Path:
        return Path(self.home) / "feast_registry.db"

    @property
    def online_store_db(self) -> Path:
        return Path(self.home) / "online_store.db"
