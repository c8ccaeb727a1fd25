"""`bridgebot announce`: one post from the command line to every room of a bridge (or all).

The announcement is written to the store's outbox like any relayed message, so a running
bridge sends it (it looks at the outbox at least every 5 s) and a stopped one sends it on
its next start. The command then follows the deliveries: a progress line per network,
and at the end where it landed, what is still queued and what failed and why.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter

from bridgebot.config import Config
from bridgebot.errors import BridgeError
from bridgebot.model import RoomRef
from bridgebot.store import NewDelivery, Store

__all__ = ["ORIGIN", "announce", "report"]

#: Where command-line announcements come from (not a network room).
ORIGIN = RoomRef("cli.local", "announce")


def _targets(config: Config, bridge: str | None) -> dict[str, str]:
    """room → bridge name, for every receiving room of the chosen bridge(s)."""
    chosen = [b for b in config.bridges if bridge is None or b.name == bridge]
    if not chosen:
        known = ", ".join(b.name for b in config.bridges) or "none"
        raise BridgeError(f"no bridge named {bridge!r} in {config.source}; bridges: {known}")
    return {str(r.room): b.name for b in chosen for r in b.rooms if r.receives}


async def announce(
    config: Config, store: Store, text: str, author: str, bridge: str | None
) -> int:
    """Queue the announcement; return its id (for ``--status``)."""
    if not text.strip():
        raise BridgeError("the announcement is empty: give TEXT or --file")
    targets = _targets(config, bridge)
    remote_id = uuid.uuid4().hex
    deadline = time.time() + config.dispatch.deadline
    deliveries = []
    for room, bridge_name in targets.items():
        payload = {
            "key": f"announce-{remote_id}-{room}",
            "text": text,
            "label": f"{author} (announcement)",
            "bridge": bridge_name,
            "origin": str(ORIGIN),
            "author_name": author,
            "author_id": author,
            "avatar_url": None,
            "reply_to_msg": None,
            "thread_msg": None,
            "ts": time.time(),
            "announce": True,
        }
        deliveries.append(NewDelivery(room, "message", json.dumps(payload), deadline))
    message_id = await store.accept_message(
        str(ORIGIN), remote_id, f"cli:{author}", bridge, time.time(), deliveries
    )
    assert message_id is not None  # a fresh remote id is never a duplicate
    detail = {"id": message_id, "bridge": bridge or "all", "rooms": sorted(targets)}
    await store.audit(f"cli:{author}", "announce", json.dumps(detail))
    return message_id


async def _state(store: Store, message_id: int) -> tuple[set[str], dict[str, str], set[str]]:
    """(landed rooms, failed rooms → reason, all target rooms) of one announcement."""
    landed = {room for room, _ in await store.copies_of(message_id)}
    failed = {d.dest_room: d.reason for d in await store.dead_letters(10_000)
              if d.message_id == message_id}  # fmt: skip
    targets: set[str] = set()
    for entry in await store.audit_log(10_000):
        if entry.action == "announce" and json.loads(entry.detail).get("id") == message_id:
            targets = set(json.loads(entry.detail)["rooms"])
    return landed, failed, targets


def _progress(landed: set[str], failed: dict[str, str], targets: set[str]) -> str:
    per_net = Counter(RoomRef.parse(r).network for r in targets)
    done = Counter(RoomRef.parse(r).network for r in landed | set(failed))
    bars = []
    for net in sorted(per_net):
        n, d = per_net[net], done[net]
        bars.append(f"{net} [{'#' * d}{'.' * (n - d)}] {d}/{n}")
    return "  ".join(bars)


async def report(store: Store, message_id: int, wait: float) -> int:
    """Follow announcement ``message_id`` for up to ``wait`` s; print where it landed."""
    deadline = time.monotonic() + wait
    while True:
        landed, failed, targets = await _state(store, message_id)
        if not targets:
            print(f"no announcement with id {message_id}", file=sys.stderr)
            return 1
        settled = landed | set(failed)
        if sys.stdout.isatty():
            print("\r" + _progress(landed, failed, targets), end="", flush=True)
        if settled >= targets or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)
    if sys.stdout.isatty():
        print()
    print(f"announcement {message_id}: {len(landed)} landed, "
          f"{len(targets - settled)} queued, {len(failed)} failed")  # fmt: skip
    for room in sorted(landed):
        print(f"  landed  {room}")
    for room in sorted(targets - settled):
        print(f"  queued  {room}  (behind rate limits, or the bridge is not running)")
    for room, reason in sorted(failed.items()):
        print(f"  failed  {room}: {reason}")
    return 0 if not failed else 1
