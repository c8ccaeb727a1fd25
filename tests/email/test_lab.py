"""The lab list server itself: posting over SMTP and HTTP, delivery into Dovecot, cleanup."""

from __future__ import annotations

import asyncio
import os
from email.message import EmailMessage

import aiohttp
import aiosmtplib
from aioimaplib import aioimaplib

from bridgebot.lab.mail import Dovecot, MailLab
from tests.email.conftest import World


async def _inbox(world: World, user: str) -> list[bytes]:
    imap = aioimaplib.IMAP4("127.0.0.1", world.lab.imap_port, timeout=5)
    await imap.wait_hello_from_server()
    assert (await imap.login(user, "secret")).result == "OK"
    await imap.select("INBOX")
    response = await imap.uid("fetch", "1:*", "(RFC822)")
    await imap.logout()
    return [bytes(line) for line in response.lines if isinstance(line, bytearray)]


async def test_smtp_post_reaches_every_subscriber_with_list_headers(world: World) -> None:
    msg = EmailMessage()
    msg["From"] = world.bob
    msg["To"] = world.list_address
    msg["Subject"] = "hello"
    msg["List-Id"] = "<forged.example>"
    msg.set_content("over SMTP")
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=world.lab.smtp_port)
    (record,) = world.lab.history(world.list_address)
    assert record["headers"]["List-Id"] == f"<{world.list_address.replace('@', '.')}>"
    assert record["headers"]["List-Post"] == f"<mailto:{world.list_address}>"
    for user in (world.bridge, world.bob):
        (mail,) = await _inbox(world, user)
        assert b"List-Post: <mailto:" in mail and b"over SMTP" in mail
    refused = aiosmtplib.SMTP(hostname="127.0.0.1", port=world.lab.smtp_port, timeout=5)
    async with refused:
        code, _ = await refused.execute_command(b"MAIL", b"FROM:<x@y.example>")
        assert code == 250
        code, _ = await refused.execute_command(b"RCPT", b"TO:<nolist@lists.example>")
        assert code == 550


async def test_http_control_surface(world: World) -> None:
    async with aiohttp.ClientSession() as http:
        body = {"list": world.list_address, "from": "Ann <ann@x.example>", "text": "hi"}
        async with http.post(f"{world.lab.url}/_lab/post", json=body) as resp:
            assert resp.status == 200
            posted = await resp.json()
        async with http.get(f"{world.lab.url}/_lab/history?list={world.list_address}") as resp:
            (record,) = await resp.json()
        assert record["message_id"] == posted["message_id"] and record["text"].strip() == "hi"
        async with http.post(f"{world.lab.url}/_lab/post", json={"list": "x"}) as resp:
            assert resp.status == 400
        async with http.get(f"{world.lab.url}/_lab/history?list=none@x") as resp:
            assert resp.status == 404


async def test_members_only_list_refuses_strangers(world: World) -> None:
    world.lab.create_list("closed@lists.example", [world.bob], members_only=True)
    try:
        await world.lab.post_as_user("closed@lists.example", "eve@x.example", "s", "t")
    except PermissionError:
        pass
    else:
        raise AssertionError("a stranger posted to a members-only list")
    await world.lab.post_as_user("closed@lists.example", world.bob, "s", "t")
    assert len(world.lab.history("closed@lists.example")) == 1


async def test_own_dovecot_leaves_nothing_behind() -> None:
    lab = MailLab()
    await lab.start()
    pid = lab.dovecot._proc.pid if lab.dovecot._proc else 0
    base = lab.dovecot.base
    assert pid and base.exists()
    await lab.stop()
    await lab.stop()  # twice is fine
    async with asyncio.timeout(5):
        while True:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.05)
    assert not base.exists()


def test_dovecot_stop_is_idempotent() -> None:
    server = Dovecot()
    server.stop()
