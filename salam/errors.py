"""User-facing errors: the CLI prints them as one line and exits non-zero, never a traceback."""

from __future__ import annotations


class SalamError(Exception):
    """An error whose message is meant for the user, on one line."""

    exit_code = 1


class ModelSpecError(SalamError, ValueError):
    """A model spec string that no resolver understands."""

    exit_code = 2


class MissingExtraError(SalamError, ImportError):
    """An optional integration is not installed; the message names the extra."""


class StoreError(SalamError):
    """The mistake memory cannot be opened or written safely."""


class DataError(SalamError):
    """Benchmark or input data is missing or malformed."""
