"""`bridgebot announce`: one post from the command line to every room of a bridge (or all).

The announcement is a row in the store's announcements table, and, unless it is scheduled
with ``--at``, its deliveries go into the outbox at once, so a running bridge sends them
(it looks at the outbox at least every 5 s) and a stopped one sends them on its next
start. A scheduled one is sent by the running bridge when its time comes (or at its next
start, if it was stopped then). The command then follows the deliveries: a progress line
per network, and at the end where it landed, what is still queued and what failed and why.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from bridgebot.admin.announcements import CLI_ORIGIN, cli_targets, fire, progress_line, show_time
from bridgebot.app import offline_outbox
from bridgebot.config import Config
from bridgebot.core.topology import build_topology
from bridgebot.errors import BridgeError
from bridgebot.store import Announcement, Store
from rules import Topology

__all__ = ["ORIGIN", "announce", "cancel", "list_announcements", "report"]

#: Where command-line announcements come from (not a network room).
ORIGIN = CLI_ORIGIN


async def effective_topology(config: Config, store: Store) -> Topology:
    """bot.toml with the overrides and links made in chat, as the running bridge sees it."""
    overrides: dict[str, dict[str, Any]] = {}
    for room, key, value, _actor, _ts in await store.overrides():
        overrides.setdefault(room, {})[key] = json.loads(value)
    links = [(k.bridge, k.room, k.linked) for k in await store.links()]
    # The pseudonym secret plays no part in choosing rooms.
    return build_topology(config, b"", overrides, links)


async def announce(
    config: Config,
    store: Store,
    text: str,
    author: str,
    bridge: str | None,
    due_at: float | None = None,
) -> int:
    """Queue (or schedule) the announcement; return its id (for ``--status``)."""
    if not text.strip():
        raise BridgeError("the announcement is empty: give TEXT or --file")
    topology = await effective_topology(config, store)
    targets = cli_targets(topology, bridge)  # refuses an unknown bridge before storing
    ann_id = await store.add_announcement(
        author_ref=f"cli:{author}",
        author_name=author,
        text=text,
        bridge=bridge,
        origin_room=str(ORIGIN),
        due_at=due_at,
    )
    detail = {"id": ann_id, "bridge": bridge or "all", "rooms": sorted(targets), "at": due_at}
    await store.audit(f"cli:{author}", "announce", json.dumps(detail))
    if due_at is None:
        ann = await store.announcement(ann_id)
        assert ann is not None
        await fire(store, ann, topology, offline_outbox(store, config))
    return ann_id


async def cancel(store: Store, ann_id: int) -> int:
    """Cancel a scheduled announcement."""
    if await store.cancel_announcement(ann_id):
        await store.audit("cli", "announce-cancel", str(ann_id))
        print(f"announcement {ann_id} cancelled")
        return 0
    ann = await store.announcement(ann_id)
    what = "does not exist" if ann is None else f"is {ann.state}, not scheduled"
    print(f"announcement {ann_id} {what}; nothing to cancel", file=sys.stderr)
    return 1


async def list_announcements(store: Store, limit: int) -> int:
    """Scheduled announcements first, then the latest sent ones."""
    shown = await store.announcements(("scheduled",), limit=limit)
    shown += await store.announcements(("queued", "reported", "cancelled"), limit=limit)
    if not shown:
        print("no announcements")
    for ann in shown:
        when = show_time(ann.due_at or ann.created_at)
        where = ann.bridge or (
            "all bridges" if ann.origin_room == str(ORIGIN) else ann.origin_room
        )
        state = "sent" if ann.state in ("queued", "reported") else ann.state
        first = ann.text.splitlines()[0] if ann.text else ""
        print(f"{ann.id:>5}  {state:<9}  {when}  {ann.author_name} → {where}: {first[:60]}")
    return 0


def _final(ann: Announcement, landed: set[str], failed: dict[str, str]) -> None:
    queued = set(ann.rooms) - landed - set(failed)
    print(f"announcement {ann.id}: {len(landed)} landed, "
          f"{len(queued)} queued, {len(failed)} failed")  # fmt: skip
    for room in sorted(landed):
        print(f"  landed  {room}")
    for room in sorted(queued):
        print(f"  queued  {room}  (behind rate limits, or the bridge is not running)")
    for room, reason in sorted(failed.items()):
        print(f"  failed  {room}: {reason}")


async def report(store: Store, ann_id: int, wait: float) -> int:
    """Follow announcement ``ann_id`` for up to ``wait`` s; print where it landed."""
    ann = await store.announcement(ann_id)
    if ann is None:
        print(f"no announcement with id {ann_id} (bridgebot announce --list shows them)",
              file=sys.stderr)  # fmt: skip
        return 1
    if ann.state == "scheduled":
        print(f"announcement {ann_id} is scheduled for {show_time(ann.due_at or 0)}; "
              f"cancel it with `bridgebot announce --cancel {ann_id}`")  # fmt: skip
        return 0
    if ann.state == "cancelled" or ann.message_id is None:
        print(f"announcement {ann_id} was cancelled; it was not sent")
        return 0
    deadline = time.monotonic() + wait
    while True:
        state = await store.delivery_state(ann.message_id)
        rooms = set(ann.rooms)
        landed = set(state.landed) & rooms
        failed = {room: why for room, why in state.failed.items() if room in rooms}
        if sys.stdout.isatty():
            print("\r" + progress_line(ann, state), end="", flush=True)
        if landed | set(failed) >= set(ann.rooms) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)
    if sys.stdout.isatty():
        print()
    _final(ann, landed, failed)
    return 0 if not failed else 1
