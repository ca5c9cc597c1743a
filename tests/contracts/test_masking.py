"""Masking: each operator on real polars frames, HMAC checked against Python's hmac module."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import MissingKeyError
from contracts.keys import key_id
from contracts.masking import mask, required_keys

if TYPE_CHECKING:
    from collections.abc import Callable

    from contracts.model import Contract

    MakeContract = Callable[..., Contract]


KEY = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0")
OTHER_KEY = b"another key of enough length"
EMAILS = ["anna@example.com", None, "Борис@пример.рф", ""]

texts = st.lists(st.one_of(st.none(), st.text(max_size=40)), min_size=1, max_size=20)
keys = st.binary(min_size=16, max_size=100)


def _values_frame(values: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"person_id": range(len(values)), "value": values}, schema_overrides={"value": pl.String}
    )


def _hmac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _masking_contract(make_contract: MakeContract, masking: object, logical: str = "string") -> Contract:
    return make_contract(
        [
            {"name": "person_id", "logicalType": "integer"},
            {"name": "value", "logicalType": logical, "pii": "other", "masking": masking},
        ]
    )


def test_hash_equals_python_hmac_and_keeps_nulls(make_contract: MakeContract) -> None:
    frame = pl.DataFrame({"person_id": [1, 2, 3, 4], "value": EMAILS})
    result = mask(frame, _masking_contract(make_contract, "hash"), {"default": KEY})

    assert result.frame["value"].to_list() == [None if v is None else _hmac(KEY, v) for v in EMAILS]
    assert result.frame["person_id"].to_list() == [1, 2, 3, 4]  # unmasked columns pass through, in order
    assert result.applied == {"value": "hash"}
    assert result.key_ids == {"value": key_id(KEY)}


def test_hash_of_non_text_columns_hashes_their_text(make_contract: MakeContract) -> None:
    frame = pl.DataFrame({"person_id": [1, 2], "value": [date(1990, 1, 2), None]})
    contract = _masking_contract(make_contract, {"rule": "hash", "key": "birth"}, logical="date")
    result = mask(frame, contract, {"birth": KEY})
    assert result.frame["value"].to_list() == [_hmac(KEY, "1990-01-02"), None]


def test_hash_needs_its_key(make_contract: MakeContract) -> None:
    contract = _masking_contract(make_contract, {"rule": "hash", "key": "cards"})
    assert required_keys(contract) == {"cards"}
    with pytest.raises(MissingKeyError, match="LOCKGATE_KEY_CARDS"):
        mask(pl.DataFrame({"person_id": [1], "value": ["x"]}), contract, {"default": KEY})


def test_redact_replaces_values_and_keeps_nulls(make_contract: MakeContract) -> None:
    frame = pl.DataFrame({"person_id": [1, 2, 3, 4], "value": EMAILS})
    result = mask(frame, _masking_contract(make_contract, {"rule": "redact", "replacement": "<hidden>"}), {})
    assert result.frame["value"].to_list() == ["<hidden>", None, "<hidden>", "<hidden>"]
    assert result.applied == {"value": "redact"}
    assert result.key_ids == {}


def test_partial_keeps_the_tail_and_masks_short_values_whole(make_contract: MakeContract) -> None:
    frame = pl.DataFrame(
        {"person_id": [1, 2, 3, 4, 5], "value": ["4111111111111111", "1234", "12", None, "Ёжик😀"]}
    )
    result = mask(
        frame, _masking_contract(make_contract, {"rule": "partial", "keep_last": 4, "mask_char": "#"}), {}
    )
    assert result.frame["value"].to_list() == ["############1111", "####", "##", None, "#жик😀"]


def test_drop_removes_the_column(make_contract: MakeContract) -> None:
    frame = pl.DataFrame({"person_id": [1, 2], "value": ["a", "b"]})
    result = mask(frame, _masking_contract(make_contract, "drop"), {})
    assert result.frame.columns == ["person_id"]
    assert result.applied == {"value": "drop"}


def test_several_rules_and_keys_in_one_frame(make_contract: MakeContract) -> None:
    contract = make_contract(
        [
            {"name": "email", "logicalType": "string", "pii": "email", "masking": "hash"},
            {
                "name": "inn",
                "logicalType": "string",
                "pii": "inn",
                "masking": {"rule": "hash", "key": "tax_ids"},
            },
            {"name": "phone", "logicalType": "string", "pii": "phone", "masking": "partial"},
            {"name": "city", "logicalType": "string"},
        ]
    )
    frame = pl.DataFrame(
        {
            "email": ["a@x.ru", "b@x.ru"],
            "inn": ["7707083893", None],
            "phone": ["+79161234567", None],
            "city": ["A", "B"],
        }
    )
    result = mask(frame, contract, {"default": KEY, "tax_ids": OTHER_KEY})
    assert required_keys(contract) == {"default", "tax_ids"}
    assert result.frame.columns == ["email", "inn", "phone", "city"]
    assert result.frame.row(0) == (_hmac(KEY, "a@x.ru"), _hmac(OTHER_KEY, "7707083893"), "********4567", "A")
    assert result.key_ids == {"email": key_id(KEY), "inn": key_id(OTHER_KEY)}


@settings(max_examples=60, deadline=None)
@given(values=texts, key=keys)
def test_hmac_equals_python_hmac_for_any_text_and_key(
    make_contract: MakeContract, values: list[str | None], key: bytes
) -> None:
    frame = _values_frame(values)
    result = mask(frame, _masking_contract(make_contract, "hash"), {"default": key})
    assert result.frame["value"].to_list() == [None if v is None else _hmac(key, v) for v in values]


@settings(max_examples=40, deadline=None)
@given(values=texts, key=keys, other=keys)
def test_hash_is_deterministic_per_key_and_differs_across_keys(
    make_contract: MakeContract, values: list[str | None], key: bytes, other: bytes
) -> None:
    frame = _values_frame(values)
    contract = _masking_contract(make_contract, "hash")
    first = mask(frame, contract, {"default": key}).frame["value"]
    assert first.equals(mask(frame, contract, {"default": key}).frame["value"])
    if key != other:
        second = mask(frame, contract, {"default": other}).frame["value"]
        for a, b in zip(first, second, strict=True):
            assert (a is None and b is None) or a != b
    assert all(h is None or (len(h) == 64 and h == h.lower()) for h in first)


@settings(max_examples=80, deadline=None)
@given(values=texts, keep_last=st.integers(0, 16), mask_char=st.characters(exclude_categories=["Cs"]))
def test_partial_keeps_exactly_the_last_n_characters(
    make_contract: MakeContract, values: list[str | None], keep_last: int, mask_char: str
) -> None:
    frame = _values_frame(values)
    masking = {"rule": "partial", "keep_last": keep_last, "mask_char": mask_char}
    masked = mask(frame, _masking_contract(make_contract, masking), {}).frame["value"].to_list()
    for original, out in zip(values, masked, strict=True):
        if original is None:
            assert out is None
            continue
        assert len(out) == len(original)
        kept = keep_last if len(original) > keep_last else 0
        assert out[len(out) - kept :] == original[len(original) - kept :]
        assert out[: len(out) - kept] == mask_char * (len(original) - kept)


@settings(max_examples=60, deadline=None)
@given(values=texts, replacement=st.text(max_size=12))
def test_redact_leaves_no_original_value(
    make_contract: MakeContract, values: list[str | None], replacement: str
) -> None:
    frame = _values_frame(values)
    masking = {"rule": "redact", "replacement": replacement}
    masked = mask(frame, _masking_contract(make_contract, masking), {}).frame["value"].to_list()
    assert masked == [None if v is None else replacement for v in values]
    assert all(out is None or out == replacement for out in masked)
