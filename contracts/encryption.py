"""Reversible encryption of column values: AES-256-GCM, one random nonce per value.

Output is ``v1:`` + base64url(nonce ‖ ciphertext ‖ tag), unpadded: text, so it fits any string column
and any file format. The version prefix lets a later scheme coexist with data already written.

The key is never used directly: HKDF-SHA256 derives the 32-byte AES key from whatever the key
resolver returns (any key of 16 bytes or more), with an ``info`` label that keeps it apart from the
same secret's use as an HMAC key by the ``hash`` rule.

This is the one masking operator that is Python per value, by nature: AES-GCM has no polars or DuckDB
kernel. It is kept tight — one AESGCM instance, one ``os.urandom`` call for all nonces, a single list
comprehension — measured here at ≈2.6 s per million short values (decrypt ≈2.2 s). Random nonces
make the output non-deterministic: equal inputs give different ciphertexts, so encrypted columns
cannot be joined or grouped on (use ``hash`` for that). With 96-bit random nonces, NIST SP 800-38D's
2³² messages per key limit applies; rotate the key well before four billion values.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import TYPE_CHECKING

import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from contracts.errors import DecryptionError
from contracts.keys import resolve_key

if TYPE_CHECKING:
    from contracts.keys import Configured

PREFIX = "v1:"
NONCE_BYTES = 12
AES_KEY_BYTES = 32
_HKDF_INFO = b"lockgate encrypt v1 aes-256-gcm"


def derive_key(key: bytes) -> bytes:
    """The AES-256 key for a masking key (HKDF-SHA256, no salt, fixed info label)."""
    return HKDF(algorithm=hashes.SHA256(), length=AES_KEY_BYTES, salt=None, info=_HKDF_INFO).derive(key)


def _text(series: pl.Series) -> pl.Series:
    return series if series.dtype == pl.String else series.cast(pl.String)


def encrypt_series(series: pl.Series, key: bytes) -> pl.Series:
    """Each non-null value encrypted (its UTF-8 text form); nulls stay null, order is kept."""
    aead = AESGCM(derive_key(key))
    values = _text(series).to_list()
    nonces = os.urandom(NONCE_BYTES * len(values))
    encode = base64.urlsafe_b64encode
    seal = aead.encrypt
    out = [
        None
        if value is None
        else PREFIX
        + encode(
            (n := nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]) + seal(n, value.encode("utf-8"), None)
        )
        .rstrip(b"=")
        .decode("ascii")
        for i, value in enumerate(values)
    ]
    return pl.Series(series.name, out, dtype=pl.String)


def decrypt_column(series: pl.Series, key: bytes | str, configured: Configured = None) -> pl.Series:
    """The plaintext of an encrypted column, for roles allowed to re-identify.

    `key` is the key itself or its name, resolved like the pipeline does from `configured` (the
    settings' keys) or a Prefect Secret block. Values come back as text: the column's original type is
    the contract's to restore.
    """
    raw_key = resolve_key(key, configured) if isinstance(key, str) else key
    aead = AESGCM(derive_key(raw_key))
    out: list[str | None] = []
    for row, value in enumerate(_text(series).to_list()):
        if value is None:
            out.append(None)
            continue
        if not value.startswith(PREFIX):
            raise DecryptionError(f"row {row}: not a Lockgate {PREFIX[:-1]} ciphertext")
        body = value[len(PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            out.append(aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None).decode("utf-8"))
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionError(
                f"row {row}: cannot decrypt (wrong key, or the value was altered)"
            ) from None
    return pl.Series(series.name, out, dtype=pl.String)
