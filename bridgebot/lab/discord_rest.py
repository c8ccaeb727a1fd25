"""The Discord lab's REST API (``/api/v10``): the routes a bridge bot uses.

Written from the public API reference: Users (``/users/@me``), Applications
(``/oauth2/applications/@me``), Gateway (``/gateway``, ``/gateway/bot``), Channel messages
(create, get, list, edit, delete), reactions, threads from a message, channel webhooks
(create, list), webhook execution (``wait``, ``thread_id``, ``username``, ``avatar_url``) and
webhook message edit/delete. Bodies are JSON or multipart (``payload_json`` + ``files[n]``).
Every JSON answer carries ``Content-Type: application/json`` exactly.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from bridgebot.lab.discord_model import JSON, Bot, LabError, check_webhook_name
from bridgebot.lab.discord_ratelimit import RateLimiter
from bridgebot.lab.discord_state import LabWorld

__all__ = ["RestApi", "RestHost", "json_response"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RestHost(Protocol):
    """What the REST handlers need of the lab (``DiscordLab`` is one)."""

    @property
    def world(self) -> LabWorld: ...
    @property
    def ratelimiter(self) -> RateLimiter: ...
    @property
    def api_prefix(self) -> str: ...
    @property
    def ws_url(self) -> str: ...
    @property
    def max_upload_bytes(self) -> int: ...
    @property
    def received(self) -> list[tuple[str, str, JSON]]: ...

    def store_file(self, filename: str, mime: str, data: bytes) -> JSON:
        """Keep an upload; its Discord attachment object."""
        ...

    def dispatch_message(self, event: str, message: JSON) -> None:
        """MESSAGE_CREATE/UPDATE on the gateway."""
        ...

    def dispatch_delete(self, message: JSON) -> None:
        """MESSAGE_DELETE on the gateway."""
        ...

    def react(self, channel: str, message_id: str, user_id: str, emoji: str) -> None:
        """Add a reaction and dispatch it."""
        ...

    def create_thread(self, channel: str, message_id: str, name: str, user_id: str) -> JSON:
        """Start a thread from a message and dispatch it."""
        ...


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer with the exact Content-Type discord.py requires (no charset suffix)."""
    out = dict(headers or {})
    out["Content-Type"] = "application/json"
    return web.Response(status=status, body=json.dumps(data).encode(), headers=out)


class RestApi:
    """Route handlers over the lab's world; every mutation is also dispatched on the gateway."""

    def __init__(self, lab: RestHost) -> None:
        self.lab = lab
        self.world = lab.world

    def routes(self, prefix: str) -> list[web.RouteDef]:
        """The REST routes under ``prefix`` (e.g. ``/api/v10``)."""
        p = prefix
        ch = p + "/channels/{channel_id}"
        hook = p + "/webhooks/{webhook_id}/{token}"
        return [
            web.get(p + "/users/@me", self.me),
            web.get(p + "/oauth2/applications/@me", self.application),
            web.get(p + "/gateway", self.gateway),
            web.get(p + "/gateway/bot", self.gateway),
            web.get(ch, self.get_channel),
            web.get(ch + "/messages", self.list_messages),
            web.post(ch + "/messages", self.create_message),
            web.get(ch + "/messages/{message_id}", self.get_message),
            web.patch(ch + "/messages/{message_id}", self.edit_message),
            web.delete(ch + "/messages/{message_id}", self.delete_message),
            web.put(ch + "/messages/{message_id}/reactions/{emoji}/@me", self.add_reaction),
            web.post(ch + "/messages/{message_id}/threads", self.start_thread),
            web.get(ch + "/webhooks", self.list_webhooks),
            web.post(ch + "/webhooks", self.create_webhook),
            web.post(hook, self.execute_webhook),
            web.get(hook + "/messages/{message_id}", self.get_webhook_message),
            web.patch(hook + "/messages/{message_id}", self.edit_webhook_message),
            web.delete(hook + "/messages/{message_id}", self.delete_webhook_message),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Rate limits, request log and LabError → Discord error JSON, for API routes only."""
        if not request.path.startswith(self.lab.api_prefix):
            return await handler(request)
        info = request.match_info
        route = info.route.resource.canonical if info.route.resource else request.path
        major = info.get("webhook_id") or info.get("channel_id") or ""
        headers, refused = self.lab.ratelimiter.check(f"{request.method} {route}", major)
        if refused is not None:
            return refused
        try:
            response = await handler(request)
        except LabError as exc:
            return json_response(exc.body(), exc.status, headers)
        response.headers.update(headers)
        return response

    # ---- helpers -------------------------------------------------------------------

    def _bot(self, request: web.Request) -> Bot:
        auth = request.headers.get("Authorization", "")
        bot = self.world.bots.get(auth.removeprefix("Bot ").strip())
        if bot is None or not auth.startswith("Bot "):
            raise LabError(401, 0, "401: Unauthorized")
        return bot

    async def _body(self, request: web.Request) -> tuple[JSON, list[JSON]]:
        """The JSON payload and any uploaded files (stored and turned into attachments)."""
        if not request.can_read_body:
            return {}, []
        if request.content_type.startswith("multipart/"):
            return await self._multipart(request)
        try:
            data = await request.json()
        except ValueError as exc:
            raise LabError(400, 50109, "The request body contains invalid JSON.") from exc
        if not isinstance(data, dict):
            raise LabError(400, 50109, "The request body contains invalid JSON.")
        self.lab.received.append((request.method, request.path, data))
        return data, []

    async def _multipart(self, request: web.Request) -> tuple[JSON, list[JSON]]:
        payload: JSON = {}
        files: list[JSON] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read(decode=False)
            if part.name == "payload_json":
                loaded = json.loads(data)
                payload = loaded if isinstance(loaded, dict) else {}
            elif part.name and part.name.startswith("file"):
                if len(data) > self.lab.max_upload_bytes:
                    raise LabError(413, 40005, "Request entity too large")
                files.append(
                    self.lab.store_file(
                        part.filename or "file",
                        part.headers.get("Content-Type", "application/octet-stream"),
                        bytes(data),
                    )
                )
        self.lab.received.append((request.method, request.path, payload))
        return payload, files

    def _target(self, channel_id: str, thread_id: str | None) -> str:
        """Where a webhook posts: its channel, or a thread of that channel."""
        if not thread_id:
            return channel_id
        thread = self.world.channel(thread_id)
        if thread.get("parent_id") != channel_id:
            raise LabError(400, 50035, "Invalid Form Body: thread_id is not in this channel")
        return thread_id

    def _webhook(self, request: web.Request) -> JSON:
        hook = self.world.webhooks.get(request.match_info["webhook_id"])
        if hook is None or hook["token"] != request.match_info["token"]:
            raise LabError(404, 10015, "Unknown Webhook")
        return hook

    # ---- users, application, gateway -------------------------------------------------

    async def me(self, request: web.Request) -> web.Response:
        """GET /users/@me."""
        return json_response(self._bot(request).user)

    async def application(self, request: web.Request) -> web.Response:
        """GET /oauth2/applications/@me."""
        return json_response(self._bot(request).application)

    async def gateway(self, request: web.Request) -> web.Response:
        """GET /gateway and /gateway/bot."""
        limits = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.lab.ws_url, "shards": 1, "session_start_limit": limits})

    # ---- channels and messages -------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{id}."""
        self._bot(request)
        return json_response(self.world.channel(request.match_info["channel_id"]))

    async def list_messages(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages: newest first, with ``limit``/``after``/``before``."""
        self._bot(request)
        cid = request.match_info["channel_id"]
        self.world.channel(cid)
        history = self.world.messages[cid]
        try:
            limit = max(1, min(100, int(request.query.get("limit", "50"))))
            after = int(request.query.get("after", "0"))
            before = int(request.query.get("before", "0")) or None
        except ValueError as exc:
            raise LabError(400, 50035, "Invalid Form Body: limit/after/before") from exc
        picked = [
            m for m in history if int(m["id"]) > after and (not before or int(m["id"]) < before)
        ]
        picked = picked[:limit] if after else picked[-limit:]
        return json_response(list(reversed(picked)))

    async def get_message(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages/{id}."""
        self._bot(request)
        info = request.match_info
        found = self.world.find_message(info["channel_id"], info["message_id"])
        if found is None:
            raise LabError(404, 10008, "Unknown Message")
        return json_response(found)

    async def create_message(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/messages as the bot."""
        bot = self._bot(request)
        cid = request.match_info["channel_id"]
        self.world.check_permission(cid, "SEND_MESSAGES")
        payload, files = await self._body(request)
        message = self.world.create_message(cid, bot.user, payload, attachments=files)
        self.lab.dispatch_message("MESSAGE_CREATE", message)
        return json_response(message)

    async def edit_message(self, request: web.Request) -> web.Response:
        """PATCH /channels/{id}/messages/{id}: only the author may edit content."""
        bot = self._bot(request)
        info = request.match_info
        payload, _ = await self._body(request)
        found = self.world.find_message(info["channel_id"], info["message_id"])
        if found is not None and found["author"]["id"] != bot.user["id"]:
            raise LabError(403, 50005, "Cannot edit a message authored by another user")
        message = self.world.edit_message(info["channel_id"], info["message_id"], payload)
        self.lab.dispatch_message("MESSAGE_UPDATE", message)
        return json_response(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        """DELETE /channels/{id}/messages/{id}."""
        self._bot(request)
        info = request.match_info
        message = self.world.delete_message(info["channel_id"], info["message_id"])
        self.lab.dispatch_delete(message)
        return web.Response(status=204)

    async def add_reaction(self, request: web.Request) -> web.Response:
        """PUT .../reactions/{emoji}/@me: emoji is URL-encoded unicode or ``name:id``."""
        bot = self._bot(request)
        info = request.match_info
        emoji = unquote(info["emoji"])
        self.lab.react(info["channel_id"], info["message_id"], bot.user["id"], emoji)
        return web.Response(status=204)

    async def start_thread(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/messages/{id}/threads: a public thread from a message."""
        bot = self._bot(request)
        info = request.match_info
        payload, _ = await self._body(request)
        name = payload.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise LabError(400, 50035, "Invalid Form Body: name must be 1-100 characters")
        thread = self.lab.create_thread(
            info["channel_id"], info["message_id"], name, bot.user["id"]
        )
        return json_response(thread, status=201)

    # ---- webhooks ------------------------------------------------------------------

    async def list_webhooks(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/webhooks (needs MANAGE_WEBHOOKS)."""
        self._bot(request)
        cid = request.match_info["channel_id"]
        self.world.check_permission(cid, "MANAGE_WEBHOOKS")
        hooks = [h for h in self.world.webhooks.values() if h["channel_id"] == cid]
        return json_response(hooks)

    async def create_webhook(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/webhooks (needs MANAGE_WEBHOOKS)."""
        bot = self._bot(request)
        cid = request.match_info["channel_id"]
        self.world.check_permission(cid, "MANAGE_WEBHOOKS")
        payload, _ = await self._body(request)
        hook = self.world.add_webhook(cid, payload.get("name"), bot)
        return json_response(hook)

    async def execute_webhook(self, request: web.Request) -> web.StreamResponse:
        """POST /webhooks/{id}/{token}: ``wait`` returns the message; ``thread_id`` targets."""
        hook = self._webhook(request)
        payload, files = await self._body(request)
        author: JSON = {
            "id": hook["id"],
            "username": hook["name"],
            "discriminator": "0000",
            "global_name": None,
            "avatar": None,
            "bot": True,
        }
        if "username" in payload and payload["username"] is not None:
            check_webhook_name(payload["username"])
            author["username"] = payload["username"]
        if payload.get("avatar_url"):
            # Discord proxies the URL into an avatar hash; the lab keeps the URL itself.
            author["avatar"] = str(payload["avatar_url"])
        target = self._target(hook["channel_id"], request.query.get("thread_id"))
        # Webhooks cannot reply: a message_reference in the body is ignored, as on Discord.
        payload.pop("message_reference", None)
        message = self.world.create_message(
            target, author, payload, webhook=hook, attachments=files
        )
        self.lab.dispatch_message("MESSAGE_CREATE", message)
        if request.query.get("wait", "false").lower() in ("true", "1"):
            return json_response(message)
        return web.Response(status=204)

    def _webhook_message(self, request: web.Request) -> tuple[str, JSON]:
        hook = self._webhook(request)
        target = self._target(hook["channel_id"], request.query.get("thread_id"))
        message = self.world.find_message(target, request.match_info["message_id"])
        if message is None or message.get("webhook_id") != hook["id"]:
            raise LabError(404, 10008, "Unknown Message")
        return target, message

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        """GET /webhooks/{id}/{token}/messages/{id}."""
        _, message = self._webhook_message(request)
        return json_response(message)

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        """PATCH /webhooks/{id}/{token}/messages/{id}."""
        target, message = self._webhook_message(request)
        payload, _ = await self._body(request)
        edited = self.world.edit_message(target, message["id"], payload)
        self.lab.dispatch_message("MESSAGE_UPDATE", edited)
        return json_response(edited)

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        """DELETE /webhooks/{id}/{token}/messages/{id}."""
        target, message = self._webhook_message(request)
        self.world.delete_message(target, message["id"])
        self.lab.dispatch_delete(message)
        return web.Response(status=204)
