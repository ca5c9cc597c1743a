"""`lockgate config show`: every setting, its value and origin, as an operator checks a deployment.

The command is what people paste into tickets and chat, so no secret's value may ever reach it.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from cli.app import app
from flows.settings import MASK, NOT_SET
from labeling.server import DEFAULT_LOCAL_PORT

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typer.testing import Result

SECRETS = {
    "LOCKGATE_KEY_REID": "5c1f" * 16,
    "LOCKGATE_HASH_KEY": "a7e3" * 16,
    "LOCKGATE_LABEL_STUDIO_TOKEN": "0123456789abcdef0123456789abcdef01234567",
    "LOCKGATE_LABEL_STUDIO_PASSWORD": "correct-horse-battery-staple",
    "LOCKGATE_PG_CRM": "postgresql://reader:s3cr3t-pw@db.internal:5432/crm",
}


@pytest.fixture(autouse=True)
def _no_lockgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start from no LOCKGATE_* variable, so the origins shown depend on the test alone."""
    for name in [n for n in os.environ if n.upper().startswith("LOCKGATE_")]:
        monkeypatch.delenv(name)


def show(*args: str, env: Mapping[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["config", "show", *args], env={"COLUMNS": "200", **(env or {})})


def rows(result: Result) -> dict[str, tuple[str, str]]:
    """The JSON output as variable → (value, origin)."""
    data = json.loads(result.stdout)
    assert all(set(row) == {"variable", "value", "origin"} for row in data)
    return {row["variable"]: (row["value"], row["origin"]) for row in data}


def table_rows(result: Result) -> dict[str, tuple[str, str]]:
    """The table's body rows as variable → (value, origin)."""
    cells = [[c.strip() for c in line.strip()[1:-1].split("│")] for line in result.stdout.splitlines()]
    return {row[0]: (row[1], row[2]) for row in cells if row[0].startswith("LOCKGATE_")}


def test_defaults_as_a_table() -> None:
    result = show()
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Lockgate settings")
    assert table_rows(result) == {
        "LOCKGATE_LAKE": ("lake", "default"),
        "LOCKGATE_WAREHOUSE": (NOT_SET, "default"),
        "LOCKGATE_LABEL_STUDIO_URL": (NOT_SET, "default"),
        "LOCKGATE_LABEL_STUDIO_TOKEN": (NOT_SET, "default"),
        "LOCKGATE_LABEL_STUDIO_USERNAME": (NOT_SET, "default"),
        "LOCKGATE_LABEL_STUDIO_PASSWORD": (NOT_SET, "default"),
        "LOCKGATE_LABEL_STUDIO_BIN": (NOT_SET, "default"),
        "LOCKGATE_LABEL_STUDIO_PORT": (str(DEFAULT_LOCAL_PORT), "default"),
        "LOCKGATE_USER": (getpass.getuser(), "default"),
        "LOCKGATE_LINEAGE_NAMESPACE": ("lockgate", "default"),
        "LOCKGATE_LINEAGE_URL": (NOT_SET, "default"),
        "LOCKGATE_LINEAGE_API_KEY": (NOT_SET, "default"),
        "LOCKGATE_DOCS_URL": (NOT_SET, "default"),
        "LOCKGATE_DASK_ADDRESS": (NOT_SET, "default"),
        "LOCKGATE_MEMORY_LIMIT": ("2.0GiB", "default"),
        "LOCKGATE_KEY_<NAME>": (NOT_SET, "default"),
        "LOCKGATE_PG_<NAME>": (NOT_SET, "default"),
    }
    assert table_rows(show(env={"LOCKGATE_LAKE": "/srv/lake"}))["LOCKGATE_LAKE"] == (
        "/srv/lake",
        "environment",
    )


def test_json_names_each_value_and_where_it_came_from() -> None:
    result = show(
        "--format", "json", env={"LOCKGATE_LAKE": "s3://bucket/lake", "LOCKGATE_KEY_REID": "ab" * 32}
    )
    assert result.exit_code == 0, result.output
    shown = rows(result)
    assert shown["LOCKGATE_LAKE"] == ("s3://bucket/lake", "environment")
    assert shown["LOCKGATE_WAREHOUSE"] == (NOT_SET, "default")
    assert shown["LOCKGATE_LABEL_STUDIO_PORT"] == (str(DEFAULT_LOCAL_PORT), "default")
    assert shown["LOCKGATE_KEY_REID"] == (MASK, "environment")
    assert "LOCKGATE_KEY_<NAME>" not in shown  # the placeholder only stands in for no key at all


def test_secrets_set_in_the_environment_are_never_printed() -> None:
    text = show(env=SECRETS)
    as_json = show("--format", "json", env=SECRETS)
    assert text.exit_code == 0, text.output
    assert as_json.exit_code == 0, as_json.output
    for name, secret in SECRETS.items():
        assert secret not in text.output, name
        assert secret not in as_json.output, name
        assert secret.split("@")[0] not in as_json.output, name  # nor a part of it
    shown = rows(as_json)
    assert shown["LOCKGATE_KEY_REID"] == (MASK, "environment")
    assert shown["LOCKGATE_KEY_DEFAULT"] == (MASK, "environment (LOCKGATE_HASH_KEY)")
    assert shown["LOCKGATE_LABEL_STUDIO_TOKEN"] == (MASK, "environment")
    assert shown["LOCKGATE_LABEL_STUDIO_PASSWORD"] == (MASK, "environment")
    assert shown["LOCKGATE_PG_CRM"] == (MASK, "environment")
    assert [value for value, _ in table_rows(text).values()].count(MASK) == len(SECRETS)


def test_invalid_value_exits_2_naming_the_variable() -> None:
    result = show(env={"LOCKGATE_LABEL_STUDIO_PORT": "eighty", **SECRETS})
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a traceback
    assert result.stdout == ""
    assert "invalid settings" in result.stderr
    assert "LOCKGATE_LABEL_STUDIO_PORT: Input should be a valid integer" in result.stderr
    assert "eighty" not in result.stderr  # values are not echoed: the next one could be a secret
    assert not [name for name, secret in SECRETS.items() if secret in result.output]
