"""The dispatcher: drains the outbox, one FIFO worker per destination room.

Rooms run in parallel, so one slow or broken network never holds up another; within a room
the order is kept (a postponed head blocks the rows behind it). Token buckets per network
and per room pace the sends; ``RateLimited`` honours the server's retry-after; transient
failures back off with jitter; permanent failures and deliveries past their deadline or
attempt budget become dead letters that admins can list and retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from bridgebot.config import DispatchConfig, RateConfig
from bridgebot.contract import Adapter
from bridgebot.core.delivery import Delivery, DeliveryKind, Outcome, from_outbox
from bridgebot.errors import PermanentError, RateLimited, StoreError, TransientError
from bridgebot.model import RoomRef
from bridgebot.pacing import Backoff, SlidingWindow, TokenBucket
from bridgebot.store import OutboxItem, Store

__all__ = ["Dispatcher", "Settled"]

log = logging.getLogger("bridgebot.dispatch")

#: Rows a room worker reads at a time. Within a batch, completions are pipelined: the next
#: row is sent while the previous one's completion is still being committed (group commit
#: then settles many in one trip). A crash can therefore resend at most one batch's worth
#: of already-sent rows in a room: delivery is at-least-once, never lost.
BATCH = 32
#: Copies remembered in memory so replies/edits can find them before their commit lands.
RECENT = 10_000

#: Told of every delivery that settled: the row, how, and the remote id or the reason.
Settled = Callable[[OutboxItem, Outcome, str | None], None]


class _Skip(Exception):
    """The delivery has nothing to act on in this room (e.g. an edit of a withheld copy)."""


class Dispatcher:
    """Owns the per-room workers. ``notify(room)`` after writing to the outbox."""

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        config: DispatchConfig,
        is_up: Callable[[str], bool],
        on_rate_limited: Callable[[RoomRef], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._config = config
        self._is_up = is_up
        self._clock = clock
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._room_buckets: dict[str, TokenBucket] = {}
        self._room_windows: dict[str, SlidingWindow] = {}
        self._net_buckets: dict[str, TokenBucket] = {}
        self._backoff = Backoff()
        self._recent: OrderedDict[tuple[int, str], str] = OrderedDict()
        self._pending: dict[str, list[asyncio.Future[list[OutboxItem]]]] = {}
        self._closing = False
        self.sent = 0
        self.dead = 0
        #: Told of every settled delivery (metrics, announcement reports).
        self.on_settled: list[Settled] = []
        #: Called with the room each time its network answers "too many requests".
        self._on_rate_limited = on_rate_limited

    # -- scheduling -------------------------------------------------------------------

    def notify(self, room: str) -> None:
        """There is (or may be) work for ``room``: make sure its worker runs."""
        if self._closing:
            return
        task = self._workers.get(room)
        if task is None or task.done():
            self._wake[room] = asyncio.Event()
            self._workers[room] = asyncio.create_task(self._run(room), name=f"room {room}")
        else:
            self._wake[room].set()

    def notify_all(self, rooms: Iterable[str]) -> None:
        """:meth:`notify` each room, the most slowly paced first.

        Woken together, their workers start in this order, so the rooms whose rate limits
        make them finish last also start first (longest job first: a fan-out to fifty rooms
        ends sooner when Telegram's one message a second does not wait behind the others).
        """
        for room in sorted(dict.fromkeys(rooms), key=self._slowness, reverse=True):
            self.notify(room)

    def _slowness(self, room_key: str) -> tuple[float, int]:
        """How slowly ``room_key`` drains a queue: the seconds between two sends its
        per_room rate asks for, then the fewer it may send at once, the slower."""
        rate = self._rate(room_key.split(".", 1)[0])
        if rate is None or not rate.per_room:
            return (0.0, 0)
        return (1.0 / rate.per_room, -rate.room_burst)

    async def start(self) -> None:
        """Resume every room with pending rows (the outbox is drained on start)."""
        self.notify_all(await self._store.pending_rooms())

    async def stop(self) -> None:
        """Stop all workers; pending rows stay in the outbox for the next start."""
        self._closing = True
        tasks = [t for t in self._workers.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()

    async def idle(self, limit: float = 30.0) -> None:
        """Wait until every worker has finished (tests and `announce` use this)."""
        async with asyncio.timeout(limit):
            while tasks := [t for t in self._workers.values() if not t.done()]:
                await asyncio.wait(tasks)

    # -- rate limits ------------------------------------------------------------------

    def _rate(self, network: str) -> RateConfig | None:
        return self._config.rate.get(network)

    def _window(self, room: RoomRef) -> SlidingWindow:
        key = str(room)
        if key not in self._room_windows:
            rate = self._rate(room.network)
            count, seconds = (rate.room_window if rate else None) or (None, 1.0)
            self._room_windows[key] = SlidingWindow(count, seconds)
        return self._room_windows[key]

    def _buckets(self, room: RoomRef) -> tuple[TokenBucket, TokenBucket]:
        rate = self._rate(room.network)
        key = str(room)
        if key not in self._room_buckets:
            per_room = rate.per_room if rate else None
            self._room_buckets[key] = TokenBucket(per_room, rate.room_burst if rate else 1)
        if room.account not in self._net_buckets:
            per_net = rate.per_network if rate else None
            burst = rate.network_burst if rate else 1
            self._net_buckets[room.account] = TokenBucket(per_net, burst)
        return self._room_buckets[key], self._net_buckets[room.account]

    # -- the worker -------------------------------------------------------------------

    async def _run(self, room_key: str) -> None:
        room = RoomRef.parse(room_key)
        wake = self._wake[room_key]
        batch: list[OutboxItem] | None = None
        try:
            while not self._closing:
                if batch is None:
                    wake.clear()
                    await self._drain_pending(room_key)  # never re-read a row being settled
                    batch = await self._store.next_batch(room_key, BATCH)
                if not batch:
                    if wake.is_set():  # notified while we were reading: look again
                        batch = None
                        continue
                    return
                following: list[OutboxItem] | None = None
                for i, item in enumerate(batch):
                    last = i == len(batch) - 1
                    if last:
                        wake.clear()
                    # The last item's settlement also reads the next rows, in one trip.
                    following = await self._deliver(room, item, fetch_next=last)
                batch = following
        except asyncio.CancelledError:
            raise
        except StoreError:
            log.exception(
                "room %s: store failure; the worker stops and resumes on next notify", room
            )

    async def _wait_until_up(self, room: RoomRef) -> None:
        delay = 0.05
        while not self._is_up(room.account):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _deliver(
        self, room: RoomRef, item: OutboxItem, fetch_next: bool = False
    ) -> list[OutboxItem] | None:
        """Deliver one row, retrying in place until it is sent, skipped or dead.

        With ``fetch_next``, returns the room's next rows read in the same store trip as
        the settlement (None when it did not read them).
        """
        limit = BATCH if fetch_next else 0
        attempts = item.attempts
        while True:
            now = self._clock()
            if item.deadline is not None and now > item.deadline:
                await self._dead(item, "deadline passed before it could be delivered")
                return None
            if item.not_before > now:
                await asyncio.sleep(item.not_before - now)
            await self._wait_until_up(room)
            room_bucket, net_bucket = self._buckets(room)
            window = self._window(room)
            # The room's own limits are spent when the send has completed, not when it
            # starts: by then the server has counted it, so pacing at its exact limit can
            # never run ahead of its count, however late a request arrives. (A room sends
            # one delivery at a time, so nothing else can spend them meanwhile.) The
            # network's bucket is shared by many rooms and is taken up front.
            while (wait := max(room_bucket.delay(), window.delay())) > 0:
                await asyncio.sleep(wait)
            await net_bucket.acquire()
            try:
                try:
                    remote_id = await self._attempt(room, item)
                finally:
                    room_bucket.take()
                    window.record()
            except _Skip as exc:
                log.info("room %s: delivery %d skipped: %s", room, item.id, exc)
                following = await self._store.complete(item, None, limit)
                self._settled(item, Outcome.SKIPPED, str(exc))
                return following if fetch_next else None
            except RateLimited as exc:
                room_bucket.pause(exc.retry_after)
                item = await self._postpone(item, attempts, exc.retry_after)
                log.info("room %s: rate limited, retry in %.2fs", room, exc.retry_after)
                self._on_rate_limited(room)
                continue
            except TransientError as exc:
                attempts += 1
                if attempts >= self._config.max_attempts:
                    await self._dead(item, f"gave up after {attempts} attempts: {exc}")
                    return None
                delay = self._backoff.delay(attempts)
                log.warning(
                    "room %s: transient failure (%s); retry %d in %.1fs",
                    room,
                    exc,
                    attempts,
                    delay,
                )
                item = await self._postpone(item, attempts, delay)
                continue
            except PermanentError as exc:
                await self._dead(item, str(exc))
                return None
            except Exception as exc:  # an adapter bug must not kill the room's worker
                log.exception("room %s: adapter raised an unexpected error", room)
                await self._dead(item, f"unexpected error: {type(exc).__name__}: {exc}")
                return None
            self._remember(item, remote_id)
            self.sent += 1
            self._settled(item, Outcome.SENT, remote_id)
            if fetch_next:
                # Queued after every earlier completion of this room (the store's write
                # queue is FIFO), so its read of the next rows sees them all settled.
                following = await self._store.complete(item, remote_id, limit)
                await self._drain_pending(item.dest_room)
                return following
            # Queued now, in order, and not awaited: the next row is sent meanwhile.
            self._pending.setdefault(item.dest_room, []).append(
                self._store.complete_soon(item, remote_id)
            )
            return None

    async def _drain_pending(self, room: str) -> None:
        """Wait for the room's background completions; a failed one is logged (its row stays
        in the outbox and is sent again after a restart: a duplicate, never a loss)."""
        for task in self._pending.pop(room, []):
            try:
                await task
            except StoreError:
                log.exception("room %s: could not record a sent delivery as done", room)

    def _settled(self, item: OutboxItem, outcome: Outcome, detail: str | None) -> None:
        for listener in self.on_settled:
            listener(item, outcome, detail)

    async def _postpone(self, item: OutboxItem, attempts: int, delay: float) -> OutboxItem:
        not_before = self._clock() + delay
        await self._store.postpone(item.id, attempts, not_before)
        return OutboxItem(
            id=item.id,
            message_id=item.message_id,
            dest_room=item.dest_room,
            kind=item.kind,
            payload=item.payload,
            attempts=attempts,
            not_before=not_before,
            deadline=item.deadline,
            created_at=item.created_at,
        )

    async def _dead(self, item: OutboxItem, reason: str) -> None:
        log.error("room %s: delivery %d is a dead letter: %s", item.dest_room, item.id, reason)
        await self._store.dead_letter(item, reason)
        self.dead += 1
        self._settled(item, Outcome.DEAD, reason)

    async def _resolve(self, message_id: int | None, room: str) -> str | None:
        if message_id is None:
            return None
        # A copy sent moments ago may not be committed yet (completions are pipelined).
        recent = self._recent.get((message_id, room))
        if recent is not None:
            return recent
        return await self._store.remote_id_in(message_id, room)

    def _remember(self, item: OutboxItem, remote_id: str | None) -> None:
        if item.kind == DeliveryKind.MESSAGE and remote_id is not None:
            self._recent[(item.message_id, item.dest_room)] = remote_id
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        elif item.kind == DeliveryKind.DELETE:
            self._recent.pop((item.message_id, item.dest_room), None)

    async def _attempt(self, room: RoomRef, item: OutboxItem) -> str | None:
        adapter = self._adapters.get(room.account)
        if adapter is None:
            raise PermanentError(f"no adapter for account {room.account}")
        try:
            delivery = from_outbox(item.payload, item.kind, item.dest_room)
        except ValueError as exc:
            raise PermanentError(f"unreadable delivery: {exc}") from exc
        return await self._act(adapter, room, delivery)

    async def _act(self, adapter: Adapter, room: RoomRef, d: Delivery) -> str | None:
        room_key = str(room)
        if d.kind is DeliveryKind.MESSAGE:
            reply = await self._resolve(d.reply_to, room_key)
            thread = await self._resolve(d.thread, room_key)
            return await adapter.send(room, d.outbound(reply, thread))
        target = await self._resolve(d.target, room_key)
        if target is None:
            raise _Skip(f"{d.kind} of a message that has no copy in this room")
        if d.kind is DeliveryKind.EDIT:
            await adapter.edit(room, target, d.outbound())
        elif d.kind is DeliveryKind.DELETE:
            await adapter.delete(room, target)
        else:
            await adapter.react(room, target, d.emoji or "")
        return target
