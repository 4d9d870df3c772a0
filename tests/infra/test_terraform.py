"""The Terraform module applied to a local AWS endpoint, then bantay's own store code run as each
component's role with the endpoint enforcing IAM.

A moto server on 127.0.0.1 plays AWS (S3, IAM, STS). Setup runs unauthenticated, as an account
administrator would: ``terraform apply`` of ``infra/terraform`` and one IAM user standing in for
the Airflow workers' identity. Then the server is switched to enforcing IAM (moto's
``INITIAL_NO_AUTH_ACTION_COUNT``, set through its ``/moto-api/reset-auth`` endpoint), the worker
identity assumes each component role (so the trust policies are checked too), and every S3 call
below is signed with that role's temporary credentials and judged by the role's policy.

What moto evaluates, and so what this test proves: actions and resource ARNs of identity
policies, and role trust. What it does not: policy conditions (moto treats them as met) and
bucket policies with principals or conditions (it applies them to everyone, unconditionally,
so the module's bucket policy is switched off here). The ``s3:if-none-match`` conditions that
make version writes create-only are therefore enforced on AWS only; here the overwrite is
refused by S3 itself answering bantay's If-None-Match with 412 (``VersionExists``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression

from bantay.serving.promotion import Promotion
from bantay.stores.model_store import ModelStore, ModelStoreError, VersionExists
from bantay.stores.registry import Registry
from support.services import free_port, serialised_moto_server

pytestmark = [pytest.mark.integration, pytest.mark.infra]

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra" / "terraform"
PROVIDER = "registry.terraform.io/hashicorp/aws"
# Where a provider mirror is usually unpacked; BANTAY_TF_PROVIDER_MIRROR names another.
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    str(Path.home() / ".terraform.d" / "plugins"),
    str(Path.home() / ".local" / "share" / "terraform" / "plugins"),
)
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
NAME = "bantay-it"
BUCKET = "bantay-it-artifacts"
PREFIX = "bantay"
MODEL = "learner_risk"
COMPONENTS = ("trainer", "promoter", "scorer", "drift", "operator")
# Setup and teardown sign as anyone while IAM is not enforced, like an account administrator.
ADMIN = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
FEATURES = ["attendance_rate", "quiz_score_avg", "days_since_last_contact"]


# -- Terraform and the endpoint ------------------------------------------------------------------


def provider_mirror() -> str | None:
    """A directory holding an unpacked hashicorp/aws provider, or None."""
    candidates = [os.environ.get("BANTAY_TF_PROVIDER_MIRROR", ""), *MIRROR_CANDIDATES]
    for candidate in filter(None, candidates):
        if any((Path(candidate) / PROVIDER).glob("5.*/*/terraform-provider-aws*")):
            return candidate
    return None


def root_config(endpoint: str, worker_arn: str) -> str:
    """A root module that applies infra/terraform to the local endpoint."""
    return f"""
provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  endpoints {{
    s3  = "{endpoint}"
    iam = "{endpoint}"
    sts = "{endpoint}"
  }}
}}

module "bantay" {{
  source                 = "{MODULE}"
  name                   = "{NAME}"
  bucket_name            = "{BUCKET}"
  prefix                 = "{PREFIX}"
  region                 = "{REGION}"
  trusted_principal_arns = ["{worker_arn}"]
  # moto would apply its principal- and condition-scoped denials to everyone.
  bucket_policy = false
  force_destroy = true
}}

output "role_arns" {{
  value = module.bantay.role_arns
}}

output "airflow_connections" {{
  value = module.bantay.airflow_connections
}}
"""


@dataclass
class Deployment:
    """The applied module on a moto server, and how to reach it as each role."""

    endpoint: str
    workdir: Path
    env: dict[str, str]
    outputs: dict[str, Any] = field(default_factory=dict)
    destroyed: bool = False

    def terraform(self, *args: str) -> str:
        started = time.monotonic()
        done = subprocess.run(
            ["terraform", f"-chdir={self.workdir}", *args, "-no-color"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(
                f"terraform {args[0]} failed after {time.monotonic() - started:.0f}s:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}",
                pytrace=False,
            )
        return done.stdout

    def enforce_iam(self, enforce: bool) -> None:
        """Switch moto between checking every request against IAM and checking none."""
        data = b"0" if enforce else b"inf"
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/reset-auth",
            data=data,
            headers={"Content-Type": "text/plain"},  # a form body would reach moto empty
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def destroy(self) -> None:
        """``terraform destroy`` as the administrator (IAM not enforced).

        The bucket is emptied by the provider with DeleteObjects, which moto cannot apply to a
        delete marker (it raises internally and answers 500 until the provider gives up), so
        delete markers are removed first, one DeleteObject each, as S3's batch would."""
        self.enforce_iam(False)
        s3 = self.client("s3", **ADMIN)
        if BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
                for marker in page.get("DeleteMarkers", []):
                    s3.delete_object(
                        Bucket=BUCKET, Key=marker["Key"], VersionId=marker["VersionId"]
                    )
        self.destroyed = True
        self.terraform("destroy", "-auto-approve", "-input=false")

    def client(self, service: str, **credentials: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            **credentials,
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH; install Terraform >= 1.5 to apply infra/terraform")
    mirror = provider_mirror()
    cli_config_env = os.environ.get("TF_CLI_CONFIG_FILE", "")
    if mirror is None and not Path(cli_config_env or "/nonexistent").is_file():
        pytest.skip(
            f"no local {PROVIDER} provider mirror in {', '.join(MIRROR_CANDIDATES)}; set "
            "BANTAY_TF_PROVIDER_MIRROR to one, or TF_CLI_CONFIG_FILE to a CLI config that "
            "installs the provider (this test never reaches the public registry)"
        )
    from moto import settings as moto_settings

    workdir = tmp_path_factory.mktemp("terraform")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "TF_DATA_DIR": str(workdir / ".terraform"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",  # no version check against the internet
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if mirror is not None:
        cli_config = workdir / "terraform.rc"
        cli_config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
        )
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    else:
        env["TF_CLI_CONFIG_FILE"] = cli_config_env

    # moto's switch is process-wide: whatever it was, it is put back for the other modules.
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    port = free_port()
    server = serialised_moto_server(port)
    server.start()
    deployment = Deployment(f"http://127.0.0.1:{port}", workdir, env)
    try:
        deployment.enforce_iam(False)
        iam = deployment.client("iam", **ADMIN)
        # The Airflow workers' own identity: it may only assume the component roles.
        worker = iam.create_user(UserName=f"{NAME}-airflow-worker")["User"]
        iam.put_user_policy(
            UserName=worker["UserName"],
            PolicyName="assume-bantay-roles",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Resource": f"arn:aws:iam::{ACCOUNT}:role/{NAME}-*",
                        }
                    ],
                }
            ),
        )
        key = iam.create_access_key(UserName=worker["UserName"])["AccessKey"]
        (workdir / "main.tf").write_text(root_config(deployment.endpoint, worker["Arn"]))
        deployment.terraform("init", "-input=false")
        deployment.terraform("apply", "-auto-approve", "-input=false")
        deployment.outputs = json.loads(deployment.terraform("output", "-json"))
        deployment.env["WORKER_KEY_ID"] = key["AccessKeyId"]
        deployment.env["WORKER_SECRET"] = key["SecretAccessKey"]
        deployment.enforce_iam(True)
        yield deployment
    finally:
        try:
            if not deployment.destroyed and deployment.outputs:
                deployment.destroy()
        finally:
            server.stop()
            moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


# -- each role as bantay sees it --------------------------------------------------------------


@dataclass
class Role:
    name: str
    store: ModelStore
    s3: Any  # a raw client with the same credentials, for writes bantay itself never makes


@pytest.fixture(scope="module")
def roles(deployment: Deployment) -> Iterator[dict[str, Role]]:
    """Each component's store, built the way a task builds it: from an Airflow connection that
    carries the role's temporary credentials and the endpoint."""
    sts = deployment.client(
        "sts",
        aws_access_key_id=deployment.env["WORKER_KEY_ID"],
        aws_secret_access_key=deployment.env["WORKER_SECRET"],
    )
    roles: dict[str, Role] = {}
    names: list[str] = []
    for component in COMPONENTS:
        arn = deployment.outputs["role_arns"]["value"][component]
        credentials = sts.assume_role(RoleArn=arn, RoleSessionName=f"it-{component}")["Credentials"]
        conn_id = f"bantay_it_{component}"
        names.append(f"AIRFLOW_CONN_{conn_id.upper()}")
        os.environ[names[-1]] = json.dumps(
            {
                "conn_type": "aws",
                "login": credentials["AccessKeyId"],
                "password": credentials["SecretAccessKey"],
                "extra": {
                    "aws_session_token": credentials["SessionToken"],
                    "endpoint_url": deployment.endpoint,
                    "region_name": REGION,
                },
            }
        )
        store = ModelStore.from_connection(BUCKET, PREFIX, conn_id)
        roles[component] = Role(component, store, store.objects.client)
    yield roles
    for name in names:
        os.environ.pop(name, None)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = Registry(f"sqlite:///{tmp_path_factory.mktemp('registry') / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


def tiny_model(seed: int) -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(50, len(FEATURES)))
    y = (x[:, 0] + rng.normal(scale=0.5, size=50) > 0).astype(int)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["event_timestamp"] = pd.date_range("2026-11-01", periods=50, freq="h", tz="UTC")
    return LogisticRegression().fit(x, y), frame


def publish(role: Role, registry: Registry, version: str, seed: int) -> dict[str, Any]:
    model, reference = tiny_model(seed)
    registry.versions.upsert(MODEL, version, status="approved")
    manifest = {"metrics": {"roc_auc": 0.8}, "features": FEATURES}
    return Promotion(role.store, registry).publish(MODEL, version, model, manifest, reference)


def denied(exc: BaseException) -> bool:
    """Refused by IAM: S3's AccessDenied, as bantay reports it or as boto3 raises it."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") == "AccessDenied"
    return "AccessDenied" in str(exc)


@pytest.fixture(scope="module")
def published(roles: dict[str, Role], registry: Registry) -> dict[str, Any]:
    return publish(roles["trainer"], registry, "v1", seed=1)


@pytest.fixture(scope="module")
def promoted(roles: dict[str, Role], registry: Registry, published: dict[str, Any]) -> dict:
    return Promotion(roles["promoter"].store, registry).promote(
        MODEL, "v1", actor="infra-test", reason="first version"
    )


# -- what each role may do, and what it may not ---------------------------------------------------


def test_trainer_publishes_new_versions_only(roles, registry, published):
    trainer = roles["trainer"]
    assert trainer.store.versions.of(MODEL) == ["v1"]
    assert published["files"]["model.joblib"]["sha256"]

    # Moving the production pointer is the promoter's alone.
    with pytest.raises(ModelStoreError) as caught:
        trainer.store.pointers.put(MODEL, {"model": MODEL, "version": "v1"}, None)
    assert denied(caught.value), caught.value
    with pytest.raises(ClientError) as raw:
        trainer.s3.put_object(
            Bucket=BUCKET, Key=trainer.store.objects.shadow_key(MODEL), Body=b"{}"
        )
    assert denied(raw.value)

    # Replacing a published version: S3 answers the If-None-Match every version write carries.
    model, reference = tiny_model(seed=2)
    with pytest.raises(VersionExists):
        trainer.store.versions.publish(MODEL, "v1", model, {"metrics": {}}, reference)
    assert trainer.store.versions.manifest(MODEL, "v1") == published

    # Nor may it delete what it published, or anything else.
    # Scratch space is its own to write; it expires by lifecycle, never by the trainer.
    scratch = f"{PREFIX}/staging/split.json"
    trainer.s3.put_object(Bucket=BUCKET, Key=scratch, Body=b"{}")
    for key in (trainer.store.objects.version_key(MODEL, "v1", "manifest.json"), scratch):
        with pytest.raises(ClientError) as raw:
            trainer.s3.delete_object(Bucket=BUCKET, Key=key)
        assert denied(raw.value)


def test_promoter_moves_the_pointer_stages_and_stops_shadow(roles, registry, promoted):
    promoter = roles["promoter"]
    assert promoted["version"] == "v1"
    assert promoter.store.pointers.current(MODEL)["version"] == "v1"
    publish(roles["trainer"], registry, "v2", seed=3)
    Promotion(promoter.store, registry).stage_shadow(
        MODEL, "v2", actor="infra-test", reason="candidate"
    )
    assert promoter.store.pointers.shadow(MODEL)["version"] == "v2"

    # It can neither publish nor delete anything but the shadow marker.
    model, reference = tiny_model(seed=4)
    with pytest.raises(ModelStoreError) as caught:
        promoter.store.versions.publish(MODEL, "v9", model, {"metrics": {}}, reference)
    assert denied(caught.value), caught.value
    for key in (
        promoter.store.objects.pointer_key(MODEL),
        promoter.store.objects.version_key(MODEL, "v1", "model.joblib"),
    ):
        with pytest.raises(ClientError) as raw:
            promoter.s3.delete_object(Bucket=BUCKET, Key=key)
        assert denied(raw.value), key
    # Stopping the shadow (the shadow DAG's stop, run as the promoter) removes its marker.
    Promotion(promoter.store, registry).stop_shadow(MODEL, actor="infra-test", reason="done")
    assert promoter.store.pointers.shadow(MODEL) is None


def test_scorer_loads_production_and_cannot_promote(roles, registry, promoted):
    scorer = roles["scorer"]
    fitted, manifest = scorer.store.load_production(MODEL)
    assert manifest["version"] == "v1"
    assert fitted.predict_proba(np.zeros((1, len(FEATURES)))).shape == (1, 2)

    with pytest.raises(ModelStoreError) as caught:
        Promotion(scorer.store, registry).promote(
            MODEL, "v2", actor="leaked scorer key", reason="should never work"
        )
    assert denied(caught.value), caught.value
    assert roles["promoter"].store.pointers.current(MODEL)["version"] == "v1"
    for key in (scorer.store.objects.shadow_key(MODEL), f"{PREFIX}/reports/drift/x/report.json"):
        with pytest.raises(ClientError) as raw:
            scorer.s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
        assert denied(raw.value)


def test_drift_reads_references_writes_reports_and_cannot_delete(roles, promoted):
    drift = roles["drift"]
    reference = drift.store.versions.reference(MODEL, "v1")
    assert len(reference) == 50
    uri = drift.store.reports.put(MODEL, "2026-11-03", "report.json", b"{}", "application/json")
    key = uri.removeprefix(f"s3://{BUCKET}/")
    assert drift.store.objects.client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"{}"

    with pytest.raises(ClientError) as raw:
        drift.s3.delete_object(Bucket=BUCKET, Key=key)
    assert denied(raw.value)
    with pytest.raises(ModelStoreError, match="refused to delete"):
        drift.store.objects.delete(key)  # the store's own delete path (one DeleteObjects request)
    with pytest.raises(ModelStoreError) as caught:
        drift.store.pointers.put(MODEL, {"model": MODEL, "version": "v1"}, None)
    assert denied(caught.value), caught.value


def test_only_the_operator_deletes(roles, promoted):
    operator = roles["operator"]
    key = f"{PREFIX}/reports/drift/{MODEL}/2026-11-03/report.json"
    operator.s3.delete_object(Bucket=BUCKET, Key=key)
    assert not operator.store.objects.keys_under(f"{PREFIX}/reports/drift/{MODEL}/2026-11-03/")


def test_destroy_leaves_nothing(deployment, roles):
    deployment.destroy()
    buckets = deployment.client("s3", **ADMIN).list_buckets()["Buckets"]
    assert BUCKET not in [b["Name"] for b in buckets]
    leftover = [
        r["RoleName"]
        for r in deployment.client("iam", **ADMIN).list_roles()["Roles"]
        if r["RoleName"].startswith(NAME)
    ]
    assert leftover == []
    assert json.loads(deployment.terraform("show", "-json")).get("values") is None
