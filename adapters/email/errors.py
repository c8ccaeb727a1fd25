"""The one place where SMTP/IMAP/socket exceptions become bridgebot's, and URL parsing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aioimaplib import aioimaplib

from bridgebot.errors import AdapterError, PermanentError, RateLimited, TransientError

__all__ = ["ServerUrl", "map_errors", "parse_server_url"]

#: SMTP gives no retry-after: wait this long when a 4xx reply says we are too fast
SMTP_RATE_WAIT = 60.0
_RATE_WORDS = re.compile(r"rate|too many|too fast|throttl|try again later", re.I)


@dataclass(frozen=True, slots=True)
class ServerUrl:
    """A parsed ``smtp+starttls://USER:PASS@HOST:PORT`` or ``imaps://…/FOLDER`` setting."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    path: str

    @property
    def tls(self) -> bool:
        """Implicit TLS from the first byte (smtps, imaps)."""
        return self.scheme in ("smtps", "imaps")

    @property
    def starttls(self) -> bool:
        """Upgrade with STARTTLS after connecting."""
        return self.scheme.endswith("+starttls")


_PORTS = {
    "smtp": 25,
    "smtp+starttls": 587,
    "smtps": 465,
    "imap": 143,
    "imap+starttls": 143,
    "imaps": 993,
}


def parse_server_url(value: str, kinds: tuple[str, ...], what: str) -> ServerUrl:
    """Parse a server URL whose scheme is one of ``kinds``; ``PermanentError`` if invalid."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise PermanentError(f"{what}: not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in kinds or not parts.hostname:
        raise PermanentError(
            f"{what}: expected {' or '.join(k + '://' for k in kinds)}HOST[:PORT]"
        )
    return ServerUrl(
        scheme=scheme,
        host=parts.hostname,
        port=port or _PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        path=unquote(parts.path.lstrip("/")),
    )


def _smtp_reply(where: str, action: str, code: int, message: str) -> AdapterError:
    text = f"{where}: {action}: server replied {code} {message[:200]}"
    if 400 <= code < 500:
        if _RATE_WORDS.search(message) or code == 421:
            return RateLimited(SMTP_RATE_WAIT, text)
        return TransientError(text)
    return PermanentError(text)


@contextmanager
def map_errors(account: str, action: str, room: str | None = None) -> Iterator[None]:
    """Translate mail-library and socket errors raised inside the block."""
    where = f"email account {account}" + (f", list {room}" if room else "")
    try:
        yield
    except AdapterError:
        raise
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise PermanentError(
            f"{where}: the SMTP server refused our login ({exc.code}); check the user and "
            "password in smtp = ... of [networks.email.*]"
        ) from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0] if exc.recipients else None
        if first is None:
            raise PermanentError(f"{where}: {action}: every recipient refused") from exc
        raise _smtp_reply(where, action, first.code, first.message) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _smtp_reply(where, action, exc.code, exc.message) from exc
    except (aiosmtplib.SMTPException, aioimaplib.AioImapException) as exc:
        raise TransientError(f"{where}: {action}: {type(exc).__name__}: {exc}") from exc
    except (TimeoutError, OSError, EOFError) as exc:
        raise TransientError(f"{where}: {action}: {type(exc).__name__}: {exc}") from exc
