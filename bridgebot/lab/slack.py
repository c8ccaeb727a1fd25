"""A Slack workspace on loopback: Web API, Socket Mode and a control surface under ``/_lab/``.

The official slack_sdk / slack-bolt clients talk to it unchanged through ``base_url``
(``lab.api_url``) and the Socket Mode URL it hands out. Tests and ``bridgebot demo`` act
as the humans through :meth:`SlackLab.post_as_user` and friends, or over HTTP:

- ``POST /_lab/users`` ``{name, display_name?}`` and ``POST /_lab/channels`` ``{name}``
- ``POST /_lab/post`` ``{channel, user, text, thread_ts?}``; ``/_lab/edit``
  ``{channel, ts, text}``; ``/_lab/delete`` ``{channel, ts}``; ``/_lab/react``
  ``{channel, ts, user, name}``
- ``GET /_lab/history?channel=C…``; ``GET /_lab/state``
- ``POST /_lab/drop`` (close every socket) and ``POST /_lab/reconnect`` (``disconnect``)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bridgebot.lab import account_table
from bridgebot.lab.slack_api import ApiFail, WebApi
from bridgebot.lab.slack_socket import SocketHub
from bridgebot.lab.slack_state import (
    BOT_SCOPES,
    LabChannel,
    LabFile,
    LabUser,
    SlackWorld,
    broadcast_mentions,
    user_mentions,
)

__all__ = [
    "BOT_SCOPES",
    "LabChannel",
    "LabUser",
    "SlackLab",
    "broadcast_mentions",
    "user_mentions",
]

log = logging.getLogger(__name__)

_Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SlackLab:
    """One Slack workspace with one bot (``bot_token`` / ``app_token``) and its people."""

    def __init__(
        self,
        *,
        scopes: frozenset[str] = BOT_SCOPES,
        post_rate: float | None = 1.0,
        post_burst: int = 3,
        bot_token: str = "xoxb-lab-bot-token",
        app_token: str = "xapp-1-lab-app-token",
    ) -> None:
        self.world = SlackWorld(
            scopes=scopes,
            post_rate=post_rate,
            post_burst=post_burst,
            bot_token=bot_token,
            app_token=app_token,
        )
        self.sockets = SocketHub(self.world.team_id, self.world.app_id, self.world.bot.id)
        self.api = WebApi(self.world, self.sockets, lambda: self.url)
        self.url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The ``base_url`` for slack_sdk clients (the trailing slash matters)."""
        return f"{self.url}/api/"

    def account_toml(self, account: str = "lab", **extra: object) -> str:
        """bot.toml's table for an account on this lab; tokens from SLACK_BOT_TOKEN and
        SLACK_APP_TOKEN."""
        return account_table(
            "slack",
            account,
            bot_token="${SLACK_BOT_TOKEN}",
            app_token="${SLACK_APP_TOKEN}",
            base_url=self.api_url,
            **extra,
        )

    @property
    def bot_token(self) -> str:
        """The bot's ``xoxb-`` token."""
        return self.world.bot_token

    @property
    def app_token(self) -> str:
        """The app-level ``xapp-`` token for Socket Mode."""
        return self.world.app_token

    @property
    def bot(self) -> LabUser:
        """The bot user (``id`` and ``bot_id``)."""
        return self.world.bot

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0: an ephemeral port); sets ``url`` and ``port``."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self.api.handle)
        app.router.add_get("/_lab/socket", self.sockets.handle)
        app.router.add_post("/_lab/upload/{file_id}", self._upload)
        app.router.add_get("/_lab/files/{file_id}/{name}", self._download)
        for path, handler in self._control_routes().items():
            method, _, route = path.partition(" ")
            app.router.add_route(method, route, handler)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.url = f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Close every socket and stop listening; safe to call twice."""
        if self._runner is not None:
            await self.sockets.close()
            await self._runner.cleanup()
            self._runner = None

    # -- people and places ---------------------------------------------------------------

    def add_user(self, name: str, *, display_name: str | None = None) -> str:
        """Create a person; returns their user id."""
        return self.world.add_user(name, display_name=display_name).id

    def add_channel(
        self, name: str, *, members: tuple[str, ...] = (), private: bool = False, bot: bool = True
    ) -> str:
        """Create a channel (the bot is a member unless ``bot=False``); returns its id."""
        return self.world.add_channel(name, members=members, private=private, bot=bot).id

    # -- acting as humans ----------------------------------------------------------------

    def post_as_user(self, channel: str, user_id: str, text: str, **extra: Any) -> dict[str, Any]:
        """Post ``text`` as a person; stores it and sends the ``message`` event to the bot.

        ``extra`` adds message fields such as ``thread_ts``.
        """
        channel_id = self._channel(channel)
        self._user(user_id)
        message = self.world.human_message(channel_id, user_id, text, self.world.new_ts(), extra)
        if message.get("thread_ts"):
            root = self.world.thread_root(channel_id, str(message["thread_ts"]))
            if root is None:
                raise ApiFail("thread_not_found")
            message["thread_ts"] = root
        self.world.store(channel_id, message)
        self._deliver(channel_id, {**message, "channel": channel_id, "event_ts": message["ts"]})
        return message

    def edit_as_user(self, channel: str, ts: str, text: str) -> dict[str, Any]:
        """Change a person's message; sends ``message_changed``."""
        channel_id = self._channel(channel)
        message = self._message(channel_id, ts)
        previous = dict(message)
        message["text"] = text
        message["edited"] = {"user": message.get("user"), "ts": self.world.new_ts()}
        if self._bot_sees(channel_id):
            self.api._deliver_changed(channel_id, message, previous)
        return message

    def delete_as_user(self, channel: str, ts: str) -> None:
        """Delete a message; sends ``message_deleted``."""
        channel_id = self._channel(channel)
        message = self._message(channel_id, ts)
        self.world.messages[channel_id].remove(message)
        if self._bot_sees(channel_id):
            self.api._deliver_deleted(channel_id, message)

    def react_as_user(self, channel: str, ts: str, user_id: str, name: str) -> None:
        """Add reaction ``name`` (a Slack emoji name) by a person; sends ``reaction_added``."""
        channel_id = self._channel(channel)
        self._user(user_id)
        self.api.add_reaction(channel_id, ts, user_id, name)

    def upload_as_user(
        self, channel: str, user_id: str, filename: str, data: bytes, text: str = ""
    ) -> dict[str, Any]:
        """Share a file as a person: a ``file_share`` message and a ``file_shared`` event."""
        channel_id = self._channel(channel)
        self._user(user_id)
        file = LabFile(self.world.new_id("F"), filename, len(data), user_id, data=data)
        self.world.files[file.id] = file
        return self.api.files.share(channel_id, user_id, [file], text)

    def history(self, channel: str) -> list[dict[str, Any]]:
        """Every message in ``channel``, oldest first (what the channel shows now)."""
        return list(self.world.messages[self._channel(channel)])

    def file_data(self, file_id: str) -> bytes | None:
        """The bytes uploaded for ``file_id``."""
        file = self.world.files.get(file_id)
        return None if file is None else file.data

    # -- sockets -------------------------------------------------------------------------

    async def drop_sockets(self) -> None:
        """Close every Socket Mode connection from the server side."""
        await self.sockets.drop()

    async def request_reconnect(self, reason: str = "refresh_requested") -> None:
        """Send ``disconnect`` so the app opens a new connection and leaves the old one."""
        await self.sockets.request_reconnect(reason)

    async def wait_acked(self) -> None:
        """Wait until the app has acknowledged every event sent to it (bring a timeout)."""
        await self.sockets.wait_acked()

    # -- internals -----------------------------------------------------------------------

    def _channel(self, ref: str) -> str:
        channel = self.world.find_channel(ref)
        if channel is None:
            raise ApiFail("channel_not_found")
        return channel.id

    def _user(self, user_id: str) -> None:
        if user_id not in self.world.users:
            raise ApiFail("user_not_found")

    def _message(self, channel_id: str, ts: str) -> dict[str, Any]:
        message = self.world.find_message(channel_id, ts)
        if message is None:
            raise ApiFail("message_not_found")
        return message

    def _bot_sees(self, channel_id: str) -> bool:
        return self.world.bot.id in self.world.channels[channel_id].members

    def _deliver(self, channel_id: str, event: dict[str, Any]) -> None:
        # Slack sends channel events only to apps whose bot is in the channel.
        if self._bot_sees(channel_id):
            self.sockets.deliver(event)

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.world.files.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="unknown upload")
        file.data = await request.read()
        return web.Response(text=f"OK - {len(file.data)}")

    async def _download(self, request: web.Request) -> web.Response:
        # url_private needs the bot token, as on Slack.
        if request.headers.get("Authorization") != f"Bearer {self.world.bot_token}":
            return web.Response(status=403, text="token required")
        data = self.file_data(request.match_info["file_id"])
        if data is None:
            return web.Response(status=404, text="no such file")
        return web.Response(body=data)

    def _control_routes(self) -> dict[str, _Route]:
        return {
            "POST /_lab/users": self._json(
                lambda b: {"id": self.add_user(b["name"], display_name=b.get("display_name"))}
            ),
            "POST /_lab/channels": self._json(lambda b: {"id": self.add_channel(b["name"])}),
            "POST /_lab/post": self._json(
                lambda b: self.post_as_user(
                    b["channel"], b["user"], b["text"], **_thread(b.get("thread_ts"))
                )
            ),
            "POST /_lab/edit": self._json(
                lambda b: self.edit_as_user(b["channel"], b["ts"], b["text"])
            ),
            "POST /_lab/delete": self._json(self._delete_body),
            "POST /_lab/react": self._json(self._react_body),
            "GET /_lab/history": self._history,
            "GET /_lab/state": self._state,
            "POST /_lab/drop": self._act(self.drop_sockets),
            "POST /_lab/reconnect": self._act(self.request_reconnect),
        }

    def _delete_body(self, body: dict[str, Any]) -> dict[str, Any]:
        self.delete_as_user(body["channel"], body["ts"])
        return {}

    def _react_body(self, body: dict[str, Any]) -> dict[str, Any]:
        self.react_as_user(body["channel"], body["ts"], body["user"], body["name"])
        return {}

    def _json(self, action: Callable[[dict[str, Any]], Any]) -> _Route:
        async def route(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                result = action(body)
            except ApiFail as fail:
                return web.json_response({"ok": False, "error": fail.error}, status=400)
            except (ValueError, KeyError, TypeError) as exc:
                return web.json_response(
                    {"ok": False, "error": f"bad request: {type(exc).__name__} {exc}"}, status=400
                )
            return web.json_response({"ok": True, "result": result})

        return route

    def _act(self, action: Callable[[], Awaitable[None]]) -> _Route:
        async def route(request: web.Request) -> web.StreamResponse:
            await action()
            return web.json_response({"ok": True})

        return route

    async def _history(self, request: web.Request) -> web.StreamResponse:
        try:
            messages = self.history(request.query.get("channel", ""))
        except ApiFail as fail:
            return web.json_response({"ok": False, "error": fail.error}, status=400)
        return web.json_response({"ok": True, "messages": messages})

    async def _state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "ok": True,
                "bot": self.world.bot.id,
                "users": [u.to_api(self.world.team_id) for u in self.world.users.values()],
                "channels": [c.to_api(self.world.bot.id) for c in self.world.channels.values()],
                "connections": len(self.sockets.connections),
            }
        )


def _thread(thread_ts: object) -> dict[str, Any]:
    return {"thread_ts": str(thread_ts)} if thread_ts else {}
