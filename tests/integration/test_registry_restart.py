"""PostgreSQL restarted in the middle of a promotion: a private PostgreSQL cluster (its own data
directory, port and socket; never the shared server on 5432) is shut down hard
(``pg_ctl stop -m immediate``: no checkpoint, crash recovery at the next start) between the
pointer swap in S3 and the registry's audit write, and started again on the same port and data
directory. The promotion is the real one, over the real model store on the local S3 endpoint and
the real ``Registry`` on that cluster's URL."""

from __future__ import annotations

import contextlib
import glob
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bantay.serving.promotion import Promotion
from bantay.stores.model_store import ModelStoreError
from bantay.stores.registry import Registry
from bantay.vocabulary import ModelStatus
from support import model_versions
from support.model_versions import MODEL, publish
from support.services import free_port, moto_s3, s3_bucket  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.integration

store = model_versions.store

PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)
RUNUSER = shutil.which("runuser")


class PrivatePostgres:
    """A PostgreSQL cluster of this test alone, on 127.0.0.1 and a free port, run as the
    ``postgres`` user (initdb refuses root) from a directory that user owns."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [RUNUSER, "-u", "postgres", "--", f"{PG_BIN}/{tool}", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stderr.strip()}\n{tail}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = str(self.folder / "server.log")
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-o", options, "-l", log
        )

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: every server process quits at once, no checkpoint (a crash)."""
        self._run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", mode)

    def crash_and_restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    if PG_BIN is None or not Path(PG_BIN, "initdb").exists():
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
    if RUNUSER is None:
        pytest.skip("no runuser to run PostgreSQL as the postgres user (initdb refuses root)")
    folder = Path(tempfile.mkdtemp(prefix="bantay-pg-"))  # tmp_path is not reachable by postgres
    shutil.chown(folder, "postgres", "postgres")
    server = PrivatePostgres(folder)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        yield pg


@pytest.fixture
def registry(server: PrivatePostgres) -> Iterator[Registry]:
    reg = Registry(server.url)
    reg.upgrade()
    yield reg
    reg.dispose()


@pytest.fixture
def promo(store, registry) -> Promotion:
    return Promotion(store, registry)


def before_first_call(target: object, name: str, action: Callable[[], None], monkeypatch) -> list:
    """Run ``action`` once, just before the first call of ``target.name``; returns the calls."""
    original = getattr(target, name)
    calls: list[tuple] = []

    def wrapped(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            action()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapped)
    return calls


def audit(registry: Registry) -> list[tuple[str | None, str, str]]:
    return [(p.from_version, p.to_version, p.kind) for p in registry.promotions.of(MODEL)]


def statuses(registry: Registry) -> dict[str, str]:
    return {r.version: ModelStatus(r.status).value for r in registry.versions.of(MODEL)}


@pytest.mark.promise(
    "registry",
    "PostgreSQL restarted in the middle of a promotion",
    says="A PostgreSQL restart between the pointer swap and the audit write does not fail the "
    "promotion: the registry reconnects, writes exactly one audit row, and its statuses follow "
    "the pointer.",
)
def test_a_restart_between_the_swap_and_the_audit_completes_the_promotion(
    server, store, promo, registry, monkeypatch
):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    calls = before_first_call(registry.promotions, "exists", server.crash_and_restart, monkeypatch)

    pointer = promo.promote(MODEL, "v2", actor="a", reason="second")

    assert len(calls) == 1  # the restart happened, after the swap
    assert store.pointers.read(MODEL).pointer == pointer
    assert pointer["version"] == "v2" and pointer["previous"] == "v1"
    assert audit(registry) == [(None, "v1", "promote"), ("v1", "v2", "promote")]
    assert statuses(registry) == {"v1": "archived", "v2": "production"}


@pytest.mark.promise(
    "registry",
    "PostgreSQL down during the audit write of a promotion, back after",
    says="With PostgreSQL down after the pointer swap, the promotion fails with one line saying "
    "production moved and to re-run it; the re-run, once the server is back, writes exactly one "
    "audit row and the statuses follow the pointer, and a second re-run changes nothing.",
)
def test_a_database_down_during_the_audit_is_reconciled_by_a_rerun(
    server, store, promo, registry, monkeypatch
):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    with monkeypatch.context() as patch:
        before_first_call(registry.promotions, "exists", server.stop, patch)
        with pytest.raises(ModelStoreError) as failed:
            promo.promote(MODEL, "v2", actor="a", reason="second")
    message = str(failed.value)
    assert "\n" not in message, message
    assert "production of learner_risk now points at v2" in message
    assert "re-run the same promotion" in message
    assert f"127.0.0.1:{server.port}" in message  # which database, and why
    assert "Connection refused" in message or "could not connect" in message
    swapped = store.pointers.read(MODEL).pointer
    assert swapped["version"] == "v2" and swapped["previous"] == "v1"

    server.start()
    assert statuses(registry) == {"v1": "production", "v2": "approved"}  # stale until re-run
    assert promo.promote(MODEL, "v2", actor="a", reason="second") == swapped
    assert audit(registry) == [(None, "v1", "promote"), ("v1", "v2", "promote")]
    assert statuses(registry) == {"v1": "archived", "v2": "production"}
    [row] = [p for p in registry.promotions.of(MODEL) if p.to_version == "v2"]

    assert promo.promote(MODEL, "v2", actor="b", reason="again") == swapped  # changes nothing
    assert store.pointers.read(MODEL).pointer == swapped
    assert registry.promotions.of(MODEL)[-1] == row
    assert audit(registry) == [(None, "v1", "promote"), ("v1", "v2", "promote")]
    assert statuses(registry) == {"v1": "archived", "v2": "production"}


@pytest.mark.promise(
    "registry",
    "PostgreSQL restarted between two promotions",
    says="After a PostgreSQL restart between two promotions, the second one works without any "
    "reconnect by hand, audited once.",
)
def test_a_restart_between_two_promotions_needs_no_reconnect(server, store, promo, registry):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    server.crash_and_restart()
    promo.promote(MODEL, "v2", actor="a", reason="second")
    assert store.pointers.read(MODEL).pointer["version"] == "v2"
    assert audit(registry) == [(None, "v1", "promote"), ("v1", "v2", "promote")]
    assert statuses(registry) == {"v1": "archived", "v2": "production"}
