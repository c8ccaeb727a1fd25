"""Socket Mode for the Slack lab: ``hello``, ``events_api`` envelopes, acks, ``disconnect``.

Slack delivers each Events API event in an envelope and redelivers it until the app acks
its ``envelope_id``. The lab keeps every unacknowledged envelope and resends it on the
next connection when the one it went out on is gone, so a dropped socket loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["SocketHub"]

log = logging.getLogger(__name__)


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Envelope:
    envelope_id: str
    payload: dict[str, Any]
    retry_attempt: int = 0
    sent_on: _Conn | None = None

    def to_wire(self) -> str:
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "payload": self.payload,
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": self.retry_attempt,
                # Slack names the reason of a retry; "timeout" is what the lab can claim.
                "retry_reason": "timeout" if self.retry_attempt else "",
            }
        )


class SocketHub:
    """Open Socket Mode connections and the envelopes still waiting for an ack."""

    def __init__(self, team_id: str, app_id: str, bot_user: str) -> None:
        self.team_id = team_id
        self.app_id = app_id
        self.bot_user = bot_user
        self.tickets: set[str] = set()
        self.connections: list[_Conn] = []
        self.connects = 0
        self.acked: list[str] = []
        self._unacked: OrderedDict[str, _Envelope] = OrderedDict()
        self._event_ids = itertools.count(1)
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def unacked(self) -> int:
        """How many envelopes the app has not acknowledged yet."""
        return len(self._unacked)

    def new_ticket(self) -> str:
        """A one-time ticket for the URL ``apps.connections.open`` returns."""
        ticket = secrets.token_urlsafe(12)
        self.tickets.add(ticket)
        return ticket

    def deliver(self, event: dict[str, Any]) -> None:
        """Wrap ``event`` in an ``event_callback`` envelope and queue it for the app."""
        event_id = f"Ev{next(self._event_ids):08d}"
        payload = {
            "token": "lab-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        envelope = _Envelope(secrets.token_hex(16), payload)
        self._unacked[envelope.envelope_id] = envelope
        self._idle.clear()
        for conn in self.connections:
            conn.wake.set()

    async def wait_acked(self) -> None:
        """Wait until every delivered envelope has been acknowledged."""
        await self._idle.wait()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The websocket endpoint whose URL ``apps.connections.open`` hands out."""
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self.tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(ws)
        self.connections.append(conn)
        self.connects += 1
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self.connections),
                    "debug_info": {"host": "lab", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        writer = asyncio.create_task(self._write(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(msg.data)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self.connections.remove(conn)
            self.wake_all()
        return ws

    def _on_text(self, data: str) -> None:
        try:
            body = json.loads(data)
            envelope_id = body["envelope_id"]
        except (ValueError, KeyError, TypeError):
            log.warning("slack lab: ignored a socket frame that is not an ack")
            return
        if self._unacked.pop(str(envelope_id), None) is not None:
            self.acked.append(str(envelope_id))
        if not self._unacked:
            self._idle.set()

    async def _write(self, conn: _Conn) -> None:
        # Only the newest connection carries envelopes, as if Slack picked one of them.
        while not conn.ws.closed:
            conn.wake.clear()
            if self.connections and self.connections[-1] is conn:
                for envelope in list(self._unacked.values()):
                    if envelope.envelope_id not in self._unacked:
                        continue
                    if envelope.sent_on is conn:
                        continue
                    if envelope.sent_on is not None and not envelope.sent_on.ws.closed:
                        continue
                    if envelope.sent_on is not None:
                        envelope.retry_attempt += 1
                    envelope.sent_on = conn
                    try:
                        await conn.ws.send_str(envelope.to_wire())
                    except ConnectionError:
                        return
            await conn.wake.wait()

    def wake_all(self) -> None:
        """Let the newest connection pick up envelopes stranded on a closed one."""
        for conn in self.connections:
            conn.wake.set()

    async def drop(self) -> None:
        """Close every socket from the server side, as Slack does on a deploy."""
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"lab drop")
        self.wake_all()

    async def request_reconnect(self, reason: str = "refresh_requested") -> None:
        """Send the ``disconnect`` envelope that asks the app to open a new connection."""
        for conn in list(self.connections):
            with contextlib.suppress(ConnectionError):
                await conn.ws.send_str(
                    json.dumps(
                        {"type": "disconnect", "reason": reason, "debug_info": {"host": "lab"}}
                    )
                )

    async def close(self) -> None:
        """Close every connection (the lab is stopping)."""
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"lab stopping")
