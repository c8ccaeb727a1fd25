"""The one place where discord.py and aiohttp exceptions become bridgebot errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import aiohttp
import discord

from bridgebot.errors import PermanentError, RateLimited, TransientError

__all__ = ["map_errors"]


@contextmanager
def map_errors(account: str, where: str, action: str) -> Iterator[None]:
    """Translate network failures of ``action`` in ``where`` (a room, or "login").

    429s past discord.py's own patience become ``RateLimited``; 5xx, timeouts and dropped
    connections ``TransientError``; everything else the API refused ``PermanentError`` with
    a reason an admin can act on.
    """
    try:
        yield
    except discord.RateLimited as exc:
        raise RateLimited(
            exc.retry_after, f"discord {account}: {action} in {where}: {exc}"
        ) from exc
    except discord.LoginFailure as exc:
        raise PermanentError(
            f"discord {account}: the bot token was refused; check [networks.{account}] token"
        ) from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise PermanentError(
            f"discord {account}: Discord refused a privileged intent; enable Message Content"
            " under Bot → Privileged Gateway Intents in the Developer Portal"
        ) from exc
    except discord.ConnectionClosed as exc:
        if exc.code in (4004, 4010, 4011, 4012, 4013, 4014):
            raise PermanentError(
                f"discord {account}: gateway closed with {exc.code} ({exc.reason})"
            ) from exc
        raise TransientError(f"discord {account}: gateway closed with {exc.code}") from exc
    except discord.HTTPException as exc:
        raise _from_http(exc, account, where, action) from exc
    except (TimeoutError, aiohttp.ClientError, OSError, discord.GatewayNotFound) as exc:
        raise TransientError(f"discord {account}: {action} in {where}: {exc!r}") from exc


def _from_http(exc: discord.HTTPException, account: str, where: str, action: str) -> Exception:
    status = exc.status
    detail = f"{status} {exc.text or ''} (code {exc.code})".strip()
    if status == 429:
        retry_after = 1.0
        headers = getattr(exc.response, "headers", None)
        if headers is not None:
            # Reset-After is precise to the millisecond; Retry-After is whole seconds
            with suppress(ValueError):
                retry_after = float(
                    headers.get("X-RateLimit-Reset-After") or headers.get("Retry-After") or "1"
                )
        return RateLimited(retry_after, f"discord {account}: {action} in {where}: 429")
    if status >= 500:
        return TransientError(f"discord {account}: {action} in {where}: {detail}")
    if status == 403:
        return PermanentError(
            f"discord {account}: not allowed to {action} in {where} ({detail}); check the"
            " bot's role permissions in that channel"
        )
    if status == 404:
        return PermanentError(f"discord {account}: {action} in {where}: not found ({detail})")
    return PermanentError(f"discord {account}: {action} in {where} was refused: {detail}")
