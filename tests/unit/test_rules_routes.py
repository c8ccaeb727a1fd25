"""routes() and hashtags(): candidates, deduplication, hashtag routing, order, speed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridgebot.model import Author, RoomRef
from rules import (
    BridgePolicy,
    MessageFacts,
    Privacy,
    RoomPolicy,
    Topology,
    hashtags,
    routes,
)

A = RoomRef.parse("slack.work:C1")
B = RoomRef.parse("matrix.home:!b:x")
C = RoomRef.parse("discord.guild:3")
D = RoomRef.parse("email.list:d@lists.example")
T = RoomRef.parse("telegram.bot:-100")
LONE = RoomRef.parse("api.one:api")


def facts(text: str = "hello") -> MessageFacts:
    return MessageFacts(Author("slack", "U1", "Ann"), "slack.work:U1", text, None)


def dests(found: list[object]) -> list[str]:
    return [str(r.dest.room) for r in found]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#khub", {"khub"}),
        ("news for #KHub and #ops!", {"khub", "ops"}),
        ("(#khub) #khub, #khub.", {"khub"}),
        ("#k-hub- #under_score", {"k-hub", "under_score"}),
        ("C# and F# are languages", set()),
        ("abc#def", set()),
        ("issue #123", set()),
        ("&#123; entity", set()),
        ("https://example.org/#khub", set()),
        ("https://example.org/page#khub and #real", {"real"}),
        ("www.example.org/?q=1#khub", set()),
        ("example.org/#khub", set()),
        ("join #khub:example.org", set()),  # a Matrix room alias
        ("##khub", set()),
        ("# heading", set()),
        ("no tags", set()),
        ("#café", {"café"}),
        ("#khub:", {"khub"}),
    ],
)
def test_hashtags(text: str, expected: set[str]) -> None:
    assert hashtags(text) == expected


def test_hashtags_stay_fast_on_hostile_text() -> None:
    hostile = ["a." * 10_000, "-a" * 10_000, "#" * 20_000, " #a-" * 5_000, "#a:" * 7_000]
    # A quadratic or catastrophic pattern would make this run for minutes (the suite's
    # limit catches it); speed itself is measured in bench/rules_bench.py, not asserted.
    for text in hostile:
        assert "x" in hashtags(text + " #x")


@given(st.text(max_size=200))
def test_hashtags_are_lower_case_words(text: str) -> None:
    for tag in hashtags(text):
        assert tag == tag.lower()
        assert "#" not in tag and not tag[0].isdigit()
        assert tag and not tag.endswith("-")


def two_bridges() -> Topology:
    khub = BridgePolicy(
        "khub",
        "{author} · {network}",
        (RoomPolicy(A), RoomPolicy(B), RoomPolicy(C, receives=False), RoomPolicy(D)),
    )
    ops = BridgePolicy(
        "ops",
        "{author}",
        (
            RoomPolicy(A),
            RoomPolicy(C),  # C receives in ops, not in khub
            RoomPolicy(T, tags=frozenset({"khub"})),
        ),
    )
    return Topology((khub, ops), b"k")


def test_bridge_members_in_config_order_without_the_origin() -> None:
    found = routes(two_bridges(), A, facts())
    assert dests(found) == [str(B), str(C), str(D), str(T)]
    assert all(r.dest.room != A for r in found)


def test_a_room_reached_by_two_bridges_gets_one_route_preferring_an_allowed_one() -> None:
    found = {r.dest.room: r for r in routes(two_bridges(), A, facts())}
    assert found[C].bridge.name == "ops"
    assert found[C].decision.allowed


def test_withheld_routes_are_returned_with_their_reason() -> None:
    topology = Topology(
        (BridgePolicy("b", "{author}", (RoomPolicy(A), RoomPolicy(B, receives=False))),), b"k"
    )
    (route,) = routes(topology, A, facts())
    assert not route.decision.allowed
    assert route.decision.withheld_by is not None
    assert route.decision.withheld_by.rule == "receives"


def test_when_every_way_is_withheld_the_first_bridge_is_reported() -> None:
    topology = Topology(
        (
            BridgePolicy("one", "", (RoomPolicy(A), RoomPolicy(B, receives=False))),
            BridgePolicy("two", "", (RoomPolicy(A), RoomPolicy(B, privacy=Privacy.PUBLIC))),
        ),
        b"k",
    )
    (route,) = routes(topology, A, facts())
    assert route.bridge.name == "one"
    assert not route.decision.allowed


def test_only_bridge() -> None:
    topology = two_bridges()
    assert dests(routes(topology, A, facts(), only_bridge="khub")) == [str(B), str(C), str(D)]
    assert dests(routes(topology, A, facts(), only_bridge="ops")) == [str(C), str(T)]
    assert routes(topology, A, facts(), only_bridge="nope") == []
    assert routes(topology, B, facts(), only_bridge="ops") == []


def test_a_room_in_no_bridge_has_no_routes() -> None:
    assert routes(two_bridges(), LONE, facts("#khub")) == []


def hashtag_topology(origin_sends: bool = True) -> Topology:
    main = BridgePolicy("main", "{author}", (RoomPolicy(A, sends=origin_sends), RoomPolicy(B)))
    news = BridgePolicy(
        "news",
        "{author} via {bridge}",
        (RoomPolicy(C, tags=frozenset({"khub", "ops"})), RoomPolicy(D, tags=frozenset({"ops"}))),
    )
    return Topology((main, news), b"k")


def test_hashtag_reaches_tagged_rooms_in_any_bridge() -> None:
    topology = hashtag_topology()
    assert dests(routes(topology, A, facts("plain"))) == [str(B)]
    found = routes(topology, A, facts("hello #KHub"))
    assert dests(found) == [str(B), str(C)]
    assert found[0].via_tag is None
    assert found[1].via_tag == "khub"
    assert found[1].bridge.name == "news"
    assert found[1].origin.room == A
    assert found[1].decision.allowed
    both = routes(topology, A, facts("#ops #khub"))
    assert dests(both) == [str(B), str(C), str(D)]
    assert [r.via_tag for r in both] == [None, "khub", "ops"]


def test_hashtag_routes_need_a_sending_origin() -> None:
    found = routes(hashtag_topology(origin_sends=False), A, facts("#khub"))
    assert dests(found) == [str(B)]
    assert not found[0].decision.allowed


def test_hashtag_never_routes_back_to_the_origin() -> None:
    assert routes(hashtag_topology(), C, facts("#khub #ops")) == routes(
        hashtag_topology(), C, facts("no tags")
    )
    assert dests(routes(hashtag_topology(), C, facts("#ops"))) == [str(D)]


def test_membership_wins_over_a_hashtag_for_the_same_room() -> None:
    (route,) = [r for r in routes(two_bridges(), A, facts("#khub")) if r.dest.room == T]
    assert route.via_tag is None
    assert route.bridge.name == "ops"


def test_hashtag_routes_respect_the_rules() -> None:
    main = BridgePolicy("main", "", (RoomPolicy(A, privacy=Privacy.CLOSED),))
    news = BridgePolicy(
        "news", "", (RoomPolicy(C, privacy=Privacy.PUBLIC, tags=frozenset({"x"})),)
    )
    (route,) = routes(Topology((main, news), b"k"), A, facts("#x"))
    assert route.via_tag == "x"
    assert route.decision.withheld_by is not None
    assert route.decision.withheld_by.rule == "privacy"


def test_topology_lookups() -> None:
    topology = two_bridges()
    assert [b.name for b, _ in topology.memberships(A)] == ["khub", "ops"]
    assert topology.memberships(LONE) == ()
    assert topology.bridge("ops") is topology.bridges[1]
    assert topology.bridge("nope") is None
    found = topology.room_policy(C)
    assert found is not None
    assert found[0].name == "khub"
    assert not found[1].receives
    assert topology.room_policy(LONE) is None
    assert topology.tags == frozenset({"khub"})
