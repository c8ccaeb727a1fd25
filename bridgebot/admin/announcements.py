"""Announcements: one post by a facilitator to every room of a bridge (or of all bridges).

They come from chat (``!announce``) or the command line (``bridgebot announce``), now or at
a time given with ``--at``. Either way they are first a row in the store's announcements
table; :func:`fire` turns a due row into outbox deliveries in one transaction, so a crash
can neither lose a scheduled announcement nor send it twice. The running bridge fires due
rows within 5 s of their time (or at its next start, if it was stopped), and posts a short
summary in the chat room an announcement came from once every delivery has settled.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bridgebot.core.delivery import DecidedOn, Delivery, DeliveryKind
from bridgebot.core.outbox import Outbox
from bridgebot.core.roles import Roles
from bridgebot.core.router import plan
from bridgebot.errors import BridgeError
from bridgebot.model import Author, Capabilities, Event, EventKind, RoomRef
from bridgebot.store import Announcement, DeliveryState, Store
from rules import Topology

__all__ = [
    "CLI_ORIGIN",
    "Fired",
    "cli_targets",
    "fire",
    "parse_at",
    "progress_line",
    "show_time",
    "summary_text",
]

#: Where command-line announcements come from (not a network room).
CLI_ORIGIN = RoomRef("cli.local", "announce")

#: How far in the past an --at time may be (a typing delay), before it is refused.
PAST_GRACE = 60.0


def parse_at(text: str, now: float | None = None) -> float:
    """``2026-12-01T09:00`` (this machine's time zone unless an offset is given, e.g.
    ``+01:00`` or ``Z``) → a Unix time. ValueError says what to write instead."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--at {text!r} is not a date and time; write e.g. 2026-12-01T09:00 "
            "(local time) or 2026-12-01T09:00+01:00"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as people mean it
    ts = when.timestamp()
    current = time.time() if now is None else now
    if ts < current - PAST_GRACE:
        raise ValueError(
            f"--at {text} is in the past ({show_time(ts)}); give a later time, or leave "
            "--at out to send now"
        )
    return ts


def show_time(ts: float) -> str:
    """A Unix time as local date, time and UTC offset, e.g. ``2026-12-01 09:00 +0000``."""
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M %z")


def cli_targets(topology: Topology, bridge: str | None) -> dict[str, str]:
    """room → bridge name, for every receiving room of the chosen bridge (None: all)."""
    chosen = [b for b in topology.bridges if bridge is None or b.name == bridge]
    if not chosen:
        known = ", ".join(b.name for b in topology.bridges) or "none"
        raise BridgeError(f"no bridge named {bridge!r}; bridges: {known}")
    targets: dict[str, str] = {}
    for b in chosen:
        for room in b.rooms:
            if room.receives:
                targets.setdefault(str(room.room), b.name)
    return targets


def _cli_deliveries(topology: Topology, ann: Announcement) -> list[Delivery]:
    return [
        Delivery(
            kind=DeliveryKind.MESSAGE,
            dest=RoomRef.parse(room),
            key=f"announce-{ann.id}-{room}",
            decided_on=DecidedOn(origin=CLI_ORIGIN, bridge=bridge, author_ref=ann.author_ref),
            text=ann.text,
            label=f"{ann.author_name} (announcement)",
            author_name=ann.author_name,
            author_id=ann.author_name,
            ts=time.time(),
            announce=True,
        )
        for room, bridge in cli_targets(topology, ann.bridge).items()
    ]


def _chat_deliveries(
    topology: Topology,
    ann: Announcement,
    caps: Mapping[str, Capabilities],
    roles: Roles,
    consented: bool | None,
) -> list[Delivery]:
    origin = RoomRef.parse(ann.origin_room)
    user = ann.author_ref.partition(":")[2]
    event = Event(
        kind=EventKind.MESSAGE,
        room=origin,
        remote_id=ann.origin_id or f"announce-{ann.id}",
        author=Author(origin.network, user, ann.author_name),
        text=ann.text,
        ts=time.time(),
        bridge=ann.bridge,
    )
    # Checked again when it fires: a facilitator removed meanwhile no longer reaches anyone.
    allowed = set(roles.facilitator_bridges(ann.author_ref, origin))
    result = plan(event, topology, caps, consented, announce=True)
    return [d for d in result.deliveries if d.decided_on.bridge in allowed]


@dataclass(frozen=True, slots=True)
class Fired:
    """An announcement now in the outbox."""

    message_id: int
    rooms: tuple[str, ...]


async def fire(
    store: Store,
    ann: Announcement,
    topology: Topology,
    outbox: Outbox,
    *,
    caps: Mapping[str, Capabilities] | None = None,
    roles: Roles | None = None,
) -> Fired | None:
    """Queue ``ann``'s deliveries; None if another process (or an earlier try) already did.

    A chat announcement needs ``caps`` and ``roles`` (the running bridge's); a command-line
    one goes to every receiving room of its bridge(s). BridgeError if its bridge is gone.
    """
    if ann.origin_room == str(CLI_ORIGIN):
        deliveries = _cli_deliveries(topology, ann)
        remote_id = f"announce-{ann.id}"
        message_id = await store.accept_message(
            ann.origin_room, remote_id, ann.author_ref, ann.bridge, time.time(), []
        )
        if message_id is None:  # accepted before a crash, not yet marked queued
            message_id = await store.find_message(ann.origin_room, remote_id)
    else:
        if caps is None or roles is None:
            raise BridgeError(f"announcement {ann.id} comes from chat: the bridge sends it")
        consented = await store.get_consent(ann.author_ref)
        deliveries = _chat_deliveries(topology, ann, caps, roles, consented)
        message_id = (
            await store.find_message(ann.origin_room, ann.origin_id) if ann.origin_id else None
        )
    if message_id is None:
        raise BridgeError(f"announcement {ann.id}: its message is missing from the store")
    rows = outbox.rows(deliveries)
    if not await store.queue_announcement(ann.id, message_id, rows):
        return None
    outbox.notify(rows)
    return Fired(message_id, tuple(sorted({r.dest_room for r in rows})))


def summary_text(ann: Announcement, state: DeliveryState) -> str:
    """The chat answer once every delivery of ``ann`` has settled."""
    landed = set(state.landed) & set(ann.rooms)  # not the answer to the command itself
    lines = [f"announcement {ann.id}: landed in {len(landed)} of {len(ann.rooms)} rooms"]
    lines += [
        f"failed {room}: {reason}"
        for room, reason in sorted(state.failed.items())
        if room in ann.rooms
    ]
    return "\n".join(lines)


def progress_line(ann: Announcement, state: DeliveryState) -> str:
    """One bar per network: ``slack [##.] 2/3``."""
    per_net = Counter(RoomRef.parse(r).network for r in ann.rooms)
    settled = (set(state.landed) | set(state.failed)) & set(ann.rooms)
    done = Counter(RoomRef.parse(r).network for r in settled)
    return "  ".join(
        f"{net} [{'#' * done[net]}{'.' * (per_net[net] - done[net])}] {done[net]}/{per_net[net]}"
        for net in sorted(per_net)
    )
