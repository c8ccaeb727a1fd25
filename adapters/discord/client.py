"""The Discord adapter: a discord.py client for the gateway, ``Poster`` for REST/webhooks.

Inbound events are taken from the raw gateway frames (``on_socket_raw_receive``) so that
``translate`` works on the documented wire payloads, not on discord.py's objects; a single
consumer task keeps them in gateway order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any, cast

import discord
import yarl

from adapters.discord import translate
from adapters.discord.catchup import missed_messages
from adapters.discord.errors import map_errors
from adapters.discord.names import CacheDirectory, NoNames, snowflake_int
from adapters.discord.outbound import Poster
from adapters.settings import DiscordSettings
from bridgebot.contract import AdapterSetup, Emit
from bridgebot.errors import BridgeError, RejectedEvent, TransientError
from bridgebot.model import Capabilities, Event, EventKind, Outbound, RoomRef
from bridgebot.pacing import Backoff

__all__ = ["DiscordAdapter", "point_library_at"]

#: Seconds to wait for READY (and the guilds) before calling the connect attempt failed.
CONNECT_TIMEOUT = 30.0
#: Reconnecting after discord.py failed on an event: waits double from 0.2 s up to 60 s
#: (full jitter), and start over once a connection has held for a minute.
RECONNECT_BASE, RECONNECT_CAP, RECONNECT_QUIET = 0.2, 60.0, 60.0
_HANDLED = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_REACTION_ADD"}


def point_library_at(settings: DiscordSettings) -> None:
    """Aim discord.py at ``base_url``/``gateway_url``.

    discord.py reads its endpoints from module globals rather than from the client, so this
    is the one place they are set; every Discord account in one process shares them.
    """
    discord.http.Route.BASE = settings.base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


class _Client(discord.Client):
    """A discord.py client that hands every raw gateway frame to a callback, in order."""

    def __init__(self, on_frame: Any, **options: Any) -> None:
        super().__init__(**options)
        self._on_frame = on_frame

    async def on_socket_raw_receive(self, msg: str) -> None:
        self._on_frame(msg)  # synchronous: frames are queued in the order they arrived


class DiscordAdapter:
    """One Discord bot account: gateway in, REST and webhooks out."""

    network = translate.NETWORK

    def __init__(self, setup: AdapterSetup) -> None:
        self.account = setup.account
        self.settings = cast(DiscordSettings, setup.settings)
        self.capabilities = Capabilities(
            per_message_identity=self.settings.webhooks,
            max_text_length=translate.MAX_TEXT,
        )
        self._rooms = frozenset(setup.rooms)
        self._context = setup.context
        self._log = setup.log
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._client: _Client | None = None
        self._poster: Poster | None = None
        self._connection: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._emit: Emit | None = None
        self._me = translate.Identity(user_id="")
        self._thread_parent: dict[str, str] = {}
        #: ids of messages already reported, so catch-up and gateway never report one twice
        self._seen: dict[str, None] = {}
        self.message_content = True

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Log in, warn if the message-content intent is off, connect and wait for READY."""
        self._emit = emit
        point_library_at(self.settings)
        client = await self._login(message_content=True)
        flags = client.application_flags
        if not (flags.gateway_message_content or flags.gateway_message_content_limited):
            self._log.warning(
                "discord %s: the Message Content intent is not enabled for this bot, so Discord"
                " sends every message's text empty and only files will be relayed from Discord."
                " Enable it in the Developer Portal: Applications → your bot → Bot →"
                " Privileged Gateway Intents → Message Content Intent.",
                self.account,
            )
            self.message_content = False
            await client.close()
            client = await self._login(message_content=False)
        self._client = client
        # known before any frame is read, so catch-up already drops our own earlier copies
        self._me = translate.Identity(
            user_id=str(client.user.id) if client.user else "",
            application_id=str(client.application_id or ""),
        )
        self._poster = Poster(
            client, self.settings, self.account, self._context, self._log, self._add_webhook
        )
        self._consumer = asyncio.create_task(self._consume())
        self._connection = asyncio.create_task(self._run_gateway(client))
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._connection}, timeout=CONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            failure = self._connection.exception() if self._connection in done else None
            await self.stop()
            with map_errors(self.account, "the gateway", "connect"):
                if failure is not None:
                    raise failure
            raise TransientError(f"discord {self.account}: no READY within {CONNECT_TIMEOUT}s")
        self._connection.add_done_callback(self._connection_ended)
        for room in sorted(self._rooms):
            if client.get_channel(snowflake_int(room)) is None:
                self._log.warning(
                    "discord %s: room %s is not a channel this bot can see; invite the bot to"
                    " its server or fix the room id",
                    self.account,
                    room,
                )

    async def _login(self, *, message_content: bool) -> _Client:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.guild_reactions = True
        intents.message_content = message_content
        client = _Client(
            self._queue.put_nowait,
            intents=intents,
            enable_debug_events=True,
            guild_ready_timeout=self.settings.guild_ready_timeout,
            max_ratelimit_timeout=self.settings.max_ratelimit_wait,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )
        try:
            with map_errors(self.account, "login", "log in"):
                await client.login(self.settings.token.get_secret_value())
        except BridgeError:
            await client.close()
            raise
        return client

    async def _run_gateway(self, client: _Client) -> None:
        """Keep the gateway connected.

        discord.py reconnects (and RESUMEs) on network trouble itself, but an exception from
        its own event parsers (a payload it cannot read) ends ``connect()``: reconnect then,
        and let the catch-up read what was missed.
        """
        backoff = Backoff(RECONNECT_BASE, RECONNECT_CAP, quiet=RECONNECT_QUIET)
        while not client.is_closed():
            try:
                await client.connect(reconnect=True)
                return
            except (discord.ConnectionClosed, discord.ClientException):
                raise  # bad token, refused intents...: start() or _connection_ended reports it
            except Exception as exc:
                delay = backoff.next_delay()
                self._log.warning(
                    "discord %s: discord.py failed on a gateway event (%r); reconnecting in %.1fs",
                    self.account,
                    exc,
                    delay,
                )
                if client.ws is not None:
                    with contextlib.suppress(Exception):
                        await client.ws.close(code=4000)
                await asyncio.sleep(delay)

    def _connection_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._client is None or self._client.is_closed():
            return
        exc = task.exception()
        self._log.error(
            "discord %s: gateway connection ended and will not reconnect: %r", self.account, exc
        )

    async def stop(self) -> None:
        """Close the gateway and HTTP session; safe to call twice."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        for task in (self._connection, self._consumer):
            if task is not None and not task.done():
                task.cancel()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._connection = self._consumer = None

    # ---- outbound --------------------------------------------------------------------

    def _require_poster(self) -> Poster:
        if self._poster is None or self._client is None:
            raise TransientError(f"discord {self.account}: not connected")
        return self._poster

    async def send(self, room: RoomRef, out: Outbound) -> str:
        """Post ``out`` in ``room`` (through the webhook, with the author's name)."""
        return await self._require_poster().send(room, out)

    async def edit(self, room: RoomRef, remote_id: str, out: Outbound) -> None:
        """Edit our copy ``remote_id``."""
        await self._require_poster().edit(room, remote_id, out)

    async def delete(self, room: RoomRef, remote_id: str) -> None:
        """Delete our copy ``remote_id``."""
        await self._require_poster().delete(room, remote_id)

    async def react(self, room: RoomRef, remote_id: str, emoji: str) -> None:
        """React to ``remote_id`` as the bot."""
        await self._require_poster().react(room, remote_id, emoji)

    def _add_webhook(self, webhook_id: int) -> None:
        me = self._me
        self._me = translate.Identity(
            me.user_id, me.application_id, me.webhook_ids | {str(webhook_id)}
        )

    # ---- inbound ---------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                frame = json.loads(text)
            except ValueError:
                self._log.warning("discord %s: dropped an undecodable gateway frame", self.account)
                continue
            if not isinstance(frame, dict) or frame.get("op") != 0:
                continue
            kind, data = frame.get("t"), frame.get("d")
            if not isinstance(data, dict):
                continue
            if kind == "READY":
                await self._catch_up()
                continue
            if kind == "THREAD_CREATE" and data.get("parent_id"):
                self._thread_parent[str(data.get("id"))] = str(data["parent_id"])
            if kind not in _HANDLED:
                continue
            await self._handle(str(kind), data)

    async def _handle(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "MESSAGE_CREATE" and str(data.get("id")) in self._seen:
            return
        try:
            event = await self._translate(kind, data)
        except (ValueError, KeyError, TypeError) as exc:
            self._log.warning(
                "discord %s: dropped a malformed %s event: %s", self.account, kind, exc
            )
            return
        if event is None:
            return
        await self._deliver(event)
        if event.kind is EventKind.MESSAGE:
            self._seen[event.remote_id] = None
            while len(self._seen) > 5000:
                del self._seen[next(iter(self._seen))]
            if event.thread is None:
                # only after emit returned: a crash before this re-reads the message
                await self._context.set_cursor(f"last:{event.room.room_id}", event.remote_id)

    async def _catch_up(self) -> None:
        """After a new session, report what each room got since its last reported message."""
        if self._client is None:
            return
        for room in sorted(self._rooms):
            last = await self._context.get_cursor(f"last:{room}")
            if not last or not last.isdigit():
                # a room never read before starts from now, not from its whole history
                now = str(discord.utils.time_snowflake(datetime.now(UTC)))
                await self._context.set_cursor(f"last:{room}", now)
                continue
            try:
                with map_errors(self.account, room, "read missed messages"):
                    missed = await missed_messages(self._client, room, last)
            except BridgeError as exc:
                self._log.warning(
                    "discord %s: could not catch up in %s: %s", self.account, room, exc
                )
                continue
            for raw in missed:
                await self._handle("MESSAGE_CREATE", cast(dict[str, Any], raw))

    async def _translate(self, kind: str, data: dict[str, Any]) -> Event | None:
        where = self._where(str(data.get("channel_id", "")))
        if where is None:
            return None
        room, thread = where
        names = CacheDirectory(self._client) if self._client else NoNames()
        if kind == "MESSAGE_CREATE":
            raw = cast(translate.RawMessage, data)
            event = translate.parse_message(raw, room, thread, self._me, names)
            if event is None or (not event.text and not event.attachments):
                return None  # echoes, system messages, and text withheld without the intent
            if await self._context.is_copy(room, event.remote_id):
                return None
            return event
        if kind == "MESSAGE_UPDATE":
            raw = cast(translate.RawMessage, data)
            event = translate.parse_edit(raw, room, thread, self._me, names)
        elif kind == "MESSAGE_DELETE":
            event = translate.parse_delete(cast(translate.RawMessageDelete, data), room, thread)
            if self._poster is not None and event.target in self._poster.deleted:
                return None
        else:
            raw_reaction = cast(translate.RawReaction, data)
            return translate.parse_reaction(raw_reaction, room, thread, self._me, names)
        # edits and deletes of our own copies (e.g. our own deletes) must not travel back
        if event is not None and event.target and await self._context.is_copy(room, event.target):
            return None
        return event

    def _where(self, channel_id: str) -> tuple[RoomRef, str | None] | None:
        """The configured room (and thread) a channel id belongs to, if any."""
        if channel_id in self._rooms:
            return RoomRef(self.account, channel_id), None
        parent = self._thread_parent.get(channel_id)
        if parent is None and self._client is not None:
            channel = self._client.get_channel(snowflake_int(channel_id))
            if isinstance(channel, discord.Thread):
                parent = str(channel.parent_id)
        if parent in self._rooms and parent is not None:
            return RoomRef(self.account, parent), channel_id
        return None

    async def _deliver(self, event: Event) -> None:
        assert self._emit is not None
        try:
            await self._emit(event)
        except RejectedEvent as exc:
            self._log.info(
                "discord %s: %s %s refused: %s", self.account, event.kind, event.remote_id, exc
            )
        except Exception:
            # one bad event must not stop the stream; the core logged what it could
            self._log.exception(
                "discord %s: the core failed on %s %s in %s",
                self.account,
                event.kind,
                event.remote_id,
                event.room,
            )
