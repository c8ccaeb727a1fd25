"""The streaming routes: ``GET /api/stream`` (newline-delimited JSON) and ``/api/websocket``.

Both greet with matterbridge's ``api_connected`` message, then carry every message the
:class:`~adapters.api.fanout.Fanout` hands them, unpaced. A websocket client's text frames
are posts, parsed like ``POST /api/message`` bodies; a bad one gets an error frame
(``{"event": "api_error", "status": 400, "message": reason}``) and the socket stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from .fanout import Fanout, Subscriber
from .wire import greeting

__all__ = ["Accept", "Streams"]

#: Websocket posts one client may have in flight before its frames wait to be read.
WS_IN_FLIGHT = 256

#: Parse and emit one client post; ``(HTTP status, JSON answer)``.
Accept = Callable[[object], Awaitable[tuple[int, str]]]
# A stream writer wakes this often while idle, to notice a client that went away.
_IDLE_CHECK = 2.0


class Streams:
    """The streaming clients of one API account."""

    def __init__(
        self,
        account: str,
        fanout: Fanout,
        accept: Accept,
        max_body_bytes: int,
        log: logging.Logger,
    ) -> None:
        self.account = account
        self.fanout = fanout
        self.accept = accept
        self.max_body_bytes = max_body_bytes
        self.log = log
        self.sockets: set[web.WebSocketResponse] = set()

    async def close(self) -> None:
        """End every stream and websocket (the adapter is stopping)."""
        self.fanout.close_all()
        await asyncio.gather(*(ws.close() for ws in list(self.sockets)), return_exceptions=True)

    def _subscribe(self, request: web.Request) -> Subscriber:
        transport = request.transport

        def kick() -> None:
            if transport is not None:
                transport.abort()

        return self.fanout.subscribe(request.remote or "?", kick)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/stream``: the greeting, then one JSON line per message until closed."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            await response.write((greeting(time.time()) + "\n").encode())
        except ConnectionError:
            return response
        sub = self._subscribe(request)
        lines: list[str] = []
        try:
            while not sub.closed:
                try:
                    async with asyncio.timeout(_IDLE_CHECK):
                        await sub.wakeup.wait()
                except TimeoutError:
                    pass
                sub.wakeup.clear()
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                lines = sub.take()
                if lines:
                    await response.write(("\n".join(lines) + "\n").encode())
                    lines = []
        except (ConnectionError, RuntimeError) as exc:
            self.log.info("%s: stream to %s ended: %s", self.account, request.remote, exc)
        finally:
            self.fanout.unsubscribe(sub, lines)
        return response

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        """``GET /api/websocket``: greeting, one text frame per message; frames in are posts."""
        # No permessage-deflate (matterbridge's upgrader offers none, and it costs CPU per
        # frame); pings every 54 s as matterbridge; a close handshake waits at most 2 s.
        ws = web.WebSocketResponse(
            max_msg_size=self.max_body_bytes,
            heartbeat=54.0,
            compress=False,
            timeout=2.0,
        )
        await ws.prepare(request)
        try:
            await ws.send_str(greeting(time.time()))
        except ConnectionError:
            return ws
        sub = self._subscribe(request)
        self.sockets.add(ws)
        writer = asyncio.create_task(self._ws_writer(ws, sub))
        # Frames are handled as overlapping tasks, handed to the core in arrival order, so
        # one client can keep many posts in flight (the core commits them together).
        window = asyncio.Semaphore(WS_IN_FLIGHT)
        prev: asyncio.Future[None] | None = None
        in_flight: set[asyncio.Task[None]] = set()
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await window.acquire()
                    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    task = asyncio.create_task(
                        self._ws_frame_in_turn(ws, request, frame.data, prev, started)
                    )
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    task.add_done_callback(lambda _: window.release())
                    prev = started
                elif frame.type is WSMsgType.BINARY:
                    try:
                        text = frame.data.decode("utf-8")
                    except UnicodeDecodeError:
                        await self._ws_error(ws, request, 400, "frame is not valid UTF-8")
                        continue
                    await self._ws_frame(ws, request, text)
                elif frame.type is WSMsgType.ERROR:
                    # aiohttp closes the socket itself (e.g. 1009 for an oversized frame).
                    self.log.warning(
                        "%s: websocket from %s failed: %s",
                        self.account,
                        request.remote,
                        ws.exception(),
                    )
        finally:
            if in_flight:  # posts already read are still handed to the core
                await asyncio.gather(*in_flight, return_exceptions=True)
            self.sockets.discard(ws)
            self.fanout.unsubscribe(sub)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    async def _ws_frame_in_turn(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        data: str,
        prev: asyncio.Future[None] | None,
        started: asyncio.Future[None],
    ) -> None:
        """Handle one frame once the previous frame has been handed to the core."""
        try:
            if prev is not None:
                await prev
            work = asyncio.ensure_future(self._ws_frame(ws, request, data))
        finally:
            # The next frame resumes after this one's first step, which hands it to the core.
            if not started.done():
                started.set_result(None)
        await work

    async def _ws_frame(self, ws: web.WebSocketResponse, request: web.Request, data: str) -> None:
        try:
            payload = json.loads(data)
        except ValueError as exc:
            await self._ws_error(ws, request, 400, f"malformed JSON: {exc}")
            return
        status, answer = await self.accept(payload)
        if status != 200:
            await self._ws_error(ws, request, status, json.loads(answer)["message"])

    async def _ws_error(
        self, ws: web.WebSocketResponse, request: web.Request, status: int, reason: str
    ) -> None:
        """Answer a bad frame with an error frame; the socket stays open."""
        self.log.warning(
            "%s: bad websocket frame from %s: %s", self.account, request.remote, reason
        )
        if not ws.closed:
            await ws.send_str(
                json.dumps({"event": "api_error", "status": status, "message": reason})
            )

    async def _ws_writer(self, ws: web.WebSocketResponse, sub: Subscriber) -> None:
        lines: list[str] = []
        sent = 0
        try:
            while not sub.closed:
                await sub.wakeup.wait()
                sub.wakeup.clear()
                lines, sent = sub.take(), 0
                for line in lines:
                    await ws.send_str(line)
                    sent += 1
                lines = []
        except (ConnectionError, RuntimeError) as exc:
            self.log.info("%s: websocket to %s ended: %s", self.account, sub.peer, exc)
        finally:
            self.fanout.unsubscribe(sub, lines[sent:])
            if not ws.closed:
                await ws.close()
