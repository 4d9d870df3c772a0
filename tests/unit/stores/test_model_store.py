"""How the model store turns the S3 hook's failures into errors a person can act on.

The S3 boundary is faked with botocore's ``Stubber`` on a real client (no request leaves the
process); the amazon provider's ``S3Hook`` code in between is the real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bantay.stores.model_store import BucketNotFound, ModelStore, ModelStoreError
from support.services import s3_hook_over

ENDPOINT = "http://127.0.0.1:9"  # never contacted: the stubber answers first
BUCKET = "bantay-unit"
SHADOW = "bantay/models/learner_risk/shadow.json"


@pytest.fixture
def stubbed() -> Iterator[tuple[ModelStore, Stubber]]:
    client = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="unit",
        aws_secret_access_key="unit",
    )
    with Stubber(client) as stubber:
        yield ModelStore(s3_hook_over(client), BUCKET, "bantay"), stubber
        stubber.assert_no_pending_responses()


def _delete_params() -> dict[str, Any]:
    return {"Bucket": BUCKET, "Key": SHADOW}


def test_clearing_the_shadow_is_one_delete_of_that_key(stubbed):
    """One DeleteObject on the key (S3 authorizes it per key: a role may delete just that one)."""
    store, stubber = stubbed
    stubber.add_response("delete_object", {}, _delete_params())
    store.pointers.clear_shadow("learner_risk")


@pytest.mark.promise("serving store", "S3 refusing a delete (AccessDenied)")
def test_a_refused_delete_names_the_object_endpoint_and_permission(stubbed):
    store, stubber = stubbed
    stubber.add_client_error(
        "delete_object", "AccessDenied", http_status_code=403, expected_params=_delete_params()
    )
    with pytest.raises(ModelStoreError) as info:
        store.pointers.clear_shadow("learner_risk")
    message = str(info.value)
    assert f"s3://{BUCKET}/{SHADOW}" in message and ENDPOINT in message
    assert "s3:DeleteObject" in message


def test_a_missing_bucket_on_delete_is_bucket_not_found(stubbed):
    store, stubber = stubbed
    stubber.add_client_error(
        "delete_object", "NoSuchBucket", http_status_code=404, expected_params=_delete_params()
    )
    with pytest.raises(BucketNotFound, match=f"S3 bucket '{BUCKET}' does not exist at {ENDPOINT}"):
        store.pointers.clear_shadow("learner_risk")


def test_listing_errors_name_the_prefix_and_the_fix(stubbed):
    store, stubber = stubbed
    stubber.add_client_error("list_objects_v2", "AccessDenied", http_status_code=403)
    with pytest.raises(ModelStoreError) as info:
        store.versions.of("learner_risk")
    message = str(info.value)
    assert f"s3://{BUCKET}/bantay/models/learner_risk/versions/" in message
    assert "AccessDenied" in message and "credentials and permissions" in message
