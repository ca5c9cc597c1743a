"""The suppression list: subjects erased from a source, kept as keyed hashes so later runs leave them out.

An erasure removes what the lake holds today; the source may deliver the same person again tomorrow.
Each erased subject is recorded as one object, ``suppression/<source>/<column>/<digest>.json``, where
the digest is a keyed HMAC-SHA256 of the source, the column and the value's normal form (computed in
`contracts.suppression`): without the key nobody can tell whom an entry names, and the value itself is
never stored. The entry records the key's name and id (never the key), so a later run finds the key
that made it, even after the column's key was rotated.

One object per entry, written create-if-absent: two erasures at once never lose each other's entry, and
erasing the same subject twice leaves one entry. This layer knows nothing of masking or keys: it stores
and lists what the layers above computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from storage import layout
from storage.errors import CorruptMetadata, ObjectNotFound
from storage.tags import access_tags

if TYPE_CHECKING:
    from storage.base import ObjectStore

Form = Literal["text", "phone"]


class SuppressionEntry(BaseModel):
    """One erased subject of one source, as a keyed hash of one column's value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    column: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")  # HMAC-SHA256 hex of (source, column, normal form)
    form: Form  # which normal form of the value was hashed (see contracts.suppression)
    key_name: str  # the key's name when the entry was made (the column's masking key, or "suppression")
    key_id: str  # its fingerprint (contracts.keys.key_id): which key, never the key
    erasure_id: str
    at: AwareDatetime

    @property
    def key(self) -> str:
        return layout.suppression_key(self.source, self.column, self.digest)


def add_entry(store: ObjectStore, entry: SuppressionEntry, *, sensitivity: str | None = None) -> bool:
    """Record the subject; False when an earlier erasure already did (that entry is kept as it is).

    Tagged ``layer=state``: like connector state, it is what the next run of the source starts from.
    """
    tags = access_tags("state", entry.source, sensitivity=sensitivity, pii=True)
    return store.put_bytes_if_absent(entry.key, entry.model_dump_json(indent=2).encode(), tags=tags)


def entries(store: ObjectStore, source: str) -> list[SuppressionEntry]:
    """Every subject suppressed in the source; one listing, then one read per entry."""
    found: list[SuppressionEntry] = []
    for key in store.list(layout.suppression_prefix(source)):
        try:
            entry = SuppressionEntry.model_validate_json(store.get_bytes(key))
        except ObjectNotFound:
            continue
        except ValidationError:
            raise CorruptMetadata(f"suppression entry {key!r} cannot be read") from None
        if entry.key != key:
            raise CorruptMetadata(f"suppression entry {key!r} names another source, column or digest")
        found.append(entry)
    return found


__all__ = ["Form", "SuppressionEntry", "add_entry", "entries"]
