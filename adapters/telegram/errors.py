"""The one place where python-telegram-bot's exceptions become bridgebot's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bridgebot.errors import PermanentError, RateLimited, TransientError

__all__ = ["map_errors", "retry_seconds"]


def retry_seconds(exc: RetryAfter) -> float:
    """``retry_after`` in seconds, whichever type this PTB release hands out."""
    value = exc.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


@contextmanager
def map_errors(account: str, action: str, room: str | None = None) -> Iterator[None]:
    """Translate PTB errors raised inside the block, naming the account and room."""
    where = f"telegram account {account}" + (f", room {room}" if room else "")
    try:
        yield
    except RetryAfter as exc:
        raise RateLimited(retry_seconds(exc), f"{where}: {action}: {exc.message}") from exc
    except ChatMigrated as exc:
        raise PermanentError(
            f"{where}: {action}: the group was upgraded to supergroup {exc.new_chat_id}; "
            "use that id as the room in bot.toml"
        ) from exc
    except InvalidToken as exc:
        raise PermanentError(
            f"{where}: the bot token was rejected ({exc.message}); check the token in "
            "[networks.telegram.*] (from @BotFather)"
        ) from exc
    except Forbidden as exc:
        raise PermanentError(f"{where}: {action} forbidden: {exc.message}") from exc
    except BadRequest as exc:
        # BadRequest subclasses NetworkError in PTB, so it must be caught first
        raise PermanentError(f"{where}: {action} refused: {exc.message}") from exc
    except Conflict as exc:
        raise TransientError(
            f"{where}: {action}: {exc.message} (is another bridgebot polling this bot?)"
        ) from exc
    except NetworkError as exc:
        raise TransientError(f"{where}: {action}: network error: {exc.message}") from exc
    except TelegramError as exc:
        raise TransientError(f"{where}: {action}: {exc.message}") from exc
