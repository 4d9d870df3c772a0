"""The registry's errors: every refusal says why and what to do."""

from __future__ import annotations


class RegistryError(Exception):
    """A registry operation was refused; the message says why and what to do."""


class VersionNotFound(RegistryError):
    """No such (model, version) in the registry."""


class InvalidTransition(RegistryError):
    """A status change that the lifecycle does not allow."""
