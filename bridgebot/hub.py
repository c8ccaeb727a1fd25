"""The Hub: the running bridge. Adapters in, rules and outbox in the middle, dispatcher out.

``Hub(config, registry, store)`` builds one adapter per configured account from the
registry it is given (``{network type: NetworkSpec}``), supervises them, accepts their
events through :meth:`handle`, writes every allowed delivery to the outbox in the same
transaction as the message, and lets the dispatcher drain it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

from bridgebot import announcements
from bridgebot.announcements import CLI_ORIGIN
from bridgebot.commands import Commands, is_command
from bridgebot.config import Config
from bridgebot.consent import ConsentKeeper
from bridgebot.contract import Adapter, AdapterSetup, NetworkSpec
from bridgebot.dispatcher import Dispatcher
from bridgebot.errors import BridgeError, ConfigError, RejectedEvent
from bridgebot.metrics import Metrics
from bridgebot.model import Capabilities, Event, EventKind, RoomRef
from bridgebot.roles import Roles
from bridgebot.router import Links, Plan, delivery_key, plan
from bridgebot.sequencer import RoomSequencer, Turn
from bridgebot.store import Announcement, Link, NewDelivery, OutboxItem, Store
from bridgebot.supervisor import Supervisor
from bridgebot.topology import apply_links, build_topology
from rules import Consent, Topology

__all__ = ["Hub"]

log = logging.getLogger("bridgebot.hub")

SECRET_CURSOR = "core:pseudonym_secret"
STATUS_CURSOR = "core:status"
#: Seconds between looks at the store for work another process left (dead-letter retries,
#: command-line announcements) and for scheduled announcements that are due.
TICK = 5.0


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
        self._status_task: asyncio.Task[None] | None = None
        #: Rooms linked into or unlinked from bridges in chat (on top of bot.toml).
        self.links: list[Link] = []
        self._adapter_rooms: dict[str, tuple[str, ...]] = {}
        self._consent_keeper = ConsentKeeper(self)
        #: Message ids of chat announcements whose summary is still to be posted.
        self._unreported: set[int] = set()
        self._report_soon: asyncio.Task[None] | None = None

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
        await self.supervisor.start()
        await self.dispatcher.start()
        for ann in await self.store.announcements(("queued",), limit=1000):
            if ann.origin_room != str(CLI_ORIGIN) and ann.message_id is not None:
                self._unreported.add(ann.message_id)
        self._status_task = asyncio.create_task(self._write_status(), name="status")

    async def stop(self) -> None:
        """Stop the dispatcher and the adapters; the outbox keeps what was not sent."""
        for task in (self._status_task, self._report_soon):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
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

    async def announce(
        self, event: Event, text: str, due_at: float | None = None
    ) -> tuple[int, tuple[str, ...] | None]:
        """``text`` by ``event``'s author, to every room of the bridges of ``event.room``
        that they facilitate and its rules allow: now, or at ``due_at``.

        Returns the announcement id and the rooms it was queued for (None if scheduled).
        """
        ann_id = await self.store.add_announcement(
            author_ref=event.author_ref,
            author_name=event.author.display_name,
            text=text,
            bridge=event.bridge,
            origin_room=str(event.room),
            origin_id=event.remote_id,
            due_at=due_at,
        )
        if due_at is not None and due_at > time.time():
            return ann_id, None
        ann = await self.store.announcement(ann_id)
        assert ann is not None
        fired = await self._fire(ann)
        return ann_id, fired.rooms if fired is not None else ()

    async def _fire(self, ann: Announcement) -> announcements.Fired | None:
        assert self.topology is not None and self.dispatcher is not None
        try:
            fired = await announcements.fire(
                self.store,
                ann,
                self.topology,
                deadline=time.time() + self.config.dispatch.deadline,
                caps=self.capabilities(),
                roles=self.roles,
            )
        except BridgeError as exc:
            log.error("announcement %d cannot be sent, cancelled: %s", ann.id, exc)
            await self.store.cancel_announcement(ann.id)
            return None
        if fired is None:
            return None
        late = time.time() - (ann.due_at or ann.created_at)
        log.info(
            "announcement %d by %s queued for %d rooms%s",
            ann.id,
            ann.author_ref,
            len(fired.rooms),
            f" ({late:.0f} s after its time)" if late > 2 * TICK else "",
        )
        if ann.origin_room != str(CLI_ORIGIN):
            self._unreported.add(fired.message_id)
            if not fired.rooms:
                self._schedule_report()
        for room in fired.rooms:
            self.dispatcher.notify(room)
        return fired

    async def fire_due(self) -> None:
        """Queue every scheduled announcement whose time has come."""
        for ann in await self.store.due_announcements(time.time()):
            await self._fire(ann)

    async def report_settled(self) -> None:
        """Post the summary of each chat announcement whose deliveries have all settled."""
        for ann in await self.store.unreported_announcements(str(CLI_ORIGIN)):
            if ann.message_id is None:
                continue
            state = await self.store.delivery_state(ann.message_id)
            if not set(state.landed) | set(state.failed) >= set(ann.rooms):
                continue
            await self.post_notice(
                RoomRef.parse(ann.origin_room),
                f"announce-report-{ann.id}",
                announcements.summary_text(ann, state),
                reply_to=ann.message_id,
                bridge=ann.bridge,
            )
            await self.store.announcement_reported(ann.id)
            self._unreported.discard(ann.message_id)

    def _schedule_report(self) -> None:
        if self._report_soon is None or self._report_soon.done():
            self._report_soon = asyncio.create_task(self._report_later(), name="announce report")

    async def _report_later(self) -> None:
        await asyncio.sleep(0.2)  # let a burst of completions land first
        try:
            await self.report_settled()
        except Exception:
            log.exception("announcement reports failed; the next tick tries again")

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

    async def link(self, bridge: str, room: RoomRef, privacy: str, actor: str, where: str) -> None:
        """Add ``room`` to ``bridge`` (on top of bot.toml) with ``privacy``; audited.
        ValueError says why not."""
        assert self.topology is not None
        policy = self.topology.bridge(bridge)
        if policy is None:
            raise ValueError(f"there is no bridge {bridge!r}")
        if room.account not in self.config.networks:
            known = ", ".join(sorted(self.config.networks)) or "none"
            raise ValueError(
                f"{room.account} is not an account in {self.config.source} (accounts: "
                f"{known}); add [networks.{room.account.replace('.', '.', 1)}] there first"
            )
        if any(r.room == room for r in policy.rooms):
            raise ValueError(f"{room} is already in bridge {bridge}")
        # A room has one privacy in all its bridges: linking must not lower it quietly.
        for other, member in self.topology.memberships(room):
            if member.privacy.label != privacy:
                raise ValueError(
                    f"{room} is already in bridge {other.name} as {member.privacy.label}; a "
                    f"room has one privacy in all its bridges: link it as "
                    f"{member.privacy.label}, or change it with !bridge set privacy there"
                )
        await self.store.set_override(str(room), "privacy", json.dumps(privacy), actor)
        await self.store.set_link(bridge, str(room), True, actor)
        await self.reload_rules()
        detail = json.dumps({"bridge": bridge, "room": str(room), "privacy": privacy})
        await self.store.audit(actor, "link", detail, where)

    async def unlink(self, bridge: str, room: RoomRef, actor: str, where: str) -> None:
        """Take ``room`` out of ``bridge``; queued deliveries to it are still sent."""
        assert self.topology is not None
        policy = self.topology.bridge(bridge)
        if policy is None:
            raise ValueError(f"there is no bridge {bridge!r}")
        if all(r.room != room for r in policy.rooms):
            raise ValueError(f"{room} is not in bridge {bridge}")
        in_toml = any(
            str(r.room) == str(room)
            for b in self.config.bridges
            if b.name == bridge
            for r in b.rooms
        )
        if in_toml:
            await self.store.set_link(bridge, str(room), False, actor)
        else:
            await self.store.delete_link(bridge, str(room))
        await self.reload_rules()
        await self.store.audit(
            actor, "unlink", json.dumps({"bridge": bridge, "room": str(room)}), where
        )

    async def set_override(self, room: RoomRef, key: str, raw: str, actor: str) -> None:
        """Change one rule of ``room`` on top of bot.toml (chat, web page): validated,
        stored, recompiled at once and audited. ValueError/ConfigError say what is wrong."""
        from bridgebot.commands import parse_value

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
        for room in await self.store.pending_rooms():
            self.dispatcher.notify(room)

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
        for dest in {d.dest_room for d in deliveries}:
            self.dispatcher.notify(dest)

    def _settled(self, item: OutboxItem, outcome: str, detail: str | None) -> None:
        if item.message_id in self._unreported:
            self._schedule_report()
        network = item.dest_room.split(".", 1)[0]
        if outcome == "sent":
            self.metrics.delivered(network, time.time() - item.created_at)
        elif outcome == "dead":
            self.metrics.dead(network)

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

    async def _write_status(self) -> None:
        """Every TICK: publish the status snapshot for `bridgebot status`, pick up rows
        another process queued (e.g. `bridgebot dead-letters retry`), send scheduled
        announcements that are due and report settled ones."""
        while True:
            try:
                await self.store.set_cursor(STATUS_CURSOR, json.dumps(self.status()))
                await self.fire_due()
                await self.report_settled()
                await self.wake_all()
            except Exception:
                log.exception("periodic store check failed; trying again in %.0f s", TICK)
            await asyncio.sleep(TICK)
