"""The API adapter: one aiohttp server per ``[networks.api.NAME]`` account.

Routes, as matterbridge's API bridge: ``POST /api/message``, ``GET /api/messages``,
``GET /api/stream``, ``GET /api/websocket``, ``GET /api/health``. Differences from
matterbridge, on purpose:

- Delivery never overwrites or loses a message (see :mod:`adapters.api.fanout`): with
  streaming clients connected each gets every message; otherwise messages wait in a bounded
  buffer that ``GET /api/messages`` drains (matterbridge keeps a ring that overwrites and is
  never drained) and that the next streaming client receives first; a full buffer makes
  ``send`` raise ``TransientError`` so the core retries. Streams are not paced.
- A post that the core refuses, or an empty post, gets a 4xx with ``{"message": reason}``
  (matterbridge answers 200 and drops it). Posts with an ``id`` edit, ``msg_delete`` deletes.
- Websocket clients get an error frame for a bad frame; their posts are not echoed to the
  other websocket clients of the same account. The ``skip_before`` header is not supported
  (nothing is replayed twice, so there is nothing to skip).

As in matterbridge, a configured ``token`` guards every route, ``/api/health`` included:
400 for a missing or malformed ``Authorization: Bearer`` header, 401 for a wrong token.
"""

from __future__ import annotations

import errno
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from itertools import count
from urllib.parse import parse_qsl

from aiohttp import web

from adapters.settings import ApiSettings
from bridgebot.contract import AdapterSetup, Emit
from bridgebot.errors import PermanentError, RejectedEvent
from bridgebot.model import Capabilities, Outbound, RoomRef

from .fanout import Fanout
from .streams import Streams
from .wire import WireError, parse_post, render_delete, render_outbound, render_reply

__all__ = ["API_ROOM", "ApiAdapter", "parse_bind"]

API_ROOM = "api"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_bind(bind: str, account: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (or ``"[::1]:PORT"``) → ``(host, port)``; PermanentError if invalid."""
    host, sep, port_text = bind.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise PermanentError(
            f'{account}: bind {bind!r} is not HOST:PORT; write e.g. bind = "127.0.0.1:4242" '
            f"in [networks.{account}]"
        )
    return host, int(port_text)


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"message": reason}, status=status)


class ApiAdapter:
    """A matterbridge-compatible HTTP API account; its one room is ``api``."""

    network = "api"
    capabilities = Capabilities(
        edits=True,
        deletes=True,
        reactions=False,
        threads=False,
        replies=True,
        per_message_identity=True,
        attachments=True,
        max_text_length=1_000_000,
    )

    def __init__(self, setup: AdapterSetup) -> None:
        if not isinstance(setup.settings, ApiSettings):
            raise PermanentError(f"{setup.account}: settings are not ApiSettings")
        self.account = setup.account
        self.settings = setup.settings
        self.log = setup.log
        self.context = setup.context
        self.room = RoomRef(setup.account, API_ROOM)
        self.host, self.port = parse_bind(self.settings.bind, self.account)
        token = self.settings.token
        self._token = token.get_secret_value().encode() if token is not None else None
        self._fanout = Fanout(
            self.account, self.settings.buffer, self.settings.client_queue, self.log
        )
        # Remote ids: unique across restarts (random prefix) and cheap (a counter).
        self._prefix = secrets.token_hex(6)
        self._counter = count(1)
        self._emit: Emit | None = None
        self._runner: web.AppRunner | None = None
        self._streams = Streams(
            self.account, self._fanout, self._accept, self.settings.max_body_bytes, self.log
        )

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Listen on ``bind``; returns once the port is bound."""
        self._emit = emit
        app = web.Application(
            client_max_size=self.settings.max_body_bytes, middlewares=[self._guard]
        )
        app.router.add_post("/api/message", self._post_message)
        # No HEAD on these: a HEAD must not drain the buffer or hold a stream open.
        app.router.add_get("/api/messages", self._get_messages, allow_head=False)
        app.router.add_get("/api/stream", self._streams.stream, allow_head=False)
        app.router.add_get("/api/websocket", self._streams.websocket, allow_head=False)
        app.router.add_get("/api/health", self._health)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            why = "address in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
            raise PermanentError(
                f"{self.account}: cannot listen on {self.host}:{self.port}: {why}; "
                f"change bind in [networks.{self.account}]"
            ) from exc
        self._runner = runner
        self.log.info("%s: listening on %s", self.account, self.url)

    async def stop(self) -> None:
        """Close every client and the server; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self._streams.close()
        await runner.cleanup()

    @property
    def bound_port(self) -> int:
        """The port actually bound (useful with ``bind = "127.0.0.1:0"``)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError(f"{self.account}: not listening")
        port: int = self._runner.addresses[0][1]
        return port

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.bound_port}"

    @property
    def streaming_clients(self) -> int:
        """How many ``/api/stream`` and ``/api/websocket`` clients are connected."""
        return len(self._fanout.subscribers)

    @property
    def buffered(self) -> int:
        """How many messages wait for ``GET /api/messages`` (or the next streaming client)."""
        return len(self._fanout.buffer)

    # -- outgoing (called by the core) ---------------------------------------------------

    def _new_id(self) -> str:
        return f"{self._prefix}{next(self._counter):x}"

    def _check_room(self, room: RoomRef) -> None:
        if room != self.room:
            raise PermanentError(f"{self.account}: no room {room}; the only room is {self.room}")

    async def send(self, room: RoomRef, out: Outbound) -> str:
        """Publish ``out`` to the clients; TransientError if the buffer is full."""
        self._check_room(room)
        remote_id = self._new_id()
        self._fanout.publish(render_outbound(out, remote_id, time.time()))
        return remote_id

    async def edit(self, room: RoomRef, remote_id: str, out: Outbound) -> None:
        """Publish the new text as matterbridge does: a message carrying the copy's ``id``."""
        self._check_room(room)
        self._fanout.publish(render_outbound(out, remote_id, time.time()))

    async def delete(self, room: RoomRef, remote_id: str) -> None:
        """Publish an ``msg_delete`` event for our copy ``remote_id``."""
        self._check_room(room)
        self._fanout.publish(render_delete(remote_id, time.time()))

    async def react(self, room: RoomRef, remote_id: str, emoji: str) -> None:
        """The API has no reactions (capabilities say so; the router should not ask)."""
        raise PermanentError(f"{self.account}: the API does not support reactions")

    # -- HTTP plumbing ---------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Bearer-token check (answers as matterbridge's echo KeyAuth) and JSON errors."""
        peer = request.remote or "?"
        if self._token is not None:
            header = request.headers.get("Authorization")
            if not header:
                return self._refuse(request, 400, "missing key in request header")
            scheme, _, key = header.partition(" ")
            if scheme.lower() != "bearer" or not key:
                return self._refuse(request, 400, "invalid key in the request header")
            # surrogateescape: aiohttp keeps undecodable header bytes as lone surrogates.
            if not hmac.compare_digest(key.encode("utf-8", "surrogateescape"), self._token):
                return self._refuse(request, 401, "Unauthorized")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            self.log.warning(
                "%s: %s %s from %s: %s",
                self.account,
                request.method,
                request.path,
                peer,
                exc.status,
            )
            return _error(exc.status, exc.reason)

    def _refuse(self, request: web.Request, status: int, reason: str) -> web.Response:
        self.log.warning(
            "%s: refused %s %s from %s: %s",
            self.account,
            request.method,
            request.path,
            request.remote,
            reason,
        )
        return _error(status, reason)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def _get_messages(self, request: web.Request) -> web.Response:
        body = "[" + ",".join(self._fanout.drain()) + "]"
        return web.Response(text=body, content_type="application/json")

    # -- inbound -----------------------------------------------------------------------------

    async def _accept(self, payload: object) -> tuple[int, str]:
        """Parse and emit one client message; ``(status, JSON body)`` for the answer."""
        try:
            event, name = parse_post(payload, self.room, self._new_id(), time.time())
        except WireError as exc:
            return exc.status, json.dumps({"message": exc.reason})
        assert self._emit is not None
        try:
            if event.target is not None and await self.context.is_copy(self.room, event.target):
                # A client echoing our own output back with its id: never loop it.
                return 400, json.dumps(
                    {
                        "message": f"message {event.target!r} was posted by the bridge; only "
                        "messages posted through this API can be edited or deleted"
                    }
                )
            await self._emit(event)
        except RejectedEvent as exc:
            return 400, json.dumps({"message": str(exc)})
        except Exception:
            # The core could not store it: say so, so the client can retry; keep serving.
            self.log.exception("%s: could not accept a post", self.account)
            return 503, json.dumps({"message": "the bridge could not accept the message now"})
        # The answer names the message: for an edit or delete, the one it applies to.
        return 200, render_reply(event, name, event.target or event.remote_id)

    async def _post_message(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(
                request, 413, f"body larger than {self.settings.max_body_bytes} bytes"
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return self._refuse(request, 400, "body is not valid UTF-8")
        payload: object
        if request.content_type == "application/x-www-form-urlencoded":
            payload = dict(parse_qsl(text))
        else:
            try:
                payload = json.loads(text)
            except ValueError as exc:
                return self._refuse(request, 400, f"malformed JSON: {exc}")
        status, answer = await self._accept(payload)
        if status != 200:
            self.log.warning(
                "%s: refused a post from %s: %s", self.account, request.remote, answer
            )
        return web.Response(status=status, text=answer, content_type="application/json")
