"""The model store's errors, and the translation of S3's refusals into errors a person can act on:
each names the object (s3 URI), the endpoint where it matters, and what to do."""

from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError

# S3 error codes, as the services (AWS, MinIO, moto) spell them.
MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
PRECONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
DENIED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "403"}
)


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


class PointerChanged(ModelStoreError):
    """A conditional pointer write lost: the object changed since its ETag was read."""


class ConditionalPutLost(Exception):
    """A conditional put lost (HTTP 412/409): the store's parts turn it into what it means for
    them (an identical retry, ``VersionExists``, ``PointerChanged``); never shown to a person."""


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
    if code in DENIED_CODES:
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
