"""Supervise adapters: start each with a timeout, retry transient failures with capped,
jittered backoff that resets after a quiet period; a permanent failure stops that adapter
and tells the admin (log + status), never the process."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass

from bridgebot.contract import Adapter, Emit
from bridgebot.errors import PermanentError
from bridgebot.pacing import Backoff

__all__ = ["AdapterState", "AdapterStates", "State", "Supervisor"]

log = logging.getLogger("bridgebot.supervisor")

START_TIMEOUT = 30.0
QUIET_PERIOD = 60.0


class State(enum.StrEnum):
    """Where an adapter is in its life."""

    STARTING = "starting"
    UP = "up"
    RETRYING = "retrying"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(slots=True)
class AdapterState:
    state: State = State.STARTING
    detail: str = ""
    since: float = 0.0
    attempts: int = 0


class AdapterStates:
    """Each account's adapter state: written by the supervisor, read by the dispatcher
    (which waits while an account is not up), the status command and the admin page."""

    def __init__(self, accounts: Iterable[str]) -> None:
        self._states = {account: AdapterState(since=time.time()) for account in accounts}

    def __getitem__(self, account: str) -> AdapterState:
        return self._states[account]

    def is_up(self, account: str) -> bool:
        state = self._states.get(account)
        return state is not None and state.state is State.UP

    def any_starting(self) -> bool:
        return any(s.state is State.STARTING for s in self._states.values())

    def set(self, account: str, state: State, detail: str = "") -> None:
        s = self._states[account]
        s.state, s.detail, s.since = state, detail, time.time()

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Plain values for `bridgebot status`, the admin page and /health."""
        return {
            account: {
                "state": s.state.value,
                "detail": s.detail,
                "since": s.since,
                "attempts": s.attempts,
            }
            for account, s in self._states.items()
        }


class Supervisor:
    """Owns the start/stop of every adapter; records their states in ``states``."""

    def __init__(
        self, adapters: MutableMapping[str, Adapter], emit: Emit, states: AdapterStates
    ) -> None:
        self._adapters = adapters
        self._emit = emit
        self._states = states
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._backoff = Backoff(base=1.0, cap=60.0)
        self.start_timeout = START_TIMEOUT

    def _set(self, account: str, state: State, detail: str = "") -> None:
        self._states.set(account, state, detail)

    async def start(self, wait: float = 10.0) -> None:
        """Start every adapter in the background; wait up to ``wait`` s for first attempts."""
        for account in self._adapters:
            self._tasks[account] = asyncio.create_task(
                self._keep(account), name=f"adapter {account}"
            )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and self._states.any_starting():
            await asyncio.sleep(0.02)

    async def _keep(self, account: str) -> None:
        adapter = self._adapters[account]
        state = self._states[account]
        while True:
            try:
                async with asyncio.timeout(self.start_timeout):
                    await adapter.start(self._emit)
            except PermanentError as exc:
                self._set(account, State.FAILED, str(exc))
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
                self._set(account, State.RETRYING, f"{type(exc).__name__}: {exc}")
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
            self._set(account, State.UP)
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
        self._set(account, State.STARTING, "restarting")
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
            self._set(account, State.STOPPED)


async def _stop_quietly(adapter: Adapter) -> None:
    try:
        await adapter.stop()
    except Exception:
        log.exception("adapter %s raised while stopping", adapter.account)
