"""Where OpenLineage events go: into the lake (always), and to an HTTP endpoint such as Marquez when set.

The lake copy is written through Lockgate's own `ObjectStore`, not the client's `FileTransport`: that one
names files by the wall clock (``<path>-<time>.json``) and reaches S3 only through fsspec/s3fs, which
Lockgate does not ship. Through the store one transport serves a local and an S3 lake alike, each event
lands atomically under a key of the lake's layout, S3 objects carry the lake's access tags, and the
endpoint configuration (``AWS_ENDPOINT_URL`` for MinIO or any S3-compatible store) is the lake's own.
The HTTP side is the client's `HttpTransport` unchanged (Marquez's ``/api/v1/lineage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.transport import Config, Transport

if TYPE_CHECKING:
    from collections.abc import Callable

    from openlineage.client.client import Event
    from pydantic import SecretStr

    from storage.base import ObjectStore

# A lineage endpoint that is down must not hold a run up for long: two quick retries, then a warning.
HTTP_TIMEOUT_SECONDS = 5.0
HTTP_RETRY: dict[str, Any] = {"total": 2, "connect": 2, "read": 2, "backoff_factor": 0.2}


@dataclass(frozen=True)
class LakeConfig(Config):
    """The lake to write to and where each event goes in it: its key and the object's access tags."""

    store: ObjectStore
    place: Callable[[RunEvent], tuple[str, dict[str, str]]]

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> LakeConfig:
        """Built by Lockgate from a store, never from the OpenLineage configuration file."""
        raise TypeError("the lake transport is built from an ObjectStore; it has no file configuration")


class LakeTransport(Transport):
    """Writes each run event as one JSON object into the lake (replacing it if a retry sends it again)."""

    kind = "lockgate-lake"
    name = "lake"
    config_class = LakeConfig

    def __init__(self, config: LakeConfig) -> None:
        self.config = config

    def emit(self, event: Event) -> None:
        if not isinstance(event, RunEvent):
            raise TypeError(f"the lake transport files run events only, not {type(event).__name__}")
        key, tags = self.config.place(event)
        self.config.store.put_bytes(key, (Serde.to_json(event) + "\n").encode("utf-8"), tags=tags)


def http_transport(url: str, api_key: SecretStr | None) -> HttpTransport:
    """The client's HTTP transport for `url` (a Marquez base URL posts to ``api/v1/lineage``)."""
    params: dict[str, Any] = {"url": url, "timeout": HTTP_TIMEOUT_SECONDS, "retry": HTTP_RETRY}
    if api_key is not None:
        params["auth"] = {"type": "api_key", "apiKey": api_key.get_secret_value()}
    transport = HttpTransport(HttpConfig.from_dict(params))
    transport.name = "http"
    return transport
