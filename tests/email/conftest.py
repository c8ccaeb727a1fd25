"""Fixtures: one real Dovecot per session, a list server per test, a stand-in core context."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.email import EmailAdapter, create
from adapters.settings import EmailSettings
from bridgebot.contract import AdapterSetup
from bridgebot.lab.mail import Dovecot, MailLab
from bridgebot.lab.relay import eventually
from bridgebot.model import Outbound, RoomRef
from tests import support
from tests.support import MemoryContext

ACCOUNT = "email.list"
_ids = itertools.count(1)


class Collector(support.Collector):
    """The emit callback; mail takes its time, so waits default to 10 seconds."""

    within = 10.0


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (polling, with a timeout) until ``condition()`` holds."""
    await eventually(condition, within)


def outbound(text: str, key: str | None = None, **extra: Any) -> Outbound:
    """A delivery as the core would hand it over."""
    fields: dict[str, Any] = {
        "key": key or f"k{next(_ids)}",
        "text": text,
        "label": "Alice · slack",
        "bridge": "khub",
        "origin": RoomRef("slack.work", "C0123"),
        "author_name": "Alice",
        "author_id": "U1",
    }
    fields.update(extra)
    return Outbound(**fields)


@dataclass
class World:
    """A list server with one list; the bridge and Bob subscribed."""

    lab: MailLab
    list_address: str
    bridge: str
    bob: str
    context: MemoryContext = field(default_factory=MemoryContext)
    adapters: list[EmailAdapter] = field(default_factory=list)

    @property
    def room(self) -> RoomRef:
        return RoomRef(ACCOUNT, self.list_address)

    def settings(self, **extra: Any) -> EmailSettings:
        values: dict[str, Any] = {
            "address": self.bridge,
            "smtp": SecretStr(f"smtp://127.0.0.1:{self.lab.smtp_port}"),
            "imap": SecretStr(f"imap://{self.bridge}:secret@127.0.0.1:{self.lab.imap_port}"),
            "timeout": 5.0,
        }
        values.update(extra)
        return EmailSettings.model_validate(values)

    def adapter(self, settings: EmailSettings | None = None, **extra: Any) -> EmailAdapter:
        setup = AdapterSetup(
            account=ACCOUNT,
            settings=settings or self.settings(**extra),
            rooms=(self.list_address,),
            context=self.context,
            log=logging.getLogger(f"adapters.email.{ACCOUNT}"),
        )
        adapter = create(setup)
        self.adapters.append(adapter)
        return adapter

    async def deliver(self, data: bytes) -> None:
        """Put a raw message straight into the bridge's mailbox, as if from Bob's server."""
        await asyncio.to_thread(self.lab.dovecot.deliver, [self.bridge], data, self.bob)

    async def started(self, collector: Collector, **extra: Any) -> EmailAdapter:
        adapter = self.adapter(**extra)
        await adapter.start(collector)
        return adapter


@pytest.fixture
async def world(dovecot: Dovecot) -> AsyncIterator[World]:
    n = next(_ids)
    lab = MailLab(dovecot)
    await lab.start()
    bridge = lab.create_user(f"bridge{n}@bot.example")
    bob = lab.create_user(f"bob{n}@people.example")
    address = f"khub{n}@lists.example"
    lab.create_list(address, [bridge, bob])
    w = World(lab, address, bridge, bob)
    try:
        yield w
    finally:
        for adapter in w.adapters:
            await adapter.stop()
        await lab.stop()


@pytest.fixture
def collector() -> Collector:
    return Collector()
