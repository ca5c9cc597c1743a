"""Reading a Prefect Secret block: the one way Lockgate takes a secret from Prefect.

Masking keys, database credentials and the Label Studio token all come from the environment first and
a Prefect Secret block second. The three differ only in the error they raise, so each caller turns
`SecretUnavailable` into its own message; none of them ever sees or logs the value on failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from contracts.errors import SecretUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable


def read_prefect_secret(block: str) -> str | None:
    """The block's text (stripped), or None when there is no such block."""
    import httpx
    from prefect.blocks.system import Secret

    # Block.load is Prefect's sync/async dual API (async_dispatch): `_sync=True` takes the sync path and
    # returns the block itself, but the declared signature knows neither the flag nor that return type.
    load = cast("Callable[..., Secret[Any]]", Secret.load)
    try:
        secret = load(block, _sync=True)
    except ValueError:  # Prefect's "block document not found"
        return None
    except (httpx.HTTPError, OSError, RuntimeError) as exc:
        raise SecretUnavailable(
            block, f"the Prefect API could not be asked: {type(exc).__name__}", unreachable=True
        ) from None
    value = secret.get()
    if not isinstance(value, str) or not value.strip():
        raise SecretUnavailable(block, "it must hold text", unreachable=False)
    return value.strip()
