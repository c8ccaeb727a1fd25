"""The email adapter against a real list server (aiosmtpd) and a real Dovecot over IMAP."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from bridgebot.errors import PermanentError
from bridgebot.model import RoomRef
from tests.email.conftest import Collector, World, outbound


def _parsed(record: dict[str, object]) -> EmailMessage:
    raw = record["raw"]
    assert isinstance(raw, bytes)
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


async def test_send_reaches_the_list_with_identity_and_loop_headers(
    world: World, collector: Collector
) -> None:
    adapter = await world.started(collector)
    message_id = await adapter.send(world.room, outbound("Hello *everyone*\nsecond line"))
    (record,) = world.lab.history(world.list_address)
    mail = _parsed(record)
    assert record["message_id"] == message_id
    assert mail["From"].addresses[0].display_name == "Alice · slack"
    assert mail["From"].addresses[0].addr_spec == world.bridge
    assert str(mail["Reply-To"]) == world.list_address
    assert str(mail["Subject"]) == "[khub] Hello *everyone*"
    assert str(mail["Auto-Submitted"]) == "auto-generated"
    assert str(mail["X-Loop"]) == world.bridge
    assert str(mail["X-Bridgebot-Origin"]) == "slack.work:C0123"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip() == "Hello *everyone*\nsecond line"
    assert "<p>Hello *everyone*<br>second line</p>" in html.get_content()


async def test_inbound_mail_is_emitted_and_our_echo_is_not(
    world: World, collector: Collector
) -> None:
    adapter = await world.started(collector)
    # the list delivers our own copy back to our mailbox: it must be dropped
    ours = await adapter.send(world.room, outbound("from chat"))
    posted = await world.lab.post_as_user(
        world.list_address, f"Bob Jones <{world.bob}>", "Budget", "Numbers attached soon."
    )
    (event,) = await collector.wait_for(1)
    assert event.remote_id == posted["message_id"] != ours
    assert event.author.display_name == "Bob Jones"
    assert event.author.user_id == world.bob
    assert event.text == "Budget\n\nNumbers attached soon."
    assert event.thread is None and event.reply_to is None
    assert event.room == world.room


async def test_mail_reply_lands_in_the_chat_thread(world: World, collector: Collector) -> None:
    adapter = await world.started(collector)
    root = await adapter.send(world.room, outbound("Agenda for Tuesday"))
    second = await adapter.send(world.room, outbound("Item one", thread=root))
    reply = (
        "Agreed on item one.\n\nBest regards,\nBob\n\n"
        f"On Tue, 3 Jun 2025 at 10:00, Alice <{world.bridge}> wrote:\n> Item one\n"
    )
    await world.lab.post_as_user(
        world.list_address,
        world.bob,
        "Re: [khub] Agenda for Tuesday",
        reply,
        in_reply_to=second,
        references=f"{root} {second}",
    )
    (event,) = await collector.wait_for(1)
    assert (event.thread, event.reply_to) == (root, second)
    assert event.text == "Agreed on item one."


async def test_chat_thread_of_five_becomes_one_mail_thread(
    world: World, collector: Collector
) -> None:
    adapter = await world.started(collector)
    ids = [await adapter.send(world.room, outbound("Thread start: planning"))]
    for i in range(4):
        ids.append(await adapter.send(world.room, outbound(f"reply {i}", thread=ids[0])))
    mails = [_parsed(r) for r in world.lab.history(world.list_address)]
    assert [str(m["Message-ID"]) for m in mails] == ids
    for i, mail in enumerate(mails[1:], start=1):
        assert str(mail["In-Reply-To"]) == ids[i - 1]
        assert str(mail["References"]).split() == ids[:i]
        assert str(mail["Subject"]) == "Re: [khub] Thread start: planning"


async def test_auto_replies_and_bounces_are_not_relayed(
    world: World, collector: Collector
) -> None:
    await world.started(collector)
    lab, lst = world.lab, world.list_address
    await lab.post_as_user(lst, world.bob, "Out of Office: back Monday", "I am away.")
    await lab.post_as_user(lst, world.bob, "Holiday", "Away.", auto_submitted="auto-replied")
    await lab.post_as_user(lst, world.bob, "Note", "Bulk.", precedence="bulk")
    await lab.post_as_user(lst, "MAILER-DAEMON@mx.example", "Undelivered Mail", "failed")
    await lab.post_as_user(lst, world.bob, "Loop", "seen", x_bridgebot_origin="matrix.x:!r")
    await lab.post_as_user(lst, world.bob, "Real", "a real message")
    (event,) = await collector.wait_for(1)
    assert event.text == "Real\n\na real message"
    # nothing else trails behind
    await world.lab.post_as_user(lst, world.bob, "Last", "last one")
    assert [e.text for e in await collector.wait_for(2)][1] == "Last\n\nlast one"


async def test_duplicate_message_ids_are_relayed_once(world: World, collector: Collector) -> None:
    await world.started(collector)
    first = await world.lab.post_as_user(world.list_address, world.bob, "Once", "only once")
    await world.lab.post_as_user(
        world.list_address, world.bob, "Once", "only once", message_id=first["message_id"]
    )
    await world.lab.post_as_user(world.list_address, world.bob, "Next", "next")
    events = await collector.wait_for(2)
    assert [e.text for e in events] == ["Once\n\nonly once", "Next\n\nnext"]


async def test_hostile_names_and_subjects_give_valid_headers(
    world: World, collector: Collector
) -> None:
    adapter = await world.started(collector)
    hostile = outbound(
        "Subject line\r\nBcc: victim@example.org\r\n\r\nbody",
        label="Eve\r\nBcc: victim@example.org\n<x@y>",
    )
    await adapter.send(world.room, hostile)
    (record,) = world.lab.history(world.list_address)
    mail = _parsed(record)
    assert mail["Bcc"] is None
    assert not mail.defects
    assert mail["From"].addresses[0].addr_spec == world.bridge
    assert "\n" not in str(mail["From"]) and "\n" not in str(mail["Subject"])
    non_ascii = outbound("Grüße aus Köln – 東京", label="Zoë Ångström · matrix")
    await adapter.send(world.room, non_ascii)
    mail = _parsed(world.lab.history(world.list_address)[1])
    assert mail["From"].addresses[0].display_name == "Zoë Ångström · matrix"
    assert str(mail["Subject"]) == "[khub] Grüße aus Köln – 東京"
    raw = world.lab.history(world.list_address)[1]["raw"]
    assert isinstance(raw, bytes)
    raw.decode("ascii")  # every header RFC 2047-encoded, the body transfer-encoded


async def test_capabilities_and_refused_operations(world: World, collector: Collector) -> None:
    adapter = await world.started(collector)
    caps = adapter.capabilities
    assert (caps.edits, caps.deletes, caps.reactions) == (False, False, False)
    assert (caps.threads, caps.replies, caps.per_message_identity) == (True, True, True)
    assert caps.max_text_length == 100_000
    sent = await adapter.send(world.room, outbound("final"))
    with pytest.raises(PermanentError, match="cannot be edited"):
        await adapter.edit(world.room, sent, outbound("changed"))
    with pytest.raises(PermanentError, match="cannot be deleted"):
        await adapter.delete(world.room, sent)
    with pytest.raises(PermanentError, match="no reactions"):
        await adapter.react(world.room, sent, "👍")
    with pytest.raises(PermanentError, match="not one of its lists"):
        await adapter.send(RoomRef(world.room.account, "other@lists.example"), outbound("x"))
    assert len(world.lab.history(world.list_address)) == 1
