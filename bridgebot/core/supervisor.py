"""Supervise adapters: start each with a timeout, retry transient failures with capped,
jittered backoff that resets after a quiet period; a permanent failure stops that adapter
and tells the admin (log + status), never the process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass

from bridgebot.contract import Adapter, Emit
from bridgebot.errors import PermanentError
from bridgebot.pacing import Backoff

__all__ = ["AdapterState", "Supervisor"]

log = logging.getLogger("bridgebot.supervisor")

START_TIMEOUT = 30.0
QUIET_PERIOD = 60.0


@dataclass(slots=True)
class AdapterState:
    state: str = "starting"  # starting | up | retrying | failed | stopped
    detail: str = ""
    since: float = 0.0
    attempts: int = 0


class Supervisor:
    """Owns the start/stop of every adapter and knows which are up."""

    def __init__(self, adapters: MutableMapping[str, Adapter], emit: Emit) -> None:
        self._adapters = adapters
        self._emit = emit
        self._states = {account: AdapterState(since=time.time()) for account in adapters}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._backoff = Backoff(base=1.0, cap=60.0)
        self.start_timeout = START_TIMEOUT

    def is_up(self, account: str) -> bool:
        state = self._states.get(account)
        return state is not None and state.state == "up"

    def states(self) -> dict[str, dict[str, object]]:
        return {
            account: {
                "state": s.state,
                "detail": s.detail,
                "since": s.since,
                "attempts": s.attempts,
            }
            for account, s in self._states.items()
        }

    def _set(self, account: str, state: str, detail: str = "") -> None:
        s = self._states[account]
        s.state, s.detail, s.since = state, detail, time.time()

    async def start(self, wait: float = 10.0) -> None:
        """Start every adapter in the background; wait up to ``wait`` s for first attempts."""
        for account in self._adapters:
            self._tasks[account] = asyncio.create_task(
                self._keep(account), name=f"adapter {account}"
            )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(
            s.state == "starting" for s in self._states.values()
        ):
            await asyncio.sleep(0.02)

    async def _keep(self, account: str) -> None:
        adapter = self._adapters[account]
        state = self._states[account]
        while True:
            try:
                async with asyncio.timeout(self.start_timeout):
                    await adapter.start(self._emit)
            except PermanentError as exc:
                self._set(account, "failed", str(exc))
                log.error(
                    "adapter %s failed and stays down: %s (fix the config and restart)",
                    account,
                    exc,
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # TransientError, timeouts, library errors: retry
                state.attempts += 1
                delay = self._backoff.delay(state.attempts)
                self._set(account, "retrying", f"{type(exc).__name__}: {exc}")
                log.warning(
                    "adapter %s could not start (%s); retry %d in %.1fs",
                    account,
                    exc,
                    state.attempts,
                    delay,
                )
                await _stop_quietly(adapter)
                await asyncio.sleep(delay)
                continue
            self._set(account, "up")
            log.info("adapter %s is up", account)
            await asyncio.sleep(QUIET_PERIOD)
            state.attempts = 0
            return

    async def replace(self, account: str, adapter: Adapter) -> None:
        """Stop ``account``'s adapter and start ``adapter`` in its place (e.g. to listen in
        more rooms). Deliveries to the account wait while it restarts."""
        task = self._tasks.pop(account, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._set(account, "starting", "restarting")
        await _stop_quietly(self._adapters[account])
        self._adapters[account] = adapter
        self._states[account].attempts = 0
        self._tasks[account] = asyncio.create_task(self._keep(account), name=f"adapter {account}")

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for account, adapter in self._adapters.items():
            await _stop_quietly(adapter)
            self._set(account, "stopped")


async def _stop_quietly(adapter: Adapter) -> None:
    try:
        await adapter.stop()
    except Exception:
        log.exception("adapter %s raised while stopping", adapter.account)
