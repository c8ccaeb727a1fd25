"""Notice when bot.toml changes on disk, so that a running bot reloads its rules.

The file's folder is watched, not the file: an editor that saves by writing a temporary
file and renaming it over bot.toml replaces the inode a file watch would be holding.
Bursts of writes are gathered (watchfiles waits for ``settle_ms`` of quiet), and a change
that leaves the content as it was (a ``touch``, a save with no edit) reloads nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, awatch

__all__ = ["ConfigWatcher"]

log = logging.getLogger("bridgebot.watch")


class ConfigWatcher:
    """Calls ``on_change`` once per settled change of ``path``'s content, until stopped."""

    def __init__(
        self,
        path: str | Path,
        on_change: Callable[[], Awaitable[None]],
        *,
        settle_ms: int = 200,
        max_wait_ms: int = 2000,
    ) -> None:
        self.path = Path(os.path.abspath(path))
        self._on_change = on_change
        self._settle_ms = settle_ms
        self._max_wait_ms = max_wait_ms
        # The content last acted on, first what the bot was started with (build the
        # watcher right after loading the file).
        self._seen = self._digest()
        #: Settled changes of the file seen so far, whether or not they changed its content.
        self.changes_seen = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching in a background task."""
        if not log.isEnabledFor(logging.DEBUG):
            # watchfiles logs every batch at INFO; our own line says what was done about it.
            logging.getLogger("watchfiles").setLevel(logging.WARNING)
        self._task = asyncio.create_task(self._watch(), name=f"watch {self.path}")

    async def stop(self) -> None:
        """Stop watching; waits for a reload under way to finish."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    def _digest(self) -> bytes | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).digest()
        except OSError:
            return None  # gone for now (mid-rename, or deleted): a state of its own

    def _is_ours(self, _change: Change, path: str) -> bool:
        return os.path.basename(path) == self.path.name

    async def _reload_if_changed(self) -> None:
        digest = self._digest()
        if digest == self._seen:
            return
        self._seen = digest
        log.info("%s changed; reloading the rules", self.path)
        try:
            await self._on_change()
        except Exception:
            log.exception("reloading after a change to %s failed", self.path)

    async def _watch(self) -> None:
        log.info("watching %s: a change to it reloads the rules", self.path)
        try:
            await self._reload_if_changed()  # a save made while the bot was starting
            async for _changes in awatch(
                self.path.parent,
                watch_filter=self._is_ours,
                step=self._settle_ms,
                debounce=self._max_wait_ms,
                stop_event=self._stop,
                recursive=False,
            ):
                self.changes_seen += 1
                await self._reload_if_changed()
        except (OSError, RuntimeError) as exc:
            # E.g. the folder was removed, or the system is out of inotify watches.
            log.error("stopped watching %s (%s); send SIGHUP to reload the rules", self.path, exc)
