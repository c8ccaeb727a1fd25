"""The rules in force: bot.toml plus the changes made in chat, compiled into a Topology.

Every part that asks "what are the rules now" (the Hub, consent, announcements, commands,
the admin page) holds the one :class:`Rulebook` and reads ``rulebook.topology`` when it
needs it, so that a reload or a chat change reaches all of them at once.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from bridgebot.config import Config
from bridgebot.core.roles import Roles
from bridgebot.core.topology import apply_links, build_topology
from bridgebot.store import Link, Store
from rules import Topology

__all__ = ["SECRET_CURSOR", "Rulebook"]

log = logging.getLogger("bridgebot.rules")

#: Where the secret behind pseudonyms is kept (made once, at the first start).
SECRET_CURSOR = "core:pseudonym_secret"

#: Called after every reload with the rooms each account must listen in.
RoomsChanged = Callable[[dict[str, tuple[str, ...]]], Awaitable[None]]


class Rulebook:
    """The current config, chat-made links and overrides, and their compiled topology."""

    def __init__(
        self, config: Config, store: Store, secret: bytes, topology: Topology, links: list[Link]
    ) -> None:
        self.config = config
        self.topology = topology
        #: Rooms linked into or unlinked from bridges in chat (on top of bot.toml).
        self.links = links
        self._store = store
        self._secret = secret
        #: Told after each reload which rooms each account has (adapters follow them).
        self.on_rooms: list[RoomsChanged] = []

    @classmethod
    async def load(cls, config: Config, store: Store) -> Rulebook:
        """Compile ``config`` with what the store holds; raises ConfigError if a stored
        change no longer compiles."""
        stored = await store.get_cursor(SECRET_CURSOR)
        if stored is None:
            stored = secrets.token_hex(32)
            await store.set_cursor(SECRET_CURSOR, stored)
        secret = bytes.fromhex(stored)
        topology, links = await _compile(config, store, secret)
        return cls(config, store, secret, topology, links)

    @property
    def roles(self) -> Roles:
        """Who may do what, under the rules in force."""
        return Roles(self.config, self.topology)

    def rooms_by_account(self) -> dict[str, tuple[str, ...]]:
        """The rooms each account is in, bot.toml and chat-made links together."""
        links = [(k.bridge, k.room, k.linked) for k in self.links]
        return apply_links(self.config, links).accounts_rooms()

    async def reload(self, config: Config | None = None) -> None:
        """Recompile from ``config`` (or the current one) plus stored changes. On a
        ConfigError the rules in force stay as they were."""
        topology, links = await _compile(config or self.config, self._store, self._secret)
        if config is not None:
            self.config = config
        self.topology = topology
        self.links = links
        rooms = self.rooms_by_account()
        for listener in self.on_rooms:
            await listener(rooms)


async def _compile(config: Config, store: Store, secret: bytes) -> tuple[Topology, list[Link]]:
    overrides: dict[str, dict[str, Any]] = {}
    for room, key, value, _actor, _ts in await store.overrides():
        overrides.setdefault(room, {})[key] = json.loads(value)
    links = await store.links()
    changes = [(k.bridge, k.room, k.linked) for k in links]
    return build_topology(config, secret, overrides, changes), links
