"""Rooms linked into and unlinked from bridges in chat (``!bridge link|unlink``), on top
of bot.toml: stored, applied at once and audited."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bridgebot.model import RoomRef

if TYPE_CHECKING:
    from bridgebot.core.hub import Hub

__all__ = ["Linker"]


class Linker:
    """Owned by the Hub; the chat commands call it."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def link(self, bridge: str, room: RoomRef, privacy: str, actor: str, where: str) -> None:
        """Add ``room`` to ``bridge`` (on top of bot.toml) with ``privacy``; audited.
        ValueError says why not."""
        assert self._hub.topology is not None
        policy = self._hub.topology.bridge(bridge)
        if policy is None:
            raise ValueError(f"there is no bridge {bridge!r}")
        if room.account not in self._hub.config.networks:
            known = ", ".join(sorted(self._hub.config.networks)) or "none"
            raise ValueError(
                f"{room.account} is not an account in {self._hub.config.source} (accounts: "
                f"{known}); add [networks.{room.account.replace('.', '.', 1)}] there first"
            )
        if any(r.room == room for r in policy.rooms):
            raise ValueError(f"{room} is already in bridge {bridge}")
        # A room has one privacy in all its bridges: linking must not lower it quietly.
        for other, member in self._hub.topology.memberships(room):
            if member.privacy.label != privacy:
                raise ValueError(
                    f"{room} is already in bridge {other.name} as {member.privacy.label}; a "
                    f"room has one privacy in all its bridges: link it as "
                    f"{member.privacy.label}, or change it with !bridge set privacy there"
                )
        await self._hub.store.set_override(str(room), "privacy", json.dumps(privacy), actor)
        await self._hub.store.set_link(bridge, str(room), True, actor)
        await self._hub.reload_rules()
        detail = json.dumps({"bridge": bridge, "room": str(room), "privacy": privacy})
        await self._hub.store.audit(actor, "link", detail, where)

    async def unlink(self, bridge: str, room: RoomRef, actor: str, where: str) -> None:
        """Take ``room`` out of ``bridge``; queued deliveries to it are still sent."""
        assert self._hub.topology is not None
        policy = self._hub.topology.bridge(bridge)
        if policy is None:
            raise ValueError(f"there is no bridge {bridge!r}")
        if all(r.room != room for r in policy.rooms):
            raise ValueError(f"{room} is not in bridge {bridge}")
        in_toml = any(
            str(r.room) == str(room)
            for b in self._hub.config.bridges
            if b.name == bridge
            for r in b.rooms
        )
        if in_toml:
            await self._hub.store.set_link(bridge, str(room), False, actor)
        else:
            await self._hub.store.delete_link(bridge, str(room))
        await self._hub.reload_rules()
        await self._hub.store.audit(
            actor, "unlink", json.dumps({"bridge": bridge, "room": str(room)}), where
        )
