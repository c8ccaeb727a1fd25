"""The router: a pure function from one inbound event to the deliveries it causes.

No awaits, no logging, no branching on network names: the Hub resolves everything that
needs the store (consent, reply/thread/target message ids) before calling :func:`plan`,
and asks adapters' ``capabilities`` instead of their names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from bridgebot.core.delivery import DecidedOn, Delivery, DeliveryKind
from bridgebot.model import Capabilities, Event, EventKind, RoomRef
from rules import MessageFacts, Reason, Route, Topology, render, routes

__all__ = ["TRUNCATED", "Links", "Plan", "Withheld", "delivery_key", "plan"]

TRUNCATED = " … [truncated]"


@dataclass(frozen=True, slots=True)
class Links:
    """Message ids (in the store) that the event points at, resolved by the Hub."""

    reply_to: int | None = None
    thread: int | None = None
    target: int | None = None


@dataclass(frozen=True, slots=True)
class Withheld:
    """A destination the rules refused, with the first failing reason (no content)."""

    dest: RoomRef
    bridge: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Plan:
    deliveries: tuple[Delivery, ...]
    withheld: tuple[Withheld, ...]


def delivery_key(event: Event, dest: RoomRef) -> str:
    """A key stable across retries and restarts: same event + destination → same key."""
    raw = f"{event.room}\0{event.remote_id}\0{event.kind}\0{dest}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _fit(text: str, label: str, caps: Capabilities) -> str:
    budget = caps.max_text_length
    if not caps.per_message_identity:
        budget -= len(label) + 2
    if len(text) <= budget:
        return text
    return text[: max(0, budget - len(TRUNCATED))] + TRUNCATED


def _delivery(
    event: Event,
    route: Route,
    facts: MessageFacts,
    topology: Topology,
    caps: Capabilities,
    links: Links,
    announce: bool,
) -> Delivery:
    shown = render(topology, route, facts)
    return Delivery(
        kind=DeliveryKind(event.kind.value),
        dest=route.dest.room,
        key=delivery_key(event, route.dest.room),
        decided_on=DecidedOn(
            origin=event.room,
            bridge=route.bridge.name,
            author_ref=event.author_ref,
            consented=facts.consented,
        ),
        text=_fit(shown.text, shown.label, caps),
        label=shown.label,
        author_name=shown.author_name,
        author_id=event.author.user_id if shown.show_avatar else "",
        avatar_url=event.author.avatar_url if shown.show_avatar else None,
        attachments=event.attachments if caps.attachments else (),
        reply_to=links.reply_to,
        thread=links.thread,
        target=links.target,
        emoji=event.emoji,
        ts=event.ts,
        announce=announce,
    )


def _supported(kind: EventKind, caps: Capabilities) -> bool:
    if kind is EventKind.EDIT:
        return caps.edits
    if kind is EventKind.DELETE:
        return caps.deletes
    if kind is EventKind.REACTION:
        return caps.reactions
    return True


def plan(
    event: Event,
    topology: Topology,
    caps: Mapping[str, Capabilities],
    consented: bool | None,
    links: Links = Links(),
    *,
    announce: bool = False,
) -> Plan:
    """Every delivery ``event`` causes under ``topology``, and every destination withheld.

    ``caps`` maps an account name to its adapter's capabilities; a destination whose
    account has no adapter is planned anyway (the dispatcher waits for the adapter).
    Deletes go to every candidate room regardless of the rules (removing a copy can only
    reduce exposure); the dispatcher skips rooms that never got a copy.
    """
    facts = MessageFacts(
        author=event.author,
        author_ref=event.author_ref,
        text=event.text,
        consented=consented,
    )
    deliveries: list[Delivery] = []
    withheld: list[Withheld] = []
    default_caps = Capabilities()
    for route in routes(topology, event.room, facts, only_bridge=event.bridge):
        dest = route.dest.room
        dest_caps = caps.get(dest.account, default_caps)
        allowed = route.decision.allowed or event.kind is EventKind.DELETE
        if not allowed:
            reason = route.decision.withheld_by
            if reason is not None:
                withheld.append(Withheld(dest, route.bridge.name, reason))
            continue
        if not _supported(event.kind, dest_caps):
            continue
        deliveries.append(_delivery(event, route, facts, topology, dest_caps, links, announce))
    return Plan(tuple(deliveries), tuple(withheld))
