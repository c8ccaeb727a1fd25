"""The one place where slack_sdk and aiohttp failures become bridgebot's typed errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bridgebot.errors import PermanentError, RateLimited, TransientError

__all__ = ["call", "describe", "map_errors"]

T = TypeVar("T")

#: Slack error codes worth retrying: the request may well succeed later.
_TRANSIENT = {
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}

#: What an admin should do about the codes a misconfigured bot meets.
_ADVICE = {
    "invalid_auth": "the token was refused; check bot_token (xoxb-) and app_token (xapp-)",
    "not_authed": "no token was sent; set bot_token and app_token",
    "account_inactive": "the token belongs to a deleted user or a disabled app; reinstall it",
    "token_revoked": "the token was revoked; reinstall the app and update the tokens",
    "token_expired": "the token expired; reinstall the app and update the tokens",
    "not_allowed_token_type": "wrong kind of token; bot_token must be xoxb-, app_token xapp-",
    "channel_not_found": "no such channel, or the bot cannot see it; check the room id",
    "not_in_channel": "the bot is not in the channel; /invite it there",
    "is_archived": "the channel is archived",
    "msg_too_long": "the message is too long for Slack",
    "no_text": "the message has no text",
    "message_not_found": "the message no longer exists",
    "cant_update_message": "the bot may only edit its own messages",
    "cant_delete_message": "the bot may only delete its own messages",
    "thread_not_found": "the thread parent no longer exists",
    "invalid_name": "Slack does not know this emoji",
}


def _status(response: Any) -> int:
    status = getattr(response, "status_code", 0)
    return status if isinstance(status, int) else 0


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", None)
    value = headers.get("Retry-After") if isinstance(headers, Mapping) else None
    try:
        return float(value) if value is not None else 1.0
    except ValueError:
        return 1.0


def describe(code: str, response: Any = None) -> str:
    """An admin-readable sentence for Slack's error ``code``."""
    advice = _ADVICE.get(code, "")
    if code == "missing_scope":
        needed = response.get("needed") if response is not None else None
        advice = (
            f"the app lacks the scope {needed or '(unnamed)'}: add it under OAuth & "
            "Permissions, reinstall the app and update bot_token"
        )
    return f"{code}: {advice}" if advice else code


@contextmanager
def map_errors(account: str, what: str) -> Iterator[None]:
    """Translate failures of ``what`` (e.g. "chat.postMessage in C0123") on ``account``."""
    try:
        yield
    except SlackApiError as exc:
        response = exc.response
        code = str(response.get("error") or "") if response is not None else ""
        status = _status(response)
        where = f"slack account {account}, {what}"
        if status == 429 or code == "ratelimited":
            raise RateLimited(_retry_after(response), f"{where}: rate limited") from exc
        if status >= 500 or code in _TRANSIENT:
            raise TransientError(f"{where}: Slack answered {status} {code}") from exc
        raise PermanentError(f"{where}: {describe(code or str(status), response)}") from exc
    except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
        raise TransientError(f"slack account {account}, {what}: {type(exc).__name__}") from exc
    except SlackClientError as exc:
        raise TransientError(f"slack account {account}, {what}: {exc}") from exc


async def call(
    account: str,
    what: str,
    request: Callable[[], Awaitable[T]],
    done_codes: tuple[str, ...] = (),
) -> T:
    """Run one Web API request with errors translated; ``done_codes`` count as success
    (e.g. ``message_not_found`` for a delete: the message is gone either way)."""
    with map_errors(account, what):
        try:
            return await request()
        except SlackApiError as exc:
            code = exc.response.get("error") if exc.response is not None else None
            if code in done_codes:
                return cast(T, exc.response)
            raise
