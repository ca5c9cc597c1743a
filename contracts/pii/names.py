"""Person names: natasha's NER for Russian text, a given-name list for English text.

natasha (slovnet NER over navec embeddings) is trained on Russian news. Measured here, it tags
Russian names well ("Доронин Никон Чеславович", "Джон Смит") but finds no PER at all in English
sentences ("Please call John Smith tomorrow" → nothing; inside Russian text it calls "John Smith" an
ORG). English names are therefore found by a rule: a common English given name (bundled list, see
``en_given_names.txt``) followed by a capitalised surname, or a title (Mr, Mrs, Dr, ...) followed by
a capitalised word.

NER is the expensive step (≈0.2 ms per short text in batches on one core, ≈1 s to load), so it
only runs on texts that pass `name_gate`: two capitalised words in a row, or a capitalised word in
the middle of a sentence. A lone name opening a text ("Иван позвонил") is missed by design; that is
the price of not running NER over every sentence that starts with a capital letter.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Sequence

# Polars (Rust regex) expression for texts worth sending to NER. find_spans uses the very same
# expression, so a text the column-wise filter skips is one find_spans would find no name in either.
NAME_GATE = (
    r"\p{Lu}\p{Ll}+\.?[ \t,]+\p{Lu}\p{Ll}"  # two capitalised words: Иванов Иван, John Smith, Mr. Smith
    r"|\p{Lu}\p{Ll}+[ \t]+\p{Lu}\.[ \t]*\p{Lu}"  # John F. Kennedy, Иванов И. И.
    r"|\p{Lu}\p{Ll}+[ \t]+\p{Lu}['’]\p{Lu}"  # John O'Brien
    r"|[\p{Ll},:;—–-][ \t]+\p{Lu}\p{Ll}"  # a capital inside a sentence: ... звонила Крюкова
)
# A value that is a name and nothing else: two or three capitalised words.
NAME_SHAPE = r"^\p{Lu}[\p{L}'’-]*\.?(?:[ \t]+\p{Lu}[\p{L}'’-]*\.?){1,2}$"

NER_BATCH = 64
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam)"
_CAP = r"(?:[A-Z]['’])?[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?"  # Smith, O'Brien, McDonald, Smith-Jones
_GIVEN_THEN_SURNAME = re.compile(rf"(?<![\w'’-])([A-Z][a-z]+)(?:[ \t]+[A-Z]\.)?[ \t]+({_CAP})(?![\w'’-])")
_TITLE_THEN_NAME = re.compile(
    rf"(?<![\w'’-]){_TITLES}\.?[ \t]+(?!{_TITLES}\b){_CAP}(?:[ \t]+{_CAP})?(?![\w'’-])"
)
# Capitalised words that follow a given name without making a person: places, firms, calendar.
_NOT_SURNAMES = frozenset(
    {
        "Street",
        "St",
        "Road",
        "Rd",
        "Avenue",
        "Ave",
        "Lane",
        "Square",
        "Park",
        "Hall",
        "House",
        "Center",
        "Centre",
        "Bank",
        "Inc",
        "Ltd",
        "Llc",
        "Corp",
        "Company",
        "Group",
        "University",
        "College",
        "School",
        "Hospital",
        "Hotel",
        "Airport",
        "Station",
        "City",
        "County",
        "State",
        "Church",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "The",
        "And",
        "Or",
        "Of",
    }
)
_load_lock = threading.Lock()


@cache
def english_given_names() -> frozenset[str]:
    """The bundled list of common English given names."""
    path = Path(__file__).with_name("en_given_names.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def english_name_spans(text: str) -> list[tuple[int, int]]:
    """Spans of English person names by rule: given name + surname, or title + name."""
    given = english_given_names()
    spans = [
        m.span()
        for m in _GIVEN_THEN_SURNAME.finditer(text)
        if m.group(1) in given and m.group(2) not in _NOT_SURNAMES
    ]
    spans.extend(m.span() for m in _TITLE_THEN_NAME.finditer(text))
    return spans


def name_gate(texts: Sequence[str]) -> list[bool]:
    """Which texts are worth running NER on (the same rule the column-wise filter applies)."""
    return pl.Series(texts, dtype=pl.String).str.contains(NAME_GATE).fill_null(False).to_list()


@cache
def _tagger() -> Any:
    """natasha's NER tagger, loaded once per process (≈1 s; bundled models, no download)."""
    with _load_lock:
        from natasha import NewsEmbedding, NewsNERTagger

        tagger = NewsNERTagger(NewsEmbedding())
        # slovnet pads and runs texts in batches of 8 by default; 64 measured ≈3× faster, same spans.
        tagger.batch_size = NER_BATCH
        tagger.infer.encoder.batch_size = NER_BATCH
        return tagger


def ner_person_spans(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """natasha PER spans for each text, computed text by text (in slovnet batches).

    Texts are never joined into one document: measured, natasha then runs names of adjacent rows
    together into one PER span across the separator. Only spans with Cyrillic letters are kept: on
    Latin text the Russian model guesses (it tagged a lone "Mrs." as PER in Faker's English prose),
    and English names have their own rule.
    """
    if not texts:
        return []
    return [
        [
            (span.start, span.stop)
            for span in markup.spans
            if span.type == "PER" and _CYRILLIC.search(markup.text, span.start, span.stop)
        ]
        for markup in _tagger().map(list(texts))
    ]


def person_spans(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """Person-name spans (natasha PER ∪ English rule) for texts that pass `name_gate`; [] for the rest."""
    gate = name_gate(texts)
    chosen = [i for i, ok in enumerate(gate) if ok]
    result: list[list[tuple[int, int]]] = [[] for _ in texts]
    if not chosen:
        return result
    ner = ner_person_spans([texts[i] for i in chosen])
    for i, spans in zip(chosen, ner, strict=True):
        result[i] = merge_adjacent(texts[i], [*spans, *english_name_spans(texts[i])])
    return result


def merge_adjacent(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans, or spans apart by blanks only, as one: "Крюкова" + "Галина Оскаровна"."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or not text[merged[-1][1] : start].strip()):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
