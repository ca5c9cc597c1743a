"""The source passport: who owns a source, why it may be used, and how to read it.

A passport is what a data owner writes (one YAML file per source). It is the single place where
ownership, legal basis, schedule, sensitivity and retention are declared; flows read schedules and
storage reads sensitivity from here, never from code.
"""

from __future__ import annotations

import codecs
import re
from datetime import date, datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated, Literal

from croniter import croniter
from pydantic import (
    AfterValidator,
    EmailStr,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from contracts.model import StrictModel

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _slug(value: str) -> str:
    if not SLUG_RE.fullmatch(value):
        raise ValueError("not a slug: use a-z, 0-9 and '_', start with a letter, at most 63 characters")
    return value


Slug = Annotated[
    str,
    AfterValidator(_slug),
    WithJsonSchema({"type": "string", "pattern": SLUG_RE.pattern, "description": "Lower-case slug."}),
]


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


def _decodes(codec: codecs.CodecInfo) -> bool:
    """False for a codec that refuses every input (Python's ``undefined``)."""
    try:
        codec.incrementaldecoder().decode(b"", final=True)
    except UnicodeError:
        return False
    return True


class CsvOptions(StrictModel):
    """How delimited text is written; shared by every connector that can deliver CSV."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    header: bool = True
    encoding: str = Field("utf-8", description="A Python text codec name, e.g. utf-8, cp1251.")
    quote_char: str | None = Field('"', max_length=1)
    null_values: list[str] = Field(default_factory=lambda: [""])

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, value: str) -> str:
        """A codec that turns bytes into text: Python also has bytes-to-bytes ones (zlib_codec,
        base64) and text-to-text ones (rot13) that would pass a plain lookup and fail the run."""
        try:
            codec = codecs.lookup(value.strip())
        except LookupError as exc:
            raise ValueError("unknown text encoding: use a codec name such as utf-8 or cp1251") from exc
        if not codec._is_text_encoding or not _decodes(codec):
            raise ValueError(
                "not a text encoding (a binary or text transform): use one such as utf-8 or cp1251"
            )
        return codec.name


CSV_OPTIONS = tuple(CsvOptions.model_fields)


class CsvConnector(CsvOptions):
    """A delimited text file (or glob of files) next to the catalog."""

    kind: Literal["csv"]
    path: str = Field(description="File or glob, relative to the catalog folder.")

    _check_path = field_validator("path")(relative_path)


class ParquetConnector(StrictModel):
    kind: Literal["parquet"]
    path: str = Field(description="File or glob, relative to the catalog folder.")

    _check_path = field_validator("path")(relative_path)


class NdjsonConnector(StrictModel):
    """Newline-delimited JSON: one object per line."""

    kind: Literal["ndjson"]
    path: str = Field(description="File or glob, relative to the catalog folder.")

    _check_path = field_validator("path")(relative_path)


# --- PostgreSQL ------------------------------------------------------------------------------------

# One identifier as PostgreSQL stores it in its catalog (taken literally: quoted, so case-sensitive).
_PG_NAME = r"[^\W\d][\w$]{0,62}"
PG_COLUMN_RE = re.compile(rf"^{_PG_NAME}$")
PG_TABLE_RE = re.compile(rf"^{_PG_NAME}\.{_PG_NAME}$")
_QUERY_START = re.compile(r"^\s*(select|with|values|table)\b", re.IGNORECASE)


class Incremental(StrictModel):
    """Load only rows added since the last successful run, tracked by a watermark column.

    Each run reads rows whose column is at least the last maximum (``>=``) and drops the rows it
    already delivered at exactly that maximum (recognised by a digest of the whole row), so rows that
    tie on the watermark (a date column, a batch sharing one timestamp) are neither lost nor loaded
    twice. Rows where the column is NULL are never extracted. Rows changed in place without their
    watermark moving forward are not seen again: the column must grow for every new or changed row.
    A row committed after a run with a value below that run's maximum (a long transaction stamped at
    its start) is missed too: prefer a sequence or a time set at commit for the column.
    """

    column: str = Field(description="Watermark column, e.g. id or updated_at (as stored: case-sensitive).")
    initial: Annotated[
        str | None,
        # YAML writes 2024-01-01 as a date and 1000 as a number; both are accepted and kept as text.
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]}),
    ] = Field(
        None,
        description="Start from rows with column >= this value (PostgreSQL literal); all rows when absent.",
    )

    @field_validator("column")
    @classmethod
    def _column_name(cls, value: str) -> str:
        if not PG_COLUMN_RE.fullmatch(value):
            raise ValueError("not a column name: letters, digits, '_' or '$', at most 63")
        return value

    @field_validator("initial", mode="before")
    @classmethod
    def _literal_text(cls, value: object) -> object:
        """YAML reads 2024-01-01 as a date and 100 as a number; the watermark is PostgreSQL literal text."""
        if isinstance(value, date | datetime):
            return value.isoformat()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


def _credentials_name(value: str) -> str:
    if not SLUG_RE.fullmatch(value):
        # Not echoed: someone may have pasted a connection string, password included, in here.
        raise ValueError(
            "must name a connection (a slug such as orders_db) whose connection string is set in the "
            "environment variable LOCKGATE_PG_<NAME> or a Prefect Secret block lockgate-pg-<name>; "
            "a connection string never goes in the passport"
        )
    return value


CredentialsName = Annotated[
    str,
    AfterValidator(_credentials_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SLUG_RE.pattern,
            "description": "Connection name: env LOCKGATE_PG_<NAME> or Prefect Secret lockgate-pg-<name>.",
        }
    ),
]


class PostgresConnector(StrictModel):
    """A PostgreSQL table or SELECT, streamed into one Parquet file per run.

    The passport names credentials, never holds them: ``credentials: orders_db`` is resolved at run
    time from the environment variable ``LOCKGATE_PG_ORDERS_DB`` or the Prefect Secret block
    ``lockgate-pg-orders-db``, either holding a libpq connection string or URL.
    """

    kind: Literal["postgres"]
    credentials: CredentialsName
    table: str | None = Field(None, description="Schema-qualified table or view, e.g. public.orders.")
    query: str | None = Field(
        None,
        description="A SELECT to run instead of naming a table (read-only transaction).",
        validate_default=True,
    )
    incremental: Incremental | None = Field(None, description="Absent: every run is a full load.")
    batch_rows: int = Field(100_000, ge=1, le=1_000_000, description="Rows fetched and written at a time.")

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None and not PG_TABLE_RE.fullmatch(value):
            raise ValueError(
                "not a schema-qualified table name such as public.orders "
                "(names are taken as stored: case-sensitive, no quotes)"
            )
        return value

    @field_validator("query")
    @classmethod
    def _one_of_table_or_query(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "table" not in info.data:
            return value  # table itself is wrong: that is the error to report
        table = info.data["table"]
        if value is None:
            if table is None:
                raise ValueError("give either table (e.g. public.orders) or query (a SELECT)")
            return None
        if table is not None:
            raise ValueError("give either table or query, not both")
        value = value.strip().rstrip(";").rstrip()
        if not _QUERY_START.match(value):
            raise ValueError("query must be a single SELECT (or WITH … SELECT) statement")
        return value

    @property
    def label(self) -> str:
        """How errors and summaries name what is read (the query text itself may be long)."""
        return self.table if self.table is not None else "query"


# --- S3 --------------------------------------------------------------------------------------------

S3_URL_RE = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")
S3Format = Literal["csv", "ndjson", "parquet"]


class S3Connector(CsvOptions):
    """Objects under an S3 prefix (any S3-compatible service), picked up once each as they arrive.

    Endpoint and credentials come from the standard AWS configuration (``AWS_ENDPOINT_URL``, keys,
    profiles, roles), never from the passport. The CSV options apply only to ``format: csv``.
    """

    kind: Literal["s3"]
    url: str = Field(description="Folder to watch: s3://bucket/prefix/ (the trailing '/' is implied).")
    pattern: str = Field(
        "*",
        description="Glob on object names under the prefix: '*' stays in the folder, '**/' descends.",
    )
    format: S3Format

    @field_validator("url")
    @classmethod
    def _s3_url(cls, value: str) -> str:
        match = S3_URL_RE.fullmatch(value)
        if match is None or ".." in match["bucket"]:
            raise ValueError(
                "not an S3 folder URL such as s3://bucket/prefix/ (bucket: 3-63 of a-z, 0-9, '.', '-')"
            )
        prefix = match["prefix"] or ""
        if prefix.startswith("/") or "//" in prefix:
            raise ValueError("the prefix of this S3 URL has an empty path segment ('//')")
        return value if not prefix or prefix.endswith("/") else value + "/"

    @field_validator("pattern")
    @classmethod
    def _relative_glob(cls, value: str) -> str:
        parts = value.split("/")
        if not value or value.startswith("/") or "" in parts or ".." in parts:
            raise ValueError("must be a glob relative to the prefix, without empty segments or '..'")
        return value

    @model_validator(mode="after")
    def _csv_options_only_for_csv(self) -> S3Connector:
        stray = [name for name in CSV_OPTIONS if name in self.model_fields_set]
        if self.format != "csv" and stray:
            raise ValueError(f"{', '.join(stray)} only apply to format: csv, not {self.format}")
        return self

    @property
    def bucket(self) -> str:
        return self.url.removeprefix("s3://").partition("/")[0]

    @property
    def prefix(self) -> str:
        """Key prefix, '' or ending in '/'."""
        return self.url.removeprefix("s3://").partition("/")[2]


Connector = Annotated[
    CsvConnector | ParquetConnector | NdjsonConnector | PostgresConnector | S3Connector,
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
                f"neither one of {', '.join(FREQUENCY_CRON)} nor a valid 5-field cron expression"
            )
        return value

    @property
    def cron(self) -> str:
        """The schedule as a cron expression, whatever form the owner wrote it in."""
        return FREQUENCY_CRON.get(self.update_frequency, self.update_frequency)
