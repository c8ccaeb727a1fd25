"""Email ↔ API through a real Hub: the adapter against the lab list server and Dovecot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters import registry
from adapters.email import SPEC
from bridgebot.core.hub import Hub
from bridgebot.lab.harness import free_port, running_hub
from bridgebot.lab.mail import Dovecot, MailLab
from tests.email.conftest import until

CONFIG = """
[store]
path = "bridgebot.db"

[networks.api.one]
bind = "127.0.0.1:{port}"

[networks.email.list]
address = "{bridge}"
smtp = "smtp://127.0.0.1:{smtp}"
imap = "imap://{bridge}:${{IMAP_PASSWORD}}@127.0.0.1:{imap}"
timeout = 5

[[bridges]]
name = "khub"
label = "{{author}} · {{network}}"

  [[bridges.rooms]]
  room = "email.list:{list}"
  privacy = "public"

  [[bridges.rooms]]
  room = "api.one:api"
  privacy = "public"
"""


class Bridge:
    """A running Hub between a lab list and an API room, plus helpers."""

    def __init__(
        self, hub: Hub, lab: MailLab, address: str, api_url: str, http: aiohttp.ClientSession
    ) -> None:
        self.hub, self.lab, self.list, self.api_url, self.http = hub, lab, address, api_url, http

    async def delivered(self) -> None:
        assert self.hub.dispatcher is not None
        async with asyncio.timeout(10):
            await self.hub.dispatcher.idle()

    async def api_post(self, **fields: Any) -> dict[str, Any]:
        body = {"username": "carol", "userid": "carol", "gateway": "khub", **fields}
        async with self.http.post(f"{self.api_url}/api/message", json=body) as resp:
            assert resp.status == 200, await resp.text()
            reply: dict[str, Any] = await resp.json()
            return reply

    async def api_wait(self, count: int) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while len(got) < count:
                async with self.http.get(f"{self.api_url}/api/messages") as resp:
                    got.extend(await resp.json())
                await asyncio.sleep(0.02)
        return got


@pytest.fixture
async def bridge(tmp_path: Path, dovecot: Dovecot) -> AsyncIterator[Bridge]:
    lab = MailLab(dovecot)
    await lab.start()
    bridge_address = lab.create_user(f"relay-{tmp_path.name[-12:]}@bot.example".lower(), "pw")
    address = f"relay-{tmp_path.name[-12:]}@lists.example".lower()
    lab.create_list(address, [bridge_address, "dave@people.example"])
    port = free_port()
    config = CONFIG.format(
        port=port, bridge=bridge_address, smtp=lab.smtp_port, imap=lab.imap_port, list=address
    )
    networks = {**registry(), "email": SPEC}
    try:
        async with (
            running_hub(config, tmp_path, env={"IMAP_PASSWORD": "pw"}, registry=networks) as hub,
            aiohttp.ClientSession() as http,
        ):
            assert hub.supervisor is not None
            supervisor = hub.supervisor
            await until(lambda: supervisor.is_up("email.list"))
            yield Bridge(hub, lab, address, f"http://127.0.0.1:{port}", http)
    finally:
        await lab.stop()


async def test_api_to_email_threaded(bridge: Bridge) -> None:
    first = await bridge.api_post(text="Agenda for Tuesday")
    await bridge.delivered()
    await bridge.api_post(text="Item one: budget", parent_id=first["id"])
    await bridge.delivered()
    history = bridge.lab.history(bridge.list)
    assert len(history) == 2
    mails = [message_from_bytes(r["raw"], policy=policy.default) for r in history]
    assert mails[0]["From"].addresses[0].display_name == "carol · api"
    assert str(mails[0]["Subject"]) == "[khub] Agenda for Tuesday"
    assert str(mails[1]["In-Reply-To"]) == str(mails[0]["Message-ID"])
    assert str(mails[1]["Subject"]) == "Re: [khub] Agenda for Tuesday"


async def test_email_to_api_and_a_mail_reply_follows_the_thread(bridge: Bridge) -> None:
    posted = await bridge.lab.post_as_user(
        bridge.list, "Dave Smith <dave@people.example>", "Budget", "Figures are in."
    )
    (got,) = await bridge.api_wait(1)
    assert (got["text"], got["username"]) == ("Budget\n\nFigures are in.", "Dave Smith · email")
    reply = "Thanks!\n\nOn Tue, Dave wrote:\n> Figures are in.\n"
    await bridge.lab.post_as_user(
        bridge.list,
        "dave@people.example",
        "Re: Budget",
        reply,
        in_reply_to=posted["message_id"],
        references=posted["message_id"],
    )
    (second,) = await bridge.api_wait(1)
    assert second["text"] == "Thanks!"
    assert second["parent_id"] == got["id"]
