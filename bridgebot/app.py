"""The running bridge, assembled bottom-up from its parts: the composition root that
``bridgebot run``, the demo and the test harness share.

    bridge = await Bridge.assemble(config, adapters.registry(), store)
    await bridge.start()
    ...
    await bridge.stop()

Each part gets exactly what it uses, built before it: the rulebook (rules in force), the
accounts (adapters), their states, the dispatcher, the outbox, consent, the admin service,
announcements, the commands, the Hub, then the supervisor that feeds adapters' events to
the Hub, and the periodic upkeep. Nothing is optional after :meth:`Bridge.assemble`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from bridgebot.admin.announcer import Announcer
from bridgebot.admin.commands import Commands
from bridgebot.admin.service import AdminService
from bridgebot.config import Config
from bridgebot.contract import Adapter, NetworkSpec
from bridgebot.core.accounts import Accounts
from bridgebot.core.consent import ConsentKeeper
from bridgebot.core.delivery import Outcome
from bridgebot.core.dispatcher import Dispatcher
from bridgebot.core.hub import Hub
from bridgebot.core.metrics import Metrics
from bridgebot.core.outbox import Outbox
from bridgebot.core.rulebook import Rulebook
from bridgebot.core.status import Status
from bridgebot.core.supervisor import AdapterStates, Supervisor
from bridgebot.core.upkeep import Upkeep
from bridgebot.model import RoomRef
from bridgebot.store import OutboxItem, Store
from rules import Topology

__all__ = ["Bridge", "offline_admin", "offline_outbox"]


class Bridge:
    """Every part of one running bridge; build it with :meth:`assemble`."""

    def __init__(
        self,
        store: Store,
        rulebook: Rulebook,
        accounts: Accounts,
        states: AdapterStates,
        metrics: Metrics,
        dispatcher: Dispatcher,
        outbox: Outbox,
        admin: AdminService,
        announcer: Announcer,
        hub: Hub,
        supervisor: Supervisor,
        status: Status,
        upkeep: Upkeep,
    ) -> None:
        self.store = store
        self.rulebook = rulebook
        self.accounts = accounts
        self.states = states
        self.metrics = metrics
        self.dispatcher = dispatcher
        self.outbox = outbox
        self.admin = admin
        self.announcer = announcer
        self.hub = hub
        self.supervisor = supervisor
        self.status = status
        self.upkeep = upkeep

    @classmethod
    async def assemble(
        cls, config: Config, registry: Mapping[str, NetworkSpec], store: Store
    ) -> Bridge:
        """Build every part for ``config`` with the network types in ``registry``.
        Raises ConfigError for an account whose network has no adapter in ``registry``."""
        rulebook = await Rulebook.load(config, store)
        accounts = Accounts(
            config,
            registry,
            store,
            rulebook.rooms_by_account(),
            is_admin=lambda ref: rulebook.roles.is_any_admin(ref),
        )
        states = AdapterStates(accounts.adapters)
        metrics = Metrics()
        dispatcher = Dispatcher(
            store,
            accounts.adapters,
            config.dispatch,
            states.is_up,
            on_rate_limited=lambda room: metrics.rate_limited(room.network),
        )
        dispatcher.on_settled.append(_measure(metrics))
        outbox = Outbox(
            store, dispatcher.notify_all, deadline=lambda: rulebook.config.dispatch.deadline
        )
        consent = ConsentKeeper(store, rulebook, outbox, accounts.capabilities)
        admin = AdminService(store, rulebook, outbox, consent)
        announcer = Announcer(store, rulebook, outbox, accounts.capabilities)
        dispatcher.on_settled.append(announcer.on_settled)
        status = Status(states, dispatcher, metrics)
        commands = Commands(store, rulebook, admin, announcer, status)
        hub = Hub(store, rulebook, outbox, consent, accounts.capabilities, metrics, commands)
        supervisor = Supervisor(accounts.adapters, hub.handle, states)

        async def follow(rooms: Mapping[str, tuple[str, ...]]) -> None:
            await accounts.follow(supervisor, rulebook.config, rooms)

        rulebook.on_rooms.append(follow)
        upkeep = Upkeep(
            store,
            keep=lambda: rulebook.config.store,
            status=status,
            jobs=[announcer.fire_due, announcer.report_settled, outbox.wake_all],
        )
        return cls(
            store, rulebook, accounts, states, metrics, dispatcher, outbox, admin, announcer,
            hub, supervisor, status, upkeep,
        )  # fmt: skip

    @property
    def config(self) -> Config:
        """The config in force (it changes on reload)."""
        return self.rulebook.config

    @property
    def topology(self) -> Topology:
        """The compiled rules in force."""
        return self.rulebook.topology

    @property
    def adapters(self) -> Mapping[str, Adapter]:
        return self.accounts.adapters

    async def reload_rules(self, config: Config | None = None) -> None:
        """Recompile the rules from ``config`` (or the current one) plus stored changes;
        adapters whose accounts gained rooms restart to listen there."""
        await self.rulebook.reload(config)

    async def start(self) -> None:
        """Start the adapters (supervised), drain the outbox, begin the periodic work."""
        await self.supervisor.start()
        await self.dispatcher.start()
        await self.announcer.start()
        self.upkeep.start()

    async def stop(self) -> None:
        """Stop the periodic work, the dispatcher and the adapters; the outbox keeps what
        was not sent."""
        await self.upkeep.stop()
        await self.announcer.stop()
        await self.dispatcher.stop()
        await self.supervisor.stop()


def _measure(metrics: Metrics) -> Callable[[OutboxItem, Outcome, str | None], None]:
    def settled(item: OutboxItem, outcome: Outcome, detail: str | None) -> None:
        network = RoomRef.parse(item.dest_room).network
        if outcome is Outcome.SENT:
            metrics.delivered(network, time.time() - item.created_at)
        elif outcome is Outcome.DEAD:
            metrics.dead(network)

    return settled


def offline_outbox(store: Store, config: Config) -> Outbox:
    """The outbox as a command run beside the bridge (`bridgebot announce`, `dead-letters
    retry`) sees it: rows it writes are picked up by the running bridge within TICK
    (5 s), or at its next start; there is no dispatcher here to wake."""
    return Outbox(store, notify=lambda rooms: None, deadline=lambda: config.dispatch.deadline)


async def offline_admin(config: Config, store: Store) -> AdminService:
    """The admin service for a command run beside the bridge, on the same store."""
    rulebook = await Rulebook.load(config, store)
    outbox = offline_outbox(store, config)
    consent = ConsentKeeper(store, rulebook, outbox, capabilities=dict)
    return AdminService(store, rulebook, outbox, consent)
