"""Release ids: the same parts give the same id whatever order they came in; any one part changed gives
a new id."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.release import ID_PREFIX, ReleaseParts, content_sha256, release_id

SHA256 = st.text("0123456789abcdef", min_size=64, max_size=64)
NAMES = st.text(st.characters(categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=12)
VALUES = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.lists(NAMES, max_size=3))
PARTS = st.fixed_dictionaries(
    {
        "inputs": st.lists(SHA256, min_size=1, max_size=6, unique=True),
        "contract_id": NAMES,
        "contract_version": NAMES,
        "contract_sha256": SHA256,
        "code_version": NAMES,
        "key_ids": st.dictionaries(NAMES, NAMES, max_size=4),
        "erasures": st.lists(SHA256, max_size=4, unique=True),
        "config": st.dictionaries(NAMES, VALUES, max_size=4),
    }
)


def _changed(field: str, value: Any, data: st.DataObject) -> Any:
    """`value` with one change of the kind its field can have (a list or dict gains or loses an entry)."""
    if field in {"inputs", "erasures"}:
        extra = data.draw(SHA256.filter(lambda s: s not in value), label="added")
        return [*value, extra] if len(value) < 2 or data.draw(st.booleans(), label="add") else value[1:]
    if field in {"key_ids", "config"}:
        key = data.draw(NAMES, label="key")
        if key in value:
            return {k: v for k, v in value.items() if k != key}
        return {**value, key: data.draw(NAMES, label="value")}
    return data.draw(NAMES.filter(lambda s: s != value), label="new")


@settings(max_examples=150, deadline=None)
@given(parts=PARTS, data=st.data())
def test_the_same_parts_in_any_order_give_the_same_id(parts: dict[str, Any], data: st.DataObject) -> None:
    shuffled = {
        **parts,
        "inputs": data.draw(st.permutations(parts["inputs"]), label="inputs"),
        "erasures": data.draw(st.permutations(parts["erasures"]), label="erasures"),
        "key_ids": dict(reversed(parts["key_ids"].items())),
        "config": dict(reversed(parts["config"].items())),
    }
    first, second = ReleaseParts.model_validate(parts), ReleaseParts.model_validate(shuffled)
    assert first.release_id == second.release_id == release_id(first)
    assert first.release_id.startswith(ID_PREFIX) and len(first.release_id) == len(ID_PREFIX) + 24
    assert first.inputs == sorted(parts["inputs"])  # stored canonical, so shown and re-hashed the same


@settings(max_examples=150, deadline=None)
@given(parts=PARTS, field=st.sampled_from(sorted(ReleaseParts.model_fields)), data=st.data())
def test_any_single_part_changed_gives_a_new_id(
    parts: dict[str, Any], field: str, data: st.DataObject
) -> None:
    changed = {**parts, field: _changed(field, parts[field], data)}
    assert ReleaseParts.model_validate(changed).release_id != ReleaseParts.model_validate(parts).release_id


def test_a_repeated_input_is_one_input() -> None:
    """Two files with the same bytes are one input: the id says what the data is built from."""
    once = ReleaseParts(
        inputs=["a" * 64], contract_id="c", contract_version="1", contract_sha256="s", code_version="0"
    )
    twice = once.model_copy(update={"inputs": ["a" * 64, "a" * 64]})
    assert ReleaseParts.model_validate(twice.model_dump()).release_id == once.release_id


def test_unknown_parts_are_refused() -> None:
    """Nothing outside the documented parts (a time, a run id) can slip into an id."""
    with pytest.raises(ValueError, match="run_id"):
        ReleaseParts.model_validate(
            {
                "inputs": [],
                "contract_id": "c",
                "contract_version": "1",
                "contract_sha256": "s",
                "code_version": "0",
                "run_id": "r1",
            }
        )


@given(document=st.dictionaries(NAMES, VALUES, max_size=6))
def test_content_hash_ignores_key_order(document: dict[str, Any]) -> None:
    reordered = dict(reversed(document.items()))
    assert content_sha256(document) == content_sha256(reordered)
    assert len(content_sha256(document)) == 64
