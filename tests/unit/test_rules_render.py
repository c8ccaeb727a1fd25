"""render() and pseudonym(): redaction union, attribution, labels."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridgebot.model import Author, RoomRef
from rules import (
    ANONYMOUS,
    Attribution,
    BridgePolicy,
    MessageFacts,
    RoomPolicy,
    Topology,
    builtin_redaction,
    custom_redaction,
    pseudonym,
    render,
    routes,
)
from rules.render import Rendered

ORIGIN = RoomRef.parse("slack.work:C1")
DEST = RoomRef.parse("matrix.home:!a:x")
SECRET = b"test secret"


def facts(
    text: str = "hello", name: str = "Ann Lee", user: str = "U1", avatar: str | None = None
) -> MessageFacts:
    return MessageFacts(Author("slack", user, name, avatar), f"slack.work:{user}", text, None)


def show(
    origin: dict[str, Any] | None = None,
    dest: dict[str, Any] | None = None,
    message: MessageFacts | None = None,
    label: str = "{author} · {network}",
    bridge: str = "khub",
) -> Rendered:
    rooms = (RoomPolicy(ORIGIN, **(origin or {})), RoomPolicy(DEST, **(dest or {})))
    topology = Topology((BridgePolicy(bridge, label, rooms),), SECRET)
    message = message or facts()
    (route,) = routes(topology, ORIGIN, message)
    return render(topology, route, message)


@pytest.mark.parametrize(
    ("origin", "dest", "expected"),
    [
        ((), (), "mail a@b.org or 07700 900123"),
        (("email",), (), "mail [email] or 07700 900123"),
        ((), ("phone",), "mail a@b.org or [phone]"),
        (("email",), ("phone",), "mail [email] or [phone]"),
        (("email", "phone"), ("phone", "email"), "mail [email] or [phone]"),
    ],
)
def test_redactions_of_both_rooms_apply(
    origin: tuple[str, ...], dest: tuple[str, ...], expected: str
) -> None:
    shown = show(
        {"redact": tuple(builtin_redaction(n) for n in origin)},
        {"redact": tuple(builtin_redaction(n) for n in dest)},
        facts("mail a@b.org or 07700 900123"),
    )
    assert shown.text == expected


def test_custom_and_builtin_redactions_together() -> None:
    shown = show(
        {"redact": (custom_redaction(r"\bPRJ-\d+", "[project]"), builtin_redaction("postcode"))},
        {"redact": (builtin_redaction("uk_ni_number"),)},
        facts("PRJ-42 at SW1A 1AA, NI AB123456C"),
    )
    assert shown.text == "[project] at [postcode], NI [NI number]"


@pytest.mark.parametrize(
    ("origin", "dest", "expected"),
    [
        (Attribution.NAME, Attribution.NAME, Attribution.NAME),
        (Attribution.NAME, Attribution.PSEUDONYM, Attribution.PSEUDONYM),
        (Attribution.PSEUDONYM, Attribution.NAME, Attribution.PSEUDONYM),
        (Attribution.NONE, Attribution.NAME, Attribution.NONE),
        (Attribution.PSEUDONYM, Attribution.NONE, Attribution.NONE),
        (Attribution.NONE, Attribution.PSEUDONYM, Attribution.NONE),
    ],
)
def test_stricter_attribution_wins(
    origin: Attribution, dest: Attribution, expected: Attribution
) -> None:
    shown = show({"attribution": origin}, {"attribution": dest}, facts(avatar="mxc://a"))
    alias = pseudonym(SECRET, "khub", "slack.work:U1")
    by_kind = {
        Attribution.NAME: Rendered("hello", "Ann Lee · slack", "Ann Lee", True),
        Attribution.PSEUDONYM: Rendered("hello", f"{alias} · slack", alias, False),
        Attribution.NONE: Rendered("hello", f"{ANONYMOUS} · slack", "", False),
    }
    assert shown == by_kind[expected]


def test_label_fields() -> None:
    shown = show(
        {"name": "general"},
        label="{author}|{network}|{account}|{room}|{bridge}",
        bridge="khub",
    )
    assert shown.label == "Ann Lee|slack|slack.work|general|khub"
    assert show(label="{room}").label == "C1"  # no name: the room id


@pytest.mark.parametrize(
    ("name", "user", "expected"),
    [
        ("Ann\nSYSTEM: all good", "U1", "Ann SYSTEM: all good"),
        ("\u202eevil", "U1", "evil"),
        ("x" * 200, "U1", "x" * 63 + "…"),
        ("", "U7", "U7"),
        ("\n", "", ANONYMOUS),
    ],
)
def test_author_names_cannot_inject_into_labels(name: str, user: str, expected: str) -> None:
    shown = show(message=facts(name=name, user=user), label="[{author}] says")
    assert shown.author_name == expected
    assert shown.label == f"[{expected}] says"


def test_pseudonym_format_and_stability() -> None:
    alias = pseudonym(SECRET, "khub", "slack.work:U1")
    assert re.fullmatch(r"Member [0-9A-F]{4}-[0-9A-F]{4}", alias)
    assert alias == pseudonym(SECRET, "khub", "slack.work:U1")
    assert alias != pseudonym(SECRET, "ops", "slack.work:U1")
    assert alias != pseudonym(SECRET, "khub", "slack.work:U2")
    assert alias != pseudonym(b"other secret", "khub", "slack.work:U1")
    assert "U1" not in alias


@given(
    secret=st.binary(min_size=1, max_size=32),
    bridges=st.lists(st.text(min_size=1, max_size=12), min_size=2, max_size=2, unique=True),
    author=st.text(min_size=1, max_size=40),
)
def test_pseudonyms_are_stable_and_differ_across_bridges(
    secret: bytes, bridges: list[str], author: str
) -> None:
    first, second = bridges
    assert pseudonym(secret, first, author) == pseudonym(secret, first, author)
    # 32 bits of HMAC: a collision here would be a one-in-four-billion fluke.
    assert pseudonym(secret, first, author) != pseudonym(secret, second, author)


def test_text_is_unchanged_without_redactions() -> None:
    text = "line one\nline two with a@b.org"
    assert show(message=facts(text)).text == text
