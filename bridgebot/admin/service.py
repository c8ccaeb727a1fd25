"""Every admin action in one place: change or reset a room's rule, link or unlink a room,
retry dead letters, record a consent answer.

Chat commands, the admin page and the CLI all call :class:`AdminService`, so an action is
checked, applied and audited the same way whichever way it came in; only ``actor`` (who)
and ``where`` (the room it was typed in, if any) differ. Permission checks stay with the
caller, which knows who is asking; this service trusts its caller.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bridgebot.core.consent import ConsentKeeper
from bridgebot.core.outbox import Outbox
from bridgebot.core.rulebook import Rulebook
from bridgebot.core.topology import OVERRIDABLE_KEYS
from bridgebot.errors import ConfigError
from bridgebot.model import RoomRef
from bridgebot.store import Store

__all__ = ["AdminService", "parse_value"]

_BOOL = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
_LISTS = {"networks", "redact", "ignore_authors", "ignore_text", "tags"}
_CHOICES = {
    "privacy": ("public", "internal", "closed"),
    "consent": ("implied", "opt-in"),
    "attribution": ("name", "pseudonym", "none"),
}


def parse_value(key: str, raw: str) -> Any:
    """Turn typed text into a rule's value; ValueError says what would be valid."""
    if key not in OVERRIDABLE_KEYS:
        raise ValueError(f"unknown key {key!r}; one of: {', '.join(sorted(OVERRIDABLE_KEYS))}")
    if key in ("sends", "receives"):
        if raw.lower() not in _BOOL:
            raise ValueError(f"{key} takes yes or no, not {raw!r}")
        return _BOOL[raw.lower()]
    if key in _CHOICES and raw not in _CHOICES[key]:
        raise ValueError(f"{key} takes one of {', '.join(_CHOICES[key])}, not {raw!r}")
    if key in _LISTS:
        return [item for item in raw.replace(",", " ").split() if item]
    return raw


class AdminService:
    """Applies admin actions to the store and the rules in force, and audits them."""

    def __init__(
        self, store: Store, rulebook: Rulebook, outbox: Outbox, consent: ConsentKeeper
    ) -> None:
        self._store = store
        self._rulebook = rulebook
        self._outbox = outbox
        self._consent = consent

    async def set_rule(self, room: RoomRef, key: str, raw: str, actor: str) -> None:
        """Change one rule of ``room`` on top of bot.toml: validated, stored, in force at
        once, audited. ValueError/ConfigError say what is wrong."""
        if not self._rulebook.topology.memberships(room):
            raise ValueError(f"room {room} is in no bridge")
        value = parse_value(key, raw)
        await self._store.set_override(str(room), key, json.dumps(value), actor)
        try:
            await self._rulebook.reload()
        except ConfigError:
            await self._store.delete_override(str(room), key)
            await self._rulebook.reload()
            raise
        await self._store.audit(actor, "set", json.dumps({key: value}), str(room))

    async def unset_rule(self, room: RoomRef, key: str, actor: str) -> None:
        """Drop a change made in chat or on the page: ``key`` is back to bot.toml's value."""
        await self._store.delete_override(str(room), key)
        await self._rulebook.reload()
        await self._store.audit(actor, "unset", key, str(room))

    async def link(self, bridge: str, room: RoomRef, privacy: str, actor: str, where: str) -> None:
        """Add ``room`` to ``bridge`` (on top of bot.toml) with ``privacy``; audited.
        ValueError says why not."""
        topology = self._rulebook.topology
        config = self._rulebook.config
        policy = topology.bridge(bridge)
        if policy is None:
            raise ValueError(f"there is no bridge {bridge!r}")
        if room.account not in config.networks:
            known = ", ".join(sorted(config.networks)) or "none"
            raise ValueError(
                f"{room.account} is not an account in {config.source} (accounts: "
                f"{known}); add [networks.{room.account}] there first"
            )
        if any(r.room == room for r in policy.rooms):
            raise ValueError(f"{room} is already in bridge {bridge}")
        # A room has one privacy in all its bridges: linking must not lower it quietly.
        for other, member in topology.memberships(room):
            if member.privacy.label != privacy:
                raise ValueError(
                    f"{room} is already in bridge {other.name} as {member.privacy.label}; a "
                    f"room has one privacy in all its bridges: link it as "
                    f"{member.privacy.label}, or change it with !bridge set privacy there"
                )
        await self._store.set_override(str(room), "privacy", json.dumps(privacy), actor)
        await self._store.set_link(bridge, str(room), True, actor)
        await self._rulebook.reload()
        detail = json.dumps({"bridge": bridge, "room": str(room), "privacy": privacy})
        await self._store.audit(actor, "link", detail, where)

    async def unlink(self, bridge: str, room: RoomRef, actor: str, where: str) -> None:
        """Take ``room`` out of ``bridge``; queued deliveries to it are still sent."""
        policy = self._rulebook.topology.bridge(bridge)
        if policy is None:
            raise ValueError(f"there is no bridge {bridge!r}")
        if all(r.room != room for r in policy.rooms):
            raise ValueError(f"{room} is not in bridge {bridge}")
        in_toml = any(
            str(r.room) == str(room)
            for b in self._rulebook.config.bridges
            if b.name == bridge
            for r in b.rooms
        )
        if in_toml:
            await self._store.set_link(bridge, str(room), False, actor)
        else:
            await self._store.delete_link(bridge, str(room))
        await self._rulebook.reload()
        await self._store.audit(
            actor, "unlink", json.dumps({"bridge": bridge, "room": str(room)}), where
        )

    async def retry_dead_letters(
        self, ids: Sequence[int] | None, actor: str, where: str | None = None
    ) -> int:
        """Queue dead letters again (``None``: all of them); returns how many moved."""
        moved = await self._store.retry_dead_letters(list(ids) if ids else None)
        detail = json.dumps({"ids": sorted(ids) if ids else "all", "moved": moved})
        await self._store.audit(actor, "retry", detail, where)
        await self._outbox.wake_all()
        return moved

    async def consent(self, author_ref: str, yes: bool, where: str | None = None) -> str:
        """Record ``author_ref``'s consent answer and act on it (release or drop what was
        held, delete copies where the room asks); returns what to add to the answer."""
        await self._store.set_consent(author_ref, yes)
        await self._store.audit(author_ref, "consent", "yes" if yes else "no", where)
        return await self._consent.answered(author_ref, yes)
