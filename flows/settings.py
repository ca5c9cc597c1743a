"""Every ``LOCKGATE_*`` setting in one pydantic-settings model, read at the entry points and passed down.

This module is the only one that reads Lockgate's environment variables. Flows take `current_settings()`
at their entry (a flow a deployment starts in a worker has nothing but its environment) and hand plain
values to the layers below, which never look at ``os.environ``. A caller that knows better than the
environment (the command line, starting a Label Studio for one command) says so with `use_settings`:
a context variable, which Prefect's thread-pool task runner copies into every task's thread, so no
secret travels through ``os.environ`` or a flow-run parameter (those are stored in Prefect's database).

Masking keys and PostgreSQL connections have names of the user's choosing (``LOCKGATE_KEY_<NAME>``,
``LOCKGATE_PG_<NAME>``): the environment source collects them into mappings. Every secret is a
`SecretStr`, so printing the settings, or a traceback that holds them, shows ``**********``.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ByteSize, Field, SecretStr, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from flows.errors import SettingsError
from labeling.server import DEFAULT_LOCAL_PORT

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from pydantic.fields import FieldInfo

ENV_PREFIX = "LOCKGATE_"
KEY_PREFIX = "KEY_"  # LOCKGATE_KEY_<NAME>: masking key <name>
PG_PREFIX = "PG_"  # LOCKGATE_PG_<NAME>: the libpq connection string of connection <name>
LEGACY_KEY = "HASH_KEY"  # LOCKGATE_HASH_KEY: the `default` key, from before keys had names
DEFAULT_KEY = "default"
MASK = "**********"
NOT_SET = "(not set)"
# Fields filled from a family of variables, with the part of the name after ``LOCKGATE_`` they share.
_NAMED: dict[str, str] = {"keys": KEY_PREFIX, "postgres": PG_PREFIX}


def _collect(variables: Mapping[str, str | None], prefix: str) -> dict[str, str]:
    """``{name: value}`` of the non-blank variables called ``<prefix><NAME>`` (names in lower case)."""
    prefix = prefix.lower()
    return {
        variable[len(prefix) :].lower(): value
        for variable, value in variables.items()
        if variable.lower().startswith(prefix) and len(variable) > len(prefix) and value and value.strip()
    }


def _named_values(variables: Mapping[str, str | None]) -> dict[str, dict[str, str]]:
    """The keys and connections the variables name; the legacy hash key is `default` unless that is set."""
    named = {field: _collect(variables, ENV_PREFIX + prefix) for field, prefix in _NAMED.items()}
    legacy = next(
        (v for k, v in variables.items() if k.upper() == ENV_PREFIX + LEGACY_KEY and v and v.strip()), None
    )
    if legacy is not None:
        named["keys"].setdefault(DEFAULT_KEY, legacy)
    return named


class _LockgateEnvironment(EnvSettingsSource):
    """The standard environment source, plus the variable families that fill `keys` and `postgres`.

    Those two fields are not also read as JSON from ``LOCKGATE_KEYS`` / ``LOCKGATE_POSTGRES``: one way
    to set a secret is enough, and it is the one every message names.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in _NAMED:
            return None, field_name, False
        return super().get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        for field, values in _named_values(self.env_vars).items():
            if values:
                data[field] = values
        return data


def os_user() -> str:
    """Who runs this process, for the audit log: the login name, else the numeric user id.

    `getpass.getuser` fails in containers whose user has no passwd entry; the uid still names them.
    """
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


DEFAULT_MEMORY_LIMIT = 2 * 2**30
MIN_MEMORY_LIMIT = 2**20


def parse_memory(text: str) -> int:
    """Bytes a memory size names (``2GiB``, ``512MB``, ``1073741824``); `SettingsError` if it names none
    or less than 64 MiB."""
    try:
        size = int(TypeAdapter(ByteSize).validate_python(text))
    except ValidationError:
        raise SettingsError(
            f"memory limit {text!r}: not a size (try 2GiB, 512MB or a number of bytes)"
        ) from None
    if size < MIN_MEMORY_LIMIT:
        raise SettingsError(f"memory limit {text!r}: at least 1MiB")
    return size


class Settings(BaseSettings):
    """Lockgate's configuration: ``LOCKGATE_<FIELD>`` for each field, plus the named keys and connections.

    Frozen, so one instance can be shared by every task thread of a run.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", frozen=True
    )

    lake: str = Field("lake", description="Lake location: a local folder or s3://bucket/prefix.")
    warehouse: str | None = Field(
        None, description="DuckDB warehouse file of an S3 lake (a local lake keeps its own)."
    )
    label_studio_url: str | None = Field(None, description="Address of the Label Studio server.")
    label_studio_token: SecretStr | None = Field(None, description="Label Studio API token.")
    label_studio_username: str | None = Field(None, description="Admin e-mail of a local Label Studio.")
    label_studio_password: SecretStr | None = Field(
        None, description="Admin password of a local Label Studio."
    )
    label_studio_bin: str | None = Field(None, description="The label-studio executable (default .ls-venv).")
    label_studio_port: int = Field(DEFAULT_LOCAL_PORT, description="Port of a local Label Studio.")
    user: str = Field(
        default_factory=os_user,
        min_length=1,
        description="Who the audit log names as acting (retention, erasure, ...); default the OS user.",
    )
    lineage_namespace: str = Field(
        "lockgate", min_length=1, description="OpenLineage job namespace of the ingest runs."
    )
    lineage_url: str | None = Field(
        None, description="OpenLineage HTTP endpoint (e.g. Marquez) that also receives the lineage events."
    )
    lineage_api_key: SecretStr | None = Field(None, description="Bearer API key for LOCKGATE_LINEAGE_URL.")
    docs_url: str | None = Field(
        None,
        description="Where 'lockgate docs serve' (or another server of the lake's docs/_site/) is reached; "
        "run links to Data Docs start with it (default http://127.0.0.1:8765).",
    )
    dask_address: str | None = Field(
        None,
        description="Dask scheduler that 'lockgate run --task-runner dask' sends partition work to "
        "(tls://host:8786); without it, a local cluster of this machine's cores.",
    )
    memory_limit: ByteSize = Field(
        ByteSize(DEFAULT_MEMORY_LIMIT),
        ge=MIN_MEMORY_LIMIT,
        description="Memory a source's rows may take in a run (2GiB, 512MB, or bytes): a source whose "
        "files are larger than a quarter of it is staged on disk and worked a window at a time, and "
        "DuckDB keeps within half of it, spilling to the run's working folder. The libraries a run "
        "loads (Prefect, Great Expectations, polars: about 0.7 GB) come on top.",
    )
    keys: dict[str, SecretStr] = Field(default_factory=dict, description="Masking keys by name.")
    postgres: dict[str, SecretStr] = Field(
        default_factory=dict, description="PostgreSQL connection strings by connection name."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Values given to the constructor, then the environment: no .env or secrets-directory files."""
        return init_settings, _LockgateEnvironment(settings_cls)

    def with_label_studio(self, url: str, token: str) -> Settings:
        """These settings pointed at another Label Studio (one started for a single command)."""
        return self.model_copy(update={"label_studio_url": url, "label_studio_token": SecretStr(token)})


_current: ContextVar[Settings | None] = ContextVar("lockgate_settings", default=None)


def load_settings() -> Settings:
    """The settings the environment gives; a value that does not fit names its variable (`SettingsError`)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"{env_name(str(error['loc'][0])) if error['loc'] else ENV_PREFIX + '*'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise SettingsError("invalid settings:\n" + "\n".join(problems)) from None


def current_settings() -> Settings:
    """The settings `use_settings` put in force here, else a fresh read of the environment."""
    settings = _current.get()
    return load_settings() if settings is None else settings


@contextlib.contextmanager
def use_settings(settings: Settings) -> Iterator[Settings]:
    """Put `settings` in force for this context: flows and tasks started inside it read them.

    A context variable, not the environment: it is private to this thread and the tasks Prefect runs
    for it (the thread-pool runner copies the context), and it ends with the block.
    """
    token = _current.set(settings)
    try:
        yield settings
    finally:
        _current.reset(token)


def env_name(field: str) -> str:
    """The variable of a field that is not a named family: ``lake`` → ``LOCKGATE_LAKE``."""
    return ENV_PREFIX + field.upper()


@dataclass(frozen=True)
class SettingShown:
    """One setting as ``lockgate config show`` prints it: never a secret's value."""

    variable: str
    value: str
    origin: str


def describe(settings: Settings) -> list[SettingShown]:
    """Every setting with its variable, value and origin, secrets shown as ``**********``.

    What ``lockgate config show`` prints. The origin is ``environment`` (with the variable when it is
    another one, as for the legacy hash key), ``default``, or ``given`` for values set by the caller.
    """
    variables = {k.upper(): v for k, v in os.environ.items()}
    named = _named_values(variables)
    rows: list[SettingShown] = []
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if field in _NAMED:
            rows.extend(_describe_named(field, value, named[field], variables))
            continue
        variable = env_name(field)
        rows.append(
            SettingShown(variable, _shown(value), _origin(settings, field, value, variables.get(variable)))
        )
    return rows


def _describe_named(
    field: str, values: Mapping[str, SecretStr], from_env: Mapping[str, str], variables: Mapping[str, str]
) -> list[SettingShown]:
    family = ENV_PREFIX + _NAMED[field]
    if not values:
        return [SettingShown(f"{family}<NAME>", NOT_SET, "default")]
    rows = []
    for name, secret in sorted(values.items()):
        variable = family + name.upper()
        origin = "given"
        if from_env.get(name) == secret.get_secret_value():
            origin = "environment" if variable in variables else f"environment ({ENV_PREFIX}{LEGACY_KEY})"
        rows.append(SettingShown(variable, MASK, origin))
    return rows


def _shown(value: object) -> str:
    if value is None:
        return NOT_SET
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, ByteSize):
        return value.human_readable()
    return str(value)


def _origin(settings: Settings, field: str, value: object, from_env: str | None) -> str:
    """Where a value came from: the variable's text, validated as the field is, equals it, or it was given."""
    if field not in settings.model_fields_set:
        return "default"
    annotation = Settings.model_fields[field].annotation
    if annotation is not None and from_env is not None and from_env.strip():
        with contextlib.suppress(ValidationError):
            if TypeAdapter(annotation).validate_python(from_env) == value:
                return "environment"
    return "given"
