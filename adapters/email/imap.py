"""IMAP in: IDLE (or polling), catching up by UID from a persisted cursor.

The cursor is ``UIDVALIDITY:UID`` of the last message handed on. Mail that arrived while
bridgebot was down has higher UIDs and is relayed after a restart; a changed UIDVALIDITY
means the folder was rebuilt, so old UIDs mean nothing and we resume from its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable

from aioimaplib import aioimaplib

from adapters.email.errors import ServerUrl, map_errors
from bridgebot.contract import AdapterContext
from bridgebot.errors import AdapterError, PermanentError
from bridgebot.pacing import Backoff

__all__ = ["CURSOR", "ImapWatcher", "parse_fetch", "parse_search"]

CURSOR = "imap"
_FETCH_UID = re.compile(rb"\bUID (\d+)")
#: Waits between reconnects double from 1 s up to this (with full jitter).
_MAX_BACKOFF = 60.0
_BATCH = 50


def parse_search(lines: list[bytes]) -> list[int]:
    """The UIDs of a ``UID SEARCH`` response."""
    uids: list[int] = []
    for line in lines:
        # aioimaplib strips "* SEARCH" from the untagged line; accept either form
        tokens = bytes(line).removeprefix(b"SEARCH").split()
        if tokens and all(token.isdigit() for token in tokens):
            uids.extend(int(token) for token in tokens)
    return uids


def parse_fetch(lines: list[bytes | bytearray]) -> list[tuple[int, bytes]]:
    """``(uid, raw message)`` pairs from a ``UID FETCH … (UID RFC822)`` response."""
    found: list[tuple[int, bytes]] = []
    uid: int | None = None
    for line in lines:
        if isinstance(line, bytearray):
            # aioimaplib hands literals as bytearray, right after their FETCH line
            if uid is not None:
                found.append((uid, bytes(line)))
            uid = None
            continue
        match = _FETCH_UID.search(line) if b"FETCH" in line else None
        uid = int(match.group(1)) if match else None
    return sorted(found)


def _select_value(lines: list[bytes], name: bytes) -> int | None:
    for line in lines:
        match = re.search(rb"\[" + name + rb" (\d+)\]", line)
        if match:
            return int(match.group(1))
    return None


class ImapWatcher:
    """Watches one IMAP folder and hands each new raw message to ``on_mail``."""

    def __init__(
        self,
        account: str,
        url: ServerUrl,
        *,
        context: AdapterContext,
        on_mail: Callable[[bytes], Awaitable[None]],
        log: logging.Logger,
        timeout: float,
        idle: bool,
        idle_timeout: float,
        poll_interval: float,
    ) -> None:
        self._account, self._url, self._context = account, url, context
        self._on_mail, self._log = on_mail, log
        self._timeout, self._use_idle = timeout, idle
        self._idle_timeout, self._poll_interval = idle_timeout, poll_interval
        self._imap: aioimaplib.IMAP4 | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._validity = 0
        self._last_uid = 0
        self._backoff = Backoff(base=1.0, cap=_MAX_BACKOFF)

    async def start(self) -> None:
        """Connect and log in once (so bad credentials fail ``start``), then watch."""
        await self._connect()
        self._task = asyncio.create_task(self._run(), name=f"{self._account} imap")

    async def stop(self) -> None:
        """Stop watching and log out; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._disconnect()

    async def _connect(self) -> None:
        url = self._url
        self._lost = asyncio.Event()
        lost = self._lost
        with map_errors(self._account, "IMAP connect"):
            context = ssl.create_default_context() if url.tls else None
            imap = aioimaplib.IMAP4(
                url.host,
                url.port,
                timeout=self._timeout,
                conn_lost_cb=lambda _: lost.set(),
                ssl_context=context,
            )
            self._imap = imap
            await imap.wait_hello_from_server()
            response = await imap.login(url.username or "", url.password or "")
            if response.result != "OK":
                raise PermanentError(
                    f"email account {self._account}: the IMAP server refused our login; check "
                    "the user and password in imap = ... of [networks.email.*]"
                )
            folder = url.path or "INBOX"
            response = await imap.select(folder)
            if response.result != "OK":
                raise PermanentError(
                    f"email account {self._account}: cannot open IMAP folder {folder!r}"
                )
        await self._load_cursor(response.lines)

    async def _load_cursor(self, lines: list[bytes]) -> None:
        validity = _select_value(lines, b"UIDVALIDITY") or 0
        uidnext = _select_value(lines, b"UIDNEXT")
        stored = await self._context.get_cursor(CURSOR)
        old_validity, _, old_uid = (stored or "").partition(":")
        if stored and old_validity == str(validity) and old_uid.isdigit():
            self._validity, self._last_uid = validity, int(old_uid)
            return
        if stored:
            self._log.warning(
                "email account %s: IMAP folder was rebuilt (UIDVALIDITY changed); resuming from "
                "its end, mail between the last relayed one and now is not relayed",
                self._account,
            )
        # first start: what is already in the folder is history, not news
        self._validity, self._last_uid = validity, max(0, (uidnext or 1) - 1)
        await self._context.set_cursor(CURSOR, f"{validity}:{self._last_uid}")

    async def _disconnect(self) -> None:
        imap, self._imap = self._imap, None
        if imap is None:
            return
        if not self._lost.is_set():
            with contextlib.suppress(Exception):
                if imap.has_pending_idle():
                    imap.idle_done()
                await asyncio.wait_for(imap.logout(), 2)
        with contextlib.suppress(Exception):
            if imap.protocol is not None and imap.protocol.transport is not None:
                imap.protocol.transport.close()

    async def _run(self) -> None:
        while True:
            try:
                if self._imap is None:
                    await self._connect()
                await self._catch_up()
                self._backoff.reset()
                await self._wait_for_news()
                continue
            except asyncio.CancelledError:
                raise
            except AdapterError as exc:
                delay = self._backoff.next_delay()
                self._log.warning("%s; reconnecting in %.1fs", exc, delay)
            except Exception:
                delay = self._backoff.next_delay()
                self._log.exception(
                    "email account %s: IMAP watcher failed; reconnecting in %.1fs",
                    self._account,
                    delay,
                )
            await self._disconnect()
            await asyncio.sleep(delay)

    async def _catch_up(self) -> None:
        imap = self._imap
        assert imap is not None
        with map_errors(self._account, "IMAP search"):
            found = await imap.uid_search(f"UID {self._last_uid + 1}:*", charset=None)
        if found.result != "OK":
            raise AdapterError(f"email account {self._account}: IMAP search refused")
        # "N:*" always matches the last message, even one we had already
        uids = sorted(u for u in parse_search(found.lines) if u > self._last_uid)
        # in batches, so a long outage's backlog is never held in memory all at once
        for start in range(0, len(uids), _BATCH):
            batch = ",".join(str(u) for u in uids[start : start + _BATCH])
            with map_errors(self._account, "IMAP fetch"):
                response = await imap.uid("fetch", batch, "(UID RFC822)")
            if response.result != "OK":
                raise AdapterError(f"email account {self._account}: IMAP fetch refused")
            for uid, raw in parse_fetch(response.lines):
                if uid <= self._last_uid:
                    continue
                await self._on_mail(raw)
                self._last_uid = uid
                await self._context.set_cursor(CURSOR, f"{self._validity}:{uid}")

    async def _wait_for_news(self) -> None:
        imap = self._imap
        assert imap is not None
        if not self._use_idle or not imap.has_capability("IDLE"):
            await asyncio.sleep(self._poll_interval)
            with map_errors(self._account, "IMAP poll"):
                await imap.noop()
            return
        with map_errors(self._account, "IMAP IDLE"):
            idle = await imap.idle_start(timeout=self._idle_timeout)
            push = asyncio.ensure_future(imap.wait_server_push(timeout=self._idle_timeout + 30))
            lost = asyncio.ensure_future(self._lost.wait())
            try:
                await asyncio.wait({push, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (push, lost):
                    waiter.cancel()
                    if waiter.done() and not waiter.cancelled():
                        waiter.exception()  # a push timeout just means: look again
            if self._lost.is_set():
                raise ConnectionResetError("IMAP connection lost")
            imap.idle_done()
            await asyncio.wait_for(idle, self._timeout)
