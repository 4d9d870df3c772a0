"""A worker killed with SIGKILL in the middle of a publish, against a real S3 endpoint (moto
server over HTTP on 127.0.0.1): the publish runs in a separate Python process, which is killed
after its first file reached the bucket, so nothing of it runs to clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bantay.serving.promotion import Promotion
from bantay.stores.model_store import ModelStore, UnknownVersion
from support import model_versions
from support.model_versions import MODEL, PREFIX, publish
from support.services import moto_s3, s3_bucket  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.integration

registry = model_versions.registry
store = model_versions.store

HERE = Path(__file__).resolve().parent

# The worker: the same publish as the test's (support.model_versions.publish, the same bytes),
# through a client whose PUTs hang after the first one arrived and said so in ``written``.
WORKER = """
import pathlib, sys, time
sys.path[:0] = [{tests!r}]
from bantay.serving.promotion import Promotion
from bantay.stores.model_store import ModelStore
from bantay.stores.registry import Registry
from support.services import s3_client_for, s3_hook_over
from support.model_versions import PREFIX, publish

endpoint, bucket, registry_url, version, written = sys.argv[1:]
client = s3_client_for(endpoint)
put_object = client.put_object

def put_then_hang(**kwargs):
    response = put_object(**kwargs)
    pathlib.Path(written).write_text(kwargs["Key"])
    time.sleep(600)  # killed here, with the version's other files not yet written
    return response

client.put_object = put_then_hang
store = ModelStore(s3_hook_over(client), bucket, PREFIX)
publish(Promotion(store, Registry(registry_url)), version, seed=2)
"""


def _kill_after_first_file(endpoint: str, bucket: str, registry_url: str, tmp_path: Path) -> str:
    """Run the worker until its first PUT arrived, SIGKILL it; returns the key it wrote."""
    written = tmp_path / "written"
    code = WORKER.format(tests=str(HERE.parent))
    args = [sys.executable, "-c", code, endpoint, bucket, registry_url, "v2", str(written)]
    worker = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not written.exists():
            if worker.poll() is not None:
                pytest.fail(f"the publishing worker exited early: {worker.stdout.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("the publishing worker wrote nothing to the bucket in 120 s")
            time.sleep(0.05)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        worker.stdout.close()
    assert worker.returncode == -signal.SIGKILL
    return written.read_text()


@pytest.mark.promise(
    "serving store",
    "the publishing worker killed with SIGKILL between files",
    says="A publish killed between files leaves production serving the previous version and "
    "the half-written one refused as incomplete; publishing it again completes it.",
)
def test_a_publish_killed_between_files_is_refused_then_completed_by_a_rerun(
    store,  # noqa: F811
    registry,  # noqa: F811
    moto_s3,  # noqa: F811
    tmp_path,
):
    promo = Promotion(store, registry)
    publish(promo, "v1", seed=1)
    promo.promote(MODEL, "v1", actor="setup", reason="baseline")

    first_key = _kill_after_first_file(
        moto_s3, store.objects.bucket, f"sqlite:///{tmp_path / 'registry.db'}", tmp_path
    )

    root = f"{PREFIX}/models/{MODEL}/versions/v2/"
    assert first_key == root + "model.joblib"
    assert store.objects.keys_under(root) == [first_key]  # some, not all, of the files

    fresh = ModelStore(store.objects.hook, store.objects.bucket, PREFIX)  # nothing cached
    _, manifest = fresh.load_production(MODEL)
    assert manifest["version"] == "v1"
    assert fresh.versions.of(MODEL) == ["v1"]
    with pytest.raises(UnknownVersion, match=r"'v2' of model 'learner_risk' is incomplete") as info:
        fresh.load_version(MODEL, "v2")
    assert "manifest.json is missing" in str(info.value) and "publish it again" in str(info.value)
    with pytest.raises(UnknownVersion, match=r"'v2' of model 'learner_risk' is incomplete"):
        Promotion(fresh, registry).promote(MODEL, "v2", actor="ana", reason="the killed one")
    assert fresh.pointers.current(MODEL)["version"] == "v1"
    assert len(registry.promotions.of(MODEL)) == 1

    # The task's retry, in another process: the same bytes, so the file already there is kept.
    stored = publish(promo, "v2", seed=2)
    names = [*stored["files"], "manifest.json"]
    assert sorted(store.objects.keys_under(root)) == sorted(root + name for name in names)
    pointer = promo.promote(MODEL, "v2", actor="ana", reason="retried publish")
    assert pointer["version"] == "v2" and pointer["previous"] == "v1"
    _, manifest = fresh.load_production(MODEL)
    assert manifest["version"] == "v2"
    assert manifest["files"]["model.joblib"]["sha256"] == pointer["sha256"]
