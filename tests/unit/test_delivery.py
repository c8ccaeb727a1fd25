"""Delivery JSON: the round trip, payloads bridgebot 0.1 queued, and malformed payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridgebot.core.delivery import (
    BOT_LABEL,
    DecidedOn,
    Delivery,
    DeliveryKind,
    from_outbox,
    notice,
)
from bridgebot.core.router import Links, plan
from bridgebot.model import Attachment, Author, Event, EventKind, RoomRef
from rules import BridgePolicy, Consent, RoomPolicy, Topology

ORIGIN = RoomRef("slack.work", "C1")
MATRIX = RoomRef("matrix.home", "!a:x")
SECRET = b"test secret"
AVATAR = "https://avatars.example/ann.png"
FILES = (
    Attachment("notes.txt", "text/plain", 5, None, b"hello"),
    Attachment("blob.bin", "application/octet-stream", 256, None, bytes(range(256))),
    Attachment("cat.png", "image/png", 2048, "https://files.example/cat.png"),
    Attachment("both.pdf", "application/pdf", 3, "https://files.example/both.pdf", b"%PD"),
    Attachment("empty.txt", "text/plain", 0, None, b""),
)


def planned(
    kind: EventKind = EventKind.MESSAGE,
    *,
    text: str = "hello",
    attachments: tuple[Attachment, ...] = (),
    consent: Consent = Consent.IMPLIED,
    consented: bool | None = None,
    links: Links | None = None,
    announce: bool = False,
    emoji: str | None = None,
) -> Delivery:
    rooms = (RoomPolicy(ORIGIN, consent=consent), RoomPolicy(MATRIX))
    topology = Topology((BridgePolicy("khub", "{author} · {network}", rooms),), SECRET)
    event = Event(
        kind,
        ORIGIN,
        "1700000000.000100",
        Author("slack", "U1", "Ann Lee", AVATAR),
        text=text,
        attachments=attachments,
        emoji=emoji,
        ts=1_700_000_000.25,
    )
    (delivery,) = plan(
        event, topology, {}, consented, links or Links(), announce=announce
    ).deliveries
    return delivery


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "delivery",
    [
        pytest.param(planned(), id="plain-message"),
        pytest.param(planned(attachments=FILES), id="attachments-with-bytes"),
        pytest.param(planned(attachments=FILES[4:]), id="empty-inline-file"),
        pytest.param(
            planned(links=Links(reply_to=1, thread=2), text='a\nb ✓ 🎉 "q" \\'), id="reply"
        ),
        pytest.param(planned(consent=Consent.OPT_IN, consented=True), id="consented"),
        pytest.param(planned(announce=True), id="announce"),
        pytest.param(planned(EventKind.EDIT, links=Links(target=3)), id="edit"),
        pytest.param(planned(EventKind.DELETE, text="", links=Links(target=3)), id="delete"),
        pytest.param(
            planned(EventKind.REACTION, text="", emoji="🎉", links=Links(target=3)), id="reaction"
        ),
        pytest.param(notice(MATRIX, "answer:1", "done", bridge="khub", reply_to=4), id="notice"),
    ],
)
def test_round_trip(delivery: Delivery) -> None:
    text = delivery.to_json()
    assert Delivery.from_json(text) == delivery
    # The row's kind and dest columns do not override what the payload says.
    assert from_outbox(text, "delete", "discord.guild:9") == delivery


def test_attachment_bytes_travel_as_base64() -> None:
    raw = json.loads(planned(attachments=FILES[:1]).to_json())
    assert raw["attachments"] == [
        {
            "filename": "notes.txt",
            "mime_type": "text/plain",
            "size": 5,
            "url": None,
            "data": "aGVsbG8=",
        }
    ]


def test_the_payload_keeps_the_field_names_of_0_1() -> None:
    raw = json.loads(planned(links=Links(reply_to=1, thread=2, target=3)).to_json())
    assert raw == {
        "kind": "message",
        "dest": "matrix.home:!a:x",
        "key": raw["key"],
        "origin": "slack.work:C1",
        "bridge": "khub",
        "author_ref": "slack.work:U1",
        "consented": None,
        "text": "hello",
        "label": "Ann Lee · slack",
        "author_name": "Ann Lee",
        "author_id": "U1",
        "avatar_url": AVATAR,
        "attachments": [],
        "reply_to_msg": 1,
        "thread_msg": 2,
        "target_msg": 3,
        "emoji": None,
        "ts": 1_700_000_000.25,
        "announce": False,
    }


# --- payloads queued by bridgebot 0.1 -----------------------------------------------------

OLD_MESSAGE = {
    "key": "0123456789abcdef0123456789abcdef",
    "text": "hello from before",
    "label": "Ann Lee · slack",
    "bridge": "khub",
    "origin": "slack.work:C1",
    "author_name": "Ann Lee",
    "author_id": "U1",
    "avatar_url": AVATAR,
    "reply_to_msg": 5,
    "thread_msg": None,
    "target_msg": None,
    "emoji": None,
    "attachments": [
        {
            "filename": "notes.txt",
            "mime_type": "text/plain",
            "size": 5,
            "url": None,
            "data": "aGVsbG8=",
        },
        {
            "filename": "cat.png",
            "mime_type": "image/png",
            "size": 2048,
            "url": "https://files.example/cat.png",
            "data": None,
        },
    ],
    "ts": 1_600_000_000.5,
    "announce": True,
}


def test_an_old_message_payload_takes_kind_and_dest_from_the_row() -> None:
    delivery = from_outbox(json.dumps(OLD_MESSAGE), "message", "matrix.home:!a:x")
    assert delivery == Delivery(
        kind=DeliveryKind.MESSAGE,
        dest=MATRIX,
        key="0123456789abcdef0123456789abcdef",
        decided_on=DecidedOn(ORIGIN, "khub", "", None),
        text="hello from before",
        label="Ann Lee · slack",
        author_name="Ann Lee",
        author_id="U1",
        avatar_url=AVATAR,
        attachments=(
            Attachment("notes.txt", "text/plain", 5, None, b"hello"),
            Attachment("cat.png", "image/png", 2048, "https://files.example/cat.png"),
        ),
        reply_to=5,
        thread=None,
        target=None,
        emoji=None,
        ts=1_600_000_000.5,
        announce=True,
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param("edit", DeliveryKind.EDIT, id="edit"),
        pytest.param("reaction", DeliveryKind.REACTION, id="reaction"),
    ],
)
def test_an_old_followup_payload(kind: str, expected: DeliveryKind) -> None:
    payload = {**OLD_MESSAGE, "target_msg": 9, "emoji": "👍", "attachments": []}
    delivery = from_outbox(json.dumps(payload), kind, "matrix.home:!a:x")
    assert (delivery.kind, delivery.target, delivery.emoji, delivery.attachments) == (
        expected,
        9,
        "👍",
        (),
    )


def test_an_old_delete_payload_with_only_key_and_target() -> None:
    payload = json.dumps({"key": "k-delete", "target_msg": 12})
    assert from_outbox(payload, "delete", "matrix.home:!a:x") == Delivery(
        kind=DeliveryKind.DELETE,
        dest=MATRIX,
        key="k-delete",
        decided_on=DecidedOn(origin=MATRIX, bridge="", author_ref="", consented=None),
        target=12,
    )


def test_a_notice_is_the_bots_own_post() -> None:
    first = notice(MATRIX, "answer:1", "done", bridge="khub", reply_to=4)
    again = notice(MATRIX, "answer:1", "done again")
    elsewhere = notice(ORIGIN, "answer:1", "done")
    assert first.key == again.key != elsewhere.key
    assert (first.label, first.author_name, first.decided_on) == (
        BOT_LABEL,
        BOT_LABEL,
        DecidedOn(MATRIX, "khub"),
    )


# --- malformed payloads -------------------------------------------------------------------

GOOD: dict[str, Any] = {"kind": "message", "dest": "matrix.home:!a:x", "key": "k1"}
FILE: dict[str, Any] = {"filename": "a.txt", "mime_type": "text/plain", "size": 1, "data": "YQ=="}
DEEP = 100_000


def with_(**fields: Any) -> str:
    return json.dumps({**GOOD, **fields})


def with_file(**fields: Any) -> str:
    return json.dumps({**GOOD, "attachments": [{**FILE, **fields}]})


def test_the_good_base_payloads_parse() -> None:
    # The cases below break these in one place each.
    assert Delivery.from_json(with_()) == Delivery(
        DeliveryKind.MESSAGE, MATRIX, "k1", DecidedOn(MATRIX, "")
    )
    assert Delivery.from_json(with_file()).attachments == (
        Attachment("a.txt", "text/plain", 1, None, b"a"),
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param("", "delivery payload is not JSON", id="empty"),
        pytest.param("{", "delivery payload is not JSON", id="truncated"),
        pytest.param("{'key': 'k1'}", "delivery payload is not JSON", id="python-repr"),
        pytest.param("[1, 2]", "delivery payload is not a JSON object", id="list"),
        pytest.param('"k1"', "delivery payload is not a JSON object", id="string"),
        pytest.param("null", "delivery payload is not a JSON object", id="null"),
        pytest.param("42", "delivery payload is not a JSON object", id="number"),
        pytest.param(with_(kind="poke"), "delivery payload: unknown kind 'poke'", id="kind"),
        pytest.param(with_(kind=""), "delivery payload: unknown kind ''", id="kind-empty"),
        pytest.param(with_(kind=1), "delivery payload: kind is not a str", id="kind-type"),
        pytest.param(with_(dest="matrix"), "room 'matrix' is not of the form", id="dest"),
        pytest.param(with_(dest=["a.b:c"]), "delivery payload: dest is not a str", id="dest-type"),
        pytest.param(
            with_(dest="matrix:!a"), "account 'matrix' must be TYPE.NAME", id="dest-acct"
        ),
        pytest.param(with_(origin="x"), "room 'x' is not of the form", id="origin"),
        pytest.param(with_(key=""), "delivery payload: no key", id="key-empty"),
        pytest.param(with_(key=None), "delivery payload: no key", id="key-null"),
        pytest.param(with_(key=7), "delivery payload: key is not a str", id="key-type"),
        pytest.param(with_(text=["hi"]), "delivery payload: text is not a str", id="text-type"),
        pytest.param(with_(label=1), "delivery payload: label is not a str", id="label-type"),
        pytest.param(with_(bridge={}), "delivery payload: bridge is not a str", id="bridge-type"),
        pytest.param(with_(author_ref=0), "author_ref is not a str", id="author-ref-type"),
        pytest.param(with_(author_id=1.5), "author_id is not a str", id="author-id-type"),
        pytest.param(with_(avatar_url=1), "avatar_url is not a str", id="avatar-type"),
        pytest.param(with_(emoji=["👍"]), "emoji is not a str", id="emoji-type"),
        pytest.param(with_(consented="yes"), "consented is not a bool", id="consented-type"),
        pytest.param(with_(reply_to_msg="5"), "reply_to_msg is not a int", id="reply-type"),
        pytest.param(with_(thread_msg=1.5), "thread_msg is not a int", id="thread-type"),
        pytest.param(with_(target_msg=[1]), "target_msg is not a int", id="target-type"),
        pytest.param(with_(ts=int("9" * 400)), "delivery payload: ts", id="ts-overflow"),
        pytest.param(with_(attachments="a.txt"), "attachments is not a list", id="files-type"),
        pytest.param(with_(attachments={"a": 1}), "attachments is not a list", id="files-dict"),
        pytest.param(with_(attachments=["a.txt"]), "an attachment is not an object", id="file"),
        pytest.param(with_(attachments=[None]), "an attachment is not an object", id="file-null"),
        pytest.param(with_file(data="!!!!"), "attachment data is not base64", id="data-chars"),
        pytest.param(with_file(data="YQ="), "attachment data is not base64", id="data-padding"),
        pytest.param(with_file(data="é"), "ASCII", id="data-not-ascii"),
        pytest.param(with_file(data=5), "delivery payload: data is not a str", id="data-type"),
        pytest.param(with_file(size=None), "attachment size is not a number", id="size-missing"),
        pytest.param(with_file(size="1"), "attachment size is not a number", id="size-string"),
        pytest.param(with_file(size=True), "attachment size is not a number", id="size-bool"),
        pytest.param(with_file(size=1.0), "attachment size is not a number", id="size-float"),
        pytest.param(with_file(filename=1), "filename is not a str", id="filename-type"),
        pytest.param(with_file(mime_type=[]), "mime_type is not a str", id="mime-type"),
        pytest.param(with_file(url=1), "url is not a str", id="url-type"),
        pytest.param("[" * DEEP + "]" * DEEP, "delivery payload is not JSON", id="deep-list"),
        pytest.param('{"a":' * DEEP + "1" + "}" * DEEP, "is not JSON", id="deep-object"),
        pytest.param(
            with_()[:-1] + ', "attachments": ' + "[" * DEEP + "]" * DEEP + "}",
            "delivery payload is not JSON",
            id="deep-in-attachments",
        ),
        pytest.param(
            with_(attachments=json.loads("[" * 200 + "]" * 200)),
            "an attachment is not an object",
            id="nested-attachments",
        ),
        pytest.param(
            with_(text=json.loads('{"a":' * 200 + "1" + "}" * 200)),
            "text is not a str",
            id="nested-text",
        ),
    ],
)
def test_malformed_payloads_raise_value_error(payload: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        Delivery.from_json(payload)
    assert str(raised.value)
    with pytest.raises(ValueError, match=message):
        from_outbox(payload, "message", "matrix.home:!a:x")


ROW_DEST = RoomRef("discord.guild", "9")


@pytest.mark.parametrize(
    ("payload", "message", "kind", "dest"),
    [
        pytest.param(
            with_(kind=None), "unknown kind ''", DeliveryKind.DELETE, MATRIX, id="kind-null"
        ),
        pytest.param(
            json.dumps({"dest": "matrix.home:!a:x", "key": "k1"}),
            "unknown kind ''",
            DeliveryKind.DELETE,
            MATRIX,
            id="no-kind",
        ),
        pytest.param(
            with_(dest=None),
            "room '' is not of the form",
            DeliveryKind.MESSAGE,
            ROW_DEST,
            id="dest-null",
        ),
        pytest.param(
            json.dumps({"kind": "message", "key": "k1"}),
            "room '' is not of the form",
            DeliveryKind.MESSAGE,
            ROW_DEST,
            id="no-dest",
        ),
    ],
)
def test_a_payload_without_kind_or_dest_needs_the_row(
    payload: str, message: str, kind: DeliveryKind, dest: RoomRef
) -> None:
    with pytest.raises(ValueError, match=message):
        Delivery.from_json(payload)
    # The row's columns fill in what the payload does not say.
    delivery = from_outbox(payload, "delete", str(ROW_DEST))
    assert (delivery.kind, delivery.dest, delivery.key) == (kind, dest, "k1")


@pytest.mark.parametrize(
    ("kind", "dest", "message"),
    [
        pytest.param("poke", "matrix.home:!a:x", "unknown kind 'poke'", id="row-kind"),
        pytest.param("", "matrix.home:!a:x", "unknown kind ''", id="row-kind-empty"),
        pytest.param("delete", "nowhere", "room 'nowhere' is not of the form", id="row-dest"),
        pytest.param("delete", "", "room '' is not of the form", id="row-dest-empty"),
    ],
)
def test_an_old_payload_with_bad_row_columns(kind: str, dest: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_outbox('{"key": "k1", "target_msg": 1}', kind, dest)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        *GOOD,
        "origin",
        "text",
        "attachments",
        "ts",
        "consented",
        "reply_to_msg",
        "target_msg",
        "announce",
        "emoji",
    ]
)


@given(fields=st.dictionaries(FIELDS, JSON))
def test_any_json_object_parses_or_raises_value_error(fields: dict[str, Any]) -> None:
    payload = json.dumps({**GOOD, **fields})
    try:
        delivery = from_outbox(payload, "message", "matrix.home:!a:x")
    except ValueError as exc:
        assert str(exc)
    else:
        assert Delivery.from_json(delivery.to_json()) == delivery


@given(files=st.lists(st.dictionaries(st.sampled_from([*FILE, "url"]), JSON), max_size=3))
def test_any_attachment_parses_or_raises_value_error(files: list[dict[str, Any]]) -> None:
    payload = json.dumps({**GOOD, "attachments": [{**FILE, **f} for f in files]})
    try:
        delivery = Delivery.from_json(payload)
    except ValueError as exc:
        assert str(exc)
    else:
        assert len(delivery.attachments) == len(files)


@given(st.text())
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        Delivery.from_json(text)
    except ValueError as exc:
        assert str(exc)
