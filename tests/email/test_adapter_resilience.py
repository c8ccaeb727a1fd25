"""Restarts, dropped connections, server refusals, bursts and malformed mail."""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from adapters.settings import EmailListSettings
from bridgebot.errors import PermanentError, RateLimited, TransientError
from tests.email.conftest import Collector, World, outbound


async def test_catch_up_over_imap_after_a_restart(world: World, collector: Collector) -> None:
    first = await world.started(collector)
    await world.lab.post_as_user(world.list_address, world.bob, "Before", "while up")
    await collector.wait_for(1)
    await first.stop()
    # mail that comes while bridgebot is down, some of it noise
    for i in range(3):
        await world.lab.post_as_user(world.list_address, world.bob, f"Down {i}", f"missed {i}")
    await world.lab.post_as_user(world.list_address, world.bob, "Out of office", "away")
    later = Collector()
    await world.started(later)
    events = await later.wait_for(3)
    assert [e.text for e in events] == [f"Down {i}\n\nmissed {i}" for i in range(3)]
    # the cursor moved past the noise too (UIDs 1..5), so it is not read again
    await world.lab.post_as_user(world.list_address, world.bob, "After", "back")
    await later.wait_for(4)
    validity, _, uid = world.context.cursors["imap"].partition(":")
    assert validity.isdigit() and uid == "6"


async def test_first_start_skips_mail_already_in_the_mailbox(
    world: World, collector: Collector
) -> None:
    await world.lab.post_as_user(world.list_address, world.bob, "Old", "history")
    await world.started(collector)
    await world.lab.post_as_user(world.list_address, world.bob, "New", "news")
    events = await collector.wait_for(1)
    await asyncio.sleep(0.3)
    assert [e.text for e in events] == ["New\n\nnews"]


async def test_changed_uidvalidity_resumes_from_the_end(
    world: World, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    world.context.cursors["imap"] = "1:999"  # a cursor from a folder since rebuilt
    await world.lab.post_as_user(world.list_address, world.bob, "Old", "history")
    with caplog.at_level(logging.WARNING):
        await world.started(collector)
    assert "UIDVALIDITY changed" in caplog.text
    await world.lab.post_as_user(world.list_address, world.bob, "New", "news")
    assert [e.text for e in await collector.wait_for(1)] == ["New\n\nnews"]


async def test_polling_fallback_without_idle(world: World, collector: Collector) -> None:
    await world.started(collector, idle=False, poll_interval=0.2)
    for i in range(2):
        await world.lab.post_as_user(world.list_address, world.bob, f"Poll {i}", "polled")
    assert len(await collector.wait_for(2)) == 2


async def test_imap_reconnects_after_the_server_drops_it(
    world: World, collector: Collector
) -> None:
    await world.started(collector)
    await world.lab.post_as_user(world.list_address, world.bob, "One", "first")
    await collector.wait_for(1)
    await asyncio.to_thread(world.lab.dovecot.kick, world.bridge)
    # posted while the adapter is reconnecting: caught up by UID, not lost
    await world.lab.post_as_user(world.list_address, world.bob, "Two", "second")
    events = await collector.wait_for(2, within=15)
    assert [e.text for e in events] == ["One\n\nfirst", "Two\n\nsecond"]


async def test_smtp_reconnects_after_an_idle_hangup(world: World, collector: Collector) -> None:
    await world.lab.stop()
    world.lab.smtp_idle_timeout = 0.2
    await world.lab.start()
    adapter = await world.started(collector)
    await adapter.send(world.room, outbound("before"))
    await asyncio.sleep(0.6)  # the server has hung up the idle submission connection
    await adapter.send(world.room, outbound("after"))
    assert [r["text"].strip() for r in world.lab.history(world.list_address)] == [
        "before",
        "after",
    ]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("451 4.7.1 rate limited, slow down", RateLimited),
        ("452 4.3.1 insufficient system storage", TransientError),
        ("554 5.7.1 message refused by policy", PermanentError),
    ],
)
async def test_smtp_refusals_are_typed(
    world: World, collector: Collector, reply: str, error: type[Exception]
) -> None:
    adapter = await world.started(collector)
    world.lab.fail_next.append(reply)
    with pytest.raises(error) as caught:
        await adapter.send(world.room, outbound("refused", key="same"))
    assert world.list_address in str(caught.value) and "email.list" in str(caught.value)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after > 0
    # the retry of the same delivery keeps its Message-ID
    again = await adapter.send(world.room, outbound("refused", key="same"))
    assert world.lab.history(world.list_address)[0]["message_id"] == again


async def test_bad_imap_password_is_permanent(world: World, collector: Collector) -> None:
    imap = f"imap://{world.bridge}:wrong@127.0.0.1:{world.lab.imap_port}"
    adapter = world.adapter(imap=SecretStr(imap))
    with pytest.raises(PermanentError, match="refused our login"):
        await adapter.start(collector)


async def test_unreachable_smtp_is_transient(world: World, collector: Collector) -> None:
    adapter = world.adapter(smtp=SecretStr("smtp://127.0.0.1:1"))
    with pytest.raises(TransientError):
        await adapter.start(collector)


async def test_bad_urls_are_permanent(world: World, collector: Collector) -> None:
    adapter = world.adapter(smtp=SecretStr("http://example.org"))
    with pytest.raises(PermanentError, match="smtp"):
        await adapter.start(collector)


async def test_a_burst_arrives_complete_and_in_order(world: World, collector: Collector) -> None:
    adapter = await world.started(collector)
    ids = await asyncio.gather(*(adapter.send(world.room, outbound(f"m{i}")) for i in range(40)))
    history = world.lab.history(world.list_address)
    assert [r["message_id"] for r in history] == ids
    assert [r["text"].strip() for r in history] == [f"m{i}" for i in range(40)]


async def test_malformed_mail_is_dropped_and_the_next_relayed(
    world: World, collector: Collector
) -> None:
    await world.started(collector)
    junk = b"\xff\xfe not a mail \x00\r\n\r\n\xff" * 10
    await world.deliver(junk)
    broken = (
        f"From: =?utf-8?b?!!!?= <{world.bob}>\r\nTo: {world.list_address}\r\n"
        "Subject: =?x-unknown?q?abc?=\r\nContent-Type: text/plain; charset=x-unknown\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n"
    ).encode()
    await world.deliver(broken)
    await world.lab.post_as_user(world.list_address, world.bob, "Fine", "still working")
    events = await collector.wait_for(1)
    assert events[-1].text == "Fine\n\nstill working"


async def test_a_long_backlog_is_caught_up_in_batches_in_order(
    world: World, collector: Collector
) -> None:
    first = await world.started(collector)
    await first.stop()
    for i in range(55):  # more than one fetch batch
        msg = EmailMessage()
        msg["From"] = world.bob
        msg["To"] = world.list_address
        msg["Subject"] = f"n{i}"
        msg["Message-ID"] = f"<n{i}@people.example>"
        msg.set_content("x")
        await world.deliver(msg.as_bytes())
    later = Collector()
    await world.started(later, lists={world.list_address: EmailListSettings(senders="anyone")})
    events = await later.wait_for(55, within=20)
    assert [e.remote_id for e in events] == [f"<n{i}@people.example>" for i in range(55)]
