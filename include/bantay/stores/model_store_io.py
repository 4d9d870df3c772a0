"""Storage vocabulary of the model store: errors, the pointer as read, and the pure helpers
(canonical JSON, name checks, serialisation, SigV4 signing) that ``ModelStore`` builds on."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, EndpointConnectionError

from bantay.vocabulary import check_name

if TYPE_CHECKING:
    import pandas as pd
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MISSING_KEY = frozenset({"NoSuchKey", "404", "NotFound"})
_PRECONDITION = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_DENIED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "403"}
)

MODEL_FILE = "model.joblib"
REFERENCE_FILE = "reference.parquet"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "production.json"
ARTIFACT_FILES = (MODEL_FILE, REFERENCE_FILE)


class ModelStoreError(Exception):
    """Base of every serving-store error; messages say what, where (s3 URI) and what to do."""


class NoProductionVersion(ModelStoreError):
    """The model has versions but none was ever promoted."""


class UnknownModel(ModelStoreError):
    """Nothing at all is stored for this model under the bucket/prefix."""


class UnknownVersion(ModelStoreError):
    """The version does not exist, or is incomplete (its manifest.json is missing)."""


class ArtifactCorrupt(ModelStoreError):
    """A stored file does not hash to the sha256 recorded for it; nothing was unpickled."""


class PromotionConflict(ModelStoreError):
    """The production pointer changed while promoting; another promotion won."""


class VersionExists(ModelStoreError):
    """The version already exists with other contents; versions are immutable."""


class BucketNotFound(ModelStoreError):
    """The configured bucket does not exist at this endpoint."""


class _PreconditionFailed(Exception):
    """Internal: a conditional put lost (HTTP 412/409)."""


class PointerChanged(ModelStoreError):
    """A conditional pointer write lost: the object changed since its ETag was read."""


@dataclass(frozen=True)
class PointerState:
    """The production pointer as stored: parsed (or why it cannot be), and its ETag."""

    pointer: dict[str, Any] | None
    etag: str | None
    corrupt: str | None = None  # why the stored object is not a usable pointer


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    raise TypeError(
        f"manifest value {value!r} of type {type(value).__name__} is not JSON-serialisable; "
        "convert it to str, int, float, bool, list or dict before publishing"
    )


def _dumps(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON (sorted keys), so the same content always gives the same bytes."""
    return (json.dumps(obj, sort_keys=True, indent=2, default=_json_default) + "\n").encode()


def _clean_prefix(prefix: str) -> str:
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


def _dump_model(model_obj: Any) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model_obj, buffer)
    return buffer.getvalue()


def _dump_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(
        buffer,
        index=False,
        engine="pyarrow",
        coerce_timestamps="us",
        allow_truncated_timestamps=True,
    )
    return buffer.getvalue()


def _sigv4(hook: S3Hook) -> S3Hook:
    """``hook`` itself when its client signs with SigV4, else a twin hook that does: built from
    the same connection, region and TLS setting, so links sign as the same principal. Presigned
    links must be SigV4."""
    if hook.get_conn().meta.config.signature_version == "s3v4":
        return hook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config

    return S3Hook(
        aws_conn_id=hook.aws_conn_id,
        region_name=hook.region_name,
        verify=hook.verify,
        config=hook.config.merge(Config(signature_version="s3v4")),
    )


def s3_error(exc: Exception, uri: str, bucket: str, endpoint: str | None) -> ModelStoreError:
    """Turn a boto error into one a person can act on (never includes credentials)."""
    if isinstance(exc, EndpointConnectionError):
        return ModelStoreError(
            f"cannot reach the S3 endpoint {endpoint} for "
            f"{uri}; check endpoint_url in the AWS connection and that the "
            "service is running"
        )
    if not isinstance(exc, ClientError):
        return ModelStoreError(f"S3 request for {uri} failed: {exc}")
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    if code == "NoSuchBucket":
        return BucketNotFound(
            f"S3 bucket {bucket!r} does not exist at {endpoint} "
            f"(while accessing {uri}); check storage.bucket in bantay.yaml or "
            "--bucket, and the endpoint_url of the AWS connection"
        )
    if code in _DENIED:
        return ModelStoreError(
            f"S3 denied access to {uri} ({code}); check the credentials and "
            "permissions of the AWS connection"
        )
    if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"):
        return ModelStoreError(
            f"S3 rejected the upload of {uri}: its checksum did not match "
            f"({code}); the bytes were damaged in transit, retry the publish"
        )
    return ModelStoreError(f"S3 error {code} on {uri}: {message}")


def check_publish(model: str, version: str, manifest: Mapping[str, Any], reference: Any) -> None:
    """Refuse publish inputs the store cannot keep consistent, before any upload."""
    import pandas as pd

    check_name("model", model)
    check_name("version", version)
    if not isinstance(reference, pd.DataFrame):
        raise TypeError(
            f"reference for {model} {version} must be a pandas DataFrame, "
            f"got {type(reference).__name__}"
        )
    for key, expected in (("model", model), ("version", version)):
        if key in manifest and manifest[key] != expected:
            raise ValueError(
                f"manifest[{key!r}] is {manifest[key]!r} but publishing {key} {expected!r}; "
                "leave it out (the store sets it) or make them agree"
            )
    if "files" in manifest:
        raise ValueError("manifest['files'] is set by the store; leave it out")
