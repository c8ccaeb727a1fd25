"""Rooms, deliveries and accepted messages that the store contract's tests share."""

from __future__ import annotations

import json

from bridgebot.store import NewDelivery, Store

SLACK = "slack.work:C1"
MATRIX = "matrix.home:!r:example.org"
DISCORD = "discord.guild:42"


def to(room: str, kind: str = "message", n: int = 0, deadline: float | None = None) -> NewDelivery:
    return NewDelivery(room, kind, json.dumps({"n": n}), deadline)


async def accept(store: Store, remote_id: str, *dests: str, room: str = SLACK) -> int:
    message_id = await store.accept_message(
        room, remote_id, f"{room}:U1", None, 5.0, [to(d) for d in dests]
    )
    assert message_id is not None
    return message_id


async def settle(store: Store, room: str) -> None:
    """Send everything queued for ``room``: its copies get remote ids."""
    while batch := await store.next_batch(room):
        for item in batch:
            await store.complete(item, f"copy-{item.message_id}")
