"""Routing: every room a message could reach, by bridge membership or by hashtag."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bridgebot.model import RoomRef
from rules.decide import Decision, MessageFacts, decide
from rules.policy import BridgePolicy, RoomPolicy, Topology

__all__ = ["Candidate", "Route", "candidates", "hashtags", "routes"]


@dataclass(frozen=True, slots=True)
class Route:
    """One destination for a message, with the decision; ``via_tag`` if a hashtag led here."""

    bridge: BridgePolicy
    origin: RoomPolicy
    dest: RoomPolicy
    decision: Decision
    via_tag: str | None = None


#: One way to reach a destination: (bridge, origin policy, dest policy, via_tag).
Candidate = tuple[BridgePolicy, RoomPolicy, RoomPolicy, str | None]

# URLs are matched too, only to be skipped: "https://x.org/#khub" is an anchor, not a tag.
# A scheme is matched from the start of its run only (lookbehind, possessive), so that text
# like "a.a.a.a…" costs linear time rather than a rescan from every dot.
# A tag follows no word character, "#", "&" (HTML entities) or "/", starts with a letter, and
# is not a Matrix room alias ("#khub:example.org").
_HASHTAG = re.compile(
    r"(?P<url>(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]*+://\S+|\bwww\.\S+)"
    r"|(?<![\w#&/])#(?P<tag>[^\W\d][\w\-]*)(?![\w\-]|:\S)",
    re.IGNORECASE,
)


def hashtags(text: str) -> frozenset[str]:
    """The hashtags in ``text``, lower-case without ``#``: ``"#KHub!"`` → ``{"khub"}``."""
    if "#" not in text:
        return frozenset()
    found: set[str] = set()
    for match in _HASHTAG.finditer(text):
        tag = match.group("tag")
        if tag:
            tag = tag.rstrip("-").lower()
            # \d leaves out digits such as "²" that str.isdigit() counts: not a word start.
            if tag and not tag[0].isdigit():
                found.add(tag)
    return frozenset(found)


def candidates(
    topology: Topology, origin: RoomRef, facts: MessageFacts, only_bridge: str | None = None
) -> Iterator[tuple[RoomRef, list[Candidate]]]:
    """Each destination with every way to reach it, in preference order (no decisions yet).

    Membership ways come first, in config order; then hashtag ways, which use the origin's
    first (or ``only_bridge``) policy and are offered only when that policy sends.
    """
    members = topology.memberships(origin)
    if only_bridge is not None:
        members = tuple(m for m in members if m[0].name == only_bridge)
    if not members:
        return
    primary = members[0][1]
    ways: dict[RoomRef, list[Candidate]] = {}
    for dest_room, options in topology.peers(origin):
        for bridge, origin_policy, dest_policy in options:
            if only_bridge is None or bridge.name == only_bridge:
                ways.setdefault(dest_room, []).append((bridge, origin_policy, dest_policy, None))
    if topology.tags and primary.sends:
        wanted = hashtags(facts.text) & topology.tags
        if wanted:
            for bridge, dest_policy in topology.tagged:
                matched = dest_policy.tags & wanted
                if matched and dest_policy.room != origin:
                    ways.setdefault(dest_policy.room, []).append(
                        (bridge, primary, dest_policy, min(matched))
                    )
    yield from ways.items()


def _choose(options: list[Candidate], facts: MessageFacts) -> Route:
    chosen: Route | None = None
    for bridge, origin_policy, dest_policy, via_tag in options:
        decision = decide(origin_policy, dest_policy, facts)
        if decision.allowed:
            return Route(bridge, origin_policy, dest_policy, decision, via_tag)
        if chosen is None:
            chosen = Route(bridge, origin_policy, dest_policy, decision, via_tag)
    assert chosen is not None, "a destination always has at least one way in"
    return chosen


def routes(
    topology: Topology, origin: RoomRef, facts: MessageFacts, only_bridge: str | None = None
) -> list[Route]:
    """Every destination of a message from ``origin``, allowed or withheld, once each.

    Where a room is reachable several ways, the first allowed way wins (bridge membership
    before hashtag, config order within each); if none is allowed, the first way is returned
    with its decision so that the caller can say why. The origin itself never appears; a
    room in no bridge (or not in ``only_bridge``) has no routes.
    """
    if only_bridge is None and not (topology.tags and "#" in facts.text):
        # The common case: precomputed peers, no hashtag work, no regrouping.
        out: list[Route] = []
        for _, options in topology.peers(origin):
            if len(options) == 1:
                bridge, origin_policy, dest_policy = options[0]
                decision = decide(origin_policy, dest_policy, facts)
                out.append(Route(bridge, origin_policy, dest_policy, decision))
            else:
                out.append(_choose([(b, o, d, None) for b, o, d in options], facts))
        return out
    return [
        _choose(options, facts) for _, options in candidates(topology, origin, facts, only_bridge)
    ]
