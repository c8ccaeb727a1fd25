"""Crash: SIGKILL the real `bridgebot run` while it sends 200 messages into Matrix.

The bot runs as a subprocess on a real SQLite store, bridging an API room and a room on
the session's Synapse. 200 numbered messages are posted to the API room; once about 60
copies are in the Matrix room the bot is killed with SIGKILL and restarted on the same
database. Deliveries already in the room but not yet settled in the store are sent again
with the same transaction ids (same device, kept in the store), so Synapse dedupes them:
every text is in the room exactly once, in order. How many were sent again is reported
(``resent_after_restart``), not asserted: it depends on where the kill lands.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import aiohttp

from bridgebot.lab.harness import free_port
from tests.matrix.conftest import BotFactory, Human, config

People = Callable[..., Awaitable[Human]]

N = 200
KILL_AT = 60


def start_bot(config_path: Path, log: Path, password: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "bridgebot.cli", "run", str(config_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=config_path.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "MATRIX_PASSWORD": password},
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def pending_rows(database: Path) -> int:
    """Outbox rows not yet settled, read from the (killed) bot's SQLite file."""
    with closing(sqlite3.connect(database)) as db:
        (count,) = db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)


async def wait_up(session: aiohttp.ClientSession, api: str, proc: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(30):
        while True:
            assert proc.poll() is None, "bridgebot exited"
            try:
                async with session.get(f"{api}/api/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


async def test_sigkill_while_sending_into_matrix_leaves_no_duplicates(
    tmp_path: Path,
    bot: BotFactory,
    people: People,
    record_property: Callable[[str, object], None],
) -> None:
    alice = await people("alice", "Alice")
    room = await alice.create_room()
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    config_path = tmp_path / "bot.toml"
    config_path.write_text(config(port, bot, room))
    log = tmp_path / "bot.log"
    expected = [f"bob · api: crash-{i:03d}" for i in range(N)]

    async def copies() -> list[str]:
        """The bodies of the bot's messages in the room, oldest first."""
        events = await alice.messages(room)
        return [e["content"]["body"] for e in events if e["sender"] == bot.user.user_id]

    proc = start_bot(config_path, log, bot.user.password)
    try:
        async with aiohttp.ClientSession() as http:
            await wait_up(http, api, proc)
            async with asyncio.timeout(30):
                for i in range(N):
                    body = {"text": f"crash-{i:03d}", "username": "bob", "gateway": "khub"}
                    async with http.post(f"{api}/api/message", json=body) as resp:
                        assert resp.status == 200, await resp.text()

            async with asyncio.timeout(60):
                while len(seen := await copies()) < KILL_AT:
                    assert proc.poll() is None, log.read_text()[-3000:]
                    await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            at_kill = len(await copies())
            # Rows already in the room but not yet settled are sent again after restart,
            # with their original transaction ids: these are what Synapse must dedupe.
            resent = pending_rows(tmp_path / "bridgebot.db") + at_kill - N
            assert len(seen) < N, "the bot finished before it could be killed"

            proc = start_bot(config_path, log, bot.user.password)
            async with asyncio.timeout(90):
                while len(set(seen := await copies())) < N:
                    assert proc.poll() is None, log.read_text()[-3000:]
                    await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # a late duplicate would land now
            seen = await copies()
    finally:
        stop(proc)

    record_property("copies_at_kill", at_kill)
    record_property("resent_after_restart", resent)
    record_property("duplicates", len(seen) - len(set(seen)))
    print(
        f"matrix crash test: killed at {at_kill} copies, {resent} sent again after restart; "
        f"{len(seen)} copies in the room"
    )
    assert seen == expected, log.read_text()[-3000:]
