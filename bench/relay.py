"""Relay benchmark: N messages from one API room to another over websockets.

Runs `bridgebot run` (durable outbox on, a real SQLite file) as a subprocess with two API
rooms in one bridge, and drives it from this process at concurrency 1 and 16 (that many
messages in flight). Then runs bench/floor.py, a bare aiohttp forwarder over the same
sockets, as the floor. Reports msg/s, p50/p99 latency, the server's peak RSS and CPU per
message, and bridgebot's ratio to the floor.

    .venv/bin/python bench/relay.py [--messages 5000] [--concurrency 1 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bridgebot.lab.relay import api_table, bridge_config, free_port, wait_api_up, write_config

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    concurrency: int
    messages: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_s: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def row(self) -> str:
        return (
            f"| {self.name} | {self.concurrency} | {self.messages} | {self.rate:,.0f} | "
            f"{self.p50_ms:.2f} | {self.p99_ms:.2f} | {self.peak_rss_mb:.0f} | "
            f"{self.cpu_s / self.messages * 1e6:.0f} |"
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def drive(port_a: int, port_b: int, n: int, concurrency: int) -> tuple[float, list[float]]:
    """Post n messages to A keeping `concurrency` in flight; time each until it leaves B."""
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    window = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as s:
        a = await s.ws_connect(f"http://127.0.0.1:{port_a}/api/websocket")
        b = await s.ws_connect(f"http://127.0.0.1:{port_b}/api/websocket")
        await a.receive()
        await b.receive()

        async def receive() -> None:
            while len(latencies) < n:
                frame = await b.receive()
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"websocket closed: {frame}")
                key = json.loads(frame.data)["text"]
                latencies.append(time.perf_counter() - sent_at.pop(key))
                window.release()

        receiver = asyncio.create_task(receive())
        start = time.perf_counter()
        for i in range(n):
            await window.acquire()
            key = f"bench-{i}"
            sent_at[key] = time.perf_counter()
            await a.send_str(json.dumps({"text": key, "username": "bench", "gateway": "khub"}))
        async with asyncio.timeout(120):
            await receiver
        elapsed = time.perf_counter() - start
        await a.close()
        await b.close()
    return elapsed, latencies


def bot_config(workdir: Path, port_a: int, port_b: int) -> Path:
    """API room A bridged with API room B (the relay harness's config), as bot.toml."""
    text = bridge_config(
        api_table("a", port_a),
        api_table("b", port_b),
        rooms=["api.a:api", "api.b:api"],
        head='[log]\nlevel = "warning"',
        store="bench.db",
    )
    return write_config(workdir, text)


async def measure(
    name: str, argv: list[str], cwd: Path, ports: tuple[int, int], n: int, concurrency: int
) -> Result:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await wait_api_up(ports[0], proc=proc)
        await wait_api_up(ports[1], proc=proc)
        await drive(*ports, min(200, n), concurrency)  # warm up
        cpu0 = cpu_seconds(proc.pid)
        elapsed, lat = await drive(*ports, n, concurrency)
        cpu = cpu_seconds(proc.pid) - cpu0
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await proc.wait()
    q = statistics.quantiles(lat, n=100)
    return Result(name, concurrency, n, elapsed, q[49] * 1000, q[98] * 1000, cpu, rss)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = p.parse_args()
    results: list[Result] = []
    for c in args.concurrency:
        with tempfile.TemporaryDirectory() as tmp:
            ports = (free_port(), free_port())
            config = bot_config(Path(tmp), *ports)
            argv = [sys.executable, "-m", "bridgebot.cli", "run", str(config)]
            results.append(await measure("bridgebot", argv, Path(tmp), ports, args.messages, c))
        ports = (free_port(), free_port())
        argv = [sys.executable, str(HERE / "floor.py"), str(ports[0]), str(ports[1])]
        results.append(await measure("floor", argv, HERE, ports, args.messages, c))
    print(
        "| server | concurrency | messages | msg/s | p50 ms | p99 ms | peak RSS MB | CPU µs/msg |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(r.row())
    for c in args.concurrency:
        bot = next(r for r in results if r.name == "bridgebot" and r.concurrency == c)
        floor = next(r for r in results if r.name == "floor" and r.concurrency == c)
        print(f"concurrency {c}: bridgebot at {bot.rate / floor.rate:.0%} of the floor's rate")


if __name__ == "__main__":
    asyncio.run(main())
