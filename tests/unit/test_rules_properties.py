"""Property tests over random topologies and messages: no allowed route ever breaks a rule."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgebot.model import Author, RoomRef
from rules import (
    Attribution,
    BridgePolicy,
    Consent,
    MessageFacts,
    Privacy,
    RoomPolicy,
    Route,
    Topology,
    builtin_redaction,
    decide,
    hashtags,
    render,
    routes,
)

NETWORKS = ("slack", "matrix", "discord", "telegram", "email", "api")
POOL = tuple(
    RoomRef(f"{network}.{account}", room)
    for network, account, room in [
        ("slack", "work", "C1"),
        ("slack", "work", "C2"),
        ("slack", "other", "C1"),
        ("matrix", "home", "!a:x"),
        ("discord", "guild", "3"),
        ("telegram", "bot", "-100"),
        ("email", "list", "k@lists.example"),
        ("api", "one", "api"),
    ]
)
TAGS = ("khub", "ops", "news")
REDACTIONS = tuple(builtin_redaction(n) for n in ("email", "phone", "uk_ni_number", "postcode"))


@st.composite
def room_policies(draw: st.DrawFn, room: RoomRef) -> RoomPolicy:
    return RoomPolicy(
        room=room,
        name=draw(st.sampled_from(["", "general", "Room\nname"])),
        privacy=draw(st.sampled_from(Privacy)),
        sends=draw(st.booleans()),
        receives=draw(st.booleans()),
        networks=draw(st.none() | st.frozensets(st.sampled_from(NETWORKS), max_size=3)),
        consent=draw(st.sampled_from(Consent)),
        attribution=draw(st.sampled_from(Attribution)),
        redact=tuple(draw(st.lists(st.sampled_from(REDACTIONS), max_size=3))),
        ignore_authors=tuple(
            re.compile(p) for p in draw(st.lists(st.sampled_from(["^bot", "Mallory"]), max_size=1))
        ),
        ignore_text=tuple(
            re.compile(p) for p in draw(st.lists(st.sampled_from(["^!nobridge"]), max_size=1))
        ),
        tags=draw(st.frozensets(st.sampled_from(TAGS), max_size=2)),
    )


@st.composite
def bridges(draw: st.DrawFn, name: str) -> BridgePolicy:
    rooms = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=5, unique=True))
    label = draw(st.sampled_from(["{author} · {network}", "{author}@{room}", "[{bridge}]", ""]))
    return BridgePolicy(name, label, tuple(draw(room_policies(r)) for r in rooms))


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    count = draw(st.integers(1, 3))
    return Topology(
        tuple(draw(bridges(f"b{i}")) for i in range(count)),
        draw(st.binary(min_size=1, max_size=16)),
    )


WORDS = [
    "hello",
    "#khub",
    "#OPS",
    "#news",
    "C#",
    "!nobridge",
    "ann@example.org",
    "07700 900123",
    "+1 415 555 2671",
    "AB123456C",
    "SW1A 1AA",
    "2026",
    "https://x.org/#ops",
]


@st.composite
def messages(draw: st.DrawFn) -> MessageFacts:
    name = draw(st.sampled_from(["Ann", "bot-relay", "Mallory", "Zoë\n\u202e", ""]))
    user = draw(st.sampled_from(["U1", "U2", "@m:x"]))
    text = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=6)))
    consented = draw(st.sampled_from([None, True, False]))
    return MessageFacts(Author("slack", user, name), f"slack.work:{user}", text, consented)


# Each example builds a whole topology; these counts keep the file at a few seconds.
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=75)


def _check_allowed(topology: Topology, origin: RoomRef, route: Route, facts: MessageFacts) -> None:
    o, d = route.origin, route.dest
    # The policies used are real memberships, never made up or taken from another room.
    assert (route.bridge, d) in topology.memberships(d.room)
    assert o in [policy for _, policy in topology.memberships(origin)]
    assert d.room != origin
    assert d.privacy >= o.privacy
    assert o.sends and d.receives
    assert o.networks is None or d.room.network in o.networks
    assert o.consent is Consent.IMPLIED or facts.consented is True
    for pattern in o.ignore_authors + d.ignore_authors:
        for subject in (facts.author.display_name, facts.author.user_id, facts.author_ref):
            assert not pattern.search(subject)
    for pattern in o.ignore_text + d.ignore_text:
        assert not pattern.search(facts.text)


def _oracle(topology: Topology, origin: RoomRef, facts: MessageFacts) -> dict[RoomRef, bool]:
    """Every reachable room and whether any way in is allowed, by brute force."""
    members = topology.memberships(origin)
    reach: dict[RoomRef, bool] = {}
    for bridge, origin_policy in members:
        for dest in bridge.rooms:
            if dest.room != origin:
                allowed = decide(origin_policy, dest, facts).allowed
                reach[dest.room] = reach.get(dest.room, False) or allowed
    if members and members[0][1].sends:
        tags = hashtags(facts.text)
        for bridge in topology.bridges:
            for dest in bridge.rooms:
                if dest.room != origin and dest.tags & tags:
                    allowed = decide(members[0][1], dest, facts).allowed
                    reach[dest.room] = reach.get(dest.room, False) or allowed
    return reach


@SETTINGS
@given(topology=topologies(), origin=st.sampled_from(POOL), facts=messages())
def test_no_allowed_route_breaks_a_rule(
    topology: Topology, origin: RoomRef, facts: MessageFacts
) -> None:
    found = routes(topology, origin, facts)
    seen = [r.dest.room for r in found]
    assert len(seen) == len(set(seen))
    assert origin not in seen
    for route in found:
        assert route.decision == decide(route.origin, route.dest, facts)
        if route.decision.allowed:
            _check_allowed(topology, origin, route, facts)
        else:
            assert route.decision.withheld_by is not None
        if route.via_tag is not None:
            assert route.via_tag in hashtags(facts.text)
            assert route.via_tag in route.dest.tags
    assert found == routes(topology, origin, facts)  # deterministic
    # Complete, too: every room some way allows gets its copy, and only those.
    assert {r.dest.room: r.decision.allowed for r in found} == _oracle(topology, origin, facts)
    _check_rendered(topology, found, facts)


@FEWER
@given(
    topology=topologies(),
    origin=st.sampled_from(POOL),
    facts=messages(),
    only=st.sampled_from(["b0", "b1", "b2", "nope"]),
)
def test_only_bridge_stays_in_its_bridge_or_follows_tags(
    topology: Topology, origin: RoomRef, facts: MessageFacts, only: str
) -> None:
    found = routes(topology, origin, facts, only_bridge=only)
    bridge = topology.bridge(only)
    if bridge is None or origin not in [p.room for p in bridge.rooms]:
        assert found == []
        return
    for route in found:
        assert route.bridge.name == only or route.via_tag is not None
        assert route.origin in bridge.rooms


def _check_rendered(topology: Topology, found: list[Route], facts: MessageFacts) -> None:
    for route in found:
        shown = render(topology, route, facts)
        names = {r.name for r in route.origin.redact + route.dest.redact}
        if "email" in names:
            assert "ann@example.org" not in shown.text
        if "phone" in names:
            assert "07700 900123" not in shown.text
            assert "+1 415 555 2671" not in shown.text
        strictest = max(
            route.origin.attribution, route.dest.attribution, key=lambda a: a.strictness
        )
        assert shown.show_avatar is (strictest is Attribution.NAME)
        if strictest is not Attribution.NAME and facts.author.display_name:
            assert facts.author.display_name not in shown.author_name
            assert facts.author.display_name not in shown.label
        assert "\n" not in shown.author_name and "\u202e" not in shown.author_name
        assert len(shown.author_name) <= 64
