"""S3 prefix sources: objects dropped under a folder, each picked up by the first run that sees it.

Progress is a watermark on S3's LastModified, not a list of every key ever seen (that grows without
bound): the state holds the newest LastModified delivered and the keys (with their ETags) that carry
exactly that time. An object is new when it is newer than the watermark, or as new and not one of
those keys with that ETag. S3 times have a one-second grain, so the ETag is what tells an object
rewritten within the watermark's second from the one delivered; any later rewrite has a newer
LastModified and is delivered again anyway.

Known limit: S3 dates a multipart upload by when it *started*. A large object whose upload began
before, and finished after, a run that saw a newer object carries a LastModified behind the
watermark and is not picked up; producers that upload big files should write under a temporary
name and copy (or rename) to the watched prefix when done, which stamps the time of the copy.

Endpoint and credentials are boto3's standard configuration (``AWS_ENDPOINT_URL``, keys, profiles,
roles), through the same client factory the lake's S3 store uses (`storage.s3.make_s3_client`); the
client is a fresh one, independent of where the lake lives.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from sources.errors import SourceReadError
from sources.extraction import Extraction
from storage.s3 import make_s3_client
from storage.workdir import private_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sources.passport import S3Connector

CHUNK_BYTES = 1024 * 1024
MAX_NAME_BYTES = 200


class S3Object(NamedTuple):
    key: str
    last_modified: datetime
    etag: str
    size: int


# --- matching --------------------------------------------------------------------------------------


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob over '/'-separated names, as `Path.glob` reads it: ``*``, ``?`` and ``[…]`` stay inside
    one segment, a ``**`` segment spans any number of them (Python 3.11 has no ``glob.translate``)."""
    parts = pattern.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment_regex(part))
        if not last:
            out.append("/")
    return re.compile("".join(out), re.DOTALL)


def _segment_regex(part: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(part):
        char = part[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = part.find("]", i + 2 if part[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = part[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                body = "".join(f"\\{c}" if c in "\\^[]&~|" else c for c in body)
                out.append(f"[{'^/' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def list_matching(client: S3Client, spec: S3Connector) -> list[S3Object]:
    """Objects under the prefix whose name below it matches the pattern, sorted by key.

    Folder markers (keys ending in '/') are not objects to read; hidden names ('.'-prefixed, such
    as editors' and tools' marker files) are skipped unless the pattern itself starts with '.', as
    for file connectors.
    """
    regex = glob_regex(spec.pattern)
    want_hidden = spec.pattern.rsplit("/", 1)[-1].startswith(".")
    found: list[S3Object] = []
    failure: str | None = None
    try:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=spec.bucket, Prefix=spec.prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(spec.prefix) :]
                if not relative or relative.endswith("/"):
                    continue
                if PurePosixPath(relative).name.startswith(".") and not want_hidden:
                    continue
                if regex.fullmatch(relative):
                    found.append(S3Object(item["Key"], item["LastModified"], item["ETag"], item["Size"]))
    except (ClientError, BotoCoreError) as exc:
        failure = _reason(exc)
    if failure is not None:
        raise SourceReadError(spec.url, None, f"could not list objects: {failure}")
    return sorted(found, key=lambda o: o.key)


def _reason(exc: Exception) -> str:
    """The S3 error code (NoSuchBucket, AccessDenied, …) or botocore's own description."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(error.get("Code") or status)
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


# --- state -----------------------------------------------------------------------------------------


def _watermark(state: dict[str, Any] | None) -> tuple[datetime | None, dict[str, str]]:
    if not state or not state.get("last_modified"):
        return None, {}
    return datetime.fromisoformat(state["last_modified"]), dict(state.get("keys_at_watermark") or {})


def new_objects(objects: list[S3Object], state: dict[str, Any] | None) -> list[S3Object]:
    """The objects a run with `state` has not delivered yet."""
    mark, at_mark = _watermark(state)
    if mark is None:
        return list(objects)
    return [
        o
        for o in objects
        if o.last_modified > mark or (o.last_modified == mark and at_mark.get(o.key) != o.etag)
    ]


def next_state(objects: list[S3Object], new: list[S3Object], state: dict[str, Any] | None) -> dict[str, Any]:
    """The watermark after delivering `new`: its newest time and every listed key (→ ETag) carrying it."""
    mark, _ = _watermark(state)
    newest = max(o.last_modified for o in new)
    if mark is not None and mark > newest:
        newest = mark  # cannot happen with new_objects' rule; kept so state never moves back
    return {
        "last_modified": newest.isoformat(),
        "keys_at_watermark": {o.key: o.etag for o in objects if o.last_modified == newest},
    }


# --- downloading -----------------------------------------------------------------------------------


def local_names(keys: list[str]) -> list[str]:
    """File names for keys: the object's base name, a counter prefix where two would collide.

    Backslashes (legal in keys, refused by the lake) become '_'; very long names are shortened with
    a digest so they fit any file system.
    """
    taken: set[str] = set()
    names = []
    for key in keys:
        base = PurePosixPath(key).name.replace("\\", "_")
        if len(base.encode("utf-8")) > MAX_NAME_BYTES:
            suffix = PurePosixPath(base).suffix[:20]
            digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
            base = f"{base.encode('utf-8')[:100].decode('utf-8', errors='ignore')}-{digest}{suffix}"
        name, counter = base, 1
        while name in taken:
            name = f"{counter}-{base}"
            counter += 1
        taken.add(name)
        names.append(name)
    return names


def download(client: S3Client, spec: S3Connector, obj: S3Object, path: Path) -> None:
    """Fetch exactly the listed version (If-Match on its ETag), in chunks, so size is not memory."""
    failure: str | None = None
    try:
        body = client.get_object(Bucket=spec.bucket, Key=obj.key, IfMatch=obj.etag)["Body"]
        with private_file(path) as out:
            for chunk in body.iter_chunks(CHUNK_BYTES):
                out.write(chunk)
    except (ClientError, BotoCoreError) as exc:
        failure = _reason(exc)
    if failure in {"PreconditionFailed", "412"}:
        failure = "it changed while being read; a retry delivers the new version"
    if failure is not None:
        raise SourceReadError(f"s3://{spec.bucket}/{obj.key}", None, f"could not download: {failure}")


def extract_s3(
    spec: S3Connector, state: dict[str, Any] | None, workdir: Path, client: S3Client | None = None
) -> Extraction:
    """Download the objects under the prefix that no earlier run delivered, sorted by key."""
    client = client if client is not None else make_s3_client()
    objects = list_matching(client, spec)
    new = new_objects(objects, state)
    if not new:
        return Extraction(
            files=[],
            state=state,
            description=f"no new object under {spec.url} matching {spec.pattern}",
            empty=True,
        )
    files = []
    for obj, name in zip(new, local_names([o.key for o in new]), strict=True):
        path = Path(workdir) / name
        download(client, spec, obj, path)
        files.append(path)
    size = sum(o.size for o in new)
    return Extraction(
        files=files,
        state=next_state(objects, new, state),
        description=f"{len(new)} new object(s) under {spec.url} ({size} bytes)",
    )
