"""One settings model for every LOCKGATE_* variable, and the context that hands it to flows and tasks."""

from __future__ import annotations

import getpass
import os
import threading
from typing import TYPE_CHECKING

import pytest
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import SecretStr

from contracts import keys as keys_module
from contracts.keys import key_id
from flows.errors import SettingsError
from flows.pipeline import ingest
from flows.results import SourceStatus
from flows.settings import MASK, Settings, current_settings, describe, env_name, parse_memory, use_settings
from labeling import server as server_module
from storage.curated import list_versions
from storage.store import open_store

if TYPE_CHECKING:
    from pathlib import Path

HEX_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
TOKEN = "a1" * 20
DSN = "postgresql://reader:hunter2-secret@db.internal:5432/shop"


@pytest.fixture(autouse=True)
def no_lockgate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment without any Lockgate variable."""
    for name in list(os.environ):
        if name.upper().startswith("LOCKGATE_"):
            monkeypatch.delenv(name)


def test_defaults_without_any_variable() -> None:
    settings = Settings()
    assert settings.lake == "lake"
    assert settings.warehouse is None and settings.label_studio_url is None
    assert settings.label_studio_token is None and settings.label_studio_password is None
    assert settings.label_studio_port == server_module.DEFAULT_LOCAL_PORT
    assert settings.keys == {} and settings.postgres == {}
    assert settings.user == getpass.getuser()  # who the audit log names, unless LOCKGATE_USER says


def test_every_field_reads_its_prefixed_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "LOCKGATE_LAKE": "s3://bucket/prod",
        "LOCKGATE_WAREHOUSE": str(tmp_path / "wh.duckdb"),
        "LOCKGATE_LABEL_STUDIO_URL": "http://127.0.0.1:8081",
        "LOCKGATE_LABEL_STUDIO_TOKEN": TOKEN,
        "LOCKGATE_LABEL_STUDIO_USERNAME": "admin@lockgate.test",
        "LOCKGATE_LABEL_STUDIO_PASSWORD": "pw-secret-123",
        "LOCKGATE_LABEL_STUDIO_BIN": str(tmp_path / "label-studio"),
        "LOCKGATE_LABEL_STUDIO_PORT": "9001",
        "LOCKGATE_USER": "retention-bot",
        "LOCKGATE_LINEAGE_NAMESPACE": "lockgate-prod",
        "LOCKGATE_LINEAGE_URL": "http://127.0.0.1:5000",
        "LOCKGATE_LINEAGE_API_KEY": "lineage-secret",
        "LOCKGATE_DOCS_URL": "http://docs.internal:8765",
        "LOCKGATE_DASK_ADDRESS": "tls://dask.internal:8786",
        "LOCKGATE_MEMORY_LIMIT": "512MiB",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.lake == "s3://bucket/prod"
    assert settings.warehouse == str(tmp_path / "wh.duckdb")
    assert settings.label_studio_url == "http://127.0.0.1:8081"
    assert settings.label_studio_token == SecretStr(TOKEN)
    assert settings.label_studio_username == "admin@lockgate.test"
    assert settings.label_studio_password == SecretStr("pw-secret-123")
    assert settings.label_studio_bin == str(tmp_path / "label-studio")
    assert settings.label_studio_port == 9001
    assert settings.user == "retention-bot"
    assert settings.lineage_namespace == "lockgate-prod"
    assert settings.lineage_url == "http://127.0.0.1:5000"
    assert settings.lineage_api_key == SecretStr("lineage-secret")
    assert settings.docs_url == "http://docs.internal:8765"
    assert settings.dask_address == "tls://dask.internal:8786"
    assert settings.memory_limit == 512 * 2**20
    assert {env_name(field) for field in Settings.model_fields if field not in {"keys", "postgres"}} == set(
        values
    )


def test_named_keys_and_connections_are_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_KEY_CARD_NUMBERS", HEX_KEY)
    monkeypatch.setenv("LOCKGATE_KEY_REID", "correct horse battery staple")
    monkeypatch.setenv("LOCKGATE_KEY_BLANK", "   ")  # blank: not set, as before
    monkeypatch.setenv("LOCKGATE_PG_ORDERS_DB", DSN)
    monkeypatch.setenv("LOCKGATE_KEYS", '{"other": "not read as JSON"}')
    settings = Settings()
    assert {name: key.get_secret_value() for name, key in settings.keys.items()} == {
        "card_numbers": HEX_KEY,
        "reid": "correct horse battery staple",
    }
    assert {name: dsn.get_secret_value() for name, dsn in settings.postgres.items()} == {"orders_db": DSN}
    assert keys_module.resolve_key("card_numbers", settings.keys) == bytes.fromhex(HEX_KEY)


def test_legacy_hash_key_is_the_default_key_unless_that_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_HASH_KEY", HEX_KEY)
    assert Settings().keys["default"].get_secret_value() == HEX_KEY
    monkeypatch.setenv("LOCKGATE_KEY_DEFAULT", "the specific variable wins")
    assert Settings().keys["default"].get_secret_value() == "the specific variable wins"


def test_empty_variables_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_URL", "")
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_PORT", "")
    settings = Settings()
    assert settings.label_studio_url is None
    assert settings.label_studio_port == server_module.DEFAULT_LOCAL_PORT


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_KEY_DEFAULT", HEX_KEY)
    monkeypatch.setenv("LOCKGATE_PG_SHOP", DSN)
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_TOKEN", TOKEN)
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_PASSWORD", "pw-secret-123")
    settings = Settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json() + repr(settings.model_dump())
    for secret in (HEX_KEY, DSN, "hunter2-secret", TOKEN, "pw-secret-123"):
        assert secret not in shown
    assert MASK in shown


def test_lower_layers_name_the_same_variables() -> None:
    """Messages below flows name the variables this model reads; the names must not drift apart."""
    from sources import postgres

    assert keys_module.env_vars("default") == ["LOCKGATE_KEY_DEFAULT", "LOCKGATE_HASH_KEY"]
    assert keys_module.env_vars("card_numbers") == ["LOCKGATE_KEY_CARD_NUMBERS"]
    assert postgres.env_var("orders_db") == "LOCKGATE_PG_ORDERS_DB"
    assert env_name("label_studio_url") == server_module.URL_ENV
    assert env_name("label_studio_token") == server_module.TOKEN_ENV
    assert env_name("label_studio_bin") == server_module.BIN_ENV


def test_describe_masks_secrets_and_says_where_each_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_HASH_KEY", HEX_KEY)
    monkeypatch.setenv("LOCKGATE_KEY_REID", "correct horse battery staple")
    monkeypatch.setenv("LOCKGATE_PG_SHOP", DSN)
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_TOKEN", TOKEN)
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_PORT", "9001")
    settings = Settings().with_label_studio("http://127.0.0.1:8099", "b2" * 20)
    rows = describe(settings)
    shown = {row.variable: (row.value, row.origin) for row in rows}
    assert shown["LOCKGATE_LAKE"] == ("lake", "default")
    assert shown["LOCKGATE_WAREHOUSE"] == ("(not set)", "default")
    assert shown["LOCKGATE_LABEL_STUDIO_PORT"] == ("9001", "environment")
    assert shown["LOCKGATE_LABEL_STUDIO_URL"] == ("http://127.0.0.1:8099", "given")
    assert shown["LOCKGATE_LABEL_STUDIO_TOKEN"] == (MASK, "given")
    assert shown["LOCKGATE_LABEL_STUDIO_PASSWORD"] == ("(not set)", "default")
    assert shown["LOCKGATE_KEY_DEFAULT"] == (MASK, "environment (LOCKGATE_HASH_KEY)")
    assert shown["LOCKGATE_KEY_REID"] == (MASK, "environment")
    assert shown["LOCKGATE_PG_SHOP"] == (MASK, "environment")
    text = repr(rows)
    for secret in (HEX_KEY, "correct horse battery staple", DSN, "hunter2-secret", TOKEN, "b2" * 20):
        assert secret not in text


def test_describe_without_keys_or_connections_names_the_families() -> None:
    shown = {row.variable: (row.value, row.origin) for row in describe(Settings())}
    assert shown["LOCKGATE_KEY_<NAME>"] == ("(not set)", "default")
    assert shown["LOCKGATE_PG_<NAME>"] == ("(not set)", "default")


def test_current_settings_reads_the_environment_outside_use_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_URL", "http://from-env:8080")
    assert current_settings().label_studio_url == "http://from-env:8080"
    given = Settings().with_label_studio("http://given:8080", TOKEN)
    with use_settings(given) as active:
        assert active is given
        assert current_settings() is given
    assert current_settings().label_studio_url == "http://from-env:8080"


# --- reaching Prefect's task threads -----------------------------------------------------------------


@task
def _seen_by_task(index: int) -> tuple[str | None, str | None, int]:
    settings = current_settings()
    token = settings.label_studio_token.get_secret_value() if settings.label_studio_token else None
    return settings.label_studio_url, token, threading.get_ident()


@flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
def _settings_flow() -> list[tuple[str | None, str | None, int]]:
    submitted = [_seen_by_task.submit(0).result()]
    return submitted + _seen_by_task.map(range(4)).result()


@pytest.mark.usefixtures("prefect_api")
def test_use_settings_reaches_task_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_URL", "http://from-env:8080")
    given = Settings().with_label_studio("http://given:8080", TOKEN)
    with use_settings(given):
        seen = _settings_flow()
    assert len(seen) == 5
    assert {(url, token) for url, token, _ in seen} == {("http://given:8080", TOKEN)}
    assert threading.get_ident() not in {thread for _, _, thread in seen}  # really other threads
    # Without the context the same flow reads the environment, as a deployment's worker does.
    assert {(url, token) for url, token, _ in _settings_flow()} == {("http://from-env:8080", None)}


@pytest.mark.usefixtures("prefect_api")
def test_ingest_takes_its_masking_key_from_the_settings_in_force(catalog: Path, tmp_path: Path) -> None:
    """No variable is set: the key reaches the flow through `use_settings` alone."""
    lake = str(tmp_path / "lake")
    with use_settings(Settings(keys={"default": SecretStr(HEX_KEY)})):
        [stores] = ingest(catalog=str(catalog), lake=lake, sources=["stores"]).sources
    assert stores.status is SourceStatus.PUBLISHED
    [version] = list_versions(open_store(lake), "stores")
    assert version.masked_columns["manager_email"] == f"hash:{key_id(bytes.fromhex(HEX_KEY))}"


def test_a_value_that_does_not_fit_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_LABEL_STUDIO_PORT", "eighty")
    with pytest.raises(SettingsError, match="LOCKGATE_LABEL_STUDIO_PORT: Input should be a valid integer"):
        current_settings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GiB", 2 * 2**30), ("512MB", 512 * 10**6), ("1048576", 2**20), ("1.5 GiB", 3 * 2**29)],
)
def test_a_memory_limit_is_read_in_any_unit(text: str, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"), [("lots", "not a size"), ("100KiB", "at least 1MiB"), ("-1GB", "not a size")]
)
def test_a_memory_limit_that_is_no_size_or_too_small_is_refused(
    text: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SettingsError, match=problem):
        parse_memory(text)
    monkeypatch.setenv("LOCKGATE_MEMORY_LIMIT", text)
    with pytest.raises(SettingsError, match="LOCKGATE_MEMORY_LIMIT: "):
        current_settings()
