"""The Hub: the running bridge. Adapters in, rules and outbox in the middle, dispatcher out.

``Hub(config, registry, store)`` builds one adapter per configured account from the
registry it is given (``{network type: NetworkSpec}``), supervises them, accepts their
events through :meth:`handle`, writes every allowed delivery to the outbox in the same
transaction as the message, and lets the dispatcher drain it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

from bridgebot.admin.announcer import Announcer
from bridgebot.admin.commands import Commands, is_command
from bridgebot.admin.links import Linker
from bridgebot.config import Config
from bridgebot.contract import Adapter, AdapterSetup, NetworkSpec
from bridgebot.core.consent import ConsentKeeper
from bridgebot.core.dispatcher import Dispatcher
from bridgebot.core.metrics import Metrics
from bridgebot.core.roles import Roles
from bridgebot.core.router import Links, Plan, delivery_key, plan
from bridgebot.core.sequencer import RoomSequencer, Turn
from bridgebot.core.supervisor import Supervisor
from bridgebot.core.topology import apply_links, build_topology
from bridgebot.core.upkeep import Upkeep
from bridgebot.errors import ConfigError, RejectedEvent
from bridgebot.model import Capabilities, Event, EventKind, RoomRef
from bridgebot.store import Link, NewDelivery, OutboxItem, Store
from rules import Consent, Topology

__all__ = ["Hub"]

log = logging.getLogger("bridgebot.hub")

SECRET_CURSOR = "core:pseudonym_secret"


class _Context:
    """The AdapterContext one account sees: cursors namespaced by account."""

    def __init__(self, store: Store, account: str, hub: Hub) -> None:
        self._store = store
        self._account = account
        self._hub = hub

    async def get_cursor(self, key: str) -> str | None:
        return await self._store.get_cursor(f"{self._account}:{key}")

    async def set_cursor(self, key: str, value: str) -> None:
        await self._store.set_cursor(f"{self._account}:{key}", value)

    async def is_copy(self, room: RoomRef, remote_id: str) -> bool:
        return await self._store.is_copy(str(room), remote_id)

    def is_admin(self, user_ref: str) -> bool:
        return self._hub.roles.is_any_admin(user_ref)


class Hub:
    """The bridge at run time."""

    def __init__(
        self,
        config: Config,
        registry: Mapping[str, NetworkSpec],
        store: Store,
    ) -> None:
        self.config = config
        self.store = store
        self._registry = registry
        self.adapters: dict[str, Adapter] = {}
        self.topology: Topology | None = None
        self._secret = b""
        self.dispatcher: Dispatcher | None = None
        self.supervisor: Supervisor | None = None
        self.metrics = Metrics()
        self._sequencer = RoomSequencer()
        self.relayed = 0
        self.withheld = 0
        self.started_at = time.time()
        #: Rooms linked into or unlinked from bridges in chat (on top of bot.toml).
        self.links: list[Link] = []
        self._adapter_rooms: dict[str, tuple[str, ...]] = {}
        self._consent_keeper = ConsentKeeper(self)
        self.announcer = Announcer(self)
        self.linker = Linker(self)
        self.upkeep = Upkeep(self)

    # -- life cycle -------------------------------------------------------------------

    @property
    def roles(self) -> Roles:
        """Who may do what, under the current config and topology."""
        assert self.topology is not None
        return Roles(self.config, self.topology)

    def _rooms_by_account(self) -> dict[str, tuple[str, ...]]:
        links = [(k.bridge, k.room, k.linked) for k in self.links]
        return apply_links(self.config, links).accounts_rooms()

    def _build_adapter(self, account: str, rooms: tuple[str, ...]) -> Adapter:
        network = account.split(".", 1)[0]
        spec = self._registry.get(network)
        if spec is None:
            raise ConfigError(
                f"{self.config.source}: networks.{account}: no adapter "
                f"for network type {network!r} in this build"
            )
        setup = AdapterSetup(
            account=account,
            settings=self.config.networks[account],
            rooms=rooms,
            context=_Context(self.store, account, self),
            log=logging.getLogger(f"bridgebot.adapter.{account}"),
        )
        self._adapter_rooms[account] = rooms
        return spec.factory(setup)

    def _build_adapters(self) -> None:
        rooms = self._rooms_by_account()
        for account in self.config.networks:
            self.adapters[account] = self._build_adapter(account, rooms.get(account, ()))

    async def _follow_rooms(self) -> None:
        """Restart the adapters whose accounts gained rooms (a link, or a reload of
        bot.toml), so that they listen there too; their catch-up covers the restart."""
        if self.supervisor is None:
            return
        for account, rooms in self._rooms_by_account().items():
            if account not in self.adapters:
                if account in self.config.networks:
                    log.warning(
                        "networks.%s is new in %s: restart bridgebot to connect it",
                        account,
                        self.config.source,
                    )
                continue
            if set(rooms) <= set(self._adapter_rooms.get(account, ())):
                continue
            log.info("adapter %s: restarting to listen in %d rooms", account, len(rooms))
            await self.supervisor.replace(account, self._build_adapter(account, rooms))

    async def _load_secret(self) -> bytes:
        stored = await self.store.get_cursor(SECRET_CURSOR)
        if stored is None:
            stored = secrets.token_hex(32)
            await self.store.set_cursor(SECRET_CURSOR, stored)
        return bytes.fromhex(stored)

    async def reload_rules(self, config: Config | None = None) -> None:
        """Recompile the topology from ``config`` (or the current one) plus stored overrides."""
        overrides: dict[str, dict[str, Any]] = {}
        for room, key, value, _actor, _ts in await self.store.overrides():
            overrides.setdefault(room, {})[key] = json.loads(value)
        links = await self.store.links()
        changes = [(k.bridge, k.room, k.linked) for k in links]
        topology = build_topology(config or self.config, self._secret, overrides, changes)
        if config is not None:
            self.config = config
        self.topology = topology
        self.links = links
        await self._follow_rooms()

    async def start(self) -> None:
        """Build and start adapters (supervised), compile the rules, drain the outbox."""
        self._secret = await self._load_secret()
        await self.reload_rules()
        self._build_adapters()
        self.supervisor = Supervisor(self.adapters, self.handle)
        self.dispatcher = Dispatcher(
            self.store, self.adapters, self.config.dispatch, self.supervisor.is_up
        )
        self.dispatcher.on_settled = self._settled
        self.dispatcher.on_rate_limited = self._rate_limited
        await self.supervisor.start()
        await self.dispatcher.start()
        await self.announcer.start()
        self.upkeep.start()

    async def stop(self) -> None:
        """Stop the dispatcher and the adapters; the outbox keeps what was not sent."""
        await self.upkeep.stop()
        await self.announcer.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.supervisor is not None:
            await self.supervisor.stop()

    # -- inbound ----------------------------------------------------------------------

    def capabilities(self) -> dict[str, Capabilities]:
        return {account: a.capabilities for account, a in self.adapters.items()}

    def _check_membership(self, event: Event) -> None:
        topology = self.topology
        assert topology is not None
        if event.bridge is not None:
            bridge = topology.bridge(event.bridge)
            if bridge is None:
                known = ", ".join(b.name for b in topology.bridges) or "none"
                raise RejectedEvent(
                    f"unknown gateway {event.bridge!r}; configured bridges: {known}"
                )
            if all(r.room != event.room for r in bridge.rooms):
                raise RejectedEvent(f"room {event.room} is not in bridge {event.bridge!r}")
        elif not topology.memberships(event.room):
            raise RejectedEvent(f"room {event.room} is in no bridge")

    async def links_of(self, event: Event) -> Links:
        """The store's message ids for what ``event`` replies to, threads under, targets."""
        room = str(event.room)
        reply = await self.store.find_message(room, event.reply_to) if event.reply_to else None
        thread = await self.store.find_message(room, event.thread) if event.thread else None
        target = await self.store.find_message(room, event.target) if event.target else None
        return Links(reply, thread, target)

    async def _consent(self, event: Event) -> bool | None:
        if event.kind is not EventKind.MESSAGE and event.kind is not EventKind.EDIT:
            return None
        topology = self.topology
        assert topology is not None
        # Only rooms that ask for opt-in consult consent: skip the store trip otherwise.
        if all(p.consent is not Consent.OPT_IN for _, p in topology.memberships(event.room)):
            return None
        return await self.store.get_consent(event.author_ref)

    async def handle(self, event: Event) -> None:
        """The ``emit`` callback: accept one inbound event durably, or drop it with a reason.

        Raises RejectedEvent for events the sender should hear about (API posts).
        """
        turn = self._sequencer.turn(str(event.room))  # before any await: arrival order
        try:
            await self._handle(event, turn)
        finally:
            turn.done()

    async def _handle(self, event: Event, turn: Turn) -> None:
        room = str(event.room)
        if event.kind is EventKind.MESSAGE and not event.text.strip() and not event.attachments:
            raise RejectedEvent("empty message: send some text or an attachment")
        self._check_membership(event)
        if event.kind is EventKind.MESSAGE and is_command(event.text):
            await turn.after_previous_settled()
            await self._command(event)
            return
        if event.kind is not EventKind.MESSAGE or event.reply_to or event.thread:
            # Lookups in the id map must see the room's earlier events committed.
            await turn.after_previous_settled()
            # For messages the store checks this inside accept_message (one trip fewer).
            if event.kind is not EventKind.MESSAGE and await self.store.is_copy(
                room, event.remote_id
            ):
                return  # our own copy coming back: an echo
        links = await self.links_of(event)
        if event.kind is not EventKind.MESSAGE and links.target is None:
            log.debug("room %s: %s of an unknown message; ignored", room, event.kind)
            return
        topology = self.topology
        assert topology is not None
        consented = await self._consent(event)
        result = plan(event, topology, self.capabilities(), consented, links)
        await self._accept(event, result, links, turn, consented)

    async def _command(self, event: Event) -> None:
        """Run a chat command typed in ``event.room``; answer in the same room."""
        room = str(event.room)
        message_id = await self.store.accept_message(
            room, event.remote_id, event.author_ref, event.bridge, event.ts, []
        )
        if message_id is None:
            return  # already answered before a restart
        answer = await Commands(self).run(event)
        log.info("command in %s by %s: %s", room, event.author_ref, event.text.split()[:2])
        payload = {
            "key": delivery_key(event, event.room),
            "text": answer,
            "label": "bridgebot",
            "bridge": event.bridge or "",
            "origin": room,
            "author_name": "bridgebot",
            "author_id": "",
            "avatar_url": None,
            "reply_to_msg": message_id,
            "thread_msg": None,
            "ts": time.time(),
        }
        deadline = time.time() + self.config.dispatch.deadline
        await self.store.add_deliveries(
            message_id, [NewDelivery(room, "message", json.dumps(payload), deadline)]
        )
        assert self.dispatcher is not None
        self.dispatcher.notify(room)

    async def post_notice(
        self,
        room: RoomRef,
        key: str,
        text: str,
        *,
        reply_to: int | None = None,
        bridge: str | None = None,
    ) -> None:
        """Post the bot's own ``text`` into ``room`` through the outbox, once per ``key``."""
        payload = {
            "key": hashlib.sha256(f"{room}\0{key}".encode()).hexdigest()[:32],
            "text": text,
            "label": "bridgebot",
            "bridge": bridge or "",
            "origin": str(room),
            "author_name": "bridgebot",
            "author_id": "",
            "avatar_url": None,
            "reply_to_msg": reply_to,
            "thread_msg": None,
            "ts": time.time(),
        }
        deadline = time.time() + self.config.dispatch.deadline
        delivery = NewDelivery(str(room), "message", json.dumps(payload), deadline)
        accepted = await self.store.accept_message(
            str(room), f"bridgebot:{key}", "bridgebot", bridge, time.time(), [delivery]
        )
        if accepted is not None and self.dispatcher is not None:
            self.dispatcher.notify(str(room))

    async def consent_answered(self, author_ref: str, yes: bool) -> str:
        """Release or drop the author's held messages (and delete copies, if configured)."""
        return await self._consent_keeper.answered(author_ref, yes)

    async def set_override(self, room: RoomRef, key: str, raw: str, actor: str) -> None:
        """Change one rule of ``room`` on top of bot.toml (chat, web page): validated,
        stored, recompiled at once and audited. ValueError/ConfigError say what is wrong."""
        from bridgebot.admin.commands import parse_value

        assert self.topology is not None
        if not self.topology.memberships(room):
            raise ValueError(f"room {room} is in no bridge")
        value = parse_value(key, raw)
        await self.store.set_override(str(room), key, json.dumps(value), actor)
        try:
            await self.reload_rules()
        except ConfigError:
            await self.store.delete_override(str(room), key)
            await self.reload_rules()
            raise
        await self.store.audit(actor, "set", json.dumps({key: value}), str(room))

    async def unset_override(self, room: RoomRef, key: str, actor: str) -> None:
        """Drop a chat-made override: the room's ``key`` is back to bot.toml's value."""
        await self.store.delete_override(str(room), key)
        await self.reload_rules()
        await self.store.audit(actor, "unset", key, str(room))

    async def wake_all(self) -> None:
        """Make the dispatcher look at every room with pending rows (after a retry)."""
        assert self.dispatcher is not None
        self.dispatcher.notify_all(await self.store.pending_rooms())

    async def _accept(
        self, event: Event, result: Plan, links: Links, turn: Turn, consented: bool | None
    ) -> None:
        deadline = time.time() + self.config.dispatch.deadline
        deliveries = [
            NewDelivery(str(p.dest), p.kind, json.dumps(p.payload), deadline)
            for p in result.deliveries
        ]
        room = str(event.room)
        if event.kind is EventKind.MESSAGE:
            accepted = await turn.write(
                self.store.accept_message(
                    room, event.remote_id, event.author_ref, event.bridge, event.ts, deliveries
                )
            )
            if accepted is None:
                return  # a duplicate of a message already accepted
            if consented is None and result.withheld:
                await self._consent_keeper.after_accept(event, accepted, result, consented)
        else:
            assert links.target is not None
            if not await turn.write(
                self.store.accept_followup(
                    event.kind.value, room, event.remote_id, links.target, deliveries
                )
            ):
                return
        for withheld in result.withheld:
            self.withheld += 1
            self.metrics.withheld(withheld.reason.rule)
            log.info(
                "withheld %s from %s to %s (bridge %s): %s",
                event.kind.value,
                room,
                withheld.dest,
                withheld.bridge,
                withheld.reason.detail,
            )
        self.relayed += len(deliveries)
        for d in result.deliveries:
            self.metrics.relayed(d.dest.network)
        assert self.dispatcher is not None
        self.dispatcher.notify_all(d.dest_room for d in deliveries)

    def _settled(self, item: OutboxItem, outcome: str, detail: str | None) -> None:
        self.announcer.on_settled(item)
        network = item.dest_room.split(".", 1)[0]
        if outcome == "sent":
            self.metrics.delivered(network, time.time() - item.created_at)
        elif outcome == "dead":
            self.metrics.dead(network)

    def _rate_limited(self, room: RoomRef) -> None:
        self.metrics.rate_limited(room.network)

    # -- status -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """A snapshot for `bridgebot status` and the admin page."""
        return {
            "ts": time.time(),
            "started_at": self.started_at,
            "adapters": self.supervisor.states() if self.supervisor else {},
            "relayed": self.relayed,
            "withheld": self.withheld,
            "sent": self.dispatcher.sent if self.dispatcher else 0,
            "dead": self.dispatcher.dead if self.dispatcher else 0,
        }
