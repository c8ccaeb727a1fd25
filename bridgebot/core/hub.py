"""The Hub: accepts every inbound event durably, or drops it with a reason.

Adapters call :meth:`Hub.handle` (their ``emit``). For each event the Hub checks that the
room is bridged, hands commands to the command runner it was given, resolves what the
event points at in the id map, asks the pure router for the deliveries the rules allow,
and writes the message and its deliveries to the outbox in one transaction, in the room's
arrival order. The dispatcher sends them from there. The Hub knows nothing of adapters,
the admin tools or the dispatcher: it gets narrow parts (the store, the rulebook, the
outbox, consent, capabilities) when it is built.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from bridgebot.core.consent import ConsentKeeper
from bridgebot.core.delivery import notice
from bridgebot.core.lookups import links_of
from bridgebot.core.metrics import Metrics
from bridgebot.core.outbox import Outbox
from bridgebot.core.router import Links, Plan, plan
from bridgebot.core.rulebook import Rulebook
from bridgebot.core.sequencer import RoomSequencer, Turn
from bridgebot.errors import RejectedEvent
from bridgebot.model import Capabilities, Event, EventKind
from bridgebot.store import Store
from rules import Consent

__all__ = ["COMMAND_PREFIXES", "CommandRunner", "Hub", "is_command"]

log = logging.getLogger("bridgebot.hub")

#: The words that make a message a command for the bot, never relayed.
COMMAND_PREFIXES = ("!bridge", "!announce")

#: Runs one chat command and returns the answer to post in the same room.
CommandRunner = Callable[[Event], Awaitable[str]]


def is_command(text: str) -> bool:
    """True for text that starts with a command word."""
    word = text.split(maxsplit=1)[0] if text.strip() else ""
    return word in COMMAND_PREFIXES


class Hub:
    """The bridge's way in."""

    def __init__(
        self,
        store: Store,
        rulebook: Rulebook,
        outbox: Outbox,
        consent: ConsentKeeper,
        capabilities: Callable[[], Mapping[str, Capabilities]],
        metrics: Metrics,
        commands: CommandRunner,
    ) -> None:
        self._rulebook = rulebook
        self._store = store
        self._outbox = outbox
        self._consent = consent
        self._capabilities = capabilities
        self._metrics = metrics
        self._commands = commands
        self._sequencer = RoomSequencer()

    def _check_membership(self, event: Event) -> None:
        topology = self._rulebook.topology
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

    async def _consented(self, event: Event) -> bool | None:
        if event.kind is not EventKind.MESSAGE and event.kind is not EventKind.EDIT:
            return None
        memberships = self._rulebook.topology.memberships(event.room)
        # Only rooms that ask for opt-in consult consent: skip the store trip otherwise.
        if all(p.consent is not Consent.OPT_IN for _, p in memberships):
            return None
        return await self._store.get_consent(event.author_ref)

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
            if event.kind is not EventKind.MESSAGE and await self._store.is_copy(
                room, event.remote_id
            ):
                return  # our own copy coming back: an echo
        links = await links_of(self._store, event)
        if event.kind is not EventKind.MESSAGE and links.target is None:
            log.debug("room %s: %s of an unknown message; ignored", room, event.kind)
            return
        consented = await self._consented(event)
        result = plan(event, self._rulebook.topology, self._capabilities(), consented, links)
        await self._accept(event, result, links, turn, consented)

    async def _command(self, event: Event) -> None:
        """Run a chat command typed in ``event.room``; answer in the same room."""
        room = str(event.room)
        message_id = await self._store.accept_message(
            room, event.remote_id, event.author_ref, event.bridge, event.ts, []
        )
        if message_id is None:
            return  # already answered before a restart
        answer = await self._commands(event)
        log.info("command in %s by %s: %s", room, event.author_ref, event.text.split()[:2])
        reply = notice(
            event.room,
            f"answer:{event.remote_id}",
            answer,
            bridge=event.bridge,
            reply_to=message_id,
        )
        await self._outbox.add(message_id, [reply])

    async def _accept(
        self, event: Event, result: Plan, links: Links, turn: Turn, consented: bool | None
    ) -> None:
        rows = self._outbox.rows(result.deliveries)
        room = str(event.room)
        if event.kind is EventKind.MESSAGE:
            accepted = await turn.write(
                self._store.accept_message(
                    room, event.remote_id, event.author_ref, event.bridge, event.ts, rows
                )
            )
            if accepted is None:
                return  # a duplicate of a message already accepted
            if consented is None and result.withheld:
                await self._consent.after_accept(event, accepted, result, consented)
        else:
            assert links.target is not None
            if not await turn.write(
                self._store.accept_followup(
                    event.kind.value, room, event.remote_id, links.target, rows
                )
            ):
                return
        for withheld in result.withheld:
            self._metrics.withheld(withheld.reason.rule)
            log.info(
                "withheld %s from %s to %s (bridge %s): %s",
                event.kind.value,
                room,
                withheld.dest,
                withheld.bridge,
                withheld.reason.detail,
            )
        for d in result.deliveries:
            self._metrics.relayed(d.dest.network)
        self._outbox.notify(rows)
