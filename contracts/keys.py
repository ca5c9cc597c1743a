"""Masking keys: looked up by name in the configured keys or a Prefect Secret block, never read from YAML.

A contract says only which key a hash rule uses (``key: default``); whoever runs the pipeline
provides the secret, as ``LOCKGATE_KEY_<NAME>`` (read by `flows.settings`, which hands the keys down:
this module reads no environment) or as a Prefect Secret block. Keys are identified in logs and
manifests by `key_id`, a one-way fingerprint, so a run can show which key masked the data without
revealing it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import SecretStr

from contracts.errors import MissingKeyError, SecretUnavailable, WeakKeyError
from contracts.secrets import read_prefect_secret

if TYPE_CHECKING:
    Configured = Mapping[str, SecretStr] | SecretStr | str | None

MIN_KEY_BYTES = 16
MIN_HEX_CHARS = 32
ENV_PREFIX = "LOCKGATE_KEY_"
LEGACY_DEFAULT_ENV = "LOCKGATE_HASH_KEY"
SECRET_PREFIX = "lockgate-key-"  # noqa: S105 - a block name prefix, not a secret
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


def env_vars(name: str) -> list[str]:
    """Environment variables that set key `name`, in order of precedence (named in messages)."""
    names = [f"{ENV_PREFIX}{name.upper()}"]
    if name == "default":
        names.append(LEGACY_DEFAULT_ENV)
    return names


def secret_block_name(name: str) -> str:
    """Prefect block names allow no underscores: ``card_numbers`` → ``lockgate-key-card-numbers``."""
    return SECRET_PREFIX + name.replace("_", "-")


def missing_key(name: str, reason: str | None = None) -> MissingKeyError:
    """The error for an unset key, saying every place Lockgate looked."""
    return MissingKeyError(name, _missing_message(name, reason))


def _missing_message(name: str, reason: str | None = None) -> str:
    where = " or ".join(env_vars(name))
    note = f" ({reason})" if reason else ""
    return (
        f"masking key '{name}' is not set: set {where} to at least {MIN_KEY_BYTES} bytes "
        f"(text, or {MIN_HEX_CHARS}+ hex digits), or create a Prefect Secret block "
        f"'{secret_block_name(name)}'{note}"
    )


def decode_key(name: str, value: str, source: str) -> bytes:
    """Hex when it looks like hex (an even run of at least 32 hex digits), UTF-8 text otherwise."""
    value = value.strip()
    key = bytes.fromhex(value) if len(value) >= MIN_HEX_CHARS and _HEX.match(value) else value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise WeakKeyError(
            name,
            f"masking key '{name}' from {source} is {len(key)} bytes; at least {MIN_KEY_BYTES} are required",
        )
    return key


def _from_prefect(name: str) -> str | None:
    """The Secret block's value, or None when there is no such block."""
    block = secret_block_name(name)
    try:
        return read_prefect_secret(block)
    except SecretUnavailable as exc:
        if exc.unreachable:
            raise missing_key(name, exc.reason) from None
        raise WeakKeyError(
            name, f"masking key '{name}': Prefect Secret block '{block}' must hold text"
        ) from None


def _configured(configured: Configured, name: str) -> str | None:
    """The configured text for key `name`: from a mapping of keys by name, or the key itself."""
    if isinstance(configured, Mapping):
        configured = configured.get(name)
    if isinstance(configured, SecretStr):
        configured = configured.get_secret_value()
    return configured if configured and configured.strip() else None


def resolve_key(name: str, configured: Configured) -> bytes:
    """The key called `name`: as configured, else from a Prefect Secret block; raises when absent or weak.

    `configured` is the settings' keys by name (``Settings.keys``), or this key's own value, or None.
    """
    value = _configured(configured, name)
    if value is not None:
        return decode_key(name, value, " or ".join(env_vars(name)))
    value = _from_prefect(name)
    if value is None:
        raise missing_key(name)
    return decode_key(name, value, f"Prefect Secret block '{secret_block_name(name)}'")


def key_id(key: bytes) -> str:
    """A short fingerprint that tells keys apart in logs and manifests without revealing them."""
    return hashlib.sha256(b"lockgate-key-id" + key).hexdigest()[:12]
