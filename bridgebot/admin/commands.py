"""Chat commands: ``!bridge …`` for admins and members, ``!announce`` for facilitators.

A command runs only in the room where it was typed (never from a relayed copy: copies are
dropped as echoes before they get here) and is never relayed itself. The answer goes back
into the same room through the outbox, like any other delivery.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bridgebot.admin.announcements import parse_at, show_time
from bridgebot.admin.announcer import Announcer
from bridgebot.admin.service import AdminService, parse_value
from bridgebot.core.rulebook import Rulebook
from bridgebot.errors import ConfigError
from bridgebot.model import Event, RoomRef
from bridgebot.store import Store
from rules import MessageFacts, explain

__all__ = ["Commands"]

HELP = """bridgebot commands (type them in a bridged room):
!bridge status              bridges of this room, adapters, queue
!bridge rules               the effective rules of this room
!bridge explain ROOM        why a message from here would or would not reach ROOM
!bridge consent yes|no      let your messages cross (rooms with consent = "opt-in")
!bridge set KEY VALUE       admins: change a rule of this room (privacy, sends, receives,
                            networks, consent, delete_on_consent_no, attribution, redact,
                            ignore_authors, ignore_text, tags, name)
!bridge unset KEY           admins: back to the value in bot.toml
!bridge link ROOM PRIVACY [BRIDGE]
                            admins: add ACCOUNT:ROOM to this room's bridge, as public,
                            internal or closed
!bridge unlink ROOM [BRIDGE]
                            admins: take ACCOUNT:ROOM out of this room's bridge
!bridge deadletters         admins: failed deliveries
!bridge retry               admins: send every dead letter again
!announce TEXT              facilitators: post TEXT to every room of this room's bridges
!announce --at 2026-12-01T09:00 TEXT
                            facilitators: the same, at that time (this server's time zone
                            unless you add one, e.g. +01:00)
!announce --cancel ID       facilitators: cancel a scheduled announcement"""


@dataclass(frozen=True, slots=True)
class Caller:
    ref: str
    #: May change this room's rules (a global admin, or an admin of each of its bridges).
    is_admin: bool
    #: Why not, when not.
    not_admin: str
    #: The bridges of this room the caller may announce to.
    announces_to: tuple[str, ...]


class Commands:
    """Runs one command for the Hub and returns the answer text (the Hub's
    ``CommandRunner``)."""

    def __init__(
        self,
        store: Store,
        rulebook: Rulebook,
        service: AdminService,
        announcer: Announcer,
        status: Callable[[], dict[str, Any]],
    ) -> None:
        self._store = store
        self._rulebook = rulebook
        self._service = service
        self._announcer = announcer
        self._snapshot = status
        self._table: dict[str, Callable[[Event, Caller, list[str]], Awaitable[str]]] = {
            "help": self._help,
            "status": self._status,
            "rules": self._rules,
            "explain": self._explain,
            "consent": self._consent,
            "set": self._set,
            "unset": self._unset,
            "link": self._link,
            "unlink": self._unlink,
            "deadletters": self._deadletters,
            "retry": self._retry,
        }

    def _caller(self, event: Event) -> Caller:
        roles = self._rulebook.roles
        ref = event.author_ref
        ok, why = roles.admin_of_room(ref, event.room)
        return Caller(ref, ok, why, tuple(roles.facilitator_bridges(ref, event.room)))

    async def __call__(self, event: Event) -> str:
        """Execute the command in ``event.text`` and return the answer."""
        try:
            words = shlex.split(event.text)
        except ValueError as exc:
            return f"could not read that command ({exc}); check the quotes"
        caller = self._caller(event)
        if words[0] == "!announce":
            return await self._announce(event, caller)
        name, args = (words[1], words[2:]) if len(words) > 1 else ("help", [])
        handler = self._table.get(name)
        if handler is None:
            return f"unknown command {name!r}.\n{HELP}"
        return await handler(event, caller, args)

    async def _help(self, event: Event, caller: Caller, args: list[str]) -> str:
        return HELP

    async def _status(self, event: Event, caller: Caller, args: list[str]) -> str:
        bridges = [b.name for b, _ in self._rulebook.topology.memberships(event.room)]
        states = self._snapshot()["adapters"]
        adapters = ", ".join(f"{a} {s['state']}" for a, s in sorted(states.items()))
        depth = sum((await self._store.queue_depths()).values())
        dead = len(await self._store.dead_letters(limit=1000))
        return (
            f"this room ({event.room}) is in: {', '.join(bridges) or 'no bridge'}\n"
            f"adapters: {adapters}\nqueued deliveries: {depth}; dead letters: {dead}"
        )

    async def _rules(self, event: Event, caller: Caller, args: list[str]) -> str:
        lines = []
        for bridge, room in self._rulebook.topology.memberships(event.room):
            networks = ", ".join(sorted(room.networks)) if room.networks is not None else "any"
            lines.append(
                f"bridge {bridge.name}: privacy {room.privacy.name.lower()}, "
                f"sends {'yes' if room.sends else 'no'}, receives "
                f"{'yes' if room.receives else 'no'}, networks {networks}, consent "
                f"{room.consent.value}, attribution {room.attribution.value}, redact "
                f"{', '.join(r.name for r in room.redact) or 'nothing'}, tags "
                f"{', '.join(sorted(room.tags)) or 'none'}"
            )
        overrides = [
            (k, v, a) for r, k, v, a, _ in await self._store.overrides() if r == str(event.room)
        ]
        for key, value, actor in overrides:
            lines.append(f"  {key} = {value} (set in chat by {actor})")
        return "\n".join(lines) or f"{event.room} is in no bridge"

    async def _explain(self, event: Event, caller: Caller, args: list[str]) -> str:
        if len(args) != 1:
            return "usage: !bridge explain ACCOUNT:ROOM"
        try:
            dest = RoomRef.parse(args[0])
        except ValueError as exc:
            return str(exc)
        consented = await self._store.get_consent(event.author_ref)
        facts = MessageFacts(event.author, event.author_ref, "hello", consented)
        return "\n".join(explain(self._rulebook.topology, event.room, dest, facts))

    async def _consent(self, event: Event, caller: Caller, args: list[str]) -> str:
        if args not in (["yes"], ["no"]):
            return "usage: !bridge consent yes|no"
        yes = args[0] == "yes"
        more = await self._service.consent(event.author_ref, yes, str(event.room))
        name = event.author.display_name
        if yes:
            return f"thank you: messages by {name} will now cross the bridge{more}"
        return f"understood: messages by {name} will no longer cross{more}"

    def _refuse(self, caller: Caller, what: str) -> str | None:
        if caller.is_admin:
            return None
        return f"only admins may {what}; {caller.not_admin} (ask an admin, or edit bot.toml)"

    def _bridge_for(self, event: Event, given: list[str]) -> str:
        """The bridge a link command is about: named, or this room's only one."""
        bridges = self._rulebook.roles.bridges_of(event.room)
        if given:
            return given[0]
        if len(bridges) == 1:
            return bridges[0]
        raise ValueError(
            f"this room is in bridges {', '.join(bridges)}; name one at the end of the command"
        )

    async def _link(self, event: Event, caller: Caller, args: list[str]) -> str:
        usage = "usage: !bridge link ACCOUNT:ROOM public|internal|closed [BRIDGE]"
        if len(args) not in (2, 3):
            return usage
        try:
            room = RoomRef.parse(args[0])
            privacy = parse_value("privacy", args[1])
            bridge = self._bridge_for(event, args[2:])
        except ValueError as exc:
            return f"refused: {exc}\n{usage}"
        roles = self._rulebook.roles
        if not roles.admin_of_bridge(caller.ref, bridge):
            return (
                f"only admins of bridge {bridge} may link rooms into it; {caller.ref} is not "
                f"in [roles] admins nor in its [bridges.roles] admins"
            )
        if roles.bridges_of(room):
            # Its messages would start reaching this bridge: its own bridges' admins decide.
            ok, why = roles.admin_of_room(caller.ref, room)
            if not ok:
                return f"refused: {room} is in other bridges and {why}"
        try:
            await self._service.link(bridge, room, privacy, caller.ref, str(event.room))
        except (ValueError, ConfigError) as exc:
            return f"refused: {exc}"
        return (
            f"{room} is now in bridge {bridge} as {privacy}; set its other rules with "
            f"!bridge set in that room, or here with bridgebot rules"
        )

    async def _unlink(self, event: Event, caller: Caller, args: list[str]) -> str:
        usage = "usage: !bridge unlink ACCOUNT:ROOM [BRIDGE]"
        if len(args) not in (1, 2):
            return usage
        try:
            room = RoomRef.parse(args[0])
            bridge = self._bridge_for(event, args[1:])
        except ValueError as exc:
            return f"refused: {exc}\n{usage}"
        if not self._rulebook.roles.admin_of_bridge(caller.ref, bridge):
            return (
                f"only admins of bridge {bridge} may unlink rooms from it; {caller.ref} is "
                f"not in [roles] admins nor in its [bridges.roles] admins"
            )
        try:
            await self._service.unlink(bridge, room, caller.ref, str(event.room))
        except (ValueError, ConfigError) as exc:
            return f"refused: {exc}"
        return f"{room} is no longer in bridge {bridge}; nothing more crosses to or from it"

    async def _set(self, event: Event, caller: Caller, args: list[str]) -> str:
        if (refused := self._refuse(caller, "change rules")) is not None:
            return refused
        if len(args) < 2:
            return "usage: !bridge set KEY VALUE"
        key, raw = args[0], " ".join(args[1:])
        try:
            await self._service.set_rule(event.room, key, raw, caller.ref)
        except (ValueError, ConfigError) as exc:
            return f"refused: {exc}"
        return f"{event.room}: {key} is now {raw} (stored as an override on top of bot.toml)"

    async def _unset(self, event: Event, caller: Caller, args: list[str]) -> str:
        if (refused := self._refuse(caller, "change rules")) is not None:
            return refused
        if len(args) != 1:
            return "usage: !bridge unset KEY"
        await self._service.unset_rule(event.room, args[0], caller.ref)
        return f"{event.room}: {args[0]} is back to its value in bot.toml"

    async def _deadletters(self, event: Event, caller: Caller, args: list[str]) -> str:
        if (refused := self._refuse(caller, "see dead letters")) is not None:
            return refused
        letters = await self._store.dead_letters(limit=20)
        if not letters:
            return "no dead letters"
        return "\n".join(f"#{d.id} → {d.dest_room}: {d.reason}" for d in letters)

    async def _retry(self, event: Event, caller: Caller, args: list[str]) -> str:
        if (refused := self._refuse(caller, "retry dead letters")) is not None:
            return refused
        n = await self._service.retry_dead_letters(None, caller.ref, str(event.room))
        return f"{n} dead letters queued again"

    async def _announce(self, event: Event, caller: Caller) -> str:
        if not caller.announces_to:
            return (
                f"only facilitators may announce; {caller.ref} is not in [roles] "
                "facilitators nor in the [bridges.roles] facilitators of this room's bridges"
            )
        words = event.text.split(maxsplit=2)
        if len(words) >= 2 and words[1] == "--cancel":
            return await self._cancel(caller, words[2] if len(words) > 2 else "")
        due_at = None
        if len(words) >= 2 and words[1] == "--at":
            if len(words) < 3 or len(words[2].split(maxsplit=1)) < 2:
                return "usage: !announce --at 2026-12-01T09:00 TEXT"
            when, text = words[2].split(maxsplit=1)
            try:
                due_at = parse_at(when)
            except ValueError as exc:
                return f"refused: {exc}"
        else:
            text = event.text.split(maxsplit=1)[1] if len(words) > 1 else ""
        if not text.strip():
            return "usage: !announce TEXT"
        ann_id, rooms = await self._announcer.announce(event, text, due_at)
        detail = {"id": ann_id, "rooms": list(rooms or ()), "at": due_at}
        await self._store.audit(caller.ref, "announce", json.dumps(detail), str(event.room))
        if rooms is None:
            assert due_at is not None
            return (
                f"announcement {ann_id} scheduled for {show_time(due_at)} to bridge "
                f"{', '.join(caller.announces_to)}; cancel it with !announce --cancel {ann_id}"
            )
        return f"announcement {ann_id} queued for {len(rooms)} rooms: {', '.join(rooms) or 'none'}"

    async def _cancel(self, caller: Caller, raw: str) -> str:
        if not raw.strip().isdigit():
            return "usage: !announce --cancel ID"
        ann_id = int(raw)
        ann = await self._store.announcement(ann_id)
        if ann is None or ann.state != "scheduled":
            return f"announcement {ann_id} is not scheduled (it was sent, cancelled or never made)"
        if ann.author_ref != caller.ref and not self._rulebook.roles.is_any_admin(caller.ref):
            return f"announcement {ann_id} is {ann.author_name}'s; they or an admin may cancel it"
        if not await self._store.cancel_announcement(ann_id):
            return f"announcement {ann_id} was being sent; too late to cancel"
        await self._store.audit(caller.ref, "announce-cancel", str(ann_id))
        return f"announcement {ann_id} cancelled"
