"""One relay harness for the tests and the benchmarks: "a room on network X, bridged with an
API room", and how to wait for what crosses.

    config = bridge_config(api_table("hub", port), slack.account_toml(), rooms=[...])
    async with running_relay(config, tmp_path, api_port=port, env=env) as relay:
        await relay.api.post(text="hello")          # a person on the API side
        await relay.delivered()                     # every delivery made
        got = await relay.api.wait_for(1)           # what the API room received

The benchmarks run ``bridgebot run`` as a process of its own on the same config text
(``write_config``) and wait for it with :func:`wait_api_up`. Every wait here is for an
observable condition with a bound; none sleeps and hopes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bridgebot.config import parse_config
from bridgebot.contract import AdapterSetup
from bridgebot.lab import account_table
from bridgebot.lab.harness import free_port, running_hub
from bridgebot.model import Capabilities, RoomRef

__all__ = [
    "BRIDGE",
    "LABEL",
    "ApiClient",
    "Relay",
    "api_table",
    "bridge_config",
    "claimed_capabilities",
    "eventually",
    "free_port",
    "matrix_table",
    "running_relay",
    "wait_api_up",
    "write_config",
]

#: The bridge every harness config defines, and its label template.
BRIDGE = "khub"
LABEL = "{author} · {network}"
#: Seconds any wait here allows unless told otherwise.
WAIT = 30.0

Condition = Callable[[], bool] | Callable[[], Awaitable[bool]]


async def eventually(
    condition: Condition,
    within: float = WAIT,
    *,
    interval: float = 0.02,
    what: str | Callable[[], str] = "",
) -> None:
    """Wait until ``condition()`` (plain or async) holds; ``TimeoutError`` after ``within``,
    saying ``what`` (or ``what()``, the state when the time ran out) was awaited.

    For state that announces no change (a lab's history, a mailbox): it is looked at every
    ``interval`` seconds, and the wait ends as soon as it holds.
    """
    try:
        async with asyncio.timeout(within):
            while True:
                result = condition()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(interval)
    except TimeoutError:
        said = what() if callable(what) else what
        raise TimeoutError(f"not within {within:g}s: {said or condition!r}") from None


# -- bot.toml -----------------------------------------------------------------------------


def api_table(name: str, port: int, **extra: object) -> str:
    """``[networks.api.NAME]`` listening on 127.0.0.1:``port``; its one room is ``api``."""
    return account_table("api", name, bind=f"127.0.0.1:{port}", **extra)


def matrix_table(
    homeserver: str,
    user_id: str,
    name: str = "lab",
    *,
    password_env: str = "MATRIX_PASSWORD",
    **extra: object,
) -> str:
    """``[networks.matrix.NAME]`` for a bot account; the password from ``password_env``."""
    return account_table(
        "matrix",
        name,
        homeserver=homeserver,
        user_id=user_id,
        password=f"${{{password_env}}}",
        **extra,
    )


def bridge_config(
    *accounts: str,
    rooms: Sequence[str | tuple[str, str]],
    head: str = "",
    store: str = "bridgebot.db",
    bridge: str = BRIDGE,
    label: str = LABEL,
    privacy: str = "public",
) -> str:
    """bot.toml with the ``accounts`` tables and one bridge over ``rooms``: each
    ``ACCOUNT:ROOM`` (of ``privacy``) or ``(ACCOUNT:ROOM, its privacy)``. ``head`` goes
    first (``[log]``, ``[dispatch]``...)."""
    parts = [head.strip(), f'[store]\npath = "{store}"', *(a.strip() for a in accounts)]
    parts.append(f"[[bridges]]\nname = {_toml(bridge)}\nlabel = {_toml(label)}")
    for entry in rooms:
        room, level = (entry, privacy) if isinstance(entry, str) else entry
        parts.append(f'[[bridges.rooms]]\nroom = "{room}"\nprivacy = "{level}"')
    return "\n\n".join(p for p in parts if p) + "\n"


def _toml(text: str) -> str:
    """A TOML basic string (JSON's string syntax is TOML's), readable non-ASCII kept."""
    return json.dumps(text, ensure_ascii=False)


def write_config(workdir: Path, text: str) -> Path:
    """Write ``text`` as ``workdir/bot.toml`` (for ``bridgebot run``); returns the path."""
    path = workdir / "bot.toml"
    path.write_text(text)
    return path


class _NeverStarted:
    """The context of an adapter that is only asked what it claims; it is never started."""

    async def get_cursor(self, key: str) -> str | None:
        raise RuntimeError("this adapter is never started")

    async def set_cursor(self, key: str, value: str) -> None:
        raise RuntimeError("this adapter is never started")

    async def is_copy(self, room: RoomRef, remote_id: str) -> bool:
        raise RuntimeError("this adapter is never started")

    def is_admin(self, user_ref: str) -> bool:
        return False


def claimed_capabilities(
    config_text: str, env: Mapping[str, str] | None = None
) -> dict[str, Capabilities]:
    """Account → what its adapter claims (``capabilities``): each adapter built from
    ``config_text`` as the bridge builds it, and never started."""
    from adapters import registry, settings_models

    config = parse_config(config_text, "bot.toml", settings_models(), env or {})
    rooms = config.accounts_rooms()
    specs = registry()
    claimed: dict[str, Capabilities] = {}
    for account, settings in config.networks.items():
        setup = AdapterSetup(
            account=account,
            settings=settings,
            rooms=rooms.get(account, ()),
            context=_NeverStarted(),
            log=logging.getLogger(f"bridgebot.lab.relay.{account}"),
        )
        claimed[account] = specs[account.split(".", 1)[0]].factory(setup).capabilities
    return claimed


# -- the API side -------------------------------------------------------------------------


class ApiClient:
    """A person and a reader on one API room, over the matterbridge-compatible HTTP API.

    ``received`` keeps every message drained so far, in order; :meth:`wait_for` drains
    until a count or a condition holds.
    """

    def __init__(
        self, url: str, http: aiohttp.ClientSession, *, user: str = "bob", bridge: str = BRIDGE
    ) -> None:
        self.url = url
        self.http = http
        self.user = user
        self.bridge = bridge
        self.received: list[dict[str, Any]] = []

    async def post_raw(self, **fields: Any) -> tuple[int, str]:
        """POST /api/message as ``user`` in ``bridge`` (fields override): (status, body)."""
        body = {"username": self.user, "userid": self.user, "gateway": self.bridge, **fields}
        async with self.http.post(f"{self.url}/api/message", json=body) as resp:
            return resp.status, await resp.text()

    async def post(self, **fields: Any) -> dict[str, Any]:
        """POST /api/message; fails unless answered 200; returns the answer (``id``...)."""
        body = {"username": self.user, "userid": self.user, "gateway": self.bridge, **fields}
        async with self.http.post(f"{self.url}/api/message", json=body) as resp:
            assert resp.status == 200, f"{resp.status}: {await resp.text()}"
            answer: dict[str, Any] = await resp.json()
            return answer

    async def drain(self) -> list[dict[str, Any]]:
        """GET /api/messages: what arrived since the last drain (also kept in ``received``)."""
        async with self.http.get(f"{self.url}/api/messages") as resp:
            assert resp.status == 200, f"{resp.status}: {await resp.text()}"
            got: list[dict[str, Any]] = await resp.json()
        self.received.extend(got)
        return got

    async def wait_for(
        self,
        until: int | Callable[[list[dict[str, Any]]], bool],
        within: float = WAIT,
    ) -> list[dict[str, Any]]:
        """Drain until ``received`` holds ``until`` messages, or ``until(received)`` holds;
        returns all received so far."""

        async def done() -> bool:
            await self.drain()
            if callable(until):
                return until(self.received)
            return len(self.received) >= until

        await eventually(done, within, what=lambda: f"{until!r} at {self.url}: {self.received}")
        return self.received

    async def wait_text(self, text: str, within: float = WAIT) -> dict[str, Any]:
        """Drain until a message with this text has arrived; returns it."""
        await self.wait_for(lambda got: any(m.get("text") == text for m in got), within)
        return next(m for m in self.received if m.get("text") == text)


async def wait_api_up(
    port: int,
    within: float = WAIT,
    *,
    proc: asyncio.subprocess.Process | None = None,
    http: aiohttp.ClientSession | None = None,
) -> None:
    """Wait until ``/api/health`` on 127.0.0.1:``port`` answers 200; fail early if ``proc``
    (the bridge's process) exits first."""

    async def up(session: aiohttp.ClientSession) -> bool:
        if proc is not None and proc.returncode is not None:
            raise RuntimeError(f"bridgebot exited with {proc.returncode}")
        try:
            async with session.get(f"http://127.0.0.1:{port}/api/health") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    if http is not None:
        await eventually(lambda: up(http), within, interval=0.05, what=f"API on port {port}")
        return
    async with aiohttp.ClientSession() as session:
        await eventually(lambda: up(session), within, interval=0.05, what=f"API on port {port}")


# -- a bridge running in this process -----------------------------------------------------


class Relay:
    """A running bridge (``running_hub``'s object) and a client on its common API room."""

    def __init__(self, bridge: Any, api: ApiClient) -> None:
        self.bridge = bridge
        self.api = api

    async def delivered(self, within: float = WAIT) -> None:
        """Wait until the dispatcher has made (or given up on) every delivery queued."""
        async with asyncio.timeout(within):
            await self.bridge.dispatcher.idle()

    def adapter_state(self, account: str) -> str:
        """``starting``, ``up``, ``retrying``, ``failed`` or ``stopped``, as `bridgebot status`
        says."""
        state: Any = self.bridge.status()["adapters"].get(account, {})
        return str(state.get("state", ""))

    async def up(self, *accounts: str, within: float = WAIT) -> None:
        """Wait until every account's adapter is up (the supervisor starts them in the
        background)."""
        await eventually(
            lambda: all(self.adapter_state(a) == "up" for a in accounts),
            within,
            what=f"adapters up: {accounts}",
        )


@asynccontextmanager
async def running_relay(
    config_text: str,
    workdir: Path,
    *,
    api_port: int,
    env: Mapping[str, str] | None = None,
    api_user: str = "bob",
) -> AsyncIterator[Relay]:
    """Run a bridge in this process on ``config_text`` (its store in ``workdir``, so a second
    run there is a restart) with a client on the API room listening on ``api_port``."""
    async with (
        running_hub(config_text, workdir, env=env) as bridge,
        aiohttp.ClientSession() as http,
    ):
        yield Relay(bridge, ApiClient(f"http://127.0.0.1:{api_port}", http, user=api_user))
