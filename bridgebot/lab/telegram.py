"""A Telegram Bot API lab server on loopback, for tests and ``bridgebot demo``.

    lab = TelegramLab()
    await lab.start()
    bot = lab.create_bot("bridgebot")
    alice = lab.create_user("Alice")
    group = lab.create_chat("Residents", members=(bot.id, alice["id"]))
    lab.post_as_user(group.id, alice["id"], "hello")
    # python-telegram-bot: Bot(bot.token, base_url=lab.api_url, base_file_url=lab.file_url)

Serves ``/bot<TOKEN>/<method>`` (GET or POST; query string, form, multipart or JSON
bodies, like the real API) and ``/file/bot<TOKEN>/<file_path>``; answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description"}`` with
``parameters.retry_after`` on 429. The control surface for tests and the demo page is the
:class:`~bridgebot.lab.telegram_world.LabWorld` methods, and over HTTP:
``POST /_lab/post`` JSON ``{channel, user, text}``, ``GET /_lab/history?channel=...`` and
``GET /_lab/chats``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from bridgebot.lab import account_table
from bridgebot.lab.telegram_api import Upload, call_method
from bridgebot.lab.telegram_state import ApiError, LabBot, RateLimits
from bridgebot.lab.telegram_world import LabWorld

__all__ = ["ApiError", "LabBot", "RateLimits", "TelegramLab"]

#: "<bot id>:<secret>"; anything else is answered 404 as the real server does
_TOKEN_SHAPE = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,}$")


def _json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


class TelegramLab(LabWorld):
    """The Bot API over HTTP around a :class:`LabWorld`."""

    def __init__(self, limits: RateLimits | None = None) -> None:
        super().__init__(limits)
        self.url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        """The ``base_url`` for python-telegram-bot (the token is appended to it)."""
        return f"{self.url}/bot"

    @property
    def file_url(self) -> str:
        """The ``base_file_url`` for python-telegram-bot."""
        return f"{self.url}/file/bot"

    def account_toml(self, account: str = "lab", **extra: object) -> str:
        """bot.toml's table for an account on this lab; the token from TELEGRAM_TOKEN."""
        return account_table(
            "telegram",
            account,
            token="${TELEGRAM_TOKEN}",
            base_url=self.api_url,
            base_file_url=self.file_url,
            **extra,
        )

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port); sets ``url`` and ``port``."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        app.router.add_post("/_lab/post", self._lab_post)
        app.router.add_get("/_lab/history", self._lab_history)
        app.router.add_get("/_lab/chats", self._lab_chats)
        # a client that gives up on a long poll must not keep its handler alive
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.url = f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Answer pending long polls and close the server; safe to call twice."""
        self.closing = True
        for bot in self.bots.values():
            bot.wakeup.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- Bot API ---------------------------------------------------------------------

    def _bot(self, token: str) -> LabBot:
        if not _TOKEN_SHAPE.match(token):
            raise ApiError(404, "Not Found")
        bot = self.bots.get(token)
        if bot is None:
            raise ApiError(401, "Unauthorized")
        return bot

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.body_exists:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON request body must be an object")
            # nested objects arrive parsed; the methods expect the form encoding's strings
            params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
            return params
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = Upload(value.filename, value.file.read(), value.content_type)
            else:
                params[key] = value
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            bot = self._bot(request.match_info["token"])
            params = await self._params(request)
            self.requests.append((method, params))
            result = await call_method(self, bot, method, params)
        except ApiError as exc:
            return _json_response(exc.payload(), exc.code)
        return _json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        try:
            self._bot(request.match_info["token"])
        except ApiError as exc:
            return _json_response(exc.payload(), exc.code)
        path = request.match_info["path"]
        for lab_file in self.files.values():
            if lab_file.file_path == path:
                return web.Response(body=lab_file.data, content_type=lab_file.mime_type)
        return _json_response(ApiError(404, "Not Found").payload(), 404)

    # ---- control surface over HTTP -------------------------------------------------------

    def _user_named(self, user: Any) -> int:
        if isinstance(user, int) and user in self.users:
            return user
        for user_id, known in self.users.items():
            if user in (str(user_id), known.get("username"), known.get("first_name")):
                return user_id
        # the demo page posts as whoever is typed in; make that person up
        created = self.create_user(str(user), username=None)
        for chat in self.chats.values():
            chat.members.setdefault(created["id"], "member")
        return int(created["id"])

    async def _lab_post(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            channel, user, text = body["channel"], body["user"], str(body["text"])
            reply_to = body.get("reply_to")
            message = self.post_as_user(
                channel,
                self._user_named(user),
                text,
                reply_to=int(reply_to) if reply_to is not None else None,
            )
        except ApiError as exc:
            return _json_response(exc.payload(), exc.code)
        except (ValueError, KeyError, TypeError) as exc:
            return _json_response({"ok": False, "error": f"bad request: {exc}"}, 400)
        return _json_response({"ok": True, "result": message})

    async def _lab_history(self, request: web.Request) -> web.Response:
        try:
            messages = self.history(request.query["channel"])
        except ApiError as exc:
            return _json_response(exc.payload(), exc.code)
        except KeyError as exc:
            return _json_response({"ok": False, "error": f"bad request: {exc}"}, 400)
        return _json_response({"ok": True, "result": messages})

    async def _lab_chats(self, request: web.Request) -> web.Response:
        chats = [{**c.as_chat(), "topics": c.topics} for c in self.chats.values()]
        return _json_response({"ok": True, "result": chats})
