"""Masking keys come from the environment (through the settings) or a Prefect Secret block, and are named,
never shown."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

import pytest

from contracts.errors import MissingKeyError, WeakKeyError
from contracts.keys import key_id, resolve_key
from flows.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

HEX_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
UNREACHABLE_API = "http://127.0.0.1:9/api"  # nothing listens on the discard port


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOCKGATE_KEY_DEFAULT", "LOCKGATE_HASH_KEY", "LOCKGATE_KEY_CARD_NUMBERS"):
        monkeypatch.delenv(name, raising=False)


def test_hex_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_KEY_CARD_NUMBERS", f" {HEX_KEY}\n")
    assert resolve_key("card_numbers", Settings().keys) == bytes.fromhex(HEX_KEY)


def test_text_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_KEY_DEFAULT", "correct horse battery staple")
    assert resolve_key("default", Settings().keys) == b"correct horse battery staple"


def test_default_key_also_reads_lockgate_hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_HASH_KEY", HEX_KEY)
    assert resolve_key("default", Settings().keys) == bytes.fromhex(HEX_KEY)
    monkeypatch.setenv("LOCKGATE_KEY_DEFAULT", "the specific variable wins")
    assert resolve_key("default", Settings().keys) == b"the specific variable wins"


def test_short_key_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_KEY_DEFAULT", "tooshort")
    with pytest.raises(WeakKeyError) as info:
        resolve_key("default", Settings().keys)
    message = str(info.value)
    assert "LOCKGATE_KEY_DEFAULT" in message and "8 bytes" in message
    assert "tooshort" not in message


def test_missing_key_says_what_to_create(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", UNREACHABLE_API)
    with pytest.raises(MissingKeyError) as info:
        resolve_key("card_numbers", Settings().keys)
    message = str(info.value)
    assert "LOCKGATE_KEY_CARD_NUMBERS" in message
    assert "Prefect Secret block 'lockgate-key-card-numbers'" in message
    assert info.value.name == "card_numbers"
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, MissingKeyError) and str(again) == message


def test_missing_default_key_names_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", UNREACHABLE_API)
    with pytest.raises(MissingKeyError, match="LOCKGATE_KEY_DEFAULT or LOCKGATE_HASH_KEY"):
        resolve_key("default", Settings().keys)


def test_key_id_identifies_without_revealing() -> None:
    key = bytes.fromhex(HEX_KEY)
    assert key_id(key) == key_id(bytes.fromhex(HEX_KEY))
    assert len(key_id(key)) == 12
    assert int(key_id(key), 16) >= 0
    assert key_id(key) != key_id(key + b"x")
    assert key_id(key) not in HEX_KEY


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.mark.slow
def test_key_from_a_prefect_secret_block(prefect_api: None) -> None:
    from prefect.blocks.system import Secret

    Secret(value=HEX_KEY).save("lockgate-key-card-numbers", overwrite=True)
    assert resolve_key("card_numbers", Settings().keys) == bytes.fromhex(HEX_KEY)
    with pytest.raises(MissingKeyError, match="lockgate-key-nothing-here"):
        resolve_key("nothing_here", Settings().keys)
