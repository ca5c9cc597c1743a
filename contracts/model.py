"""The data contract: schema, quality rules and PII handling for one dataset.

The layout follows the Open Data Contract Standard v3 (``apiVersion``, ``kind``, ``id``,
``version``, ``status``, ``schema[].properties[]`` with ``logicalType``, ``required``, ``unique``,
``classification``, ``quality[]``), so people who know ODCS or datacontract-cli feel at home.
Lockgate's deviations, all documented in the README: exactly one schema object per contract, quality
rules are Great Expectations expectations with a ``severity``, and every property may carry ``pii``
and ``masking``.
"""

from __future__ import annotations

import itertools
import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$"
COLUMN_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"


class StrictModel(BaseModel):
    """Base for every catalog model (passports too): unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LogicalType(StrEnum):
    """ODCS logical types that map onto one columnar type each."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"


class Classification(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class PiiKind(StrEnum):
    """Kinds of personal data a column can hold; the scanner detects the same kinds."""

    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    INN = "inn"
    SNILS = "snils"
    PASSPORT_RU = "passport_ru"
    IBAN = "iban"
    IP = "ip"
    PERSON_NAME = "person_name"
    ADDRESS = "address"
    BIRTH_DATE = "birth_date"
    FREE_TEXT = "free_text"
    OTHER = "other"


class Severity(StrEnum):
    """What a failed expectation does: ``error`` stops the line, ``warn`` is reported only."""

    ERROR = "error"
    WARN = "warn"


class Action(StrEnum):
    """What a failed rule does: stop the line, set the failing rows aside, or warn."""

    BLOCK = "block"
    QUARANTINE = "quarantine"
    WARN = "warn"


class RedactRule(StrictModel):
    """Replace every non-null value by a fixed marker."""

    rule: Literal["redact"]
    replacement: str = "[REDACTED]"


class PartialRule(StrictModel):
    """Keep the last ``keep_last`` characters, mask the rest (cards, phones)."""

    rule: Literal["partial"]
    keep_last: int = Field(4, ge=0, le=16)
    mask_char: str = Field("*", min_length=1, max_length=1)


class HashRule(StrictModel):
    """Keyed HMAC-SHA256 pseudonym: stable per key, so joins across datasets still work."""

    rule: Literal["hash"]
    key: str = Field(
        "default",
        pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="Key name; the secret itself comes from the environment or a Prefect Secret block.",
    )


class DropRule(StrictModel):
    """Remove the column from the curated output."""

    rule: Literal["drop"]


class EncryptRule(StrictModel):
    """Reversible AES-256-GCM encryption, for data that some roles may re-identify with the key."""

    rule: Literal["encrypt"]
    key: str = Field(
        "default",
        pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="Key name; the secret itself comes from the environment or a Prefect Secret block.",
    )


class GeneralizeRule(StrictModel):
    """Coarsen instead of hiding: dates to their month or year, numbers to a range.

    Exactly one of ``to`` (dates and timestamps), ``buckets`` (explicit edges) or ``bucket_size``
    (equal-width ranges) is given; numbers become labels like ``[100, 500)``.
    """

    rule: Literal["generalize"]
    to: Literal["year", "month"] | None = Field(
        None, description="Dates: keep the first day of the year or month."
    )
    buckets: list[int | float] | None = Field(
        None, min_length=1, description="Numbers: increasing range edges; below the first is (-inf, first)."
    )
    bucket_size: int | float | None = Field(None, gt=0, description="Numbers: width of equal ranges from 0.")

    @model_validator(mode="after")
    def _exactly_one_target(self) -> GeneralizeRule:
        given = [name for name in ("to", "buckets", "bucket_size") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("generalize needs exactly one of 'to' (year|month), 'buckets' or 'bucket_size'")
        edges = self.buckets or []
        if any(not math.isfinite(e) for e in edges) or any(a >= b for a, b in itertools.pairwise(edges)):
            raise ValueError("generalize buckets must be finite and strictly increasing")
        if self.bucket_size is not None and not math.isfinite(self.bucket_size):
            raise ValueError("generalize bucket_size must be finite")
        return self


DETECTABLE_PII: tuple[PiiKind, ...] = (
    PiiKind.EMAIL,
    PiiKind.PHONE,
    PiiKind.CARD,
    PiiKind.INN,
    PiiKind.SNILS,
    PiiKind.PASSPORT_RU,
    PiiKind.IBAN,
    PiiKind.IP,
    PiiKind.PERSON_NAME,
)


class RedactPiiRule(StrictModel):
    """Free text: replace each piece of PII found in it by a marker ([EMAIL], [PHONE], [NAME], ...)."""

    rule: Literal["redact_pii"]
    kinds: list[PiiKind] | None = Field(
        None, min_length=1, description="Kinds to redact; all detectable kinds when omitted."
    )

    @field_validator("kinds")
    @classmethod
    def _detectable(cls, kinds: list[PiiKind] | None) -> list[PiiKind] | None:
        if kinds is not None:
            unknown = [k.value for k in kinds if k not in DETECTABLE_PII]
            if unknown:
                allowed = ", ".join(k.value for k in DETECTABLE_PII)
                raise ValueError(f"redact_pii cannot find {', '.join(unknown)}; it finds: {allowed}")
        return kinds


MaskingRule = Annotated[
    RedactRule | PartialRule | HashRule | DropRule | EncryptRule | GeneralizeRule | RedactPiiRule,
    Field(discriminator="rule"),
]
SHORTHAND_RULES = {"redact", "partial", "hash", "drop", "encrypt", "redact_pii"}
_RULES_WITH_PARAMETERS = {"generalize": "{rule: generalize, to: year} or {rule: generalize, bucket_size: 10}"}


def _allow_shorthand_in_schema(schema: dict[str, Any]) -> None:
    """Editors must accept ``masking: hash`` too, as the model does."""
    schema["anyOf"].insert(0, {"type": "string", "enum": sorted(SHORTHAND_RULES)})


class Property(StrictModel):
    """One column."""

    name: str = Field(pattern=COLUMN_PATTERN)
    logical_type: LogicalType = Field(alias="logicalType")
    physical_type: str | None = Field(None, alias="physicalType", description="Informational only.")
    description: str | None = None
    required: bool = False
    unique: bool = False
    primary_key: bool = Field(False, alias="primaryKey")
    classification: Classification | None = None
    pii: PiiKind | None = Field(None, description="Kind of personal data held; requires a masking rule.")
    masking: MaskingRule | None = Field(
        None,
        description="How the column is masked before it reaches the curated layer.",
        json_schema_extra=_allow_shorthand_in_schema,
    )

    @field_validator("masking", mode="before")
    @classmethod
    def _expand_shorthand(cls, value: Any) -> Any:
        """Allow ``masking: hash`` as shorthand for ``masking: {rule: hash}``."""
        if isinstance(value, str):
            if value in _RULES_WITH_PARAMETERS:
                example = _RULES_WITH_PARAMETERS[value]
                raise ValueError(f"masking rule '{value}' needs parameters: write {example}")
            if value not in SHORTHAND_RULES:
                raise ValueError(
                    f"unknown masking rule '{value}': use one of {', '.join(sorted(SHORTHAND_RULES))}"
                )
            return {"rule": value}
        return value

    @model_validator(mode="after")
    def _pii_needs_masking(self) -> Property:
        if self.pii is not None and self.masking is None:
            raise ValueError(
                f"column '{self.name}' holds PII ({self.pii.value}) but declares no masking rule"
            )
        return self

    @model_validator(mode="after")
    def _rule_fits_type(self) -> Property:
        """Generalising is defined per type (periods for dates, ranges for numbers); redact_pii needs text."""
        rule = self.masking
        if isinstance(rule, GeneralizeRule):
            dates = self.logical_type in (LogicalType.DATE, LogicalType.TIMESTAMP)
            numbers = self.logical_type in (LogicalType.INTEGER, LogicalType.NUMBER)
            if rule.to is not None and not dates:
                raise ValueError(f"column '{self.name}': generalize to {rule.to} needs a date or timestamp")
            if rule.to is None and not numbers:
                raise ValueError(f"column '{self.name}': generalize buckets need an integer or number column")
        if isinstance(rule, RedactPiiRule) and self.logical_type != LogicalType.STRING:
            raise ValueError(f"column '{self.name}': redact_pii works on string columns only")
        return self


class QualityRule(StrictModel):
    """One Great Expectations 1.x expectation, with what its failure means."""

    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description="Stable id for reports.")
    expectation: str = Field(pattern=r"^expect_[a-z0-9_]+$", description="GX expectation type.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Arguments of the expectation.")
    severity: Severity = Severity.ERROR
    action: Action | None = Field(
        None,
        description=(
            "On failure: block (stop-line), quarantine (set the failing rows aside, publish the rest) "
            "or warn. Default: block for severity error, warn for severity warn."
        ),
    )
    description: str | None = None

    @property
    def on_failure(self) -> Action:
        if self.action is not None:
            return self.action
        return Action.BLOCK if self.severity is Severity.ERROR else Action.WARN

    @property
    def column(self) -> str | None:
        column = self.kwargs.get("column")
        return column if isinstance(column, str) else None

    @property
    def rule_id(self) -> str:
        if self.id:
            return self.id
        return f"{self.expectation}:{self.column}" if self.column else self.expectation


DriftAction = Literal["warn", "block", "ignore"]


class VolumeCheck(StrictModel):
    """The batch's row count against the median row count of the last published runs."""

    max_change: float = Field(
        0.5, alias="maxChange", gt=0, description="Largest relative change either way: 0.5 allows ±50%."
    )
    action: DriftAction = Field("warn", description="warn (reported), block (stop-line) or ignore.")


class NullRateCheck(StrictModel):
    """Each column's share of nulls against its median over the last published runs; rises only."""

    max_increase: float = Field(
        10, alias="maxIncrease", gt=0, le=100, description="Largest rise, in percentage points."
    )
    columns: list[str] | None = Field(None, description="Columns checked; all when omitted.")
    action: DriftAction = Field("warn", description="warn (reported), block (stop-line) or ignore.")


class NewCategoriesCheck(StrictModel):
    """Values of categorical columns that none of the last published runs had. Only the columns named
    here have their value sets kept in profiles, and none of them may hold personal data."""

    columns: list[str] = Field(default_factory=list, description="Categorical columns, none of them PII.")
    max_categories: int = Field(
        1000,
        alias="maxCategories",
        ge=1,
        le=10000,
        description="A column with more distinct values keeps no value set (and is reported as drift).",
    )
    action: DriftAction = Field("warn", description="warn (reported), block (stop-line) or ignore.")


class DriftPolicy(StrictModel):
    """What to do when the data's columns drift from the contract (every kind blocks unless allowed), and
    when its profile drifts from the last published runs' (volume, null rates, new categories; warn by
    default)."""

    new_columns: Literal["block", "drop"] = Field(
        "block", alias="newColumns", description="Columns in the data but not in the contract."
    )
    missing_columns: Literal["block", "null"] = Field(
        "block",
        alias="missingColumns",
        description="Contract columns absent from the data; 'null' fills them with nulls (rules apply).",
    )
    retyped_columns: Literal["block", "cast"] = Field(
        "block",
        alias="retypedColumns",
        description="Typed sources (Parquet, NDJSON, PostgreSQL) delivering a column as another type.",
    )
    history: int = Field(5, ge=1, le=100, description="How many published runs the profile is compared with.")
    volume: VolumeCheck = Field(default_factory=VolumeCheck)
    null_rate: NullRateCheck = Field(default_factory=NullRateCheck, alias="nullRate")
    new_categories: NewCategoriesCheck = Field(default_factory=NewCategoriesCheck, alias="newCategories")


class SchemaObject(StrictModel):
    """The dataset's table: its columns and its quality rules."""

    name: str = Field(pattern=COLUMN_PATTERN)
    physical_name: str | None = Field(None, alias="physicalName")
    description: str | None = None
    properties: list[Property] = Field(min_length=1)
    quality: list[QualityRule] = Field(default_factory=list)
    drift: DriftPolicy = Field(default_factory=DriftPolicy, description="Schema drift handling.")
    malformed_rows: Literal["block", "quarantine"] = Field(
        "block",
        description=(
            "CSV records with too few or too many fields: block (stop-line naming file and line) or "
            "quarantine (set them aside with their file and line, publish the rest)."
        ),
    )

    @model_validator(mode="after")
    def _drift_columns(self) -> SchemaObject:
        """Profile checks name declared columns, and value sets are never kept for personal data."""
        declared = {prop.name: prop for prop in self.properties}
        named = [("nullRate", c) for c in self.drift.null_rate.columns or []]
        named += [("newCategories", c) for c in self.drift.new_categories.columns]
        for check, column in named:
            if column not in declared:
                raise ValueError(f"drift.{check} names unknown column '{column}'")
        for column in self.drift.new_categories.columns:
            prop = declared[column]
            if prop.pii is not None or prop.masking is not None or prop.classification == "restricted":
                raise ValueError(
                    f"drift.newCategories: column '{column}' is personal, masked or restricted; its values "
                    "never go into a profile"
                )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> SchemaObject:
        seen: set[str] = set()
        for prop in self.properties:
            if prop.name in seen:
                raise ValueError(f"column '{prop.name}' is declared twice")
            seen.add(prop.name)
        rule_ids = [rule.rule_id for rule in self.quality]
        duplicates = sorted({rid for rid in rule_ids if rule_ids.count(rid) > 1})
        if duplicates:
            raise ValueError(
                f"quality rule ids must be unique; give an explicit id to: {', '.join(duplicates)}"
            )
        for rule in self.quality:
            if rule.column is not None and rule.column not in seen:
                raise ValueError(f"quality rule '{rule.rule_id}' refers to unknown column '{rule.column}'")
        return self


class Description(StrictModel):
    purpose: str | None = None
    usage: str | None = None
    limitations: str | None = None


class Contract(StrictModel):
    """A data contract in ODCS v3 layout, restricted to one dataset."""

    schema_: str | None = Field(None, alias="$schema", description="Editor hint; ignored.")
    api_version: Literal["v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0"] = Field("v3.1.0", alias="apiVersion")
    kind: Literal["DataContract"] = "DataContract"
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    name: str | None = None
    version: str = Field(pattern=SEMVER_PATTERN, description="Semantic version of the contract.")
    status: Literal["proposed", "draft", "active", "deprecated", "retired"] = "active"
    description: Description | None = None
    schema_objects: list[SchemaObject] = Field(alias="schema", min_length=1, max_length=1)

    @property
    def table(self) -> SchemaObject:
        return self.schema_objects[0]

    @property
    def columns(self) -> list[Property]:
        return self.table.properties

    @property
    def quality(self) -> list[QualityRule]:
        return self.table.quality

    def column(self, name: str) -> Property:
        for prop in self.columns:
            if prop.name == name:
                return prop
        raise KeyError(name)
