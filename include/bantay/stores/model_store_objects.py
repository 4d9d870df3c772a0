"""Keys and S3 I/O of the model store: where each object lives, conditional puts that S3 itself
checks, gets, listings and deletes, with errors that name the object and what to do.

Listing and deleting go through the amazon provider's ``S3Hook``; gets and puts use the hook's
boto3 client directly, because the hook has no single-request equivalent (see ``_get``, ``_put``).
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from bantay.stores.model_store_io import (
    _MISSING_KEY,
    _PRECONDITION,
    POINTER_FILE,
    ModelStoreError,
    _clean_prefix,
    _PreconditionFailed,
    s3_error,
)

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.client import BaseClient


class S3Objects:
    """The objects of one S3 bucket under one prefix, addressed by the store's key layout."""

    def __init__(self, hook: S3Hook, bucket: str, prefix: str) -> None:
        if not isinstance(bucket, str) or not bucket.strip():
            raise ValueError(f"S3 bucket name {bucket!r} is empty; set storage.bucket or --bucket")
        self.prefix = _clean_prefix(prefix)
        self.hook = hook
        self.bucket = bucket
        hook.get_conn()  # the client is built now, once: a misconfigured connection fails here

    @property
    def client(self) -> BaseClient:
        """The hook's boto3 client (built once per hook): for what the hook cannot do."""
        return self.hook.get_conn()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(s3://{self.bucket}/{self.prefix}/)"

    # -- keys ------------------------------------------------------------------------------

    def model_root(self, model: str) -> str:
        return f"{self.prefix}/models/{model}/"

    def version_key(self, model: str, version: str, name: str) -> str:
        return f"{self.model_root(model)}versions/{version}/{name}"

    def pointer_key(self, model: str) -> str:
        return f"{self.model_root(model)}{POINTER_FILE}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def shadow_key(self, model: str) -> str:
        return f"{self.model_root(model)}shadow.json"

    def report_key(self, model: str, day: str, name: str) -> str:
        return f"{self.prefix}/reports/drift/{model}/{day}/{name}"

    # -- S3 I/O ----------------------------------------------------------------------------

    def _error(self, exc: Exception, key: str) -> ModelStoreError:
        return s3_error(exc, self.uri(key), self.bucket, self.client.meta.endpoint_url)

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """(body, ETag) of ``key``, or None if there is no such object.

        One GET on the client: the hook's readers cannot do this in one request. ``read_key``
        decodes text (model.joblib is binary) and drops the ETag the pointer swap needs, and
        ``get_key`` sends a HEAD before the GET, a second round trip on every read."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_KEY:
                return None
            raise self._error(exc, key) from None
        except BotoCoreError as exc:
            raise self._error(exc, key) from None

    def _put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str,
        if_match: str | None = None,
        overwrite: bool = False,
    ) -> str:
        """Conditional put: create-only unless ``if_match`` (an ETag) is given, or plain
        replacement with ``overwrite`` (reports and the shadow marker). Returns the ETag.

        One PUT on the client: the hook's ``load_bytes`` sends no If-Match / If-None-Match (its
        ``replace=False`` is a HEAD then a PUT, which two writers can both pass), takes no
        content type or checksum per call, and returns no ETag."""
        condition: dict[str, str] = {}
        if not overwrite:
            condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                **condition,
            )
            return response["ETag"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") in _PRECONDITION or status in (409, 412):
                raise _PreconditionFailed(key) from None
            raise self._error(exc, key) from None
        except BotoCoreError as exc:
            raise self._error(exc, key) from None

    def _keys(self, prefix: str, *, first_only: bool = False) -> list[str]:
        """Every key under ``prefix`` (all pages), or at most one with ``first_only``."""
        limit = 1 if first_only else None
        try:
            return self.hook.list_keys(
                bucket_name=self.bucket, prefix=prefix, page_size=limit, max_items=limit
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, prefix) from None

    def _prefixes(self, prefix: str) -> list[str]:
        """The next '/'-delimited level under ``prefix`` (all pages)."""
        try:
            return self.hook.list_prefixes(bucket_name=self.bucket, prefix=prefix, delimiter="/")
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, prefix) from None

    def _delete(self, key: str) -> None:
        """Remove ``key``; an absent key is not an error (S3 deletes are idempotent)."""
        from airflow.sdk.exceptions import AirflowException

        try:
            self.hook.delete_objects(bucket=self.bucket, keys=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None
        except AirflowException:  # the hook's report of a per-key failure carries no S3 code
            raise ModelStoreError(
                f"S3 refused to delete {self.uri(key)} at {self.client.meta.endpoint_url}; check "
                "that the AWS connection may delete objects in this bucket (s3:DeleteObject), "
                "then retry"
            ) from None
