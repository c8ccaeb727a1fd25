"""What one Telegram send costs the bridge: python-telegram-bot over its default httpx
backend against ours on aiohttp (adapters/telegram/http.py).

The Telegram lab runs in a child process (as the real server would be elsewhere), with its
rate limits scaled down to nothing, so only the client's cost and the loopback are timed.
For each backend: N sends one after another, then N sends in bunches of ten at once (ten
rooms whose turn came in the same second), reporting wall time and this process's CPU time
per send.

    .venv/bin/python bench/telegram_send.py [--sends 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable

from telegram import Bot
from telegram.request import BaseRequest, HTTPXRequest

from adapters.telegram.http import AiohttpRequest
from bridgebot.lab.telegram import RateLimits, TelegramLab

BUNCH = 10


async def serve() -> None:
    """The child: a lab with one bot and one group; prints how to reach them, then waits."""
    lab = TelegramLab(RateLimits(time_scale=1e-6))
    await lab.start()
    bot = lab.create_bot("bench")
    chat = lab.create_chat("Bench", admins=(bot.id,))
    print(json.dumps({"url": lab.api_url, "token": bot.token, "chat": chat.id}), flush=True)
    await asyncio.Event().wait()


async def measure(
    name: str, request: Callable[[], BaseRequest], lab: dict[str, str], n: int
) -> str:
    bot = Bot(lab["token"], base_url=lab["url"], request=request())
    await bot.initialize()
    try:
        for i in range(20):  # connections open, code paths warm
            await bot.send_message(lab["chat"], f"warm-up {i}", parse_mode="HTML")
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(n):
            await bot.send_message(lab["chat"], f"one <b>{i}</b>", parse_mode="HTML")
        one_cpu, one_wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, n, BUNCH):
            await asyncio.gather(
                *(bot.send_message(lab["chat"], f"bunch <b>{i}</b>", parse_mode="HTML")
                  for i in range(start, start + BUNCH))
            )  # fmt: skip
        bunch_cpu, bunch_wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await bot.shutdown()
    return (
        f"| {name} | {one_wall / n * 1000:.2f} | {one_cpu / n * 1000:.2f} | "
        f"{bunch_wall / (n / BUNCH) * 1000:.1f} | {bunch_cpu / n * 1000:.2f} |"
    )


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sends", type=int, default=300)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        await serve()
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        lab = json.loads(await child.stdout.readline())
        rows = [
            await measure("httpx (PTB default)", HTTPXRequest, lab, args.sends),
            await measure("aiohttp (bridgebot)", AiohttpRequest, lab, args.sends),
        ]
    finally:
        child.kill()
        await child.wait()
    print(
        f"{args.sends} sendMessage calls per row\n\n"
        "| backend | one at a time: ms wall | ms CPU | bunch of 10: ms wall | ms CPU/send |\n"
        "|---|---|---|---|---|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
