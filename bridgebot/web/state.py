"""A snapshot of everything the admin page shows, as plain data (HTML and JSON share it)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rules import RoomPolicy

if TYPE_CHECKING:
    from bridgebot.app import Bridge
    from bridgebot.store import Store

__all__ = [
    "AdminState",
    "AuditView",
    "BridgeView",
    "DeadView",
    "OverrideView",
    "RoomView",
    "collect",
    "count_dead_letters",
]

#: How many dead letters and audit entries the page lists (newest first).
LIST_LIMIT = 200
#: Dead letters counted for the gauge; the store has no count query, so cap the read.
COUNT_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class OverrideView:
    """A rule changed at run time (chat or web) on top of bot.toml."""

    key: str
    value: Any
    actor: str
    ts: float


@dataclass(frozen=True, slots=True)
class RoomView:
    """One room's effective rules in one bridge, with its queue and overrides."""

    room: str
    name: str
    privacy: str
    sends: bool
    receives: bool
    networks: list[str] | None
    consent: str
    attribution: str
    redact: list[str]
    tags: list[str]
    ignore_authors: list[str]
    ignore_text: list[str]
    queued: int
    overrides: list[OverrideView]


@dataclass(frozen=True, slots=True)
class BridgeView:
    """A bridge and its rooms."""

    name: str
    label: str
    rooms: list[RoomView]


@dataclass(frozen=True, slots=True)
class DeadView:
    """A dead letter as admins see it: where it was going, why it failed, whose it was."""

    id: int
    message_id: int
    dest_room: str
    kind: str
    author: str
    attempts: int
    reason: str
    failed_at: float


@dataclass(frozen=True, slots=True)
class AuditView:
    """One audit log entry."""

    id: int
    ts: float
    actor: str
    room: str | None
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class AnnouncementView:
    """One announcement and where it stands."""

    id: int
    when: float
    author: str
    origin: str
    state: str  # scheduled | cancelled | sending | landed | failed
    landed: list[str]
    queued: list[str]
    failed: dict[str, str]
    text: str


@dataclass(frozen=True, slots=True)
class AdminState:
    """Everything on the overview page."""

    bridges: list[BridgeView]
    adapters: dict[str, dict[str, Any]]
    queues: dict[str, int]
    dead_letters: list[DeadView]
    audit: list[AuditView]
    counters: dict[str, Any]
    announcements: list[AnnouncementView]

    def to_json(self) -> dict[str, Any]:
        """The ``/api/admin/state`` body."""
        return asdict(self)


def _room_view(policy: RoomPolicy, queued: int, overrides: list[OverrideView]) -> RoomView:
    return RoomView(
        room=str(policy.room),
        name=policy.name,
        privacy=policy.privacy.label,
        sends=policy.sends,
        receives=policy.receives,
        networks=sorted(policy.networks) if policy.networks is not None else None,
        consent=policy.consent.value,
        attribution=policy.attribution.value,
        redact=[r.name for r in policy.redact],
        tags=sorted(policy.tags),
        ignore_authors=[p.pattern for p in policy.ignore_authors],
        ignore_text=[p.pattern for p in policy.ignore_text],
        queued=queued,
        overrides=overrides,
    )


def _author_of(payload: str) -> str:
    # A payload we cannot read is still listed (it can be retried); it just has no author.
    try:
        data = json.loads(payload)
    except ValueError:
        return ""
    name = data.get("author_name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else ""


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _announcements(store: Store) -> list[AnnouncementView]:
    out = []
    for ann in await store.announcements(("scheduled", "queued", "reported", "cancelled"), 20):
        landed: list[str] = []
        failed: dict[str, str] = {}
        if ann.message_id is not None:
            done = await store.delivery_state(ann.message_id)
            landed = [r for r in done.landed if r in ann.rooms]
            failed = {r: why for r, why in done.failed.items() if r in ann.rooms}
        queued = [r for r in ann.rooms if r not in landed and r not in failed]
        if ann.state in ("scheduled", "cancelled"):
            state = ann.state
        else:
            state = "sending" if queued else "failed" if failed else "landed"
        out.append(
            AnnouncementView(
                ann.id,
                ann.due_at or ann.created_at,
                ann.author_ref,
                ann.origin_room,
                state,
                landed,
                queued,
                failed,
                ann.text,
            )
        )
    return out


async def count_dead_letters(hub: Bridge) -> int:
    """How many dead letters wait for a retry."""
    return len(await hub.store.dead_letters(limit=COUNT_LIMIT))


async def collect(hub: Bridge) -> AdminState:
    """Read the hub and its store into one snapshot."""
    store = hub.store
    queues = await store.queue_depths()
    overrides: dict[str, list[OverrideView]] = {}
    for room, key, value, actor, ts in await store.overrides():
        overrides.setdefault(room, []).append(OverrideView(key, _decode(value), actor, ts))
    bridges = []
    topology = hub.topology
    for bridge in topology.bridges if topology is not None else ():
        rooms = [
            _room_view(p, queues.get(str(p.room), 0), overrides.get(str(p.room), []))
            for p in bridge.rooms
        ]
        bridges.append(BridgeView(bridge.name, bridge.label, rooms))
    dead = [
        DeadView(
            d.id,
            d.message_id,
            d.dest_room,
            d.kind,
            _author_of(d.payload),
            d.attempts,
            d.reason,
            d.failed_at,
        )
        for d in await store.dead_letters(limit=LIST_LIMIT)
    ]
    audit = [
        AuditView(e.id, e.ts, e.actor, e.room, e.action, e.detail)
        for e in await store.audit_log(limit=LIST_LIMIT)
    ]
    status = hub.status()
    counters = {k: status[k] for k in ("relayed", "withheld", "sent", "dead", "started_at")}
    return AdminState(
        bridges,
        dict(status["adapters"]),
        queues,
        dead,
        audit,
        counters,
        await _announcements(store),
    )
