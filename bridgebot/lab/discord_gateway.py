"""The Discord lab's gateway: HELLO, heartbeats, IDENTIFY/READY, RESUME, dispatches.

Follows the public "Gateway" documentation (API v10, JSON encoding, no compression):
opcodes 0 Dispatch, 1 Heartbeat, 2 Identify, 6 Resume, 9 Invalid Session, 10 Hello,
11 Heartbeat ACK. Sessions outlive their socket so a client can RESUME and get every event
it missed replayed in order; closing with 4009 ("session timed out") ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bridgebot.lab.discord_model import (
    FLAG_MESSAGE_CONTENT,
    FLAG_MESSAGE_CONTENT_LIMITED,
    Intents,
)
from bridgebot.lab.discord_state import LabWorld

__all__ = ["Gateway", "Session"]

log = logging.getLogger(__name__)
JSON = dict[str, Any]

#: Close codes after which Discord does not let the session resume.
_ENDS_SESSION = {4007, 4009}
#: How many dispatched events a session keeps for RESUME.
_REPLAY_BUFFER = 5000


@dataclass(slots=True)
class Session:
    """One IDENTIFYed bot session; survives its socket until invalidated."""

    session_id: str
    token: str
    intents: int
    seq: int = 0
    buffer: list[tuple[int, str]] = field(default_factory=list)
    queue: asyncio.Queue[str] | None = None
    ws: web.WebSocketResponse | None = None
    resumable: bool = True

    def push(self, frame: JSON) -> None:
        """Number, buffer and (if connected) queue one dispatch."""
        self.seq += 1
        frame["s"] = self.seq
        text = json.dumps(frame)
        self.buffer.append((self.seq, text))
        del self.buffer[:-_REPLAY_BUFFER]
        if self.queue is not None:
            self.queue.put_nowait(text)


class Gateway:
    """The websocket endpoint and the session table."""

    def __init__(
        self,
        world: LabWorld,
        ws_url: Callable[[], str],
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self.world = world
        self._ws_url = ws_url
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.identifies = 0
        self.resumes = 0
        self._sockets: set[web.WebSocketResponse] = set()

    # ---- dispatching ---------------------------------------------------------------

    def dispatch(self, event: str, data: JSON, intent: str) -> None:
        """Send ``event`` to every live session holding ``intent``.

        Message events lose their content for sessions without MESSAGE_CONTENT, except the
        bot's own messages and messages that mention it (as documented for the intent).
        """
        for session in self.sessions.values():
            if not session.resumable or not session.intents & Intents[intent]:
                continue
            payload = data
            if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not (
                session.intents & Intents["MESSAGE_CONTENT"]
            ):
                payload = self._without_content(session, data)
            session.push({"op": 0, "t": event, "d": payload})

    def _without_content(self, session: Session, data: JSON) -> JSON:
        bot = self.world.bots.get(session.token)
        own_id = bot.user["id"] if bot else ""
        author = data.get("author") or {}
        mentioned = any(u.get("id") == own_id for u in data.get("mentions", []))
        if author.get("id") == own_id or mentioned:
            return data
        stripped = dict(data)
        for key in ("content",):
            if key in stripped:
                stripped[key] = ""
        for key in ("embeds", "attachments", "components"):
            if key in stripped:
                stripped[key] = []
        return stripped

    async def close_all(self, code: int) -> None:
        """Close every gateway socket with ``code``; 4007/4009 also end the sessions."""
        for session in self.sessions.values():
            if code in _ENDS_SESSION:
                session.resumable = False
        for ws in list(self._sockets):
            await ws.close(code=code, message=b"lab: closed by test")

    # ---- the websocket ---------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One gateway connection, from HELLO to close."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        queue: asyncio.Queue[str] = asyncio.Queue()
        writer = asyncio.create_task(self._write(ws, queue))
        session: Session | None = None
        try:
            queue.put_nowait(
                json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                    op = frame["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4002, message=b"decode error")
                    break
                if op == 1:
                    queue.put_nowait(json.dumps({"op": 11}))
                elif op == 2 and session is None:
                    session = await self._identify(ws, queue, frame.get("d") or {})
                elif op == 6 and session is None:
                    session = self._resume(queue, frame.get("d") or {})
                    if session is None:
                        queue.put_nowait(json.dumps({"op": 9, "d": False}))
                elif op in (3, 4, 8):
                    pass  # presence, voice, member requests: accepted and ignored
                else:
                    await ws.close(code=4001, message=b"unknown opcode")
                    break
        finally:
            self._sockets.discard(ws)
            if session is not None and session.queue is queue:
                session.queue = None
                session.ws = None
            # let frames already queued (e.g. INVALID_SESSION) go out before the writer stops
            await asyncio.sleep(0)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    @staticmethod
    async def _write(ws: web.WebSocketResponse, queue: asyncio.Queue[str]) -> None:
        while True:
            text = await queue.get()
            if ws.closed:
                return
            await ws.send_str(text)

    async def _identify(
        self, ws: web.WebSocketResponse, queue: asyncio.Queue[str], data: JSON
    ) -> Session | None:
        token = str(data.get("token", "")).removeprefix("Bot ")
        bot = self.world.bots.get(token)
        if bot is None:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int):
            await ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        if intents & Intents["MESSAGE_CONTENT"] and not bot.application["flags"] & (
            FLAG_MESSAGE_CONTENT | FLAG_MESSAGE_CONTENT_LIMITED
        ):
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        self.identifies += 1
        session = Session(session_id=secrets.token_hex(16), token=token, intents=intents)
        self.sessions[session.session_id] = session
        session.queue = queue
        session.ws = ws
        ready = {
            "v": 10,
            "user": bot.user,
            "guilds": [{"id": gid, "unavailable": True} for gid in self.world.guilds],
            "session_id": session.session_id,
            "resume_gateway_url": self._ws_url(),
            "application": {"id": bot.application["id"], "flags": bot.application["flags"]},
            "private_channels": [],
        }
        session.push({"op": 0, "t": "READY", "d": ready})
        if intents & Intents["GUILDS"]:
            for guild in self.world.guilds.values():
                session.push({"op": 0, "t": "GUILD_CREATE", "d": guild})
        return session

    def _resume(self, queue: asyncio.Queue[str], data: JSON) -> Session | None:
        session = self.sessions.get(str(data.get("session_id")))
        token = str(data.get("token", "")).removeprefix("Bot ")
        if session is None or not session.resumable or session.token != token:
            return None
        seq = data.get("seq")
        last = seq if isinstance(seq, int) else 0
        if session.buffer and last < session.buffer[0][0] - 1:
            return None  # the events it missed are no longer held
        self.resumes += 1
        for number, text in session.buffer:
            if number > last:
                queue.put_nowait(text)
        session.queue = queue
        session.push({"op": 0, "t": "RESUMED", "d": {}})
        return session
