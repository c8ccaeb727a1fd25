"""Matrix relay benchmark: API → Matrix and Matrix → API through a real Synapse.

Starts a real Synapse (bridgebot.lab.synapse, rate limits raised), registers a bot and a
human, and runs `bridgebot run` as a subprocess with one API room and one Matrix room in a
bridge (durable outbox on, a real SQLite file). Then, keeping 8 messages in flight end to
end (a slot frees when the message is seen on the far side):

- API → Matrix: posts over the API websocket, times each until the human's /sync sees it;
- Matrix → API: the human sends to the room (client-server API), times each until it
  leaves the API websocket.

For scale it measures Synapse alone in a room the bot is not in: the human sending with
8 requests in flight (until each send is answered), then with 1 in flight (how bridgebot
sends into one room: one at a time, to keep order); then both again until the human's
/sync sees each message (the API → Matrix observation path without the bridge).

    .venv/bin/python bench/matrix_relay.py [--messages 300] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from relay import cpu_seconds  # bench/ is on sys.path when run as a script

from bridgebot.lab.relay import (
    api_table,
    bridge_config,
    eventually,
    free_port,
    matrix_table,
    wait_api_up,
    write_config,
)
from bridgebot.lab.synapse import MatrixUser, Synapse

WAIT = 180.0  # seconds: the upper bound of every phase
_txn = itertools.count()


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    latencies: list[float]
    bot_cpu_s: float | None
    synapse_cpu_s: float

    def row(self) -> str:
        q = statistics.quantiles(self.latencies, n=100)
        bot = "–" if self.bot_cpu_s is None else f"{self.bot_cpu_s / self.messages * 1e6:,.0f}"
        return (
            f"| {self.name} | {self.messages} | {self.messages / self.seconds:,.1f} | "
            f"{q[49] * 1000:.0f} | {q[98] * 1000:.0f} | {bot} | "
            f"{self.synapse_cpu_s / self.messages * 1e6:,.0f} | "
            f"{self.synapse_cpu_s / self.seconds:.0%} |"
        )


def synapse_process(synapse: Synapse) -> int:
    """The pid of the homeserver started with this Synapse's config (read from /proc)."""
    config = str(synapse.base / "homeserver.yaml").encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if config in argv and b"--generate-keys" not in argv:
                return int(entry.name)
    raise RuntimeError("Synapse's process not found")


class Matrix:
    """The human's side of the client-server API, over aiohttp."""

    def __init__(self, http: aiohttp.ClientSession, url: str, user: MatrixUser) -> None:
        self.http = http
        self.url = url
        self.user = user
        self.headers = {"Authorization": f"Bearer {user.access_token}"}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(
            method, f"{self.url}{path}", json=body, headers=self.headers
        ) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"{method} {path}: {resp.status} {data}")
            return data

    async def create_room(self) -> str:
        body = {"preset": "public_chat", "name": f"bench-{time.time_ns()}"}
        room_id: str = (await self.call("POST", "/_matrix/client/v3/createRoom", body))["room_id"]
        return room_id

    async def say(self, room_id: str, text: str) -> None:
        path = (
            f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/m.room.message/"
            f"bench.{os.getpid()}.{next(_txn)}"
        )
        await self.call("PUT", path, {"msgtype": "m.text", "body": text})

    async def members(self, room_id: str) -> set[str]:
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/joined_members"
        return set((await self.call("GET", path))["joined"])


class Watcher:
    """The human's continuous /sync: calls ``rooms[room_id](sender, body)`` per new message."""

    def __init__(self, matrix: Matrix, rooms: dict[str, Callable[[str, str], None]]) -> None:
        self.matrix = matrix
        self.rooms = rooms
        self.filter = urllib.parse.quote(
            json.dumps(
                {
                    "room": {"rooms": list(rooms), "timeline": {"limit": 100}},
                    "presence": {"types": []},
                    "account_data": {"types": []},
                }
            )
        )

    async def _sync(self, since: str | None, timeout_ms: int) -> dict[str, Any]:
        path = f"/_matrix/client/v3/sync?filter={self.filter}&timeout={timeout_ms}"
        if since:
            path += f"&since={since}"
        async with asyncio.timeout(timeout_ms / 1000 + 30):
            result: dict[str, Any] = await self.matrix.call("GET", path)
            return result

    async def run(self, started: asyncio.Event) -> None:
        token = (await self._sync(None, 0))["next_batch"]
        started.set()
        while True:
            resp = await self._sync(token, 5000)
            token = resp["next_batch"]
            for room_id, room in resp.get("rooms", {}).get("join", {}).items():
                if room_id not in self.rooms:
                    continue
                if room["timeline"].get("limited"):
                    raise RuntimeError("sync timeline limited: the watcher fell behind")
                for event in room["timeline"]["events"]:
                    if event["type"] == "m.room.message":
                        self.rooms[room_id](event["sender"], event["content"].get("body", ""))


Sink = list[Callable[[str], None]]


async def windowed(
    n: int, concurrency: int, send: Callable[[str], Awaitable[None]], sink: Sink | None
) -> tuple[float, list[float]]:
    """Send n keyed messages keeping ``concurrency`` in flight until each has arrived:
    reported through ``sink`` (its last callback is called), or, without one, answered."""
    window = asyncio.Semaphore(concurrency)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    all_in = asyncio.Event()
    run = f"r{time.time_ns()}"

    def arrived(key: str) -> None:
        if key in sent_at:
            latencies.append(time.perf_counter() - sent_at.pop(key))
            window.release()
            if len(latencies) == n:
                all_in.set()

    async def go(key: str) -> None:
        await send(key)
        if sink is None:
            arrived(key)

    if sink is not None:
        sink.append(arrived)

    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    async with asyncio.timeout(WAIT):
        for i in range(n):
            await window.acquire()
            key = f"{run}-{i}"
            sent_at[key] = time.perf_counter()
            task = asyncio.create_task(go(key))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await all_in.wait()
    elapsed = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return elapsed, latencies


def bot_config(workdir: Path, api_port: int, synapse: Synapse, bot: MatrixUser, room: str) -> Path:
    """The API room bridged with the Matrix room (the relay harness's config), as bot.toml."""
    text = bridge_config(
        api_table("a", api_port),
        matrix_table(synapse.url, bot.user_id, "home"),
        rooms=["api.a:api", f"matrix.home:{room}"],
        head='[log]\nlevel = "warning"',
        store="bench.db",
    )
    return write_config(workdir, text)


async def bench(synapse: Synapse, workdir: Path, n: int, concurrency: int) -> list[Result]:
    bot, human = await asyncio.gather(
        asyncio.to_thread(synapse.register, "benchbot"),
        asyncio.to_thread(synapse.register, "human"),
    )
    synapse_pid = synapse_process(synapse)
    results: list[Result] = []
    async with aiohttp.ClientSession() as http:
        matrix = Matrix(http, synapse.url, human)
        room, solo_room = await matrix.create_room(), await matrix.create_room()
        port = free_port()
        config = bot_config(workdir, port, synapse, bot, room)
        with (workdir / "bot.log").open("wb") as log:  # the child keeps its own copy
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bridgebot.cli",
                "run",
                str(config),
                cwd=workdir,
                env={**os.environ, "MATRIX_PASSWORD": bot.password},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        watchers: list[asyncio.Task[None]] = []
        try:
            await wait_api_up(port, 60, proc=proc, http=http)

            async def joined() -> bool:
                return bot.user_id in await matrix.members(room)

            await eventually(joined, 60, interval=0.2, what=f"{bot.user_id} in {room}")

            async def say_room(key: str) -> None:
                await matrix.say(room, key)

            async def say_solo(key: str) -> None:
                await matrix.say(solo_room, key)

            async def phase(
                name: str,
                send: Callable[[str], Awaitable[None]],
                sink: Sink | None,
                bot_pid: int | None,
                lanes: int = concurrency,
            ) -> None:
                await windowed(min(30, n), lanes, send, sink)  # warm up
                cpu0 = cpu_seconds(bot_pid) if bot_pid else 0.0
                syn0 = cpu_seconds(synapse_pid)
                elapsed, lat = await windowed(n, lanes, send, sink)
                bot_cpu = cpu_seconds(bot_pid) - cpu0 if bot_pid else None
                syn_cpu = cpu_seconds(synapse_pid) - syn0
                results.append(Result(name, n, elapsed, lat, bot_cpu, syn_cpu))
                print(results[-1].row(), file=sys.stderr)

            # Synapse alone, before anyone syncs: each /sync woken costs Synapse CPU too.
            await phase("Synapse alone: send, until answered", say_solo, None, None)
            await phase("Synapse alone: send, 1 in flight", say_solo, None, None, 1)

            # Where arrivals are reported: Matrix messages from the bot (API → Matrix),
            # from the human in the solo room, and frames out of the API websocket.
            to_matrix: Sink = [lambda _: None]
            to_solo: Sink = [lambda _: None]
            to_api: Sink = [lambda _: None]
            prefix = "bench · api: "

            def in_room(sender: str, body: str) -> None:
                if sender == bot.user_id and body.startswith(prefix):
                    to_matrix[-1](body.removeprefix(prefix))

            def in_solo(sender: str, body: str) -> None:
                to_solo[-1](body)

            started = asyncio.Event()
            watcher = Watcher(matrix, {room: in_room, solo_room: in_solo})
            watchers.append(asyncio.create_task(watcher.run(started)))
            async with asyncio.timeout(30):
                await started.wait()

            ws = await http.ws_connect(f"http://127.0.0.1:{port}/api/websocket")
            await ws.receive(timeout=10)  # api_connected

            async def read_api() -> None:
                async for frame in ws:
                    if frame.type is aiohttp.WSMsgType.TEXT:
                        to_api[-1](json.loads(frame.data).get("text", ""))

            watchers.append(asyncio.create_task(read_api()))

            async def post_api(key: str) -> None:
                await ws.send_str(
                    json.dumps({"text": key, "username": "bench", "gateway": "khub"})
                )

            await phase("Synapse alone: send, until seen in /sync", say_solo, to_solo, None)
            await phase(
                "Synapse alone: send, 1 in flight, until seen in /sync", say_solo, to_solo, None, 1
            )
            await phase(
                "bridgebot API → Matrix (until seen in /sync)", post_api, to_matrix, proc.pid
            )
            await phase(
                "bridgebot Matrix → API (until out of the websocket)", say_room, to_api, proc.pid
            )
            await ws.close()
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                async with asyncio.timeout(20):
                    await proc.wait()
    return results


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=8)
    args = p.parse_args()
    with Synapse() as synapse, tempfile.TemporaryDirectory() as tmp:
        results = await bench(synapse, Path(tmp), args.messages, args.concurrency)
    print(f"{args.messages} messages, {args.concurrency} in flight end to end\n")
    print(
        "| path | messages | msg/s | p50 ms | p99 ms "
        "| bot CPU µs/msg | Synapse CPU µs/msg | Synapse CPU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(r.row())
    ceiling, one_lane, seen, one_seen = (r.messages / r.seconds for r in results[:4])
    print(
        f"\nSynapse's own ceiling here: {ceiling:.1f} msg/s with {args.concurrency} in flight, "
        f"{one_lane:.1f} msg/s one at a time; until seen in /sync: {seen:.1f} and "
        f"{one_seen:.1f} msg/s."
    )
    for r in results[4:]:
        rate = r.messages / r.seconds
        print(
            f"{r.name}: {rate:.1f} msg/s = {rate / ceiling:.0%} of the ceiling, "
            f"{rate / one_lane:.0%} of one-at-a-time, {rate / seen:.0%} of until-seen, "
            f"{rate / one_seen:.0%} of one-at-a-time until-seen"
        )


if __name__ == "__main__":
    asyncio.run(main())
