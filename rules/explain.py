"""Human-readable explanations: why a message from one room does or does not reach another."""

from __future__ import annotations

from bridgebot.model import RoomRef
from rules.decide import MessageFacts, decide
from rules.policy import Topology
from rules.render import render
from rules.route import Route, candidates, hashtags

__all__ = ["explain"]


def _indent(text: str) -> str:
    return text.replace("\n", "\n         ")


def _no_route(topology: Topology, origin: RoomRef, dest: RoomRef, facts: MessageFacts) -> str:
    head = f"{origin} → {dest}: no route:"
    if origin == dest:
        return f"{head} a message is never copied into its own room"
    origin_members = topology.memberships(origin)
    if not origin_members:
        return f"{head} {origin} is in no bridge"
    dest_members = topology.memberships(dest)
    if not dest_members:
        return f"{head} {dest} is in no bridge"
    dest_tags = sorted({t for _, policy in dest_members for t in policy.tags})
    why = f"{head} the rooms share no bridge"
    if not dest_tags:
        return f"{why}, and {dest} listens for no hashtag"
    listens = ", ".join("#" + t for t in dest_tags)
    if hashtags(facts.text) & set(dest_tags) and not origin_members[0][1].sends:
        return f"{why}; {dest} listens for {listens}, but {origin} has sends = false"
    return f"{why}, and the message has none of {dest}'s hashtags ({listens})"


def _block(topology: Topology, route: Route, facts: MessageFacts) -> list[str]:
    origin, dest = route.origin.room, route.dest.room
    via = f"via bridge {route.bridge.name}"
    if route.via_tag is not None:
        via = f"via tag #{route.via_tag} (bridge {route.bridge.name})"
    lines = [f"{origin} → {dest} {via}"]
    lines += [f"  {'✓' if r.ok else '✗'} {r.detail}" for r in route.decision.reasons]
    failed = route.decision.withheld_by
    if failed is not None:
        lines.append(f"  = withheld ({failed.rule})")
        return lines
    shown = render(topology, route, facts)
    lines.append("  = relayed")
    lines.append(f"    label: {_indent(shown.label)}")
    lines.append(f"    text:  {_indent(shown.text)}")
    return lines


def explain(topology: Topology, origin: RoomRef, dest: RoomRef, facts: MessageFacts) -> list[str]:
    """Lines explaining every way a message from ``origin`` could reach ``dest``.

    Each way prints its rules with ✓/✗, then ``= relayed`` (with the label and text as they
    would appear) or ``= withheld (RULE)``. Several ways end with the one copy that counts.
    """
    ways: list[Route] = []
    for room, options in candidates(topology, origin, facts):
        if room == dest:
            for bridge, origin_policy, dest_policy, tag in options:
                decision = decide(origin_policy, dest_policy, facts)
                ways.append(Route(bridge, origin_policy, dest_policy, decision, tag))
            break
    if not ways:
        return [_no_route(topology, origin, dest, facts)]
    lines: list[str] = []
    for route in ways:
        lines += _block(topology, route, facts)
    if len(ways) > 1:
        allowed = [r for r in ways if r.decision.allowed]
        if allowed:
            lines.append(f"→ {dest} gets one copy, via bridge {allowed[0].bridge.name}")
        else:
            lines.append(f"→ {dest} gets no copy: every way is withheld")
    return lines
