"""The source passport: who owns a source, why it may be used, and how to read it.

A passport is what a data owner writes (one YAML file per source). It is the single place where
ownership, legal basis, schedule, sensitivity and retention are declared; flows read schedules and
storage reads sensitivity from here, never from code.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated, Literal

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, WithJsonSchema, field_validator

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _slug(value: str) -> str:
    if not SLUG_RE.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a slug: use a-z, 0-9 and '_', start with a letter, at most 63 characters"
        )
    return value


Slug = Annotated[
    str,
    AfterValidator(_slug),
    WithJsonSchema({"type": "string", "pattern": SLUG_RE.pattern, "description": "Lower-case slug."}),
]


class StrictModel(BaseModel):
    """Base for every catalog model: unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LegalBasis(StrEnum):
    """GDPR Art. 6 / 152-FZ lawful grounds for processing."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


class Sensitivity(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


FREQUENCY_CRON = {
    "hourly": "0 * * * *",
    "daily": "0 3 * * *",
    "weekly": "0 3 * * 1",
    "monthly": "0 3 1 * *",
}


def relative_path(value: str) -> str:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts:
        raise ValueError("must be a path relative to the catalog folder, without '..'")
    return value


class CsvConnector(StrictModel):
    """A delimited text file (or glob of files) next to the catalog."""

    kind: Literal["csv"]
    path: str = Field(description="File or glob, relative to the catalog folder.")
    delimiter: str = Field(",", min_length=1, max_length=1)
    header: bool = True
    encoding: str = Field("utf-8", description="Any Python codec name, e.g. utf-8, cp1251.")
    quote_char: str | None = Field('"', max_length=1)
    null_values: list[str] = Field(default_factory=lambda: [""])

    _check_path = field_validator("path")(relative_path)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown text encoding '{value}'") from exc
        return value


class ParquetConnector(StrictModel):
    kind: Literal["parquet"]
    path: str = Field(description="File or glob, relative to the catalog folder.")

    _check_path = field_validator("path")(relative_path)


class NdjsonConnector(StrictModel):
    """Newline-delimited JSON: one object per line."""

    kind: Literal["ndjson"]
    path: str = Field(description="File or glob, relative to the catalog folder.")

    _check_path = field_validator("path")(relative_path)


Connector = Annotated[
    CsvConnector | ParquetConnector | NdjsonConnector,
    Field(discriminator="kind"),
]


class Passport(StrictModel):
    """Everything a data owner declares about one source."""

    schema_: str | None = Field(None, alias="$schema", description="Editor hint; ignored.")
    name: Slug
    title: str = Field(min_length=1, max_length=200)
    description: str | None = None
    owner: EmailStr = Field(description="Accountable owner's e-mail.")
    steward: EmailStr = Field(description="Day-to-day steward's e-mail.")
    purpose: str = Field(min_length=10, description="Why this data is collected and used.")
    legal_basis: LegalBasis
    update_frequency: str = Field(description="hourly, daily, weekly, monthly or a 5-field cron expression.")
    sensitivity: Sensitivity
    retention_days: int = Field(gt=0, le=36500)
    contract: str = Field(description="Contract YAML, relative to the catalog folder.")
    connector: Connector
    tags: list[Slug] = Field(default_factory=list)

    _check_contract = field_validator("contract")(relative_path)

    @field_validator("update_frequency")
    @classmethod
    def _frequency_or_cron(cls, value: str) -> str:
        if value in FREQUENCY_CRON:
            return value
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(
                f"'{value}' is neither one of {', '.join(FREQUENCY_CRON)} nor a valid 5-field cron expression"
            )
        return value

    @property
    def cron(self) -> str:
        """The schedule as a cron expression, whatever form the owner wrote it in."""
        return FREQUENCY_CRON.get(self.update_frequency, self.update_frequency)
