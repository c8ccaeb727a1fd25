"""The one place where Matrix failures become bridgebot errors.

nio reports server errors as ``ErrorResponse`` values and transport failures as aiohttp
exceptions; :func:`check` turns the former into :class:`MatrixFailure` and
:func:`map_errors` translates both into ``RateLimited`` / ``TransientError`` /
``PermanentError``, chained ``from`` the original.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import aiohttp
from nio import ErrorResponse

from bridgebot.errors import AdapterError, PermanentError, RateLimited, TransientError

__all__ = ["MatrixFailure", "check", "classify", "map_errors"]

_T = TypeVar("_T")

_REASONS = {
    "M_FORBIDDEN": "the bot lacks permission",
    "M_UNKNOWN_TOKEN": "the access token was rejected (log in again or update access_token)",
    "M_MISSING_TOKEN": "no access token was sent",
    "M_NOT_FOUND": "not found",
    "M_TOO_LARGE": "the event is too large for the homeserver",
    "M_USER_DEACTIVATED": "the bot's account is deactivated",
}


class MatrixFailure(Exception):
    """A homeserver error response, carried to :func:`map_errors`."""

    def __init__(self, errcode: str, message: str, status: int | None, retry_ms: int | None):
        self.errcode = errcode
        self.message = message
        self.status = status
        self.retry_after_ms = retry_ms
        super().__init__(f"{errcode} (HTTP {status}): {message}")


def check(response: _T) -> _T:
    """Return ``response`` unless it is an ``ErrorResponse``, which is raised."""
    if isinstance(response, ErrorResponse):
        transport: Any = getattr(response, "transport_response", None)
        status = getattr(transport, "status", None)
        errcode = response.status_code if isinstance(response.status_code, str) else ""
        raise MatrixFailure(errcode, response.message or "", status, response.retry_after_ms)
    return response


def classify(failure: MatrixFailure, where: str) -> AdapterError:
    """Choose the bridgebot error for a homeserver error; ``where`` names account and room."""
    if failure.errcode == "M_LIMIT_EXCEEDED" or failure.status == 429:
        return RateLimited((failure.retry_after_ms or 1000) / 1000, f"{where}: rate limited")
    if failure.status is None or failure.status >= 500:
        return TransientError(f"{where}: homeserver error {failure}")
    reason = _REASONS.get(failure.errcode, "refused")
    code = failure.errcode or f"HTTP {failure.status}"
    return PermanentError(f"{where}: {reason} ({code}: {failure.message})")


@contextmanager
def map_errors(where: str) -> Iterator[None]:
    """Translate every failure inside the block; ``where`` is e.g.
    ``"matrix account matrix.home, room !abc:server: send"``."""
    try:
        yield
    except AdapterError:
        raise
    except MatrixFailure as exc:
        raise classify(exc, where) from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise TransientError(f"{where}: {type(exc).__name__}: {exc}") from exc
