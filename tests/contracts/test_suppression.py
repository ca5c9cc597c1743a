"""Normal forms, subject hashes, curated pseudonyms and the suppression list that later runs apply."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from contracts.errors import MissingKeyError, SuppressionError
from contracts.keys import key_id
from contracts.masking import mask
from contracts.quarantine import RAW_FIELDS
from contracts.suppression import (
    drop_suppressed,
    form_of,
    key_name,
    matchable,
    matcher,
    normalise,
    quarantine_hits,
    stored_values,
    subject_hash,
    suppression_key,
)
from storage.local import LocalStore
from storage.suppression import SuppressionEntry, add_entry, entries

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import MakeContract

    from contracts.model import Contract

KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
OLD_KEY = b"an older key, rotated away"


@pytest.fixture
def people(make_contract: MakeContract) -> Contract:
    return make_contract(
        [
            {"name": "person_id", "logicalType": "integer", "primaryKey": True},
            {"name": "email", "logicalType": "string", "pii": "email", "masking": "hash"},
            {"name": "phone", "logicalType": "string", "pii": "phone", "masking": {"rule": "partial"}},
            {"name": "card", "logicalType": "string", "pii": "card", "masking": {"rule": "encrypt"}},
            {"name": "city", "logicalType": "string"},
        ]
    )


def test_normal_forms_find_the_same_person_in_other_spellings() -> None:
    assert normalise(["  Ann.Lee@Example.ORG ", "ann.lee@example.org", "Ａｎｎ"], "text") == [
        "ann.lee@example.org",
        "ann.lee@example.org",
        "ann",  # NFKC: full-width letters are letters
    ]
    assert normalise(
        ["+7 912 345-67-89", "8 (912) 345 67 89", "79123456789", "no digits", None], "phone"
    ) == [
        "79123456789",
        "79123456789",
        "79123456789",
        None,
        None,
    ]
    assert normalise(["Анна  Сергеевна\tКузнецова", "   "], "text") == ["анна сергеевна кузнецова", None]
    target, matches = matcher("ANN.LEE@example.org ", "text")
    assert target == "ann.lee@example.org"
    assert matches(["ann.lee@example.org", "bob@example.org", None, " Ann.Lee@EXAMPLE.org"]) == [
        True,
        False,
        False,
        True,
    ]
    with pytest.raises(SuppressionError, match="blank"):
        matcher("   ", "text")


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=30), form=st.sampled_from(["text", "phone"]))
def test_a_normal_form_is_its_own_normal_form_and_matches_its_spellings(value: str, form: str) -> None:
    [normal] = normalise([value], form)  # type: ignore[arg-type]
    if normal is None:
        return
    assert normalise([normal], form) == [normal]  # type: ignore[arg-type]
    _, matches = matcher(value, form)  # type: ignore[arg-type]
    spellings = [value, f"  {value}\t"] + (
        [value.upper()] if form == "text" and value.upper().lower() == value.lower() else []
    )
    assert all(matches(spellings))


def test_subject_hash_is_hmac_of_source_column_and_normal_form() -> None:
    digest = subject_hash("customers", "email", " Ann@Example.org", "text", KEY)
    expected = hmac.new(KEY, b"customers\x1femail\x1fann@example.org", hashlib.sha256).hexdigest()
    assert digest == expected
    assert subject_hash("tickets", "email", "ann@example.org", "text", KEY) != digest  # per source


def test_which_key_hashes_a_columns_subjects(people: Contract, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # no Prefect Secret block to fall back on
    assert key_name(people.column("email")) == "default"
    assert key_name(people.column("card")) == "default"  # encrypt's key
    assert key_name(people.column("city")) == "suppression"
    assert form_of(people.column("phone")) == "phone" and form_of(people.column("email")) == "text"
    with pytest.raises(MissingKeyError, match="LOCKGATE_KEY_SUPPRESSION") as info:
        suppression_key(people.column("city"), {"default": SecretStr(KEY.hex())})
    assert "city" in str(info.value)
    assert suppression_key(people.column("city"), {"suppression": SecretStr("x" * 20)}) == b"x" * 20


def test_stored_values_are_what_the_pipeline_wrote(people: Contract) -> None:
    frame = pl.DataFrame({"person_id": ["7"], "email": ["Ann@Example.org"], "city": ["Omsk"]})
    from contracts.conform import conform

    written = mask(conform(frame, people).frame, people, {"default": KEY}).frame
    assert stored_values(people, "email", ["Ann@Example.org"], {"default": KEY}) == [written["email"][0]]
    assert stored_values(people, "person_id", ["7", "not a number"], {}) == ["7"]
    assert stored_values(people, "city", ["Omsk"], {}) == ["Omsk"]
    assert [matchable(people.column(c)) for c in ("person_id", "email", "phone", "card")] == [
        True,
        True,
        False,
        False,
    ]


def test_quarantine_hits_by_column_and_by_unreadable_records_fields() -> None:
    frame = pl.DataFrame(
        {
            "email": ["ann@example.org", "bob@example.org", None],
            RAW_FIELDS: [None, None, ["x", " ANN@example.org", "y"]],
        },
        schema={"email": pl.String, RAW_FIELDS: pl.List(pl.String)},
    )
    assert quarantine_hits(frame, "email", "text", "ann@example.org").to_list() == [True, False, True]
    assert quarantine_hits(frame.drop(RAW_FIELDS), "email", "text", "nobody").to_list() == [False] * 3


def _suppress(
    store: LocalStore, column: str, value: str, key: bytes, name: str = "default"
) -> SuppressionEntry:
    entry = SuppressionEntry(
        source="people",
        column=column,
        digest=subject_hash("people", column, value, "text", key),
        form="text",
        key_name=name,
        key_id=key_id(key),
        erasure_id="20260101T000000Z-abcd1234",
        at=datetime.now(UTC),
    )
    assert add_entry(store, entry)
    return entry


def test_drop_suppressed_leaves_out_erased_subjects_and_says_whose(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "lake")
    frame = pl.DataFrame({"person_id": [1, 2, 3, 4], "email": ["Ann@x.org", "bob@x.org", "ann@x.org ", None]})
    untouched = drop_suppressed(frame, "people", store=store, keys={"default": KEY})
    assert untouched.frame is frame and untouched.dropped == 0  # no entries: nothing read, nothing dropped

    entry = _suppress(store, "email", "ANN@x.org", KEY)
    assert not add_entry(store, entry)  # the same subject twice: one entry
    kept = drop_suppressed(frame, "people", store=store, keys={"default": KEY})
    assert kept.dropped == 2 and kept.frame["person_id"].to_list() == [2, 4]
    assert kept.digests == [entry.digest]

    # A subject erased by an integer column, under the suppression key, from the configured keys only.
    _suppress(store, "person_id", "4", b"s" * 16, name="suppression")
    both = drop_suppressed(
        frame, "people", store=store, keys={"default": KEY}, configured={"suppression": SecretStr("s" * 16)}
    )
    assert both.frame["person_id"].to_list() == [2]


def test_a_rotated_key_still_suppresses_while_it_is_configured(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "lake")
    _suppress(store, "email", "ann@x.org", OLD_KEY)
    frame = pl.DataFrame({"email": ["ann@x.org", "bob@x.org"]})
    configured = {"default": SecretStr(KEY.hex()), "default_2025": SecretStr(OLD_KEY.decode())}
    kept = drop_suppressed(frame, "people", store=store, keys={"default": KEY}, configured=configured)
    assert kept.frame["email"].to_list() == ["bob@x.org"]
    with pytest.raises(SuppressionError, match=f"id {key_id(OLD_KEY)}") as info:
        drop_suppressed(
            frame, "people", store=store, keys={"default": KEY}, configured={"default": SecretStr(KEY.hex())}
        )
    assert "ann@x.org" not in str(info.value)


def test_an_entry_for_a_column_the_data_lost_stops_the_source(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "lake")
    _suppress(store, "email", "ann@x.org", KEY)
    with pytest.raises(SuppressionError, match="column email"):
        drop_suppressed(pl.DataFrame({"person_id": [1]}), "people", store=store, keys={"default": KEY})
    assert [e.column for e in entries(store, "people")] == ["email"]
