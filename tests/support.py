"""Shared by the test suites: an in-memory core context, an emit collector, a paced send,
and a reader for a person's mailbox on the real Dovecot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from aioimaplib import aioimaplib

from bridgebot.contract import Adapter
from bridgebot.errors import RateLimited
from bridgebot.model import Event, Outbound, RoomRef


class Clock:
    """A settable clock, so timestamps and deadlines are exact in assertions."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class MemoryContext:
    """A stand-in for the core's AdapterContext: cursors, known copies and admins in memory.

    A copy may be registered by its ``RoomRef`` or by the room's ``str()`` form.
    """

    def __init__(self, admins: set[str] | None = None) -> None:
        self.cursors: dict[str, str] = {}
        self.copies: set[tuple[RoomRef | str, str]] = set()
        self.admins: set[str] = admins if admins is not None else set()

    async def get_cursor(self, key: str) -> str | None:
        return self.cursors.get(key)

    async def set_cursor(self, key: str, value: str) -> None:
        self.cursors[key] = value

    async def is_copy(self, room: RoomRef, remote_id: str) -> bool:
        return (room, remote_id) in self.copies or (str(room), remote_id) in self.copies

    def is_admin(self, user_ref: str) -> bool:
        return user_ref in self.admins


class Collector:
    """The emit callback: records events and lets a test wait for them (with a timeout).

    ``reject`` may return an exception to raise instead of recording an event (a core that
    refuses it). A suite with other default waits subclasses and sets ``within``/``settle``.
    """

    within: ClassVar[float] = 5.0  # seconds wait_for waits unless told
    settle: ClassVar[float] = 0.2  # seconds quiet pauses unless told

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.reject: Callable[[Event], Exception | None] = lambda event: None
        self._changed = asyncio.Condition()

    async def __call__(self, event: Event) -> None:
        error = self.reject(event)
        if error is not None:
            raise error
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def wait_for(
        self, until: int | Callable[[list[Event]], bool], within: float | None = None
    ) -> list[Event]:
        """Wait until at least ``until`` events arrived, or until ``until(events)`` holds;
        fail after ``within`` seconds. Return all events so far."""

        def done() -> bool:
            if callable(until):
                return until(self.events)
            return len(self.events) >= until

        async with asyncio.timeout(self.within if within is None else within), self._changed:
            await self._changed.wait_for(done)
        return self.events

    async def wait_count(self, count: int, within: float | None = None) -> list[Event]:
        """Wait for at least ``count`` events."""
        return await self.wait_for(count, within)

    async def quiet(self, seconds: float | None = None) -> list[Event]:
        """Give stragglers a moment (to prove nothing more arrives), then return what did."""
        await asyncio.sleep(self.settle if seconds is None else seconds)
        return self.events


async def send_paced(adapter: Adapter, room: RoomRef, out: Outbound, attempts: int = 50) -> str:
    """``adapter.send`` as the dispatcher makes it: when the server's flood control answers
    ``RateLimited``, wait the ``retry_after`` it named and send again. For tests that send
    straight through an adapter to a lab that enforces its network's limits."""
    for _ in range(attempts):
        try:
            return await adapter.send(room, out)
        except RateLimited as exc:
            await asyncio.sleep(exc.retry_after)
    raise AssertionError(f"still rate limited after {attempts} tries: {room}")


async def mailbox(port: int, user: str, password: str) -> list[bytes]:
    """Every message in ``user``'s INBOX on the IMAP server at 127.0.0.1:``port``, raw,
    oldest first (read as the person's mail program would, over IMAP)."""
    imap = aioimaplib.IMAP4("127.0.0.1", port, timeout=5)
    await imap.wait_hello_from_server()
    try:
        login = await imap.login(user, password)
        assert login.result == "OK", login
        await imap.select("INBOX")
        found = await imap.search("ALL")
        assert found.result == "OK", found
        if not found.lines[0].strip():
            return []  # FETCH 1:* of an empty mailbox is an error
        response = await imap.uid("fetch", "1:*", "(RFC822)")
        return [bytes(line) for line in response.lines if isinstance(line, bytearray)]
    finally:
        await imap.logout()
