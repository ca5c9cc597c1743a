"""The people, cities and notes every generated row is drawn from, made once per seed with Faker.

Calling Faker once per row would take longer than the pipeline being measured, so Faker fills small
pools here and `data` draws millions of rows from them with numpy. The people come from `people`, the
vocabulary and `Faces` the example catalog's generator draws its customers with, so the bench table looks
like the demo's customers; the draws happen in a fixed order, so the same seed still gives the same bytes
and cached files and past figures stay comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from lockgate_bench.people import (
    EMAIL_DOMAINS,
    EN_CITIES,
    EN_NOTES,
    EN_PII_NOTES,
    RU_NOTES,
    RU_PII_NOTES,
    Faces,
    latin,
)

RU_PEOPLE_POOL = 3_500
EN_PEOPLE_POOL = 1_500
PII_NOTE_POOL = 5_000  # distinct operator notes naming a person, a phone or an e-mail


def _pii_note(faces: Faces, russian: bool) -> str:
    """An operator's note naming an e-mail, a phone or another person (the redact_pii rule's work)."""
    _, first, last = faces.name(russian)  # the draws' order is fixed: it decides the bytes
    template = faces.rng.choice(RU_PII_NOTES if russian else EN_PII_NOTES)
    email = faces.email(first, last)
    phone = faces.phone(russian)
    return template.format(email=email, phone=phone, other_name=faces.name(russian)[0])


@dataclass(frozen=True)
class Pools:
    """Everything that comes from Faker, drawn once: people (name and e-mail user), cities and notes.

    People are Russian first (`RU_PEOPLE_POOL` of them), then English; `data` relies on that order.
    """

    full_names: pl.Series
    users: pl.Series
    ru_cities: pl.Series
    en_cities: pl.Series
    domains: pl.Series
    ru_notes: pl.Series
    en_notes: pl.Series
    ru_pii_notes: pl.Series
    en_pii_notes: pl.Series


def make_pools(seed: int) -> Pools:
    """The pools for `seed`; every Faker and `random` draw happens here, in a fixed order."""
    faces = Faces(seed)
    ru_cities = faces.ru_city_names()
    names: list[str] = []
    users: list[str] = []
    for russian, size in ((True, RU_PEOPLE_POOL), (False, EN_PEOPLE_POOL)):
        for _ in range(size):
            full, first, last = faces.name(russian)
            names.append(full)
            users.append(f"{latin(first)}.{latin(last)}")
    ru_share = RU_PEOPLE_POOL / (RU_PEOPLE_POOL + EN_PEOPLE_POOL)
    ru_pii = [_pii_note(faces, True) for _ in range(round(PII_NOTE_POOL * ru_share))]
    en_pii = [_pii_note(faces, False) for _ in range(round(PII_NOTE_POOL * (1 - ru_share)))]
    text = pl.String
    return Pools(
        full_names=pl.Series(names, dtype=text),
        users=pl.Series(users, dtype=text),
        ru_cities=pl.Series(ru_cities, dtype=text),
        en_cities=pl.Series(EN_CITIES, dtype=text),
        domains=pl.Series(EMAIL_DOMAINS, dtype=text),
        ru_notes=pl.Series(RU_NOTES, dtype=text),
        en_notes=pl.Series(EN_NOTES, dtype=text),
        ru_pii_notes=pl.Series(ru_pii, dtype=text),
        en_pii_notes=pl.Series(en_pii, dtype=text),
    )
