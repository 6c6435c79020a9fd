"""User-facing errors: the CLI prints them as one line and exits non-zero, never a traceback."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


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


@contextmanager
def data_shape(path: object, what: str) -> Iterator[None]:
    """Turn the errors of reading a file of the wrong shape (a missing key, a list for an object...)
    into one line naming the file and what it should have been."""
    try:
        yield
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise DataError(f"{path}: not {what} ({type(exc).__name__}: {detail})") from exc


MALFORMED = (SalamError, KeyError, IndexError, TypeError, ValueError, AttributeError, UnicodeError, OSError)
"""What reading a malformed or unreadable file of a run or training folder raises."""


def describe_malformed(exc: BaseException) -> str:
    """One line saying what was wrong with a folder's files (for an error, a page or a row of a list)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, SalamError):
        return text or type(exc).__name__
    if isinstance(exc, KeyError):
        return f"a file of this folder is malformed (it has no {exc.args[0]!r})" if exc.args else "a file of this folder is malformed"
    if isinstance(exc, OSError):
        return f"cannot read a file of this folder ({exc.strerror or type(exc).__name__})"
    return f"a file of this folder is malformed ({type(exc).__name__}: {text})"
