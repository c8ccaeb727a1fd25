"""What an inbound event points at, resolved in the store's id map."""

from __future__ import annotations

from bridgebot.core.router import Links
from bridgebot.model import Event
from bridgebot.store import Store

__all__ = ["links_of"]


async def links_of(store: Store, event: Event) -> Links:
    """The store's message ids for what ``event`` replies to, threads under, targets."""
    room = str(event.room)
    reply = await store.find_message(room, event.reply_to) if event.reply_to else None
    thread = await store.find_message(room, event.thread) if event.thread else None
    target = await store.find_message(room, event.target) if event.target else None
    return Links(reply, thread, target)
