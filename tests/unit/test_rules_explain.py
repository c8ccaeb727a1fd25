"""explain(): the admin's view of why a message does or does not cross."""

from __future__ import annotations

import re

from bridgebot.model import Author, RoomRef
from rules import (
    Attribution,
    BridgePolicy,
    Consent,
    MessageFacts,
    Privacy,
    RoomPolicy,
    Topology,
    builtin_redaction,
    explain,
)

A = RoomRef.parse("slack.work:C1")
B = RoomRef.parse("matrix.home:!a:x")
C = RoomRef.parse("discord.guild:3")
T = RoomRef.parse("telegram.bot:-100")
LONE = RoomRef.parse("api.one:api")


def facts(text: str = "hello a@b.org", consented: bool | None = None) -> MessageFacts:
    return MessageFacts(Author("slack", "U1", "Ann"), "slack.work:U1", text, consented)


def topology() -> Topology:
    khub = BridgePolicy(
        "khub",
        "{author} · {network}",
        (
            RoomPolicy(A, consent=Consent.OPT_IN, redact=(builtin_redaction("email"),)),
            RoomPolicy(B, attribution=Attribution.NAME),
            RoomPolicy(C, privacy=Privacy.PUBLIC),
        ),
    )
    news = BridgePolicy("news", "{author}", (RoomPolicy(T, tags=frozenset({"khub"})),))
    return Topology((khub, news), b"k")


def test_relayed() -> None:
    lines = explain(topology(), A, B, facts(consented=True))
    assert lines[0] == "slack.work:C1 → matrix.home:!a:x via bridge khub"
    assert lines[1:9] == [line for line in lines[1:9] if line.startswith("  ✓ ")]
    assert "  ✓ consent: author slack.work:U1 has opted in" in lines[6]
    assert lines[9:] == ["  = relayed", "    label: Ann · slack", "    text:  hello [email]"]


def test_withheld_shows_every_rule_and_the_first_failure() -> None:
    lines = explain(topology(), A, C, facts())
    assert lines[0] == "slack.work:C1 → discord.guild:3 via bridge khub"
    assert "  ✗ privacy: internal room slack.work:C1 may not send to public room" in lines[4]
    assert lines[6].startswith("  ✗ consent: author slack.work:U1 has not opted in")
    assert lines[-1] == "  = withheld (privacy)"
    assert not any("hello" in line for line in lines)


def test_via_tag() -> None:
    lines = explain(topology(), A, T, facts("#khub news", consented=True))
    assert lines[0] == "slack.work:C1 → telegram.bot:-100 via tag #khub (bridge news)"
    assert lines[-3] == "  = relayed"
    assert lines[-1] == "    text:  #khub news"


def test_no_route_cases() -> None:
    t = topology()
    (line,) = explain(t, A, T, facts("no tag"))
    assert "no route" in line and "share no bridge" in line and "#khub" in line
    (line,) = explain(t, T, A, facts())
    assert "share no bridge" in line and "listens for no hashtag" in line
    (line,) = explain(t, LONE, A, facts())
    assert "api.one:api is in no bridge" in line
    (line,) = explain(t, A, LONE, facts())
    assert "api.one:api is in no bridge" in line
    (line,) = explain(t, A, A, facts())
    assert "own room" in line


def test_tag_route_with_a_silent_origin() -> None:
    quiet = BridgePolicy("q", "", (RoomPolicy(A, sends=False),))
    news = BridgePolicy("news", "", (RoomPolicy(T, tags=frozenset({"khub"})),))
    (line,) = explain(Topology((quiet, news), b"k"), A, T, facts("#khub"))
    assert "sends = false" in line


def test_several_ways_end_with_the_copy_that_counts() -> None:
    t = Topology(
        (
            BridgePolicy("one", "", (RoomPolicy(A), RoomPolicy(B, receives=False))),
            BridgePolicy("two", "", (RoomPolicy(A), RoomPolicy(B))),
        ),
        b"k",
    )
    lines = explain(t, A, B, facts())
    assert [line for line in lines if line.startswith("slack.work:C1 →")] == [
        "slack.work:C1 → matrix.home:!a:x via bridge one",
        "slack.work:C1 → matrix.home:!a:x via bridge two",
    ]
    assert lines[-1] == "→ matrix.home:!a:x gets one copy, via bridge two"
    t2 = Topology(
        (
            BridgePolicy("one", "", (RoomPolicy(A), RoomPolicy(B, receives=False))),
            BridgePolicy("two", "", (RoomPolicy(A, sends=False), RoomPolicy(B))),
        ),
        b"k",
    )
    assert (
        explain(t2, A, B, facts())[-1] == "→ matrix.home:!a:x gets no copy: every way is withheld"
    )


def test_multiline_text_stays_indented() -> None:
    lines = explain(topology(), A, B, facts("one\ntwo", consented=True))
    assert re.fullmatch(r"    text:  one\n {9}two", lines[-1])
