"""Access tags: the four labels every lake object carries, so S3 policies can decide who reads what.

S3 bucket and IAM policies can match ``s3:ExistingObjectTag/<key>``, and lifecycle rules can filter on
tags. Putting the access facts on the object itself (rather than only in the key, or in a catalog a
policy cannot see) lets one policy say, for example, "analysts may read ``layer=curated`` with
``pii=false``" and have it hold for every object, whichever code wrote it.

* ``layer``       ``raw`` (bytes as received), ``curated`` (masked, published data), ``quarantine``
                  (rows a contract set aside, unmasked like raw, so owners can fix them), ``state``
                  (connector watermarks, which can hold data values) or ``meta`` (bookkeeping that holds
                  no data values: checksum index, version descriptions, the current pointer, history
                  events). ``meta`` objects can be granted to every role that reads the lake, because
                  readers need the pointer and version descriptions to find the data they may read.
                  ``audit`` (the lake's audit log, :mod:`storage.audit`) is kept apart from ``meta``: it
                  names the people who acted and what they touched, so only auditors should read it,
                  and a policy can also deny every role but the writer's the right to delete it.
                  ``role`` (one role's own copy of what it may read, under ``roles/<role>/``, with an
                  extra ``role`` tag; it may hold decrypted values, so a ``layer=curated`` grant never
                  reaches it).
* ``source``      the dataset the object belongs to.
* ``sensitivity`` the source passport's classification: public, internal, confidential, restricted.
* ``pii``         ``true`` / ``false``: whether the source's contract declares personal data.

When a caller does not say (older call sites, ad-hoc tools), the object is tagged ``restricted`` and
``pii=true``: an object nobody classified is treated as the most sensitive kind until someone does.
Failing closed costs a too-strict policy decision; failing open could expose personal data.

The local backend keeps no tags (see :mod:`storage.local`); these rules still run there, so a bad
classification fails on a laptop the same way it would on S3.
"""

from __future__ import annotations

from storage.errors import InvalidTag

LAYERS = ("raw", "curated", "quarantine", "state", "meta", "audit", "role")
SENSITIVITIES = ("public", "internal", "confidential", "restricted")
ACCESS_KEYS = ("layer", "source", "sensitivity", "pii")
DEFAULT_SENSITIVITY = "restricted"
DEFAULT_PII = True
# S3 allows at most 10 tags per object; the access tags take four of them.
MAX_TAGS = 10


def access_tags(
    layer: str,
    source: str,
    *,
    sensitivity: str | None = None,
    pii: bool | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The tags for one object; extra tags are kept but can never override the four access tags.

    Letting an extra tag replace ``layer`` or ``sensitivity`` would let any caller relabel an object
    past a policy, so a clash is an error rather than a silent override.
    """
    if layer not in LAYERS:
        raise InvalidTag(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    level = DEFAULT_SENSITIVITY if sensitivity is None else str(sensitivity)
    if level not in SENSITIVITIES:
        raise InvalidTag(f"unknown sensitivity {level!r}; expected one of {', '.join(SENSITIVITIES)}")
    personal = DEFAULT_PII if pii is None else pii
    if not isinstance(personal, bool):
        raise InvalidTag(f"pii must be true or false, not a {type(personal).__name__}")
    tags = {"layer": layer, "source": source, "sensitivity": level, "pii": "true" if personal else "false"}
    clash = sorted(set(extra or {}) & set(ACCESS_KEYS))
    if clash:
        raise InvalidTag(f"extra tags may not set access tag(s) {', '.join(clash)}")
    tags.update(extra or {})
    if len(tags) > MAX_TAGS:
        raise InvalidTag(f"{len(tags)} tags on one object; S3 keeps at most {MAX_TAGS}")
    return tags


__all__ = ["LAYERS", "SENSITIVITIES", "access_tags"]
