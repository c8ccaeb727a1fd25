"""SMTP/LMTP in: an aiosmtpd server the list delivers to (``listen = "HOST:PORT"``).

A mail is acknowledged (250) only after it was handed on; a failure answers 451 so the
sending server keeps it and retries, which is how mail stays durable without a mailbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from bridgebot.errors import PermanentError

__all__ = ["Listener"]

_MAX_BYTES = 30_000_000


class _Handler:
    def __init__(
        self, address: str, on_mail: Callable[[bytes], Awaitable[None]], log: logging.Logger
    ) -> None:
        self._address, self._on_mail, self._log = address, on_mail, log

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() != self._address:
            return "550 5.1.1 not a bridged mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        if not isinstance(data, bytes):
            return "554 5.6.0 no message"
        try:
            await self._on_mail(data)
        except Exception:
            self._log.exception("incoming mail could not be handed on; asked the sender to retry")
            return "451 4.3.0 temporary failure, try again later"
        return "250 OK"


class Listener:
    """An SMTP or LMTP server on ``HOST:PORT`` accepting mail for our address only."""

    def __init__(
        self,
        bind: str,
        protocol: str,
        address: str,
        on_mail: Callable[[bytes], Awaitable[None]],
        log: logging.Logger,
    ) -> None:
        host, sep, port = bind.rpartition(":")
        if not sep or not port.isdigit():
            raise PermanentError(f"listen = {bind!r}: expected HOST:PORT, e.g. 127.0.0.1:2525")
        self._host, self._port = host.strip("[]") or "127.0.0.1", int(port)
        self._protocol = LMTP if protocol == "lmtp" else SMTP
        self._handler = _Handler(address, on_mail, log)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        """Start listening; ``port`` is then the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        factory = self._protocol
        handler = self._handler
        try:
            self._server = await loop.create_server(
                lambda: factory(
                    handler, hostname="bridgebot", data_size_limit=_MAX_BYTES, loop=loop
                ),
                self._host,
                self._port,
            )
        except OSError as exc:
            raise PermanentError(f"cannot listen on {self._host}:{self._port}: {exc}") from exc
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
