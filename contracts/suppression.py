"""Who a subject is, without saying it: normal forms, keyed hashes, pseudonyms and the suppression list.

An erasure request names a subject by one column's value in clear (``email=ann@example.com``). This
module turns that value into what each layer holds and what may be kept:

- the **normal form**, so ``Ann@Example.com`` and ``ann@example.com ``, or ``+7 903 970-28-80`` and
  ``89039702880``, are the same subject: NFKC, trimmed, inner whitespace collapsed and lower-cased for
  text; the digits (a Russian 11-digit ``8…`` number read as ``7…``) for phones. One polars expression
  (:func:`normal_form`) computes it everywhere, for one value as for a column, so the two never disagree;
- the **subject hash**: HMAC-SHA256 of ``source ␟ column ␟ normal form`` under the column's masking key
  (its ``hash`` or ``encrypt`` key), or under the key named ``suppression`` for columns without one. It
  is what the receipt, the audit log and the suppression list hold: without the key nobody can tell
  whom it names;
- the **stored values**: what the curated layer holds for a clear value, computed by the contract's own
  `conform` and `mask`, so the pseudonym is exactly the one the pipeline wrote. Only a column kept as
  it is or masked by ``hash`` can be matched this way; ``encrypt`` is random per value and the other
  rules are not one-to-one (a ``partial`` phone shared by two people), see :func:`matchable`.

Later runs call :func:`drop_suppressed` right after conform, so an erased subject delivered again never
reaches the curated layer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl
from pydantic import SecretStr

from contracts.conform import conform
from contracts.errors import MaskingKeyError, MissingKeyError, SuppressionError
from contracts.keys import decode_key, key_id, missing_key, resolve_key
from contracts.masking import hmac_sha256_hex, mask
from contracts.model import EncryptRule, HashRule, PiiKind
from contracts.quarantine import RAW_FIELDS
from storage.suppression import entries

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from contracts.keys import Configured
    from contracts.model import Contract, Property
    from storage.base import ObjectStore
    from storage.suppression import Form, SuppressionEntry

SUPPRESSION_KEY = "suppression"  # the key of columns without a keyed masking rule: LOCKGATE_KEY_SUPPRESSION
_SEPARATOR = "\x1f"  # ASCII unit separator: never typed in a source or column name
_MESSAGE = "__lockgate_subject"


def form_of(prop: Property) -> Form:
    """Phones are compared by their digits; everything else as trimmed, lower-cased text."""
    return "phone" if prop.pii is PiiKind.PHONE else "text"


def normal_form(expr: pl.Expr, form: Form) -> pl.Expr:
    """The value's normal form as text; null when nothing is left (a blank value, a phone without digits)."""
    text = expr.cast(pl.String).str.normalize("NFKC")
    if form == "phone":
        digits = text.str.replace_all(r"\D", "")
        text = (
            pl.when((digits.str.len_chars() == 11) & digits.str.starts_with("8"))
            .then(pl.concat_str([pl.lit("7"), digits.str.slice(1)]))
            .otherwise(digits)
        )
    else:
        text = text.str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()
    return pl.when(text.str.len_chars() > 0).then(text).otherwise(None)


def normalise(values: Sequence[str | None], form: Form) -> list[str | None]:
    """`normal_form` of each value (the same expression, so a value and a column agree)."""
    series = pl.Series("v", list(values), dtype=pl.String)
    return series.to_frame().select(normal_form(pl.col("v"), form)).to_series().to_list()


def matcher(value: str, form: Form) -> tuple[str, Callable[[Sequence[str | None]], list[bool]]]:
    """The value's normal form and a function telling, for a batch of values, which are the subject's.

    A value whose normal form is empty matches nothing: erasing "everyone without a phone" is not a
    request this command takes.
    """
    [target] = normalise([value], form)
    if target is None:
        raise SuppressionError(
            f"the value given has no {form} content to match (it is blank once normalised)"
        )

    def matches(batch: Sequence[str | None]) -> list[bool]:
        if not batch:
            return []
        series = pl.Series("v", list(batch), dtype=pl.String)
        hits = series.to_frame().select(normal_form(pl.col("v"), form).eq(target).fill_null(False))
        return [bool(hit) for hit in hits.to_series().to_list()]

    return target, matches


def key_name(prop: Property) -> str:
    """The key a column's subjects are hashed under: its masking key, else `SUPPRESSION_KEY`."""
    rule = prop.masking
    return rule.key if isinstance(rule, HashRule | EncryptRule) else SUPPRESSION_KEY


def suppression_key(prop: Property, configured: Configured) -> bytes:
    """The key for `prop`'s subject hashes, resolved like masking keys (settings, then Prefect)."""
    name = key_name(prop)
    try:
        return resolve_key(name, configured)
    except MissingKeyError as exc:
        if name != SUPPRESSION_KEY:
            raise
        raise missing_key(
            name,
            f"column {prop.name} has no keyed masking rule: the subjects erased by it are kept on the "
            f"suppression list as hashes under the key named {SUPPRESSION_KEY!r}",
        ) from exc


def subject_hashes(values: pl.Series, source: str, column: str, form: Form, key: bytes) -> pl.Series:
    """The subject hash of every value (null where the normal form is empty), in order."""
    message = pl.concat_str(
        [pl.lit(source), pl.lit(column), normal_form(pl.col("v"), form)], separator=_SEPARATOR
    )
    frame = values.alias("v").to_frame().select(message.alias(_MESSAGE))
    return hmac_sha256_hex(frame, {_MESSAGE: key}).to_series()


def subject_hash(source: str, column: str, value: str, form: Form, key: bytes) -> str:
    """The subject hash of one clear value (what receipts, the audit log and the suppression list hold)."""
    [digest] = subject_hashes(pl.Series("v", [value], dtype=pl.String), source, column, form, key).to_list()
    if digest is None:
        raise SuppressionError(f"the value given for {source}.{column} is blank once normalised")
    return str(digest)


# --- the curated layer's stored values ----------------------------------------------------------------


def matchable(prop: Property) -> bool:
    """Whether the curated value can be computed from the clear one and names one subject only."""
    return prop.masking is None or isinstance(prop.masking, HashRule)


def stored_values(
    contract: Contract, column: str, clear: Sequence[str], keys: Mapping[str, bytes]
) -> list[str]:
    """What the curated layer holds for these clear values of `column`, as text: the value conformed to
    the contract's type, masked by the column's rule (the pipeline's own functions, so the pseudonym is
    the one it wrote). Values that do not fit the column's type are left out."""
    if not clear:
        return []
    frame = pl.DataFrame({column: list(clear)}, schema={column: pl.String})
    typed = conform(frame, contract).frame.select(column)
    stored = mask(typed, contract, dict(keys)).frame.get_column(column).cast(pl.String)
    return sorted(set(stored.drop_nulls().to_list()))


def quarantine_hits(frame: pl.DataFrame, column: str, form: Form, target: str) -> pl.Series:
    """Which quarantined rows are the subject's: by the column, and for CSV records that could not be
    read as rows (their fields cannot be told apart), by any of their fields."""
    hit = pl.repeat(False, pl.len())
    if column in frame.columns:
        hit = hit | normal_form(pl.col(column), form).eq(target).fill_null(False)
    if RAW_FIELDS in frame.columns:
        fields = pl.col(RAW_FIELDS).list.eval(normal_form(pl.element(), form).eq(target).fill_null(False))
        hit = hit | fields.list.any().fill_null(False)
    return frame.select(hit.alias("hit")).to_series()


# --- later runs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suppressed:
    """What `drop_suppressed` left out: the rows kept, how many went, and whose (subject hashes)."""

    frame: pl.DataFrame
    dropped: int = 0
    digests: list[str] = field(default_factory=list)  # subject hashes whose rows were left out, sorted


def drop_suppressed(
    frame: pl.DataFrame,
    source: str,
    *,
    store: ObjectStore,
    keys: Mapping[str, bytes] | None = None,
    configured: Configured = None,
) -> Suppressed:
    """The frame without the rows of subjects erased from `source`, how many rows that was, and whose.

    Call it on the conformed frame, before rules, quarantine and masking see it. Each suppression entry
    names the key that made it by id; the key is found among `keys` (the run's resolved masking keys)
    and every configured key (`configured`, the settings' keys), so entries made before a key was
    renamed or rotated still match as long as the old key stays configured under some name. An entry
    whose key or column cannot be found stops the source (`SuppressionError`): an erased subject must
    never come back silently.
    Without entries this costs one listing of the lake.
    """
    found = entries(store, source)
    if not found or frame.height == 0:
        return Suppressed(frame)
    groups: dict[tuple[str, str, Form], set[str]] = defaultdict(set)
    for entry in found:
        groups[(entry.column, entry.key_id, entry.form)].add(entry.digest)
    pool = _key_pool(keys or {}, configured, found)
    hit = pl.Series("hit", [False] * frame.height)
    matched: set[str] = set()
    for (column, wanted_id, form), digests in sorted(groups.items()):
        if column not in frame.columns:
            raise SuppressionError(
                f"{source}: {len(digests)} erased subject(s) are suppressed by column {column}, which the "
                "data no longer has; keep the column in the contract or erase those subjects by another one"
            )
        key = pool.get(wanted_id)
        if key is None:
            names = sorted({e.key_name for e in found if e.key_id == wanted_id})
            raise SuppressionError(
                f"{source}: {len(digests)} erased subject(s) of column {column} were hashed with key "
                f"{', '.join(repr(n) for n in names)} (id {wanted_id}), and no configured key has that id; "
                "configure it again (any LOCKGATE_KEY_<NAME>) so that they stay out"
            )
        hashes = subject_hashes(frame.get_column(column), source, column, form, key)
        column_hit = hashes.is_in(sorted(digests)).fill_null(False)
        matched |= set(hashes.filter(column_hit).to_list())
        hit = hit | column_hit
    dropped = int(hit.sum())
    if not dropped:
        return Suppressed(frame)
    return Suppressed(frame.filter(~hit), dropped, sorted(matched))


def _key_pool(
    keys: Mapping[str, bytes], configured: Configured, entries_found: list[SuppressionEntry]
) -> dict[str, bytes]:
    """Every key at hand by its id: the run's and every configured one; a Prefect Secret block is asked
    only for an entry whose key is in neither (one API call per such key name)."""
    pool = {key_id(key): key for key in keys.values()}
    if isinstance(configured, Mapping):
        for name, secret in configured.items():
            text = secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret)
            try:
                key = decode_key(name, text, name)
            except MaskingKeyError:
                continue
            pool.setdefault(key_id(key), key)
    for name in sorted({e.key_name for e in entries_found if e.key_id not in pool}):
        try:
            key = resolve_key(name, configured)
        except MaskingKeyError:
            continue
        pool.setdefault(key_id(key), key)
    return pool
