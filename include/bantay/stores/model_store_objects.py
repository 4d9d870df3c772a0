"""Keys and raw S3 I/O of the model store: where each object lives, conditional puts that
S3 itself checks, gets and listings with errors that name the object and what to do."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

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
    from botocore.client import BaseClient


class S3Objects:
    """The objects of one S3 bucket under one prefix, addressed by the store's key layout."""

    def __init__(self, client: BaseClient, bucket: str, prefix: str) -> None:
        if not isinstance(bucket, str) or not bucket.strip():
            raise ValueError(f"S3 bucket name {bucket!r} is empty; set storage.bucket or --bucket")
        self.client = client
        self.bucket = bucket
        self.prefix = _clean_prefix(prefix)

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

    # -- raw S3 I/O ------------------------------------------------------------------------

    def _error(self, exc: Exception, key: str) -> ModelStoreError:
        return s3_error(exc, self.uri(key), self.bucket, self.client.meta.endpoint_url)

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """(body, ETag) of ``key``, or None if there is no such object."""
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
        replacement with ``overwrite`` (reports and the shadow marker). Returns the ETag."""
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

    def _list(self, prefix: str, delimiter: str | None = None) -> tuple[list[str], list[str]]:
        """(keys, common prefixes) under ``prefix``."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        keys: list[str] = []
        prefixes: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
                prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, prefix) from None
        return keys, prefixes
