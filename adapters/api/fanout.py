"""Where outgoing API messages go: to every connected streaming client, else to a buffer.

No message is ever overwritten or dropped here. Each streaming client (``/api/stream`` or
``/api/websocket``) has its own bounded queue; a client that falls that far behind is
disconnected and the others carry on. With no client connected, messages wait in the
bounded buffer that ``GET /api/messages`` drains, and the next client to connect receives
them first. When that buffer is full, :meth:`Fanout.publish` raises ``TransientError`` so
the core keeps the message in its outbox and retries later.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable

from bridgebot.errors import TransientError

__all__ = ["Fanout", "Subscriber"]


class Subscriber:
    """One connected streaming client: its pending lines and the wake-up for its writer."""

    __slots__ = ("closed", "kick", "limit", "peer", "pending", "wakeup")

    def __init__(self, peer: str, limit: int, kick: Callable[[], None]) -> None:
        self.peer = peer
        self.limit = limit
        #: Aborts the connection, for a reader so slow its writer may be stuck in a write.
        self.kick = kick
        self.pending: deque[str] = deque()
        self.wakeup = asyncio.Event()
        self.closed = False

    def offer(self, line: str) -> bool:
        """Queue ``line``; False if the client is already ``limit`` messages behind."""
        if len(self.pending) >= self.limit:
            return False
        self.pending.append(line)
        self.wakeup.set()
        return True

    def take(self) -> list[str]:
        """Everything queued so far, oldest first, for the writer to send in one go."""
        lines = list(self.pending)
        self.pending.clear()
        return lines


class Fanout:
    """The delivery side of one API account (see the module docstring)."""

    def __init__(self, account: str, buffer_size: int, client_queue: int, log: logging.Logger):
        self.account = account
        self.buffer_size = buffer_size
        self.client_queue = client_queue
        self.log = log
        self.buffer: deque[str] = deque()
        self.subscribers: list[Subscriber] = []

    def publish(self, line: str) -> None:
        """Deliver ``line`` to every client, or buffer it; ``TransientError`` if it can't."""
        if self.subscribers:
            slow: list[Subscriber] = []
            for sub in self.subscribers:
                if not sub.offer(line):
                    slow.append(sub)
            for sub in slow:
                self.drop(sub, f"slow reader, {len(sub.pending)} messages waiting")
            if self.subscribers:
                return
            # Every client was too slow: the line reached nobody, so it waits in the buffer
            # behind the lines the dropped clients had not received yet.
        if len(self.buffer) >= self.buffer_size:
            raise TransientError(
                f"api buffer full ({self.buffer_size} messages) on {self.account}: no client "
                "is reading GET /api/messages, /api/stream or /api/websocket"
            )
        self.buffer.append(line)

    def drain(self) -> list[str]:
        """Take every buffered line, oldest first (``GET /api/messages``)."""
        lines = list(self.buffer)
        self.buffer.clear()
        return lines

    def subscribe(self, peer: str, kick: Callable[[], None]) -> Subscriber:
        """Register a streaming client; it starts with whatever the buffer holds."""
        # The backlog is owed to someone even if it exceeds the client's queue: allow for it,
        # or the next publish would drop the client before its writer had a chance to run.
        sub = Subscriber(peer, self.client_queue + len(self.buffer), kick)
        sub.pending.extend(self.buffer)
        self.buffer.clear()
        if sub.pending:
            sub.wakeup.set()
        self.subscribers.append(sub)
        self.log.info("%s: streaming client %s connected", self.account, peer)
        return sub

    def unsubscribe(self, sub: Subscriber, unsent: Iterable[str] = ()) -> None:
        """Forget ``sub``; ``unsent`` are lines its writer took but could not write.

        If no other client remains, its undelivered lines go back to the buffer in order,
        so a client that reconnects (or polls) still gets them.
        """
        if not sub.closed:
            sub.closed = True
            sub.wakeup.set()
            self.subscribers.remove(sub)
            self.log.info("%s: streaming client %s disconnected", self.account, sub.peer)
        if self.subscribers:
            return
        self.buffer.extend(sub.pending)
        sub.pending.clear()
        self.buffer.extendleft(reversed(list(unsent)))

    def drop(self, sub: Subscriber, reason: str) -> None:
        """Disconnect ``sub`` for ``reason`` (logged with its address)."""
        self.log.warning("%s: disconnecting client %s: %s", self.account, sub.peer, reason)
        self.unsubscribe(sub)
        sub.kick()

    def close_all(self) -> None:
        """Wake every client's writer to finish (adapter stopping)."""
        for sub in list(self.subscribers):
            self.unsubscribe(sub)
