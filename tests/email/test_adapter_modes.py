"""SMTP/LMTP listen mode, digest mode and attachments, against real servers."""

from __future__ import annotations

import asyncio
import smtplib
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

import aiosmtplib
from pydantic import SecretStr

from adapters.settings import EmailListSettings
from bridgebot.model import Attachment, Event
from tests.email.conftest import Collector, World, outbound, until


def _mail(world: World, subject: str, text: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Bob <{world.bob}>"
    msg["To"] = world.list_address
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@people.example>"
    msg["List-Post"] = f"<mailto:{world.list_address}>"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(text)
    return msg


async def test_listen_smtp_relays_and_acknowledges(world: World, collector: Collector) -> None:
    adapter = await world.started(collector, imap=None, listen="127.0.0.1:0")
    port = adapter.listen_port
    await aiosmtplib.send(
        _mail(world, "Hello", "over SMTP"),
        hostname="127.0.0.1",
        port=port,
        sender=world.bob,
        recipients=[world.bridge],
    )
    (event,) = await collector.wait_for(1)
    assert event.text == "Hello\n\nover SMTP"
    assert event.remote_id == "<Hello@people.example>"


async def test_listen_refuses_other_recipients_and_asks_retry_on_failure(
    world: World,
) -> None:
    seen: list[str] = []

    async def emit(event: Event) -> None:
        seen.append(event.remote_id)
        if len(seen) > 1:
            raise RuntimeError("store down")

    adapter = world.adapter(imap=None, listen="127.0.0.1:0")
    await adapter.start(emit)
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=adapter.listen_port, timeout=5)
    async with smtp:
        errors, _ = await smtp.sendmail(
            world.bob, [world.bridge, "someone@else.example"], _mail(world, "X", "y").as_bytes()
        )
        assert errors["someone@else.example"][0] == 550
        try:
            await smtp.sendmail(world.bob, [world.bridge], _mail(world, "Z", "z").as_bytes())
        except aiosmtplib.SMTPDataError as exc:
            assert exc.code == 451  # the list server keeps it and retries later
        else:
            raise AssertionError("a failed hand-over must not be acknowledged")
    assert seen == ["<X@people.example>", "<Z@people.example>"]


async def test_listen_lmtp(world: World, collector: Collector) -> None:
    adapter = await world.started(
        collector, imap=None, listen="127.0.0.1:0", listen_protocol="lmtp"
    )

    def deliver() -> None:
        with smtplib.LMTP("127.0.0.1", adapter.listen_port, timeout=5) as lmtp:
            lmtp.sendmail(world.bob, [world.bridge], _mail(world, "Via LMTP", "hi").as_bytes())

    await asyncio.to_thread(deliver)
    (event,) = await collector.wait_for(1)
    assert event.text == "Via LMTP\n\nhi"


async def test_digest_batches_a_period_into_one_mail_per_thread(
    world: World, collector: Collector
) -> None:
    lists = {world.list_address: EmailListSettings(mode="digest", digest_period=0.4)}
    adapter = await world.started(collector, lists=lists)
    # start just after a period boundary, so all three fall into the same period
    await asyncio.sleep(0.4 - time.time() % 0.4 + 0.02)
    root = await adapter.send(world.room, outbound("Standalone topic"))
    a = await adapter.send(world.room, outbound("in thread one", thread="<t1@chat>"))
    b = await adapter.send(
        world.room, outbound("also thread one", thread="<t1@chat>", label="Bob · matrix")
    )
    assert a == b != root
    assert world.lab.history(world.list_address) == []
    assert "digest:" + world.list_address in world.context.cursors
    await until(lambda: len(world.lab.history(world.list_address)) == 2)
    history = world.lab.history(world.list_address)
    by_id = {r["message_id"]: r for r in history}
    assert set(by_id) == {root, a}
    body = by_id[a]["text"]
    assert "Alice · slack:\nin thread one" in body and "Bob · matrix:\nalso thread one" in body
    raw = by_id[a]["raw"]
    assert isinstance(raw, bytes)
    mail = message_from_bytes(raw, policy=policy.default)
    assert str(mail["In-Reply-To"]) == "<t1@chat>"
    await until(lambda: world.context.cursors["digest:" + world.list_address] == "[]")


async def test_pending_digest_survives_a_restart(world: World, collector: Collector) -> None:
    lists = {world.list_address: EmailListSettings(mode="digest", digest_period=0.5)}
    first = await world.started(collector, lists=lists)
    queued = await first.send(world.room, outbound("queued before the restart"))
    await first.stop()
    assert world.lab.history(world.list_address) == []
    await world.started(Collector(), lists=lists)
    await until(lambda: len(world.lab.history(world.list_address)) == 1)
    assert world.lab.history(world.list_address)[0]["message_id"] == queued


async def test_attachments_both_ways(world: World, collector: Collector) -> None:
    adapter = await world.started(collector, max_attachment_bytes=1000)
    files = (
        Attachment("report.pdf", "application/pdf", 5, data=b"%PDF-"),
        Attachment("big.png", "image/png", 10**6, url="https://files.example/big.png"),
    )
    await adapter.send(world.room, outbound("see attached", attachments=files))
    raw = world.lab.history(world.list_address)[0]["raw"]
    assert isinstance(raw, bytes)
    sent = message_from_bytes(raw, policy=policy.default)
    assert isinstance(sent, EmailMessage)
    (part,) = list(sent.iter_attachments())
    assert part.get_filename() == "report.pdf" and part.get_content() == b"%PDF-"
    assert "[big.png: https://files.example/big.png]" in str(sent.get_body(("plain",)))

    mail = _mail(world, "Minutes", "attached")
    mail.add_attachment(b"x" * 10, maintype="text", subtype="csv", filename="small.csv")
    mail.add_attachment(b"y" * 5000, maintype="image", subtype="jpeg", filename="huge.jpg")
    await world.deliver(mail.as_bytes())
    (event,) = await collector.wait_for(1)
    assert [(f.filename, f.data) for f in event.attachments] == [("small.csv", b"x" * 10)]
    assert "[attachment huge.jpg (5000 bytes) not relayed: too large]" in event.text


async def test_senders_allow_list(world: World, collector: Collector) -> None:
    lists = {world.list_address: EmailListSettings(senders=["@people.example"])}
    await world.started(
        collector, lists=lists, smtp=SecretStr(f"smtp://127.0.0.1:{world.lab.smtp_port}")
    )
    stranger = _mail(world, "Spam", "buy")
    stranger.replace_header("From", "x@spam.example")
    await world.deliver(stranger.as_bytes())
    direct = _mail(world, "Direct", "not via the list")
    del direct["List-Post"]
    await world.deliver(direct.as_bytes())
    (event,) = await collector.wait_for(1)
    assert event.text == "Direct\n\nnot via the list"
