"""Micro benchmark of the store's hot path: accept → next_batch → complete.

Usage: python bench/store_bench.py [--messages 5000] [--dests 2] [--db PATH]

Two runs on a fresh WAL database file each:
- phased: accept every message, then drain each destination room (one task per room,
  batches of 32, one complete() per delivery), as on a restart with a full outbox;
- pipelined: the same, with the producer and the room drainers running at once, as in
  steady operation.
Throughput counts messages (each with ``--dests`` deliveries) per second of wall time, and
per second of CPU time of the whole process (event loop plus SQLite's worker thread): on a
shared, busy machine the CPU figure is the steadier one to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bridgebot.store import NewDelivery, Store, open_store

ORIGIN = "api.one:api"


def rooms(dests: int) -> list[str]:
    return [f"slack.work:C{i}" for i in range(dests)]


async def produce(store: Store, messages: int, dests: list[str]) -> None:
    payload = json.dumps({"text": "hello from the benchmark", "label": "bench · api"})
    for n in range(messages):
        deliveries = [NewDelivery(room, "message", payload, None) for room in dests]
        await store.accept_message(ORIGIN, f"r{n}", "api.one:bench", None, time.time(), deliveries)


async def drain(store: Store, room: str, expected: int) -> None:
    done = 0
    while done < expected:
        batch = await store.next_batch(room, 32)
        if not batch:
            await asyncio.sleep(0.0005)  # pipelined: the producer is ahead of us
            continue
        for item in batch:
            await store.complete(item, f"copy-{item.id}")
        done += len(batch)


async def run(path: Path, messages: int, dests: list[str], pipelined: bool) -> dict[str, float]:
    store = await open_store(path)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        if pipelined:
            await asyncio.gather(
                produce(store, messages, dests), *(drain(store, r, messages) for r in dests)
            )
            accept_s = float("nan")
        else:
            await produce(store, messages, dests)
            accept_s = time.perf_counter() - start
            await asyncio.gather(*(drain(store, r, messages) for r in dests))
        total_s = time.perf_counter() - start
        cpu_s = time.process_time() - cpu
        assert await store.outbox_size() == 0
    finally:
        await store.close()
    return {"accept_s": accept_s, "total_s": total_s, "cpu_s": cpu_s, "commits": store.commits}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--dests", type=int, default=2)
    parser.add_argument("--db", type=Path, default=None, help="directory for the database files")
    args = parser.parse_args()
    dests = rooms(args.dests)
    with tempfile.TemporaryDirectory(dir=args.db) as tmp:
        for name, pipelined in (("phased", False), ("pipelined", True)):
            result = await run(Path(tmp) / f"{name}.db", args.messages, dests, pipelined)
            total = result["total_s"]
            line = (
                f"{name:9} {args.messages} messages x {args.dests} deliveries: "
                f"{total:.2f} s, {args.messages / total:,.0f} messages/s "
                f"({args.messages * args.dests / total:,.0f} deliveries/s); "
                f"{args.messages / result['cpu_s']:,.0f} messages per CPU-second; "
                f"{result['commits']:,} commits"
            )
            if not pipelined:
                line += f"; accept alone {args.messages / result['accept_s']:,.0f} messages/s"
            print(line)


if __name__ == "__main__":
    asyncio.run(main())
