"""A Discord lab server: REST ``/api/v10``, a gateway websocket and a ``/_lab/`` control API.

Real discord.py clients talk to it over loopback (the adapter sets discord.py's two module
globals to point at it). Tests and ``bridgebot demo`` drive it through the Python methods
(``post_as_user``, ``history``, ``drop_gateway``...) or the same over HTTP under ``/_lab/``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridgebot.lab import account_table
from bridgebot.lab.discord_gateway import Gateway
from bridgebot.lab.discord_model import JSON, Bot, LabError, Ping
from bridgebot.lab.discord_ratelimit import RateLimitConfig, RateLimiter
from bridgebot.lab.discord_rest import RestApi, json_response
from bridgebot.lab.discord_state import LabWorld

__all__ = ["DiscordLab", "LabError", "Ping", "RateLimitConfig"]

DEFAULT_TOKEN = "lab-bot-token"


class DiscordLab:
    """One Discord "world" (a guild with channels, users and one bot) served on loopback.

    ``bot_token`` is the token the bot must present; ``message_content`` is whether the
    bot's application has the message-content intent enabled (the portal toggle).
    """

    api_prefix = "/api/v10"

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_TOKEN,
        bot_name: str = "bridgebot",
        message_content: bool = True,
        rate_limits: RateLimitConfig | None = None,
        heartbeat_interval_ms: int = 41_250,
        max_upload_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        self.world = LabWorld()
        self.ratelimiter = RateLimiter(rate_limits or RateLimitConfig())
        self.max_upload_bytes = max_upload_bytes
        self.gateway = Gateway(self.world, lambda: self.ws_url, heartbeat_interval_ms)
        #: (method, path, JSON payload) of every API request with a body, for assertions.
        self.received: list[tuple[str, str, JSON]] = []
        self.guild = self.world.add_guild("Lab guild")
        self.bot: Bot = self.world.add_bot(bot_name, bot_token, message_content=message_content)
        self.url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._rest = RestApi(self)

    # ---- lifecycle -----------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (0 picks a free port); sets ``url`` and ``port``."""
        app = web.Application(middlewares=[self._rest.middleware], client_max_size=64 * 2**20)
        app.add_routes(self._rest.routes(self.api_prefix))
        app.add_routes(
            [
                web.get("/gateway", self.gateway.handle),
                web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self._file),
                web.post("/_lab/post", self._lab_post),
                web.post("/_lab/edit", self._lab_act),
                web.post("/_lab/delete", self._lab_act),
                web.post("/_lab/react", self._lab_act),
                web.get("/_lab/history", self._lab_history),
                web.post("/_lab/users", self._lab_user),
                web.post("/_lab/channels", self._lab_channel),
                web.get("/_lab/pings", self._lab_pings),
                web.post("/_lab/drop", self._lab_drop),
                web.get("/_lab/state", self._lab_state),
            ]
        )
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.url = f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Close every gateway socket and stop serving; safe to call twice."""
        if self._runner is None:
            return
        await self.gateway.close_all(1001)
        await self._runner.cleanup()
        self._runner = None

    @property
    def api_url(self) -> str:
        """The REST base, for ``discord.http.Route.BASE``."""
        return self.url + self.api_prefix

    @property
    def ws_url(self) -> str:
        """The gateway URL, for ``DiscordWebSocket.DEFAULT_GATEWAY``."""
        return self.url.replace("http://", "ws://", 1) + "/gateway"

    def account_toml(self, account: str = "lab", **extra: object) -> str:
        """bot.toml's table for an account on this lab; the token from DISCORD_TOKEN."""
        return account_table(
            "discord",
            account,
            token="${DISCORD_TOKEN}",
            base_url=self.api_url,
            gateway_url=self.ws_url,
            **extra,
        )

    # ---- world building --------------------------------------------------------------

    def create_user(self, name: str) -> str:
        """A human member of the guild; returns the user id."""
        return str(self.world.add_user(name)["id"])

    def create_channel(self, name: str) -> str:
        """A text channel in the guild; returns its id (connected bots get CHANNEL_CREATE)."""
        channel = self.world.add_channel(self.guild["id"], name)
        self.gateway.dispatch("CHANNEL_CREATE", channel, "GUILDS")
        return str(channel["id"])

    def create_role(self, name: str) -> str:
        """A mentionable role in the guild; returns its id."""
        return str(self.world.add_role(self.guild["id"], name)["id"])

    def deny(self, channel_id: str, permission: str) -> None:
        """Withhold a permission (``MANAGE_WEBHOOKS``, ``SEND_MESSAGES``) from the bot there."""
        self.world.denied.setdefault(channel_id, set()).add(permission)

    # ---- acting as humans ------------------------------------------------------------

    def post_as_user(self, channel: str, user_id: str, text: str, **extra: Any) -> JSON:
        """Post a message as a human (``reply_to``, ``attachments``, ``sticker_items``)."""
        payload: JSON = {"content": text}
        if extra.get("reply_to"):
            payload["message_reference"] = {"message_id": str(extra["reply_to"])}
        if extra.get("sticker_items"):
            payload["sticker_items"] = extra["sticker_items"]
        files = [
            self.store_file(name, mime, data) for name, mime, data in extra.get("attachments", [])
        ]
        message = self.world.create_message(
            channel, self.world.users[user_id], payload, attachments=files
        )
        self.dispatch_message("MESSAGE_CREATE", message)
        return message

    def edit_as_user(self, channel: str, message_id: str, text: str) -> JSON:
        """Edit a message's text as its author."""
        message = self.world.edit_message(channel, message_id, {"content": text})
        self.dispatch_message("MESSAGE_UPDATE", message)
        return message

    def delete_as_user(self, channel: str, message_id: str) -> None:
        """Delete a message."""
        self.dispatch_delete(self.world.delete_message(channel, message_id))

    def react(self, channel: str, message_id: str, user_id: str, emoji: str) -> None:
        """Add a reaction (unicode, or ``name:id`` for a custom emoji) and dispatch it."""
        emoji_obj = self.world.add_reaction(channel, message_id, emoji, user_id)
        thread = self.world.channel(channel)
        data: JSON = {
            "user_id": user_id,
            "channel_id": channel,
            "message_id": message_id,
            "guild_id": thread.get("guild_id"),
            "emoji": emoji_obj,
            "burst": False,
            "type": 0,
        }
        self.gateway.dispatch("MESSAGE_REACTION_ADD", data, "GUILD_MESSAGE_REACTIONS")

    def create_thread(self, channel: str, message_id: str, name: str, user_id: str) -> JSON:
        """Start a thread from a message (the thread's id is the message id)."""
        thread = self.world.add_thread(channel, message_id, name, user_id)
        self.gateway.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, "GUILDS")
        return thread

    def history(self, channel: str) -> list[JSON]:
        """Every message in a channel or thread, oldest first."""
        return list(self.world.messages.get(channel, []))

    @property
    def pings(self) -> list[Ping]:
        """Every mention that would have notified someone."""
        return list(self.world.pings)

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close every gateway connection with ``code`` (4000 resumable, 4009 not)."""
        await self.gateway.close_all(code)

    def rate_limit_next(self, count: int, retry_after: float, *, is_global: bool = False) -> None:
        """Answer the next ``count`` API requests with 429 (a "429 storm")."""
        self.ratelimiter.force(count, retry_after, is_global=is_global)

    # ---- used by the REST handlers -----------------------------------------------------

    def store_file(self, filename: str, mime: str, data: bytes) -> JSON:
        """Keep an upload and describe it as a Discord attachment object."""
        aid = self.world.snowflake()
        self.world.files[aid] = (mime, data)
        return {
            "id": aid,
            "filename": filename,
            "size": len(data),
            "url": f"{self.url}/attachments/0/{aid}/{filename}",
            "proxy_url": f"{self.url}/attachments/0/{aid}/{filename}",
            "content_type": mime,
        }

    def dispatch_message(self, event: str, message: JSON) -> None:
        """Send a MESSAGE_CREATE/UPDATE to every bot session holding GUILD_MESSAGES."""
        self.gateway.dispatch(event, message, "GUILD_MESSAGES")

    def dispatch_delete(self, message: JSON) -> None:
        """Send a MESSAGE_DELETE."""
        data = {k: message.get(k) for k in ("id", "channel_id", "guild_id")}
        self.gateway.dispatch("MESSAGE_DELETE", data, "GUILD_MESSAGES")

    # ---- HTTP control surface (/_lab/) --------------------------------------------------

    async def _file(self, request: web.Request) -> web.Response:
        found = self.world.files.get(request.match_info["attachment_id"])
        if found is None:
            raise web.HTTPNotFound()
        mime, data = found
        return web.Response(body=data, headers={"Content-Type": mime})

    @staticmethod
    async def _json(request: web.Request) -> JSON:
        try:
            data = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text="body must be JSON") from exc
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return data

    async def _lab_post(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        try:
            message = self.post_as_user(
                str(data["channel"]),
                str(data["user"]),
                str(data.get("text", "")),
                reply_to=data.get("reply_to"),
            )
        except KeyError as exc:
            return json_response({"error": f"missing or unknown {exc}"}, 400)
        except LabError as exc:
            return json_response(exc.body(), exc.status)
        return json_response(message)

    async def _lab_act(self, request: web.Request) -> web.Response:
        """``/_lab/edit`` {channel, message_id, text}, ``/_lab/delete`` {channel, message_id},
        ``/_lab/react`` {channel, message_id, user, emoji}."""
        data = await self._json(request)
        action = request.path.rsplit("/", 1)[-1]
        try:
            channel, message_id = str(data["channel"]), str(data["message_id"])
            if action == "edit":
                return json_response(self.edit_as_user(channel, message_id, str(data["text"])))
            if action == "delete":
                self.delete_as_user(channel, message_id)
            else:
                self.react(channel, message_id, str(data["user"]), str(data["emoji"]))
        except KeyError as exc:
            return json_response({"error": f"missing {exc}"}, 400)
        except LabError as exc:
            return json_response(exc.body(), exc.status)
        return json_response({"ok": True})

    async def _lab_history(self, request: web.Request) -> web.Response:
        return json_response(self.history(request.query.get("channel", "")))

    async def _lab_user(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        return json_response({"id": self.create_user(str(data.get("name", "user")))})

    async def _lab_channel(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        return json_response({"id": self.create_channel(str(data.get("name", "channel")))})

    async def _lab_pings(self, request: web.Request) -> web.Response:
        return json_response([_ping(p) for p in self.pings])

    async def _lab_drop(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        code = data.get("code", 4000)
        if not isinstance(code, int) or not 1000 <= code <= 4999:
            return json_response({"error": "code must be an int 1000-4999"}, 400)
        await self.drop_gateway(code)
        return json_response({"closed": code})

    async def _lab_state(self, request: web.Request) -> web.Response:
        state = {
            "guild": {"id": self.guild["id"], "name": self.guild["name"]},
            "channels": [
                {"id": c["id"], "name": c["name"], "type": c["type"]}
                for c in self.world.channels.values()
            ],
            "users": list(self.world.users.values()),
            "bot": self.bot.user,
        }
        return json_response(state)


def _ping(p: Ping) -> JSON:
    return {
        "channel_id": p.channel_id,
        "message_id": p.message_id,
        "kind": p.kind,
        "target": p.target,
    }
