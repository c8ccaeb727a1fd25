"""A running bot reloads its rules when bot.toml changes on disk, as SIGHUP does.

First the watcher on its own (real files, real inotify through watchfiles), then
`bridgebot run` as a subprocess relaying between two API rooms while its file is edited in
place, broken, replaced by rename, and changed with deliveries still queued.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridgebot.cli.watch import ConfigWatcher
from bridgebot.config.models import ReloadConfig
from tests.e2e.conftest import ApiRoom, api_rooms, config_for
from tests.e2e.test_commands import say

WAIT = 30.0  # a safety net against a hang, never a measurement


# -- the watcher on its own --------------------------------------------------------------


class Reloads:
    """What ``on_change`` saw: the file's text at each call (None: the file was missing)."""

    def __init__(self, path: Path, fail_first: bool = False) -> None:
        self.path = path
        self.texts: list[str | None] = []
        self.fail_first = fail_first
        self._changed = asyncio.Condition()

    async def __call__(self) -> None:
        self.texts.append(self.path.read_text() if self.path.exists() else None)
        async with self._changed:
            self._changed.notify_all()
        if self.fail_first and len(self.texts) == 1:
            raise RuntimeError("a reload that fails")

    async def until(self, text: str | None) -> None:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: bool(self.texts) and self.texts[-1] == text)


async def until(condition: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.02)


def probe_file(path: Path, text: str | None) -> str:
    """Write ``text`` to ``path`` (a few bytes on a local disk), or read it with None."""
    if text is not None:
        path.write_text(text)
    return path.read_text()


@asynccontextmanager
async def watching(path: Path, reloads: Reloads) -> AsyncIterator[ConfigWatcher]:
    """A started watcher that has been seen to see changes, with ``reloads`` reset."""
    watcher = ConfigWatcher(path, reloads)
    watcher.start()
    try:
        # The watch is set up in the task: poke the file until a change comes through.
        original, probe = probe_file(path, None), 0
        async with asyncio.timeout(WAIT):
            while watcher.changes_seen == 0:
                probe += 1
                probe_file(path, f"{original}# probe {probe}\n")
                await asyncio.sleep(0.1)
        probe_file(path, original)
        await reloads.until(original)
        reloads.texts.clear()
        yield watcher
    finally:
        await watcher.stop()


async def test_a_burst_of_writes_is_one_reload_of_the_final_text(tmp_path: Path) -> None:
    cfg = tmp_path / "bot.toml"
    cfg.write_text("x = 0\n")
    reloads = Reloads(cfg)
    async with watching(cfg, reloads):
        for i in range(1, 51):
            cfg.write_text(f"x = {i}\n")
        await reloads.until("x = 50\n")
    # One is expected: the writes take a few milliseconds, the watcher waits for 200 ms of
    # quiet. Only a stall of the writing loop longer than that could split the burst.
    assert 1 <= len(reloads.texts) <= 2


async def test_a_save_that_changes_nothing_reloads_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "bot.toml"
    cfg.write_text("x = 1\n")
    reloads = Reloads(cfg)
    async with watching(cfg, reloads) as watcher:
        seen = watcher.changes_seen
        cfg.write_text("x = 1\n")
        os.utime(cfg)
        await until(lambda: watcher.changes_seen > seen)
        assert reloads.texts == []
        cfg.write_text("x = 2\n")
        await reloads.until("x = 2\n")
    assert reloads.texts == ["x = 2\n"]


async def test_rename_over_and_delete_then_recreate_each_reload(tmp_path: Path) -> None:
    cfg = tmp_path / "bot.toml"
    cfg.write_text("x = 1\n")
    reloads = Reloads(cfg)
    async with watching(cfg, reloads):
        inode = cfg.stat().st_ino
        swap = tmp_path / ".bot.toml.swp"
        swap.write_text("x = 2\n")
        os.replace(swap, cfg)
        await reloads.until("x = 2\n")
        assert cfg.stat().st_ino != inode  # a new file, not the one first watched
        cfg.unlink()
        await reloads.until(None)  # the bot then logs "no such file" and keeps its rules
        cfg.write_text("x = 3\n")
        await reloads.until("x = 3\n")
    assert reloads.texts == ["x = 2\n", None, "x = 3\n"]


async def test_a_failing_reload_does_not_stop_the_watching(tmp_path: Path) -> None:
    cfg = tmp_path / "bot.toml"
    cfg.write_text("x = 1\n")
    reloads = Reloads(cfg, fail_first=True)
    async with watching(cfg, reloads):
        cfg.write_text("x = 2\n")
        await reloads.until("x = 2\n")
        cfg.write_text("x = 3\n")
        await reloads.until("x = 3\n")


def test_the_reload_table_is_documented_in_the_example() -> None:
    example = (Path(__file__).resolve().parents[2] / "bot.example.toml").read_text()
    assert re.search(r"^\[reload\]$", example, re.M)
    for key in ReloadConfig.model_fields:
        assert re.search(rf"^{key} = ", example, re.M), key


# -- `bridgebot run` -----------------------------------------------------------------------


class Bot:
    """`bridgebot run CONFIG` in a subprocess, its log lines collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    async def logged(self, text: str, after: int = 0) -> int:
        """Wait for a log line containing ``text`` past line ``after``; its index."""
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    for i in range(after, len(self.lines)):
                        if text in self.lines[i]:
                            return i
                    if self.proc.returncode is not None:
                        break
                    await asyncio.sleep(0.02)
        except TimeoutError:
            pass
        pytest.fail(f"no log line with {text!r}; bridgebot said:\n" + "\n".join(self.lines))

    def mark(self) -> int:
        return len(self.lines)


@asynccontextmanager
async def bridgebot_run(cfg: Path, *, watching: bool = True) -> AsyncIterator[Bot]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridgebot.cli",
        "run",
        str(cfg),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    bot = Bot(proc)
    try:
        await bot.logged("bridgebot is running with")
        await bot.logged("watching" if watching else "not watching")
        yield bot
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT):
            assert await proc.wait() == 0, "\n".join(bot.lines)
            await bot._reader


class Inbox:
    """Everything relayed into an API room, in order (GET /api/messages drains the room)."""

    def __init__(self, session: aiohttp.ClientSession, room: ApiRoom) -> None:
        self.session, self.room = session, room
        self.got: list[dict[str, Any]] = []

    async def fetch(self) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.room.url}/api/messages") as resp:
            self.got += await resp.json()
        return self.got

    async def wait(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(WAIT):
            while len(await self.fetch()) < count:
                await asyncio.sleep(0.05)
        return self.got


def with_extra(room: ApiRoom, extra: str) -> ApiRoom:
    return ApiRoom(room.account, room.port, room.privacy, extra)


async def test_edit_in_place_broken_file_and_rename_over_while_running(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    cfg = tmp_path / "bot.toml"
    cfg.write_text(config_for([a, b]))
    async with bridgebot_run(cfg) as bot, aiohttp.ClientSession() as s:
        inbox = Inbox(s, b)
        await say(s, a, "ann", "write to ann@example.org")
        assert (await inbox.wait(1))[-1]["text"] == "write to ann@example.org"

        # Edited in place (same file, new content): room a now redacts email addresses.
        mark = bot.mark()
        cfg.write_text(config_for([with_extra(a, 'redact = ["email"]'), b]))
        await bot.logged("rules reloaded from", mark)
        await say(s, a, "ann", "write to ann@example.org")
        assert (await inbox.wait(2))[-1]["text"] == "write to [email]"

        # A broken file is refused with its errors; the rules in force stay.
        mark = bot.mark()
        cfg.write_text(config_for([ApiRoom(a.account, a.port, "secret"), b]))
        refused = await bot.logged("reload refused; the old rules stay in force", mark)
        await bot.logged("public, internal, closed", refused)
        await say(s, a, "ann", "write to ann@example.org")
        assert (await inbox.wait(3))[-1]["text"] == "write to [email]"

        # An editor's save: a new file renamed over the old. No redaction, a new label.
        mark = bot.mark()
        swap = tmp_path / ".bot.toml.swp"
        swap.write_text(config_for([a, b], label="{author} via {network}"))
        os.replace(swap, cfg)
        await bot.logged("rules reloaded from", mark)
        await say(s, a, "ann", "write to ann@example.org")
        last = (await inbox.wait(4))[-1]
        assert (last["text"], last["username"]) == ("write to ann@example.org", "ann via api")


async def test_deliveries_queued_before_a_reload_are_all_sent_in_order(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    slow = "[dispatch.rate.api]\nper_room = 1.0\nroom_burst = 1\n"  # b takes 1 message a second
    cfg = tmp_path / "bot.toml"
    cfg.write_text(config_for([a, b], head=slow))
    async with bridgebot_run(cfg) as bot, aiohttp.ClientSession() as s:
        inbox = Inbox(s, b)
        texts = [f"message {i}" for i in range(8)]
        for text in texts:
            await say(s, a, "ann", text)
        mark = bot.mark()
        cfg.write_text(config_for([a, b], head=slow, label="{author} via {network}"))
        await bot.logged("rules reloaded from", mark)
        arrived_by_then = len(await inbox.fetch())
        assert arrived_by_then < len(texts), "the queue drained before the reload: test nothing"
        got = await inbox.wait(len(texts))
        assert [m["text"] for m in got] == texts
        await say(s, a, "ann", "after the reload")
        last = (await inbox.wait(len(texts) + 1))[-1]
        assert (last["text"], last["username"]) == ("after the reload", "ann via api")


async def test_with_watching_off_the_file_waits_for_sighup(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    off = "[reload]\nwatch = false\n"
    cfg = tmp_path / "bot.toml"
    cfg.write_text(config_for([a, b], head=off))
    async with bridgebot_run(cfg, watching=False) as bot, aiohttp.ClientSession() as s:
        inbox = Inbox(s, b)
        cfg.write_text(config_for([with_extra(a, 'redact = ["email"]'), b], head=off))
        mark = bot.mark()
        bot.proc.send_signal(signal.SIGHUP)
        await bot.logged("rules reloaded from", mark)
        await say(s, a, "ann", "write to ann@example.org")
        assert (await inbox.wait(1))[-1]["text"] == "write to [email]"
    assert sum("rules reloaded" in line for line in bot.lines) == 1
