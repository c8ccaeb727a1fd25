"""Crash: SIGKILL the real `bridgebot run` midway through a burst; nothing is lost.

The bot runs as a subprocess on a real SQLite store. A producer posts 2,000 numbered
messages to room A (retrying a post only when the connection failed, as a client would);
a consumer polls room B. Midway the bot is killed with SIGKILL and restarted on the same
database. Every message must arrive, in order; duplicates are counted and reported.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import ApiRoom, api_rooms, config_for

N = 2000
KILL_AT = 900


def start_bot(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "bridgebot.cli", "run", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


async def wait_up(session: aiohttp.ClientSession, room: ApiRoom) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                async with session.get(f"{room.url}/api/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


async def test_sigkill_midway_loses_nothing_and_keeps_order(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    a, b = api_rooms("a", "b")
    config = tmp_path / "bot.toml"
    config.write_text(config_for([a, b]))
    log = tmp_path / "bot.log"
    bot = start_bot(config, log)
    received: list[str] = []
    try:
        async with aiohttp.ClientSession() as s:
            await wait_up(s, a)
            await wait_up(s, b)
            done = asyncio.Event()

            async def consume() -> None:
                # Websocket first; once it is connected new copies come over it, so what
                # the buffer holds (sent while no client was connected) is older: take
                # that next, then the frames. This keeps arrival order = relay order.
                while not (done.is_set() and len(set(received)) >= N):
                    try:
                        async with s.ws_connect(f"{b.url}/api/websocket") as ws:
                            await ws.receive(timeout=10)  # api_connected
                            async with s.get(f"{b.url}/api/messages") as resp:
                                received.extend(m["text"] for m in await resp.json())
                            async for frame in ws:
                                if frame.type is not aiohttp.WSMsgType.TEXT:
                                    break
                                received.append(json.loads(frame.data)["text"])
                                if done.is_set() and len(set(received)) >= N:
                                    return
                    except (TimeoutError, aiohttp.ClientError):
                        await asyncio.sleep(0.05)

            consumer = asyncio.create_task(consume())
            for i in range(N):
                if i == KILL_AT:
                    bot.send_signal(signal.SIGKILL)
                    bot.wait(timeout=10)
                    bot = start_bot(config, log)
                body = {"text": f"msg-{i:05d}", "username": "p", "gateway": "khub"}
                async with asyncio.timeout(30):
                    while True:
                        try:
                            async with s.post(f"{a.url}/api/message", json=body) as resp:
                                assert resp.status == 200, await resp.text()
                                break
                        except aiohttp.ClientError:
                            await asyncio.sleep(0.05)  # the bot is restarting
            done.set()
            async with asyncio.timeout(60):
                await consumer
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(timeout=15)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()
    expected = [f"msg-{i:05d}" for i in range(N)]
    first_seen = list(dict.fromkeys(received))
    duplicates = len(received) - len(first_seen)
    record_property("duplicates", duplicates)
    print(f"crash test: {N} sent, {len(first_seen)} distinct arrived, {duplicates} duplicates")
    assert first_seen == expected, log.read_text()[-3000:]
