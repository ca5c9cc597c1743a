"""Lockgate's error tree: one root, and the storage layer's errors.

Every error Lockgate raises on purpose derives from `LockgateError`, so a caller (the command line, a
flow, a library user) can tell an expected failure, whose message is meant for people, from a bug.
Each layer keeps its own errors in its own ``errors.py`` under this root; this module sits in the
lowest layer so that every other layer can build on it.

Messages name files, keys, sources and rows, never data values or secrets.
"""

from __future__ import annotations

from typing import Any


class LockgateError(Exception):
    """An expected failure, with a message written for the person who has to act on it.

    Errors cross process boundaries (Prefect task runners, Dask workers), so they must pickle. A
    subclass with its own ``__init__`` signature would not: `Exception` pickles as ``cls(*self.args)``.
    Rebuilding through ``__new__`` with the original args and the instance's attributes works for every
    subclass without each writing its own ``__reduce__``.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).__new__, (type(self), *self.args), self.__dict__)


class StorageError(LockgateError):
    """Anything the lake could not do; messages name keys and objects, never data values."""


class ObjectNotFound(StorageError):  # noqa: N818 - reads better at call sites than ...Error
    """The key holds no object."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no object at key {key!r}")


class InvalidKey(StorageError, ValueError):  # noqa: N818
    """A key that could escape the lake root or would not mean the same on every backend."""


class InvalidTag(StorageError, ValueError):  # noqa: N818 - reads better at call sites
    """A tag value outside the agreed vocabulary, or more tags than S3 keeps on one object."""


class UnknownVersion(StorageError):  # noqa: N818
    """A version number that was never published for the source."""


class LakeNotFound(StorageError):  # noqa: N818 - reads better at call sites
    """A read command named a local lake folder that does not exist (reads never create one)."""


class UnknownRelease(StorageError):  # noqa: N818
    """A release id no curated version in the lake carries."""


class CorruptMetadata(StorageError):  # noqa: N818
    """A pointer, version description or history event the lake cannot parse; names the key only."""


class IntegrityError(StorageError):
    """A curated object no longer matches the size or sha256 recorded when it was published."""


class DiskFull(StorageError):  # noqa: N818 - reads better at call sites
    """The filesystem ran out of space or quota; the message names the step and what it was writing."""


class QueryError(StorageError):
    """The warehouse refused a query; the message is DuckDB's, naming the token, table or column."""


class AuditError(StorageError):
    """The audit log could not take an entry, or holds an object it cannot read; names keys, not values."""


class RawError(StorageError):
    """The raw layer refused an operation that would break its byte-for-byte promise."""


class RawChecksumMismatch(RawError):  # noqa: N818 - the name says what was found
    """A raw object's bytes no longer hash to the checksum recorded when it landed."""

    def __init__(self, key: str, expected: str, actual: str) -> None:
        self.key, self.expected, self.actual = key, expected, actual
        super().__init__(f"raw object {key!r} is corrupted: sha256 {actual} but {expected} was recorded")


class NotSelect(QueryError):  # noqa: N818 - reads as what the statement is
    """The text holds a statement other than SELECT; the message names the statement kinds only."""


class AccessDenied(StorageError):  # noqa: N818 - reads as what happened to the request
    """A role or user asked for data its grant does not cover; the message names what and why."""
