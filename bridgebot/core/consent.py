"""Consent in rooms with ``consent = "opt-in"``: hold, explain once, release or withdraw.

A new author's messages are held (kept in the store, not sent) and they are told once, in
a reply, how to let them cross. ``!bridge consent yes`` releases what was held, planned
again under the rules in force at that moment; ``!bridge consent no`` drops it and, in
rooms with ``delete_on_consent_no = true``, deletes the copies of their earlier messages.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from bridgebot.core.delivery import DecidedOn, Delivery, DeliveryKind
from bridgebot.core.lookups import links_of
from bridgebot.core.outbox import Outbox
from bridgebot.core.router import Plan, plan
from bridgebot.core.rulebook import Rulebook
from bridgebot.model import Attachment, Author, Capabilities, Event, EventKind, RoomRef
from bridgebot.store import Store

__all__ = ["ConsentKeeper", "event_from_json", "event_to_json", "explanation"]

log = logging.getLogger("bridgebot.consent")


def event_to_json(event: Event) -> str:
    """An inbound event as JSON, attachments' bytes included (base64)."""
    return json.dumps(
        {
            "kind": event.kind.value,
            "room": str(event.room),
            "remote_id": event.remote_id,
            "author": {
                "network": event.author.network,
                "user_id": event.author.user_id,
                "display_name": event.author.display_name,
                "avatar_url": event.author.avatar_url,
                "is_bot": event.author.is_bot,
            },
            "text": event.text,
            "attachments": [
                {
                    "filename": a.filename,
                    "mime_type": a.mime_type,
                    "size": a.size,
                    "url": a.url,
                    "data": base64.b64encode(a.data).decode() if a.data is not None else None,
                }
                for a in event.attachments
            ],
            "reply_to": event.reply_to,
            "thread": event.thread,
            "ts": event.ts,
            "bridge": event.bridge,
        }
    )


def _attachment(raw: dict[str, Any]) -> Attachment:
    data = raw.get("data")
    return Attachment(
        filename=raw["filename"],
        mime_type=raw["mime_type"],
        size=raw["size"],
        url=raw.get("url"),
        data=base64.b64decode(data) if data is not None else None,
    )


def event_from_json(text: str) -> Event:
    """The event :func:`event_to_json` wrote."""
    raw = json.loads(text)
    return Event(
        kind=EventKind(raw["kind"]),
        room=RoomRef.parse(raw["room"]),
        remote_id=raw["remote_id"],
        author=Author(**raw["author"]),
        text=raw["text"],
        attachments=tuple(_attachment(a) for a in raw["attachments"]),
        reply_to=raw["reply_to"],
        thread=raw["thread"],
        ts=raw["ts"],
        bridge=raw["bridge"],
    )


def explanation(name: str, rooms: list[str]) -> str:
    """What a new author in an opt-in room is told, once."""
    where = ", ".join(rooms) if len(rooms) <= 6 else f"{len(rooms)} rooms on other networks"
    return (
        f"{name}, this room is bridged: messages posted here are copied to {where}. "
        "It asks for your consent first, so your message is held, not copied. "
        "Type `!bridge consent yes` to let your messages (the held ones too) cross, or "
        "`!bridge consent no` to keep them in this room only. You can change your mind at "
        "any time."
    )


class ConsentKeeper:
    """The consent flows; see the module docstring."""

    def __init__(
        self,
        store: Store,
        rulebook: Rulebook,
        outbox: Outbox,
        capabilities: Callable[[], Mapping[str, Capabilities]],
    ) -> None:
        self._store = store
        self._rulebook = rulebook
        self._outbox = outbox
        self._capabilities = capabilities

    async def after_accept(
        self, event: Event, message_id: int, result: Plan, consented: bool | None
    ) -> None:
        """Hold a message the consent rule kept back from a new author; explain once."""
        if consented is not None or event.kind is not EventKind.MESSAGE:
            return  # "no" means no: nothing is kept for later
        dests = sorted({str(w.dest) for w in result.withheld if w.reason.rule == "consent"})
        if not dests:
            return
        await self._store.hold(event.author_ref, message_id, event_to_json(event), dests)
        log.info(
            "room %s: held a message by %s until they answer the consent question (%d rooms)",
            event.room,
            event.author_ref,
            len(dests),
        )
        if await self._store.consent_asked(event.author_ref, str(event.room)):
            await self._outbox.post_notice(
                event.room,
                f"consent-{event.author_ref}",
                explanation(event.author.display_name, dests),
                reply_to=message_id,
                bridge=event.bridge,
            )

    async def answered(self, author_ref: str, yes: bool) -> str:
        """Act on a consent answer; return what to add to the answer."""
        if yes:
            sent = await self._release(author_ref)
            return f"; {sent} held messages are on their way" if sent else ""
        dropped = await self._store.release_held(author_ref)
        deleted = await self._delete_copies(author_ref)
        parts = []
        if dropped:
            parts.append(f"{dropped} held messages will not be sent")
        if deleted:
            parts.append(f"copies of {deleted} earlier messages are being deleted")
        return "; " + "; ".join(parts) if parts else ""

    async def _release(self, author_ref: str) -> int:
        sent = 0
        for held in await self._store.held(author_ref):
            event = event_from_json(held.event)
            links = await links_of(self._store, event)
            # Planned again now: the rules in force when it is released decide.
            topology = self._rulebook.topology
            result = plan(event, topology, self._capabilities(), True, links)
            deliveries = [d for d in result.deliveries if str(d.dest) in held.dests]
            await self._outbox.add(held.message_id, deliveries)
            sent += bool(deliveries)
        await self._store.release_held(author_ref)
        return sent

    async def _delete_copies(self, author_ref: str) -> int:
        """In rooms with delete_on_consent_no, delete the copies of the author's messages."""
        topology = self._rulebook.topology
        caps = self._capabilities()
        count = 0
        for message_id, room, remote_id in await self._store.messages_by(author_ref):
            origin = RoomRef.parse(room)
            if not any(p.delete_on_consent_no for _, p in topology.memberships(origin)):
                continue
            deliveries = []
            for dest, _copy in await self._store.copies_of(message_id):
                dest_room = RoomRef.parse(dest)
                if dest == room or not caps.get(dest_room.account, Capabilities()).deletes:
                    continue
                deliveries.append(
                    Delivery(
                        kind=DeliveryKind.DELETE,
                        dest=dest_room,
                        key=f"consent-no-{message_id}-{dest}",
                        decided_on=DecidedOn(origin=origin, bridge="", author_ref=author_ref),
                        target=message_id,
                    )
                )
            if not deliveries:
                continue
            rows = self._outbox.rows(deliveries)
            if await self._store.accept_followup(
                "delete", room, f"consent-no:{remote_id}", message_id, rows
            ):
                count += 1
                self._outbox.notify(rows)
        if count:
            log.info("deleting copies of %d messages by %s (consent withdrawn)", count, author_ref)
        return count
