"""The Matrix adapter's one continuous /sync, with catch-up after a restart or a gap.

The ``next_batch`` token is persisted through the context only after every event of a
batch was emitted (and so durably accepted by the core). When a room's timeline comes
back ``limited`` (more events than the sync filter returns), the gap is paged back with
``/messages`` from ``prev_batch`` to the previous token, up to ``catchup_limit`` events,
and emitted oldest first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from nio import AsyncClient, MessageDirection, RoomMessagesResponse, SyncResponse

from adapters.matrix.errors import check, map_errors
from adapters.matrix.translate import Malformed, parse_event
from adapters.settings import MatrixSettings
from bridgebot.contract import AdapterContext, Emit
from bridgebot.errors import AdapterError, PermanentError, RateLimited, RejectedEvent
from bridgebot.model import Event, RoomRef
from bridgebot.pacing import Backoff

__all__ = ["SYNC_CURSOR", "SyncHost", "SyncLoop"]

SYNC_CURSOR = "sync_token"
PAGE_SIZE = 100
#: Waits between failed syncs double from 1 s up to this (with full jitter).
MAX_BACKOFF = 60.0


class SyncHost(Protocol):
    """What the sync loop needs of its adapter (``MatrixAdapter`` is one)."""

    @property
    def account(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def homeserver(self) -> str: ...
    @property
    def settings(self) -> MatrixSettings: ...
    @property
    def context(self) -> AdapterContext: ...
    @property
    def log(self) -> logging.Logger: ...
    @property
    def client(self) -> AsyncClient: ...

    def where(self, room: str | None, action: str) -> str:
        """``account, room: action`` for error messages."""
        ...

    def room_ref(self, room_id: str) -> RoomRef:
        """The canonical reference for a joined room."""
        ...

    async def fetch_files(self, event: Event) -> Event:
        """``event`` with its small files downloaded."""
        ...

    async def answer_invite(self, room_id: str, inviter: str | None) -> None:
        """Join (admin's invite) or decline."""
        ...


def _filter(timeline_limit: int, own_user: str) -> dict[str, Any]:
    # Our own events are all dropped (parse_event), so Synapse need not send them: without
    # them every copy the bot sends no longer wakes its /sync with an event to throw away.
    return {
        "presence": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
        "room": {
            "timeline": {"limit": timeline_limit, "not_senders": [own_user]},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        },
    }


def _sources(events: list[Any]) -> list[Mapping[str, Any]]:
    return [e.source for e in events if isinstance(getattr(e, "source", None), dict)]


def _prev_membership(raw: Mapping[str, Any]) -> str | None:
    # A profile change is also a "join" event; only a real join has another prev state.
    unsigned = raw.get("unsigned")
    prev = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
    membership = prev.get("membership") if isinstance(prev, dict) else None
    return membership if isinstance(membership, str) else None


class SyncLoop:
    """Runs /sync for one adapter and emits what it finds."""

    def __init__(self, adapter: SyncHost, emit: Emit) -> None:
        self.adapter = adapter
        self.emit = emit
        self.log = adapter.log
        self._backoff = Backoff(base=1.0, cap=MAX_BACKOFF)
        self._token: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """First sync: catch up from the stored token (or just learn state on a first run)."""
        stored = await self.adapter.context.get_cursor(SYNC_CURSOR)
        limit = self.adapter.settings.timeline_limit
        # Resuming from a stored token, the answer would hold only what changed since: ask
        # for the rooms' whole state too, or nio knows no member's display name and every
        # label after a restart shows the bare user id.
        resp = await self._sync(
            stored, timeout_ms=0, timeline_limit=limit, full_state=stored is not None
        )
        if stored is None:
            # A first run relays nothing from before the bot existed.
            await self.adapter.context.set_cursor(SYNC_CURSOR, resp.next_batch)
            self._token = resp.next_batch
        else:
            await self._handle(resp, stored)
        self._task = asyncio.create_task(self._run(), name=f"matrix-sync-{self.adapter.account}")

    async def stop(self) -> None:
        """Cancel the loop and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # wait() neither raises the task's CancelledError nor hides our own cancellation.
            await asyncio.wait({task})

    async def _sync(
        self, since: str | None, timeout_ms: int, timeline_limit: int, full_state: bool = False
    ) -> SyncResponse:
        client = self.adapter.client
        with map_errors(self.adapter.where(None, "sync")):
            async with asyncio.timeout(timeout_ms / 1000 + self.adapter.settings.request_timeout):
                resp = check(
                    await client.sync(
                        timeout=timeout_ms,
                        since=since,
                        sync_filter=_filter(timeline_limit, self.adapter.user_id),
                        full_state=full_state,
                    )
                )
        assert isinstance(resp, SyncResponse)
        return resp

    async def _run(self) -> None:
        timeout_ms = int(self.adapter.settings.sync_timeout * 1000)
        while True:
            try:
                resp = await self._sync(
                    self._token, timeout_ms, self.adapter.settings.timeline_limit
                )
                await self._handle(resp, self._token)
                self._backoff.reset()
            except PermanentError as exc:
                self.log.error("matrix %s: sync stopped: %s", self.adapter.account, exc)
                return
            except AdapterError as exc:
                delay = self._backoff.next_delay()
                if isinstance(exc, RateLimited):
                    delay = max(delay, exc.retry_after)  # never sooner than the server said
                self.log.warning("matrix %s: sync failed (%s); retrying in %.1fs",
                                 self.adapter.account, exc, delay)  # fmt: skip
                await asyncio.sleep(delay)
            except Exception:
                # Anything else is a bug in the core's emit or here: log it, keep syncing.
                delay = self._backoff.next_delay()
                self.log.exception("matrix %s: sync batch failed; retrying in %.1fs",
                                   self.adapter.account, delay)  # fmt: skip
                await asyncio.sleep(delay)

    async def _handle(self, resp: SyncResponse, since: str | None) -> None:
        for room_id, invite in resp.rooms.invite.items():
            await self.adapter.answer_invite(room_id, self._inviter(invite.invite_state))
        for room_id in resp.rooms.leave:
            # Kicked, banned or left: deliveries there will fail with M_FORBIDDEN from now.
            self.log.warning("matrix %s: no longer in %s", self.adapter.account,
                             self.adapter.room_ref(room_id))  # fmt: skip
        for room_id, info in resp.rooms.join.items():
            events = _sources(info.timeline.events)
            if info.timeline.limited and since and info.timeline.prev_batch:
                events = await self._page_back(room_id, info.timeline.prev_batch, since) + events
            for raw in self._since_own_join(events):
                await self._deliver(room_id, raw)
        await self.adapter.context.set_cursor(SYNC_CURSOR, resp.next_batch)
        self._token = resp.next_batch

    def _inviter(self, invite_state: list[Any]) -> str | None:
        # nio parses stripped invite state into its own event objects (no raw source).
        for event in invite_state:
            if (
                getattr(event, "state_key", None) == self.adapter.user_id
                and getattr(event, "membership", None) == "invite"
            ):
                sender = getattr(event, "sender", None)
                return sender if isinstance(sender, str) else None
        return None

    def _since_own_join(self, events: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Drop history from before we joined: a newly bridged room starts empty."""
        for index in range(len(events) - 1, -1, -1):
            raw = events[index]
            content = raw.get("content")
            if (
                raw.get("type") == "m.room.member"
                and raw.get("state_key") == self.adapter.user_id
                and isinstance(content, dict)
                and content.get("membership") == "join"
                and _prev_membership(raw) != "join"
            ):
                return events[index + 1 :]
        return events

    async def _page_back(self, room_id: str, start: str, since: str) -> list[Mapping[str, Any]]:
        """Events between ``since`` and ``start``, oldest first, at most ``catchup_limit``."""
        limit = self.adapter.settings.catchup_limit
        collected: list[Mapping[str, Any]] = []
        token = start
        while len(collected) < limit:
            with map_errors(self.adapter.where(room_id, "page back history")):
                resp = check(
                    await self.adapter.client.room_messages(
                        room_id,
                        start=token,
                        end=since,
                        direction=MessageDirection.back,
                        limit=min(PAGE_SIZE, limit - len(collected)),
                    )
                )
            assert isinstance(resp, RoomMessagesResponse)
            chunk = _sources(resp.chunk)
            collected.extend(chunk)
            if not chunk or not resp.end or resp.end == token:
                break
            token = resp.end
        else:
            self.log.warning("matrix %s: more than %d events missed in %s; older ones are not "
                             "relayed (raise catchup_limit)", self.adapter.account, limit,
                             room_id)  # fmt: skip
        collected.reverse()
        return collected

    async def _deliver(self, room_id: str, raw: Mapping[str, Any]) -> None:
        room = self.adapter.room_ref(room_id)
        nio_room = self.adapter.client.rooms.get(room_id)

        def display_name(user_id: str) -> str:
            name = nio_room.user_name(user_id) if nio_room is not None else None
            return name or user_id

        try:
            event = parse_event(
                raw,
                room,
                own_user=self.adapter.user_id,
                display_name=display_name,
                homeserver=self.adapter.homeserver,
            )
        except Malformed as exc:
            self.log.warning("matrix %s: dropped an event in %s: %s", self.adapter.account,
                             room, exc)  # fmt: skip
            return
        if event is None or await self.adapter.context.is_copy(room, event.remote_id):
            return
        event = await self.adapter.fetch_files(event)
        try:
            await self.emit(event)
        except RejectedEvent as exc:
            # A Matrix sender cannot be answered in-band; the reason carries no content.
            self.log.info("matrix %s: core refused %s in %s: %s", self.adapter.account,
                          event.remote_id, room, exc)  # fmt: skip
