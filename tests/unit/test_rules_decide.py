"""decide(): one table per rule, and the shape of the reasons."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bridgebot.model import Author, RoomRef
from rules import Consent, Decision, MessageFacts, Privacy, RoomPolicy, decide

ORIGIN = RoomRef("slack.work", "C1")
DEST = RoomRef("matrix.home", "!a:x")
RULES = [
    "origin",
    "sends",
    "receives",
    "privacy",
    "network",
    "consent",
    "ignore_authors",
    "ignore_text",
]


def facts(
    text: str = "hello", name: str = "Ann", user: str = "U1", consented: bool | None = None
) -> MessageFacts:
    return MessageFacts(Author("slack", user, name), f"slack.work:{user}", text, consented)


def check(
    origin: dict[str, Any] | None = None,
    dest: dict[str, Any] | None = None,
    message: MessageFacts | None = None,
) -> Decision:
    o = RoomPolicy(ORIGIN, **(origin or {}))
    d = RoomPolicy(DEST, **(dest or {}))
    return decide(o, d, message or facts())


def test_default_rooms_relay_and_every_rule_is_recorded() -> None:
    decision = check()
    assert decision.allowed
    assert decision.withheld_by is None
    assert [r.rule for r in decision.reasons] == RULES
    assert all(r.ok for r in decision.reasons)


def test_origin_room_is_never_a_destination() -> None:
    room = RoomPolicy(ORIGIN)
    decision = decide(room, room, facts())
    assert not decision.allowed
    assert decision.withheld_by is not None
    assert decision.withheld_by.rule == "origin"


@pytest.mark.parametrize(
    ("origin", "dest", "allowed"),
    [
        (Privacy.PUBLIC, Privacy.PUBLIC, True),
        (Privacy.PUBLIC, Privacy.INTERNAL, True),
        (Privacy.PUBLIC, Privacy.CLOSED, True),
        (Privacy.INTERNAL, Privacy.PUBLIC, False),
        (Privacy.INTERNAL, Privacy.INTERNAL, True),
        (Privacy.INTERNAL, Privacy.CLOSED, True),
        (Privacy.CLOSED, Privacy.PUBLIC, False),
        (Privacy.CLOSED, Privacy.INTERNAL, False),
        (Privacy.CLOSED, Privacy.CLOSED, True),
    ],
)
def test_privacy(origin: Privacy, dest: Privacy, allowed: bool) -> None:
    decision = check({"privacy": origin}, {"privacy": dest})
    assert decision.allowed is allowed
    if not allowed:
        assert decision.withheld_by is not None
        assert decision.withheld_by.rule == "privacy"


def test_privacy_detail() -> None:
    decision = check({"privacy": Privacy.CLOSED}, {"privacy": Privacy.INTERNAL})
    assert decision.withheld_by is not None
    assert decision.withheld_by.detail == (
        "privacy: closed room slack.work:C1 may not send to internal room matrix.home:!a:x"
    )


@pytest.mark.parametrize(
    ("sends", "receives", "rule"),
    [
        (True, True, None),
        (False, True, "sends"),
        (True, False, "receives"),
        (False, False, "sends"),
    ],
)
def test_sends_and_receives(sends: bool, receives: bool, rule: str | None) -> None:
    decision = check({"sends": sends}, {"receives": receives})
    assert decision.allowed is (rule is None)
    assert (decision.withheld_by.rule if decision.withheld_by else None) == rule
    # Every rule is still evaluated after the first failure, for explanations.
    assert len(decision.reasons) == len(RULES)


@pytest.mark.parametrize(
    ("networks", "allowed"),
    [
        (None, True),
        (frozenset({"matrix"}), True),
        (frozenset({"matrix", "email"}), True),
        (frozenset({"MATRIX"}), True),
        (frozenset({"email"}), False),
        (frozenset(), False),
    ],
)
def test_networks(networks: frozenset[str] | None, allowed: bool) -> None:
    decision = check({"networks": networks})
    assert decision.allowed is allowed
    if not allowed:
        assert decision.withheld_by is not None
        assert decision.withheld_by.rule == "network"
        assert "matrix" in decision.withheld_by.detail


@pytest.mark.parametrize(
    ("consent", "consented", "allowed", "words"),
    [
        (Consent.IMPLIED, None, True, "implied"),
        (Consent.IMPLIED, False, True, "implied"),
        (Consent.OPT_IN, True, True, "has opted in"),
        (Consent.OPT_IN, False, False, "has opted out"),
        (Consent.OPT_IN, None, False, "has not opted in"),
    ],
)
def test_consent(consent: Consent, consented: bool | None, allowed: bool, words: str) -> None:
    decision = check({"consent": consent}, message=facts(consented=consented))
    assert decision.allowed is allowed
    reason = decision.reasons[RULES.index("consent")]
    assert reason.ok is allowed
    assert words in reason.detail


def test_consent_detail() -> None:
    decision = check({"consent": Consent.OPT_IN})
    assert decision.withheld_by is not None
    assert decision.withheld_by.detail == (
        'consent: author slack.work:U1 has not opted in (room asks for consent = "opt-in")'
    )


def test_consent_is_the_origins_rule_not_the_destinations() -> None:
    assert check(dest={"consent": Consent.OPT_IN}).allowed


@pytest.mark.parametrize(
    ("side", "pattern", "name", "user", "allowed", "words"),
    [
        ("origin", "^bot-", "bot-relay", "U1", False, "does not send messages from"),
        ("dest", "^bot-", "bot-relay", "U1", False, "does not want messages from"),
        ("origin", "^U9$", "Ann", "U9", False, "does not send"),  # matched on the user id
        ("origin", "^slack.work:U9$", "Ann", "U9", False, "does not send"),  # on ACCOUNT:USER
        ("origin", "Bob", "Ann", "U1", True, "no author rule"),
        ("dest", "bot", "robot Ann", "U1", False, "does not want"),  # search, not match
    ],
)
def test_ignore_authors(
    side: str, pattern: str, name: str, user: str, allowed: bool, words: str
) -> None:
    rule = {"ignore_authors": (re.compile(pattern),)}
    decision = check(
        rule if side == "origin" else None,
        rule if side == "dest" else None,
        facts(name=name, user=user),
    )
    assert decision.allowed is allowed
    assert words in decision.reasons[RULES.index("ignore_authors")].detail


@pytest.mark.parametrize(
    ("side", "pattern", "text", "allowed"),
    [
        ("origin", "^!nobridge", "!nobridge secret plans", False),
        ("dest", "^!nobridge", "!nobridge secret plans", False),
        ("origin", "^!nobridge", "please !nobridge", True),
        ("dest", "(?i)confidential", "This is CONFIDENTIAL", False),
    ],
)
def test_ignore_text(side: str, pattern: str, text: str, allowed: bool) -> None:
    rule = {"ignore_text": (re.compile(pattern),)}
    decision = check(
        rule if side == "origin" else None, rule if side == "dest" else None, facts(text)
    )
    assert decision.allowed is allowed
    reason = decision.reasons[RULES.index("ignore_text")]
    assert reason.ok is allowed
    # The detail names the pattern (config) but never quotes the message (content).
    assert "secret" not in reason.detail and "CONFIDENTIAL" not in reason.detail


def test_details_never_contain_the_text() -> None:
    text = "TOP-SECRET-CONTENT"
    decision = check(
        {
            "privacy": Privacy.CLOSED,
            "sends": False,
            "networks": frozenset({"email"}),
            "consent": Consent.OPT_IN,
            "ignore_text": (re.compile("SECRET"),),
            "ignore_authors": (re.compile("Ann"),),
        },
        {"privacy": Privacy.PUBLIC, "receives": False, "ignore_text": (re.compile("TOP"),)},
        facts(text),
    )
    assert not decision.allowed
    assert all(not r.ok for r in decision.reasons[1:])
    for reason in decision.reasons:
        assert text not in reason.detail
        assert reason.detail.startswith(reason.rule + ":")


def test_decisions_are_memoised_per_pair_but_stay_correct() -> None:
    origin = RoomPolicy(ORIGIN, consent=Consent.OPT_IN)
    dest = RoomPolicy(DEST)
    assert not decide(origin, dest, facts(consented=None)).allowed
    assert decide(origin, dest, facts(consented=True)).allowed
    other = RoomPolicy(DEST, receives=False)
    assert not decide(origin, other, facts(consented=True)).allowed
    assert decide(origin, dest, facts(consented=True)).allowed


@pytest.mark.parametrize(
    ("text", "expected"),
    [("public", Privacy.PUBLIC), ("Internal", Privacy.INTERNAL), (" CLOSED ", Privacy.CLOSED)],
)
def test_privacy_parse(text: str, expected: Privacy) -> None:
    assert Privacy.parse(text) is expected
    assert Privacy(text) is expected
    assert Privacy(int(expected)) is expected


def test_privacy_parse_rejects() -> None:
    with pytest.raises(ValueError, match="public, internal, closed"):
        Privacy.parse("secret")
    with pytest.raises(ValueError):
        Privacy("secret")


def test_room_policy_normalises_tags_and_networks() -> None:
    room = RoomPolicy(
        ORIGIN, tags=frozenset({"#KHub", "Ops", "#"}), networks=frozenset({"Matrix"})
    )
    assert room.tags == frozenset({"khub", "ops"})
    assert room.networks == frozenset({"matrix"})
    assert room.display_name == "C1"
    assert RoomPolicy(ORIGIN, name="general").display_name == "general"
