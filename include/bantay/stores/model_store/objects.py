"""Keys and S3 I/O of the model store (``store.objects``): where each object lives, conditional
puts that S3 itself checks, gets, listings, deletes and presigned links, with errors that name the
object and what to do.

Listing and deleting go through the amazon provider's ``S3Hook``; gets and puts use the hook's
boto3 client directly, because the hook has no single-request equivalent (see ``get``, ``put``).
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bantay.stores.model_store.errors import (
    MISSING_KEY_CODES,
    PRECONDITION_CODES,
    ConditionalPutLost,
    ModelStoreError,
    s3_error,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient

MODEL_FILE = "model.joblib"
REFERENCE_FILE = "reference.parquet"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "production.json"
SHADOW_FILE = "shadow.json"
# The files every version carries besides its manifest.
ARTIFACT_FILES = (MODEL_FILE, REFERENCE_FILE)


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
        return f"{self.model_root(model)}{SHADOW_FILE}"

    def report_key(self, model: str, day: str, name: str) -> str:
        return f"{self.prefix}/reports/drift/{model}/{day}/{name}"

    # -- S3 I/O ----------------------------------------------------------------------------

    def _error(self, exc: Exception, key: str) -> ModelStoreError:
        """``exc`` (from boto or the hook) as an error naming the object at ``key``."""
        return s3_error(exc, self.uri(key), self.bucket, self.client.meta.endpoint_url)

    def get(self, key: str) -> tuple[bytes, str] | None:
        """(body, ETag) of ``key``, or None if there is no such object.

        One GET on the client: the hook's readers cannot do this in one request. ``read_key``
        decodes text (model.joblib is binary) and drops the ETag the pointer swap needs, and
        ``get_key`` sends a HEAD before the GET, a second round trip on every read."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING_KEY_CODES:
                return None
            raise self._error(exc, key) from None
        except BotoCoreError as exc:
            raise self._error(exc, key) from None

    def put(
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
            if error.get("Code") in PRECONDITION_CODES or status in (409, 412):
                raise ConditionalPutLost(key) from None
            raise self._error(exc, key) from None
        except BotoCoreError as exc:
            raise self._error(exc, key) from None

    def keys_under(self, prefix: str, *, first_only: bool = False) -> list[str]:
        """Every key under ``prefix`` (all pages), or at most one with ``first_only``."""
        limit = 1 if first_only else None
        try:
            return self.hook.list_keys(
                bucket_name=self.bucket, prefix=prefix, page_size=limit, max_items=limit
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, prefix) from None

    def prefixes_under(self, prefix: str) -> list[str]:
        """The next '/'-delimited level under ``prefix`` (all pages)."""
        try:
            return self.hook.list_prefixes(bucket_name=self.bucket, prefix=prefix, delimiter="/")
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, prefix) from None

    def delete(self, key: str) -> None:
        """Remove ``key``; an absent key is not an error (S3 deletes are idempotent).

        One DeleteObject request, not a one-key DeleteObjects batch: S3 authorizes it on the key
        itself, so a role allowed to delete just that key (the promoter and the shadow marker)
        may, wherever the batch call is authorized against the bucket first."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("AccessDenied", "403"):
                raise ModelStoreError(
                    f"S3 refused to delete {self.uri(key)} at {self.client.meta.endpoint_url}; "
                    "check that the AWS connection may delete objects in this bucket "
                    "(s3:DeleteObject), then retry"
                ) from None
            raise self._error(exc, key) from None
        except BotoCoreError as exc:
            raise self._error(exc, key) from None

    def presigned_url(self, uri: str, expires_seconds: int) -> str:
        """A time-limited HTTPS link to an object of this bucket, for people without S3 access.

        Always Signature Version 4: buckets created since mid-2020 and newer regions refuse
        SigV2 links, which older defaults produce."""
        key = uri.removeprefix(f"s3://{self.bucket}/")
        try:
            url = _sigv4(self.hook).generate_presigned_url(
                "get_object", params={"Bucket": self.bucket, "Key": key}, expires_in=expires_seconds
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None
        if url is None:  # the hook logs S3's reason and answers None
            raise ModelStoreError(
                f"could not presign a link to {self.uri(key)} at {self.client.meta.endpoint_url} "
                "(the reason is logged above); check the credentials and region of the AWS "
                "connection"
            )
        return url


def _clean_prefix(prefix: str) -> str:
    """``prefix`` as the store's key prefix (no leading or trailing '/'), or a ValueError that
    says how to write it."""
    if not isinstance(prefix, str) or not prefix.strip("/"):
        raise ValueError(
            f"S3 prefix {prefix!r} is empty; give a relative key prefix such as 'bantay' "
            "(storage.prefix in bantay.yaml or --prefix)"
        )
    if prefix.startswith("/"):
        raise ValueError(
            f"S3 prefix {prefix!r} starts with '/'; S3 keys are relative: use {prefix.lstrip('/')!r}"
        )
    parts = prefix.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(
            f"S3 prefix {prefix!r} contains an empty, '.' or '..' segment; "
            "use plain segments such as 'bantay/prod'"
        )
    return "/".join(parts)


def _sigv4(hook: S3Hook) -> S3Hook:
    """``hook`` itself when its client signs with SigV4, else a twin hook that does: built from
    the same connection, region and TLS setting, so links sign as the same principal. Presigned
    links must be SigV4."""
    if hook.get_conn().meta.config.signature_version == "s3v4":
        return hook
    return S3Hook(
        aws_conn_id=hook.aws_conn_id,
        region_name=hook.region_name,
        verify=hook.verify,
        config=hook.config.merge(Config(signature_version="s3v4")),
    )
