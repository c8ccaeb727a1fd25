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
import time
from typing import TYPE_CHECKING, Any

from bridgebot.core.router import Plan, plan
from bridgebot.model import Attachment, Author, Capabilities, Event, EventKind, RoomRef
from bridgebot.store import NewDelivery

if TYPE_CHECKING:
    from bridgebot.core.hub import Hub

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
    """The Hub's consent flows; see the module docstring."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def after_accept(
        self, event: Event, message_id: int, result: Plan, consented: bool | None
    ) -> None:
        """Hold a message the consent rule kept back from a new author; explain once."""
        if consented is not None or event.kind is not EventKind.MESSAGE:
            return  # "no" means no: nothing is kept for later
        dests = sorted({str(w.dest) for w in result.withheld if w.reason.rule == "consent"})
        if not dests:
            return
        hub = self._hub
        await hub.store.hold(event.author_ref, message_id, event_to_json(event), dests)
        log.info(
            "room %s: held a message by %s until they answer the consent question (%d rooms)",
            event.room,
            event.author_ref,
            len(dests),
        )
        if await hub.store.consent_asked(event.author_ref, str(event.room)):
            await hub.post_notice(
                event.room,
                f"consent-{event.author_ref}",
                explanation(event.author.display_name, dests),
                reply_to=message_id,
                bridge=event.bridge,
            )

    async def answered(self, author_ref: str, yes: bool) -> str:
        """Act on ``!bridge consent yes|no``; return what to add to the answer."""
        if yes:
            sent = await self._release(author_ref)
            return f"; {sent} held messages are on their way" if sent else ""
        dropped = await self._hub.store.release_held(author_ref)
        deleted = await self._delete_copies(author_ref)
        parts = []
        if dropped:
            parts.append(f"{dropped} held messages will not be sent")
        if deleted:
            parts.append(f"copies of {deleted} earlier messages are being deleted")
        return "; " + "; ".join(parts) if parts else ""

    async def _release(self, author_ref: str) -> int:
        hub = self._hub
        topology = hub.topology
        assert topology is not None and hub.dispatcher is not None
        sent = 0
        deadline = time.time() + hub.config.dispatch.deadline
        for held in await hub.store.held(author_ref):
            event = event_from_json(held.event)
            links = await hub.links_of(event)
            # Planned again now: the rules in force when it is released decide.
            result = plan(event, topology, hub.capabilities(), True, links)
            deliveries = [
                NewDelivery(str(p.dest), p.kind, json.dumps(p.payload), deadline)
                for p in result.deliveries
                if str(p.dest) in held.dests
            ]
            await hub.store.add_deliveries(held.message_id, deliveries)
            hub.dispatcher.notify_all(d.dest_room for d in deliveries)
            sent += bool(deliveries)
        await hub.store.release_held(author_ref)
        return sent

    async def _delete_copies(self, author_ref: str) -> int:
        """In rooms with delete_on_consent_no, delete the copies of the author's messages."""
        hub = self._hub
        topology = hub.topology
        assert topology is not None and hub.dispatcher is not None
        caps = hub.capabilities()
        deadline = time.time() + hub.config.dispatch.deadline
        count = 0
        for message_id, room, remote_id in await hub.store.messages_by(author_ref):
            memberships = topology.memberships(RoomRef.parse(room))
            if not any(p.delete_on_consent_no for _, p in memberships):
                continue
            deliveries = []
            for dest, _copy in await hub.store.copies_of(message_id):
                account = RoomRef.parse(dest).account
                if dest == room or not caps.get(account, Capabilities()).deletes:
                    continue
                payload = {"key": f"consent-no-{message_id}-{dest}", "target_msg": message_id}
                deliveries.append(NewDelivery(dest, "delete", json.dumps(payload), deadline))
            if not deliveries:
                continue
            if await hub.store.accept_followup(
                "delete", room, f"consent-no:{remote_id}", message_id, deliveries
            ):
                count += 1
                hub.dispatcher.notify_all(d.dest_room for d in deliveries)
        if count:
            log.info("deleting copies of %d messages by %s (consent withdrawn)", count, author_ref)
        return count
