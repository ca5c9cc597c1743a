"""One reader for Prefect Secret blocks, against a real Prefect API."""

from __future__ import annotations

import uuid

import pytest
from prefect.blocks.system import Secret

from contracts.errors import SecretUnavailable
from contracts.secrets import read_prefect_secret


def test_text_is_read_stripped_and_a_missing_block_is_none(prefect_api: None) -> None:
    name = f"lockgate-test-{uuid.uuid4().hex[:8]}"
    assert read_prefect_secret(name) is None
    Secret(value="  postgresql://reader@db:5432/shop\n").save(name, overwrite=True)
    assert read_prefect_secret(name) == "postgresql://reader@db:5432/shop"


def test_a_block_without_text_is_unusable_and_says_so_without_its_value(prefect_api: None) -> None:
    name = f"lockgate-test-{uuid.uuid4().hex[:8]}"
    Secret(value={"password": "hunter2-not-shown"}).save(name, overwrite=True)
    with pytest.raises(SecretUnavailable) as info:
        read_prefect_secret(name)
    assert not info.value.unreachable and info.value.block == name
    assert "hunter2" not in str(info.value)


def test_an_unreachable_api_is_told_apart() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        pytest.raises(SecretUnavailable) as info,
    ):
        read_prefect_secret("lockgate-anything")
    assert info.value.unreachable and "could not be asked" in info.value.reason
