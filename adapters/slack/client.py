"""The Slack adapter's I/O: slack-bolt over Socket Mode in, the Web API out.

Parsing and rendering live in :mod:`adapters.slack.translate`; errors are translated in
:mod:`adapters.slack.errors`. Events are acknowledged only after ``emit`` returns
(``process_before_response``), so an event the core has not accepted is redelivered by
Slack after a dropped connection instead of being lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
from typing import Any, cast

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.settings import SlackSettings
from adapters.slack.emoji import to_slack
from adapters.slack.errors import call
from adapters.slack.order import Sequencer
from adapters.slack.render import copy_with_key, render_post, render_update
from adapters.slack.translate import (
    MAX_TEXT_LENGTH,
    Directory,
    Identity,
    MalformedEvent,
    UserInfo,
    needed_ids,
    parse_event,
)
from adapters.slack.workspace import check_scopes, resolve_rooms
from bridgebot.contract import AdapterSetup, Emit
from bridgebot.errors import PermanentError, RateLimited, RejectedEvent, TransientError
from bridgebot.model import Attachment, Capabilities, Event, EventKind, Outbound, RoomRef

__all__ = ["SlackAdapter"]

_CACHE_LIMIT = 10_000


class SlackAdapter:
    """One Slack app in one workspace (``[networks.slack.NAME]``)."""

    network = "slack"

    def __init__(self, setup: AdapterSetup) -> None:
        self.account = setup.account
        self.settings = cast(SlackSettings, setup.settings)
        self.capabilities = Capabilities(max_text_length=MAX_TEXT_LENGTH)
        self._rooms = setup.rooms
        self._context = setup.context
        self.log = setup.log
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._handler: AsyncSocketModeHandler | None = None
        self._emit: Emit | None = None
        self._me = Identity("", "")
        self._customize = False
        self._channel_of: dict[str, str] = {}  # configured room id -> channel id
        self._room_of: dict[str, str] = {}  # channel id -> configured room id
        self._users: dict[str, UserInfo] = {}
        self._channel_names: dict[str, str] = {}
        self._order = Sequencer()
        self._uncertain: set[str] = set()  # keys whose post may have succeeded unseen

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Check the tokens and scopes, resolve the rooms, then open the Socket Mode link.

        PermanentError (bad token, missing scope, unknown room) says what to fix;
        TransientError means Slack could not be reached and a retry may work.
        """
        self._emit = emit
        self._channel_of.clear()
        self._room_of.clear()
        try:
            await self._connect()
        except BaseException:
            await self.stop()
            raise
        self.log.info("slack account %s connected as %s", self.account, self._me.user_id)

    async def _connect(self) -> None:
        self._session = aiohttp.ClientSession()
        client = self._client = AsyncWebClient(
            token=self.settings.bot_token.get_secret_value(),
            base_url=self.settings.base_url,
            session=self._session,
        )
        auth = await call(self.account, "auth.test (checking bot_token)", client.auth_test)
        self._me = Identity(str(auth.get("user_id") or ""), str(auth.get("bot_id") or ""))
        if not self._me.user_id or not self._me.bot_id:
            raise PermanentError(
                f"slack account {self.account}: bot_token is not a bot token; use the app's "
                "Bot User OAuth Token (xoxb-), not the app-level token (xapp-)"
            )
        self._customize = check_scopes(self.account, auth.headers.get("X-OAuth-Scopes"), self.log)
        self.capabilities = dataclasses.replace(
            self.capabilities, per_message_identity=self._customize
        )
        found = await resolve_rooms(self.account, client, self._rooms, self._me.user_id)
        for room, info in found.items():
            channel_id = str(info["id"])
            self._channel_of[room] = channel_id
            self._room_of[channel_id] = room
            self._channel_names[channel_id] = str(info.get("name") or channel_id)

        app = AsyncApp(
            client=client,
            process_before_response=True,
            # Every event must reach _on_event to keep the arrival order (see order.py);
            # translate drops our own echoes itself.
            ignoring_self_events_enabled=False,
            logger=self.log.getChild("bolt"),
        )
        app.event(re.compile(".*"))(self._on_event)
        app_token = self.settings.app_token.get_secret_value()
        handler = self._handler = AsyncSocketModeHandler(
            app,
            app_token,
            logger=self.log.getChild("socket"),
            ping_interval=self.settings.ping_interval,
        )
        handler.client.message_listeners.append(self._on_envelope)
        # The SDK's connect() retries a refused app token forever; ask once ourselves so
        # that a bad token is a clear PermanentError at start.
        opened = await call(
            self.account,
            "apps.connections.open (checking app_token)",
            lambda: client.apps_connections_open(app_token=app_token),
        )
        handler.client.wss_uri = str(opened["url"])
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                await handler.connect_async()  # type: ignore[no-untyped-call]
        except TimeoutError as exc:
            raise TransientError(
                f"slack account {self.account}: Socket Mode did not connect within "
                f"{self.settings.connect_timeout}s"
            ) from exc

    async def stop(self) -> None:
        """Close the Socket Mode link and the HTTP session; safe to call twice."""
        handler, self._handler = self._handler, None
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- inbound -------------------------------------------------------------------------

    async def _on_envelope(self, client: object, message: dict[str, Any], raw: object) -> None:
        # Runs in arrival order and must not await anything before arrive().
        payload = message.get("payload")
        if message.get("type") == "events_api" and isinstance(payload, dict):
            self._order.arrive(str(payload.get("event_id")))

    async def _on_event(self, body: dict[str, Any]) -> None:
        async with self._order.turn(str(body.get("event_id"))):
            await self._handle(body)

    async def _handle(self, body: dict[str, Any]) -> None:
        raw = body.get("event")
        if not isinstance(raw, dict):
            self.log.warning("slack account %s: dropped an envelope without event", self.account)
            return
        try:
            users, channels = needed_ids(raw)
            await self._learn_names(users, channels)
            event = parse_event(raw, self._directory())
        except MalformedEvent as exc:
            self.log.warning(
                "slack account %s: dropped a malformed %s event (%s)",
                self.account,
                raw.get("type"),
                exc,
            )
            return
        if event is None or await self._is_copy(event):
            return
        if event.attachments:
            event = dataclasses.replace(event, attachments=await self._fetch(event.attachments))
        assert self._emit is not None  # set by start() before events can arrive
        try:
            await self._emit(event)
        except RejectedEvent as exc:
            self.log.info("slack account %s: event not relayed: %s", self.account, exc)

    async def _is_copy(self, event: Event) -> bool:
        if event.kind == EventKind.REACTION:
            return False  # a person reacting to one of our copies is news, not an echo
        remote_id = event.target if event.kind != EventKind.MESSAGE else event.remote_id
        return bool(remote_id) and await self._context.is_copy(event.room, str(remote_id))

    def _directory(self) -> Directory:
        return Directory(
            account=self.account,
            me=self._me,
            users=self._users,
            channels=self._channel_names,
            rooms=self._room_of,
        )

    async def _learn_names(self, users: set[str], channels: set[str]) -> None:
        """Fill the name caches; a failed lookup falls back to the raw id, not an error."""
        client = self._client
        if client is None:
            return
        if len(self._users) > _CACHE_LIMIT:
            self._users.clear()
        for user in users - self._users.keys():
            try:
                found = await client.users_info(user=user)
                profile = found["user"].get("profile") or {}
                name = profile.get("display_name") or found["user"].get("real_name") or user
                self._users[user] = UserInfo(str(name), profile.get("image_72"))
            except (SlackApiError, aiohttp.ClientError, TimeoutError, KeyError) as exc:
                self.log.warning(
                    "slack account %s: users.info %s failed: %s", self.account, user, exc
                )
                self._users[user] = UserInfo(user)
        for channel in channels - self._channel_names.keys():
            try:
                found = await client.conversations_info(channel=channel)
                self._channel_names[channel] = str(found["channel"].get("name") or channel)
            except (SlackApiError, aiohttp.ClientError, TimeoutError, KeyError) as exc:
                self.log.warning(
                    "slack account %s: conversations.info %s failed: %s",
                    self.account,
                    channel,
                    exc,
                )
                self._channel_names[channel] = channel

    async def _fetch(self, files: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
        """Download small files: Slack's url_private needs our token, so others cannot."""
        out: list[Attachment] = []
        for file in files:
            if (
                file.url is None
                or self._session is None
                or file.size > self.settings.max_inline_bytes
            ):
                out.append(file)
                continue
            headers = {"Authorization": f"Bearer {self.settings.bot_token.get_secret_value()}"}
            try:
                async with self._session.get(file.url, headers=headers) as resp:
                    resp.raise_for_status()
                    data = await resp.content.read(self.settings.max_inline_bytes + 1)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.log.warning(
                    "slack account %s: could not fetch file %r (%s); relaying its link",
                    self.account,
                    file.filename,
                    type(exc).__name__,
                )
                out.append(file)
                continue
            if len(data) > self.settings.max_inline_bytes:
                out.append(file)
            else:
                out.append(dataclasses.replace(file, data=data, size=len(data)))
        return tuple(out)

    # -- outbound ------------------------------------------------------------------------

    async def send(self, room: RoomRef, out: Outbound) -> str:
        """Post ``out`` (then upload its files) in ``room``; returns the message ts.

        Slack has no idempotency key. When a post failed in a way that may have hidden
        a success (timeout, 5xx), the retry first looks for a copy carrying ``out.key``
        in the channel's recent history and returns that instead of posting twice.
        """
        client, channel = self._target(room)
        if out.key in self._uncertain:
            found = await self._find_copy(client, channel, room, out.key)
            self._uncertain.discard(out.key)
            if found is not None:
                return found
        args = render_post(
            out, channel, customize=self._customize, upload_limit=self.settings.max_upload_bytes
        )
        try:
            posted = await call(
                self.account,
                f"chat.postMessage in {room}",
                lambda: client.chat_postMessage(**args),
            )
        except RateLimited:
            raise  # refused before posting: nothing to look for
        except TransientError:
            if len(self._uncertain) > _CACHE_LIMIT:
                self._uncertain.clear()
            self._uncertain.add(out.key)
            raise
        ts = str(posted["ts"])
        for attachment in out.attachments:
            data = attachment.data
            if data is None or len(data) > self.settings.max_upload_bytes:
                continue
            await call(
                self.account,
                f"file upload of {attachment.filename!r} in {room}",
                functools.partial(
                    client.files_upload_v2,
                    channel=channel,
                    file=data,
                    filename=attachment.filename,
                    thread_ts=args.get("thread_ts"),
                ),
            )
        return ts

    async def _find_copy(
        self, client: AsyncWebClient, channel: str, room: RoomRef, key: str
    ) -> str | None:
        history = await call(
            self.account,
            f"conversations.history in {room} (looking for an earlier copy)",
            functools.partial(
                client.conversations_history,
                channel=channel,
                limit=100,
                include_all_metadata=True,
            ),
        )
        return copy_with_key(history.get("messages") or [], key)

    async def edit(self, room: RoomRef, remote_id: str, out: Outbound) -> None:
        """Replace the text of our copy ``remote_id`` (``chat.update``)."""
        client, channel = self._target(room)
        args = render_update(out, channel, remote_id, customize=self._customize)
        await call(self.account, f"chat.update in {room}", lambda: client.chat_update(**args))

    async def delete(self, room: RoomRef, remote_id: str) -> None:
        """Delete our copy ``remote_id``; one already gone counts as deleted."""
        client, channel = self._target(room)
        await call(
            self.account,
            f"chat.delete in {room}",
            lambda: client.chat_delete(channel=channel, ts=remote_id),
            done_codes=("message_not_found",),
        )

    async def react(self, room: RoomRef, remote_id: str, emoji: str) -> None:
        """Add ``emoji`` to ``remote_id``; a reaction already there counts as added."""
        client, channel = self._target(room)
        name = to_slack(emoji)
        if name is None:
            raise PermanentError(
                f"slack account {self.account}, {room}: no Slack name known for the reaction "
                f"{emoji!r}"
            )
        await call(
            self.account,
            f"reactions.add in {room}",
            lambda: client.reactions_add(channel=channel, timestamp=remote_id, name=name),
            done_codes=("already_reacted",),
        )

    # -- helpers -------------------------------------------------------------------------

    def _target(self, room: RoomRef) -> tuple[AsyncWebClient, str]:
        if self._client is None:
            raise PermanentError(f"slack account {self.account}: not started")
        channel = self._channel_of.get(room.room_id, room.room_id)
        if channel.startswith("#"):
            raise PermanentError(
                f"slack account {self.account}: room {room} was not resolved at start"
            )
        return self._client, channel
