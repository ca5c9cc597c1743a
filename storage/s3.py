"""The lake on any S3-compatible service (AWS S3, MinIO, in-country clouds, moto in tests).

Configuration is boto3's own (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION``, ``AWS_PROFILE``, config files, instance roles), so nothing S3-specific lives in Lockgate's
settings. Each store builds its client from a fresh boto3 Session: the default session is not safe to
use from several threads at once, and the flow opens stores from a thread pool.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypedDict
from urllib.parse import quote, urlencode, urlsplit

import boto3.session
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from storage.base import ObjectStat, check_key, check_prefix
from storage.errors import ObjectNotFound, StorageError

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "NotFound", "404"}
_PRECONDITION = {"PreconditionFailed", "412"}


def make_s3_client() -> S3Client:
    """An S3 client from the standard AWS configuration, with the 'standard' retry mode (backoff, 3 tries)."""
    return boto3.session.Session().client("s3", config=Config(retries={"mode": "standard"}))


@dataclass(frozen=True)
class ConnectionFacts:
    """Credentials, region and endpoint as boto3 resolves them (env, profiles, roles), for the other
    S3 clients of the lake (DuckDB's httpfs, Delta Lake), so that every client reaches the same bucket.

    ``endpoint`` is set only for a custom service (MinIO, moto, in-country clouds), never for AWS itself.
    """

    key_id: str
    secret: str = field(repr=False)
    token: str | None = field(repr=False)
    region: str
    endpoint: str | None


def connection_facts(client: S3Client | None = None) -> ConnectionFacts:
    """The facts as boto3 resolves them now. `client`, one already made from the same configuration,
    gives the endpoint; otherwise one is made just to learn it, which costs 0.1-0.5 s each time."""
    session = boto3.session.Session()
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    if frozen is None or frozen.access_key is None or frozen.secret_key is None:
        raise StorageError("no AWS credentials found (a key id and secret) for the lake's s3:// objects")
    region = session.region_name or "us-east-1"
    endpoint = (client or session.client("s3", region_name=region)).meta.endpoint_url
    custom = urlsplit(endpoint).hostname or ""
    return ConnectionFacts(
        key_id=frozen.access_key,
        secret=frozen.secret_key,
        token=frozen.token,
        region=region,
        endpoint=None if custom.endswith(".amazonaws.com") else endpoint,
    )


def _code(exc: ClientError) -> str:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(exc.response.get("Error", {}).get("Code") or status)


class _Tagging(TypedDict, total=False):
    """The optional Tagging argument of put_object (and of upload_file's ExtraArgs)."""

    Tagging: str


def _tagging(tags: dict[str, str] | None) -> _Tagging:
    return {"Tagging": urlencode(tags, quote_via=quote)} if tags else {}


class _BodyReader(io.RawIOBase):
    """Turns botocore's StreamingBody into a real binary stream (buffered, with readinto)."""

    def __init__(self, body: StreamingBody) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._body.close()
        super().close()


class S3Store:
    """An ObjectStore in one bucket, under an optional key prefix (several lakes can share a bucket)."""

    def __init__(self, bucket: str, prefix: str = "", client: S3Client | None = None) -> None:
        self.bucket = bucket
        self.prefix = check_prefix(prefix.strip("/"))
        self.client = client if client is not None else make_s3_client()

    def __repr__(self) -> str:
        return f"S3Store('s3://{self.bucket}/{self.prefix}')"

    def _full(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        """Map a boto error to ours; S3 error texts name codes and keys, never object content."""
        cause = exc.__cause__ or exc.__context__
        if isinstance(exc, S3UploadFailedError) and isinstance(cause, ClientError):
            exc = cause
        if isinstance(exc, ClientError) and _code(exc) in _MISSING:
            return ObjectNotFound(key)
        detail = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return StorageError(f"could not {action} {key!r} in s3://{self.bucket}: {detail}")

    def put_file(self, key: str, path: Path, *, tags: dict[str, str] | None = None) -> None:
        """upload_file switches to multipart for big files; S3 makes the object visible only when complete."""
        try:
            self.client.upload_file(
                str(path), self.bucket, self._full(key), ExtraArgs=dict(_tagging(tags)) or None
            )
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise self._fail("store", key, exc) from exc
        except OSError as exc:
            raise StorageError(f"could not store {key!r} from {path}: {exc.strerror or exc}") from exc

    def put_bytes(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data, **_tagging(tags))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("store", key, exc) from exc

    def put_bytes_if_absent(self, key: str, data: bytes, *, tags: dict[str, str] | None = None) -> bool:
        """S3 conditional write (If-None-Match: *): the service, not us, decides who was first."""
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._full(key), Body=data, IfNoneMatch="*", **_tagging(tags)
            )
        except ClientError as exc:
            if _code(exc) in _PRECONDITION:
                return False
            raise self._fail("store", key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("store", key, exc) from exc
        return True

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as f:
            return f.read()

    def download(self, key: str, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, self._full(key), str(path))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("download", key, exc) from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise self._fail("check", key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("check", key, exc) from exc
        return True

    def list(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        strip = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=strip + prefix):
                keys.extend(item["Key"].removeprefix(strip) for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", prefix, exc) from exc
        return sorted(keys)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def stat(self, key: str) -> ObjectStat:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("check", key, exc) from exc
        modified = head["LastModified"]
        size = head["ContentLength"]
        return ObjectStat(f"s3:{size}:{head['ETag']}:{modified.isoformat()}", modified, size)

    def open_read(self, key: str) -> IO[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("read", key, exc) from exc
        return io.BufferedReader(_BodyReader(body), buffer_size=1024 * 1024)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("delete", key, exc) from exc

    def tags(self, key: str) -> dict[str, str]:
        try:
            tag_set = self.client.get_object_tagging(Bucket=self.bucket, Key=self._full(key))["TagSet"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("read tags of", key, exc) from exc
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def set_tags(self, key: str, tags: dict[str, str]) -> None:
        try:
            self.client.put_object_tagging(
                Bucket=self.bucket,
                Key=self._full(key),
                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("tag", key, exc) from exc

    def table_options(self) -> dict[str, str]:
        """What Delta Lake (delta-rs) needs to reach this bucket: the same resolution boto3 uses.

        Asked for on every table opened, so the endpoint comes from this store's own client."""
        facts = connection_facts(self.client)
        options = {
            "AWS_ACCESS_KEY_ID": facts.key_id,
            "AWS_SECRET_ACCESS_KEY": facts.secret,
            "AWS_REGION": facts.region,
        }
        if facts.token:
            options["AWS_SESSION_TOKEN"] = facts.token
        if facts.endpoint:
            options["AWS_ENDPOINT_URL"] = facts.endpoint
            options["AWS_ALLOW_HTTP"] = "true" if facts.endpoint.startswith("http://") else "false"
        return options
