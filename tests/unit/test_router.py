"""plan(): one inbound event to the typed deliveries it causes and the rooms withheld."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridgebot.core import router
from bridgebot.core.delivery import DecidedOn, Delivery, DeliveryKind
from bridgebot.core.router import TRUNCATED, Links, Plan, Withheld, delivery_key, plan
from bridgebot.model import Attachment, Author, Capabilities, Event, EventKind, RoomRef
from rules import (
    Attribution,
    BridgePolicy,
    Consent,
    Privacy,
    Reason,
    RoomPolicy,
    Topology,
    pseudonym,
)

ORIGIN = RoomRef("slack.work", "C1")
MATRIX = RoomRef("matrix.home", "!a:x")
DISCORD = RoomRef("discord.guild", "42")
SECRET = b"test secret"
BRIDGE = "khub"
AVATAR = "https://avatars.example/ann.png"
AUTHOR = Author("slack", "U1", "Ann Lee", AVATAR)
AUTHOR_REF = "slack.work:U1"
#: What "{author} · {network}" renders to for AUTHOR under attribution "name".
LABEL = "Ann Lee · slack"
TS = 1_700_000_000.25
FILE = Attachment("notes.txt", "text/plain", 5, None, b"hello")
PHOTO = Attachment("cat.png", "image/png", 2048, "https://files.example/cat.png")


def event(
    kind: EventKind = EventKind.MESSAGE,
    text: str = "hello",
    *,
    remote_id: str = "1700000000.000100",
    room: RoomRef = ORIGIN,
    **fields: Any,
) -> Event:
    return Event(kind, room, remote_id, AUTHOR, text=text, ts=TS, **fields)


def pair(
    origin: Mapping[str, Any] | None = None,
    dest: Mapping[str, Any] | None = None,
    *,
    dest_room: RoomRef = MATRIX,
) -> Topology:
    """One bridge, ORIGIN and one destination, each with the given RoomPolicy fields."""
    rooms = (RoomPolicy(ORIGIN, **(origin or {})), RoomPolicy(dest_room, **(dest or {})))
    return Topology((BridgePolicy(BRIDGE, "{author} · {network}", rooms),), SECRET)


def trio(origin: Mapping[str, Any] | None = None) -> Topology:
    """One bridge: ORIGIN, MATRIX and DISCORD, all internal by default."""
    rooms = (
        RoomPolicy(ORIGIN, **(origin or {})),
        RoomPolicy(MATRIX),
        RoomPolicy(DISCORD),
    )
    return Topology((BridgePolicy(BRIDGE, "{author} · {network}", rooms),), SECRET)


def two_bridges() -> Topology:
    """ORIGIN in bridge "a" with MATRIX and in bridge "b" with DISCORD."""
    a = BridgePolicy("a", "{author}", (RoomPolicy(ORIGIN), RoomPolicy(MATRIX)))
    b = BridgePolicy("b", "{author}", (RoomPolicy(ORIGIN), RoomPolicy(DISCORD)))
    return Topology((a, b), SECRET)


def only(result: Plan) -> Delivery:
    assert result.withheld == ()
    (delivery,) = result.deliveries
    return delivery


def dests(result: Plan) -> list[RoomRef]:
    return [d.dest for d in result.deliveries]


def letters(n: int) -> str:
    """n characters that differ along the way, so that a wrong cut shows."""
    alphabet = string.ascii_letters + string.digits
    return "".join(alphabet[i % len(alphabet)] for i in range(n))


# --- the whole delivery -------------------------------------------------------------------


def test_a_message_is_planned_field_by_field() -> None:
    result = plan(
        event(text="hello all", attachments=(FILE,)),
        pair(),
        {"matrix.home": Capabilities()},
        None,
        Links(reply_to=11, thread=12),
    )
    assert result == Plan(
        deliveries=(
            Delivery(
                kind=DeliveryKind.MESSAGE,
                dest=MATRIX,
                key=delivery_key(event(), MATRIX),
                decided_on=DecidedOn(ORIGIN, BRIDGE, AUTHOR_REF, None),
                text="hello all",
                label=LABEL,
                author_name="Ann Lee",
                author_id="U1",
                avatar_url=AVATAR,
                attachments=(FILE,),
                reply_to=11,
                thread=12,
                target=None,
                emoji=None,
                ts=TS,
                announce=False,
            ),
        ),
        withheld=(),
    )


# --- truncation ---------------------------------------------------------------------------

MAX = 100
#: Without per-message identity the label goes in the text as "LABEL: text".
LABELLED_BUDGET = MAX - len(LABEL) - 2


@pytest.mark.parametrize(
    ("identity", "length", "budget", "cut"),
    [
        pytest.param(False, 10, LABELLED_BUDGET, False, id="short-labelled"),
        pytest.param(False, LABELLED_BUDGET - 1, LABELLED_BUDGET, False, id="labelled-one-under"),
        pytest.param(False, LABELLED_BUDGET, LABELLED_BUDGET, False, id="labelled-exactly"),
        pytest.param(False, LABELLED_BUDGET + 1, LABELLED_BUDGET, True, id="labelled-one-over"),
        pytest.param(False, MAX, LABELLED_BUDGET, True, id="labelled-at-max-is-cut"),
        pytest.param(False, 10 * MAX, LABELLED_BUDGET, True, id="labelled-far-over"),
        pytest.param(True, 10, MAX, False, id="short-identity"),
        pytest.param(True, LABELLED_BUDGET + 1, MAX, False, id="identity-label-not-counted"),
        pytest.param(True, MAX, MAX, False, id="identity-exactly"),
        pytest.param(True, MAX + 1, MAX, True, id="identity-one-over"),
        pytest.param(True, 10 * MAX, MAX, True, id="identity-far-over"),
    ],
)
def test_truncation(identity: bool, length: int, budget: int, cut: bool) -> None:
    text = letters(length)
    caps = Capabilities(max_text_length=MAX, per_message_identity=identity)
    delivery = only(plan(event(text=text), pair(), {"matrix.home": caps}, None))
    if cut:
        assert delivery.text == text[: budget - len(TRUNCATED)] + TRUNCATED
        assert len(delivery.text) == budget
    else:
        assert delivery.text == text
    assert delivery.label == LABEL  # the label itself is never cut
    if not identity:
        # What a network without per-message identity posts fits its limit.
        assert len(delivery.outbound().labelled_text()) <= MAX


def test_truncation_is_per_destination() -> None:
    text = letters(150)
    caps = {
        "matrix.home": Capabilities(max_text_length=MAX),
        "discord.guild": Capabilities(max_text_length=1000),
    }
    result = plan(event(text=text), trio(), caps, None)
    assert {d.dest: d.text for d in result.deliveries} == {
        MATRIX: text[: LABELLED_BUDGET - len(TRUNCATED)] + TRUNCATED,
        DISCORD: text,
    }


def test_truncation_counts_the_label_each_destination_shows() -> None:
    # Attribution "none" shows "someone" in the label: a shorter label, a bigger budget.
    text = letters(MAX)
    caps = Capabilities(max_text_length=MAX)
    delivery = only(
        plan(
            event(text=text),
            pair(dest={"attribution": Attribution.NONE}),
            {"matrix.home": caps},
            None,
        )
    )
    assert delivery.label == "someone · slack"
    budget = MAX - len("someone · slack") - 2
    assert delivery.text == text[: budget - len(TRUNCATED)] + TRUNCATED


PROPERTY_TOPOLOGY = pair()


@given(
    text=st.text(max_size=400),
    max_length=st.integers(min_value=len(LABEL) + 2 + len(TRUNCATED), max_value=300),
    identity=st.booleans(),
)
def test_delivered_text_never_exceeds_the_budget(
    text: str, max_length: int, identity: bool
) -> None:
    caps = Capabilities(max_text_length=max_length, per_message_identity=identity)
    delivery = only(plan(event(text=text), PROPERTY_TOPOLOGY, {"matrix.home": caps}, None))
    budget = max_length if identity else max_length - len(LABEL) - 2
    assert len(delivery.text) <= budget
    if len(text) <= budget:
        assert delivery.text == text
    else:
        assert delivery.text.endswith(TRUNCATED)
        kept = delivery.text[: -len(TRUNCATED)]
        assert text.startswith(kept)
        assert len(delivery.text) == budget


# --- kinds and capabilities ---------------------------------------------------------------

#: Every rule that can withhold a message from MATRIX, as (origin fields, dest fields,
#: consented, the failing rule).
WITHHOLDING: list[Any] = [
    pytest.param(
        {"privacy": Privacy.CLOSED}, {"privacy": Privacy.PUBLIC}, None, "privacy", id="privacy"
    ),
    pytest.param({"sends": False}, {}, None, "sends", id="sends-false"),
    pytest.param({}, {"receives": False}, None, "receives", id="receives-false"),
    pytest.param({"networks": frozenset({"discord"})}, {}, None, "network", id="networks"),
    pytest.param({"consent": Consent.OPT_IN}, {}, None, "consent", id="consent-not-asked"),
    pytest.param({"consent": Consent.OPT_IN}, {}, False, "consent", id="consent-no"),
    pytest.param(
        {"ignore_authors": (re.compile("Ann"),)}, {}, None, "ignore_authors", id="ignore-authors"
    ),
    pytest.param(
        {}, {"ignore_text": (re.compile("hello"),)}, None, "ignore_text", id="ignore-text"
    ),
]


@pytest.mark.parametrize(("origin", "dest", "consented", "rule"), WITHHOLDING)
def test_a_delete_reaches_rooms_the_rules_withhold_a_message_from(
    origin: dict[str, Any], dest: dict[str, Any], consented: bool | None, rule: str
) -> None:
    topology = pair(origin, dest)
    message = plan(event(text="hello"), topology, {}, consented)
    assert message.deliveries == ()
    assert [(w.dest, w.bridge, w.reason.rule) for w in message.withheld] == [
        (MATRIX, BRIDGE, rule)
    ]

    delete = event(EventKind.DELETE, "", remote_id="del-1", target="1700000000.000100")
    delivery = only(plan(delete, topology, {}, consented, Links(target=7)))
    assert (delivery.kind, delivery.dest, delivery.target) == (DeliveryKind.DELETE, MATRIX, 7)


@pytest.mark.parametrize(("origin", "dest", "consented", "rule"), WITHHOLDING)
def test_edits_and_reactions_are_withheld_like_messages(
    origin: dict[str, Any], dest: dict[str, Any], consented: bool | None, rule: str
) -> None:
    topology = pair(origin, dest)
    for kind in (EventKind.EDIT, EventKind.REACTION):
        followup = event(kind, "hello", remote_id=f"{kind}-1", target="m1", emoji="👍")
        result = plan(followup, topology, {}, consented, Links(target=7))
        assert result.deliveries == ()
        assert [w.reason.rule for w in result.withheld] == [rule]


@pytest.mark.parametrize(
    ("kind", "caps", "expected"),
    [
        pytest.param(EventKind.MESSAGE, {}, [MATRIX, DISCORD], id="message-default"),
        pytest.param(
            EventKind.MESSAGE,
            {"edits": False, "deletes": False, "reactions": False},
            [MATRIX, DISCORD],
            id="message-needs-nothing",
        ),
        pytest.param(EventKind.EDIT, {}, [MATRIX, DISCORD], id="edit-default"),
        pytest.param(EventKind.EDIT, {"edits": False}, [DISCORD], id="edit-no-edits"),
        pytest.param(
            EventKind.EDIT,
            {"deletes": False, "reactions": False},
            [MATRIX, DISCORD],
            id="edit-other-caps-off",
        ),
        pytest.param(EventKind.DELETE, {}, [MATRIX, DISCORD], id="delete-default"),
        pytest.param(EventKind.DELETE, {"deletes": False}, [DISCORD], id="delete-no-deletes"),
        pytest.param(
            EventKind.DELETE,
            {"edits": False, "reactions": False},
            [MATRIX, DISCORD],
            id="delete-other-caps-off",
        ),
        pytest.param(EventKind.REACTION, {}, [MATRIX, DISCORD], id="reaction-default"),
        pytest.param(
            EventKind.REACTION, {"reactions": False}, [DISCORD], id="reaction-no-reactions"
        ),
        pytest.param(
            EventKind.REACTION,
            {"edits": False, "deletes": False},
            [MATRIX, DISCORD],
            id="reaction-other-caps-off",
        ),
    ],
)
def test_kinds_are_gated_on_the_destination_capabilities(
    kind: EventKind, caps: dict[str, bool], expected: list[RoomRef]
) -> None:
    e = event(kind, "new text" if kind is EventKind.EDIT else "", emoji="👍", target="m1")
    links = Links() if kind is EventKind.MESSAGE else Links(target=5)
    result = plan(e, trio(), {"matrix.home": Capabilities(**caps)}, None, links)
    assert result.withheld == ()  # unsupported is not withheld: nothing to explain
    assert dests(result) == expected
    assert {d.kind for d in result.deliveries} <= {DeliveryKind(kind.value)}


def test_an_unsupported_delete_is_dropped_even_where_rules_would_withhold() -> None:
    topology = pair({"privacy": Privacy.CLOSED}, {"privacy": Privacy.PUBLIC})
    delete = event(EventKind.DELETE, "", target="m1")
    result = plan(delete, topology, {"matrix.home": Capabilities(deletes=False)}, None)
    assert result == Plan((), ())


def test_a_reaction_carries_its_emoji_and_target() -> None:
    reaction = event(EventKind.REACTION, "", remote_id="r1", target="m1", emoji="🎉")
    delivery = only(plan(reaction, pair(), {}, None, Links(target=99)))
    assert (delivery.kind, delivery.emoji, delivery.target, delivery.text) == (
        DeliveryKind.REACTION,
        "🎉",
        99,
        "",
    )


def test_an_edit_carries_the_new_text() -> None:
    edit = event(EventKind.EDIT, "hello, fixed", remote_id="e1", target="m1")
    delivery = only(plan(edit, pair(), {}, None, Links(target=3)))
    assert (delivery.kind, delivery.text, delivery.target) == (
        DeliveryKind.EDIT,
        "hello, fixed",
        3,
    )


@pytest.mark.parametrize(
    ("matrix_caps", "matrix_files"),
    [
        pytest.param(Capabilities(attachments=True), (FILE, PHOTO), id="attachments"),
        pytest.param(Capabilities(attachments=False), (), id="no-attachments"),
    ],
)
def test_attachments_are_gated_on_capabilities(
    matrix_caps: Capabilities, matrix_files: tuple[Attachment, ...]
) -> None:
    e = event(text="see files", attachments=(FILE, PHOTO))
    result = plan(e, trio(), {"matrix.home": matrix_caps}, None)
    assert {d.dest: (d.text, d.attachments) for d in result.deliveries} == {
        MATRIX: ("see files", matrix_files),
        DISCORD: ("see files", (FILE, PHOTO)),  # no caps entry: defaults carry files
    }


def test_an_attachment_only_message_still_goes_without_attachments() -> None:
    e = event(text="", attachments=(PHOTO,))
    delivery = only(plan(e, pair(), {"matrix.home": Capabilities(attachments=False)}, None))
    assert (delivery.text, delivery.attachments, delivery.label) == ("", (), LABEL)


# --- attribution --------------------------------------------------------------------------

PSEUDONYM = pseudonym(SECRET, BRIDGE, AUTHOR_REF)
SHOWN_BY = {
    Attribution.NAME: ("Ann Lee", "Ann Lee · slack", "U1", AVATAR),
    Attribution.PSEUDONYM: (PSEUDONYM, f"{PSEUDONYM} · slack", "", None),
    Attribution.NONE: ("", "someone · slack", "", None),
}


NAME, PSEUD, NONE = Attribution.NAME, Attribution.PSEUDONYM, Attribution.NONE


@pytest.mark.parametrize(
    ("origin", "dest", "wins"),
    [
        pytest.param(NAME, NAME, NAME, id="name-to-name"),
        pytest.param(NAME, PSEUD, PSEUD, id="name-to-pseudonym"),
        pytest.param(NAME, NONE, NONE, id="name-to-none"),
        pytest.param(PSEUD, NAME, PSEUD, id="pseudonym-to-name"),
        pytest.param(PSEUD, PSEUD, PSEUD, id="pseudonym-to-pseudonym"),
        pytest.param(PSEUD, NONE, NONE, id="pseudonym-to-none"),
        pytest.param(NONE, NAME, NONE, id="none-to-name"),
        pytest.param(NONE, PSEUD, NONE, id="none-to-pseudonym"),
        pytest.param(NONE, NONE, NONE, id="none-to-none"),
    ],
)
def test_attribution_hides_avatar_and_author_id(
    origin: Attribution, dest: Attribution, wins: Attribution
) -> None:
    topology = pair({"attribution": origin}, {"attribution": dest})
    delivery = only(plan(event(), topology, {}, None))
    shown = (delivery.author_name, delivery.label, delivery.author_id, delivery.avatar_url)
    assert shown == SHOWN_BY[wins]
    # The author_ref in decided_on is for the rules and the store, never posted.
    assert delivery.decided_on.author_ref == AUTHOR_REF


def test_attribution_is_per_destination() -> None:
    rooms = (
        RoomPolicy(ORIGIN),
        RoomPolicy(MATRIX, attribution=Attribution.PSEUDONYM),
        RoomPolicy(DISCORD),
    )
    topology = Topology((BridgePolicy(BRIDGE, "{author}", rooms),), SECRET)
    result = plan(event(), topology, {}, None)
    assert {d.dest: (d.author_name, d.author_id, d.avatar_url) for d in result.deliveries} == {
        MATRIX: (PSEUDONYM, "", None),
        DISCORD: ("Ann Lee", "U1", AVATAR),
    }


# --- links --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "links"),
    [
        pytest.param(EventKind.MESSAGE, Links(), id="message-no-links"),
        pytest.param(EventKind.MESSAGE, Links(reply_to=7), id="message-reply"),
        pytest.param(EventKind.MESSAGE, Links(thread=8), id="message-thread"),
        pytest.param(EventKind.MESSAGE, Links(reply_to=7, thread=8), id="message-reply-in-thread"),
        pytest.param(EventKind.EDIT, Links(target=9), id="edit-target"),
        pytest.param(EventKind.EDIT, Links(thread=8, target=9), id="edit-in-thread"),
        pytest.param(EventKind.DELETE, Links(target=2**40), id="delete-big-id"),
        pytest.param(EventKind.REACTION, Links(reply_to=1, thread=2, target=3), id="reaction-all"),
    ],
)
def test_links_land_in_the_delivery_unchanged(kind: EventKind, links: Links) -> None:
    result = plan(event(kind, emoji="👍"), trio(), {}, None, links)
    assert len(result.deliveries) == 2
    for delivery in result.deliveries:
        assert (delivery.reply_to, delivery.thread, delivery.target) == (
            links.reply_to,
            links.thread,
            links.target,
        )


# --- withheld -----------------------------------------------------------------------------

CONSENT_ASKS = '(room asks for consent = "opt-in")'


@pytest.mark.parametrize(
    ("origin", "dest", "consented", "reason"),
    [
        pytest.param(
            {"privacy": Privacy.CLOSED},
            {"privacy": Privacy.PUBLIC},
            None,
            Reason(
                "privacy",
                False,
                "privacy: closed room slack.work:C1 may not send to public room matrix.home:!a:x",
            ),
            id="closed-to-public",
        ),
        pytest.param(
            {"privacy": Privacy.INTERNAL},
            {"privacy": Privacy.PUBLIC},
            None,
            Reason(
                "privacy",
                False,
                "privacy: internal room slack.work:C1 may not send to public room "
                "matrix.home:!a:x",
            ),
            id="internal-to-public",
        ),
        pytest.param(
            {},
            {"receives": False},
            None,
            Reason("receives", False, "receives: matrix.home:!a:x has receives = false"),
            id="receives-false",
        ),
        pytest.param(
            {"sends": False},
            {},
            None,
            Reason("sends", False, "sends: slack.work:C1 has sends = false"),
            id="sends-false",
        ),
        pytest.param(
            {"networks": frozenset({"discord", "email"})},
            {},
            None,
            Reason(
                "network",
                False,
                "network: matrix.home:!a:x is on matrix, not in slack.work:C1's networks "
                "(discord, email)",
            ),
            id="networks",
        ),
        pytest.param(
            {"consent": Consent.OPT_IN},
            {},
            None,
            Reason(
                "consent", False, f"consent: author {AUTHOR_REF} has not opted in {CONSENT_ASKS}"
            ),
            id="opt-in-not-asked",
        ),
        pytest.param(
            {"consent": Consent.OPT_IN},
            {},
            False,
            Reason("consent", False, f"consent: author {AUTHOR_REF} has opted out {CONSENT_ASKS}"),
            id="opt-in-said-no",
        ),
    ],
)
def test_withheld_with_the_first_failing_reason(
    origin: dict[str, Any], dest: dict[str, Any], consented: bool | None, reason: Reason
) -> None:
    secret_text = "the launch code is 0000"
    result = plan(event(text=secret_text), pair(origin, dest), {}, consented)
    assert result == Plan((), (Withheld(MATRIX, BRIDGE, reason),))
    assert "launch code" not in repr(result)


@pytest.mark.parametrize(
    ("consent", "consented", "delivered"),
    [
        pytest.param(Consent.OPT_IN, None, False, id="opt-in-none"),
        pytest.param(Consent.OPT_IN, False, False, id="opt-in-false"),
        pytest.param(Consent.OPT_IN, True, True, id="opt-in-true"),
        pytest.param(Consent.IMPLIED, None, True, id="implied-none"),
        pytest.param(Consent.IMPLIED, False, True, id="implied-false"),
        pytest.param(Consent.IMPLIED, True, True, id="implied-true"),
    ],
)
def test_consent(consent: Consent, consented: bool | None, delivered: bool) -> None:
    result = plan(event(), pair({"consent": consent}), {}, consented)
    if delivered:
        assert only(result).decided_on == DecidedOn(ORIGIN, BRIDGE, AUTHOR_REF, consented)
    else:
        assert result.deliveries == ()
        assert [(w.dest, w.bridge, w.reason.rule) for w in result.withheld] == [
            (MATRIX, BRIDGE, "consent")
        ]


def test_some_destinations_withheld_others_delivered() -> None:
    rooms = (
        RoomPolicy(ORIGIN, privacy=Privacy.INTERNAL),
        RoomPolicy(MATRIX, privacy=Privacy.PUBLIC),
        RoomPolicy(DISCORD, privacy=Privacy.CLOSED),
    )
    topology = Topology((BridgePolicy(BRIDGE, "{author}", rooms),), SECRET)
    result = plan(event(), topology, {}, None)
    assert dests(result) == [DISCORD]
    assert [(w.dest, w.bridge, w.reason.rule) for w in result.withheld] == [
        (MATRIX, BRIDGE, "privacy")
    ]


def test_the_origin_never_receives_its_own_message() -> None:
    # ORIGIN is in two bridges, one of which also holds MATRIX: MATRIX gets one copy (the
    # first bridge's), ORIGIN none and no withheld entry either.
    a = BridgePolicy("a", "{author}", (RoomPolicy(ORIGIN), RoomPolicy(MATRIX)))
    b = BridgePolicy(
        "b", "{author}", (RoomPolicy(MATRIX), RoomPolicy(ORIGIN), RoomPolicy(DISCORD))
    )
    for kind in EventKind:
        result = plan(event(kind, emoji="👍"), Topology((a, b), SECRET), {}, None)
        assert [(d.dest, d.decided_on.bridge) for d in result.deliveries] == [
            (MATRIX, "a"),
            (DISCORD, "b"),
        ]
        assert result.withheld == ()


def test_a_room_in_no_bridge_plans_nothing() -> None:
    stray = event(room=RoomRef("slack.work", "C-elsewhere"))
    assert plan(stray, pair(), {}, None) == Plan((), ())


# --- event.bridge -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bridge", "expected"),
    [
        pytest.param(None, [(MATRIX, "a"), (DISCORD, "b")], id="every-bridge"),
        pytest.param("a", [(MATRIX, "a")], id="only-a"),
        pytest.param("b", [(DISCORD, "b")], id="only-b"),
        pytest.param("nope", [], id="unknown-bridge"),
    ],
)
def test_event_bridge_restricts_to_one_bridge(
    bridge: str | None, expected: list[tuple[RoomRef, str]]
) -> None:
    result = plan(event(bridge=bridge), two_bridges(), {}, None)
    assert [(d.dest, d.decided_on.bridge) for d in result.deliveries] == expected
    assert result.withheld == ()


def test_event_bridge_restricts_withheld_too() -> None:
    a = BridgePolicy("a", "{author}", (RoomPolicy(ORIGIN), RoomPolicy(MATRIX, receives=False)))
    b = BridgePolicy("b", "{author}", (RoomPolicy(ORIGIN), RoomPolicy(DISCORD, receives=False)))
    result = plan(event(bridge="b"), Topology((a, b), SECRET), {}, None)
    assert [(w.dest, w.bridge) for w in result.withheld] == [(DISCORD, "b")]
    assert result.deliveries == ()


# --- default capabilities -----------------------------------------------------------------


def test_an_account_without_capabilities_gets_the_defaults() -> None:
    defaults = Capabilities()
    text = letters(defaults.max_text_length)  # fits only with per-message identity
    e = event(EventKind.MESSAGE, text, attachments=(FILE,))
    other = {"discord.guild": Capabilities(max_text_length=10, attachments=False)}
    delivery = only(plan(e, pair(), other, None))
    budget = defaults.max_text_length - len(LABEL) - 2
    assert delivery.text == text[: budget - len(TRUNCATED)] + TRUNCATED
    assert delivery.attachments == (FILE,)
    for kind in (EventKind.EDIT, EventKind.DELETE, EventKind.REACTION):
        assert dests(plan(event(kind, target="m1"), pair(), {}, None, Links(target=1))) == [MATRIX]


# --- delivery keys ------------------------------------------------------------------------


def test_the_key_is_stable_across_plans() -> None:
    first = plan(event(), trio(), {}, None)
    again = plan(event(), trio(), {}, None)
    assert first == again
    assert [d.key for d in first.deliveries] == [
        delivery_key(event(), MATRIX),
        delivery_key(event(), DISCORD),
    ]


def test_the_key_is_stable_across_releases() -> None:
    # Keys are adapters' idempotency keys: a change would resend rows queued before an upgrade.
    assert delivery_key(event(), MATRIX) == "3512c8acb61a8e826fa4d5a4170fda67"
    assert re.fullmatch("[0-9a-f]{32}", delivery_key(event(), DISCORD))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param((event(), MATRIX), (event(), DISCORD), id="destination"),
        pytest.param((event(), MATRIX), (event(EventKind.EDIT), MATRIX), id="message-vs-edit"),
        pytest.param(
            (event(EventKind.EDIT), MATRIX), (event(EventKind.DELETE), MATRIX), id="edit-vs-delete"
        ),
        pytest.param(
            (event(EventKind.DELETE), MATRIX),
            (event(EventKind.REACTION), MATRIX),
            id="delete-vs-reaction",
        ),
        pytest.param((event(), MATRIX), (event(remote_id="other"), MATRIX), id="remote-id"),
        pytest.param(
            (event(), MATRIX),
            (event(room=RoomRef("slack.other", "C1")), MATRIX),
            id="origin-account",
        ),
    ],
)
def test_the_key_differs(left: tuple[Event, RoomRef], right: tuple[Event, RoomRef]) -> None:
    assert delivery_key(*left) != delivery_key(*right)


def test_the_key_ignores_content() -> None:
    # The same event read again with another text (an adapter re-reading it): same delivery.
    assert delivery_key(event(text="a"), MATRIX) == delivery_key(event(text="b"), MATRIX)


def test_planned_keys_differ_across_kinds() -> None:
    keys = {
        kind: only(plan(event(kind, emoji="👍"), pair(), {}, None, Links(target=1))).key
        for kind in EventKind
    }
    assert len(set(keys.values())) == len(EventKind)


# --- decided_on and announce --------------------------------------------------------------


@pytest.mark.parametrize(
    ("consent", "consented", "announce"),
    [
        pytest.param(Consent.IMPLIED, None, False, id="implied"),
        pytest.param(Consent.OPT_IN, True, False, id="opted-in"),
        pytest.param(Consent.IMPLIED, None, True, id="announce"),
        pytest.param(Consent.OPT_IN, True, True, id="opted-in-announce"),
    ],
)
def test_decided_on_and_announce(consent: Consent, consented: bool | None, announce: bool) -> None:
    result = plan(event(), trio({"consent": consent}), {}, consented, announce=announce)
    assert [(d.decided_on, d.announce) for d in result.deliveries] == [
        (DecidedOn(ORIGIN, BRIDGE, AUTHOR_REF, consented), announce),
        (DecidedOn(ORIGIN, BRIDGE, AUTHOR_REF, consented), announce),
    ]
    assert all(d.outbound().is_announcement is announce for d in result.deliveries)


def test_truncated_marker_is_exported() -> None:
    assert router.TRUNCATED == " … [truncated]"
