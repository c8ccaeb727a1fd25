"""Helpers for the admin page tests: a real Hub with API rooms, the real app on port 0."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bridgebot.app import Bridge
from bridgebot.lab.harness import running_hub
from bridgebot.web import bound_port, create_app, serve
from tests.e2e.conftest import ApiRoom, config_for

TOKEN = "s3cret-admin-token"
#: No test may run longer than this, whatever hangs.
TEST_LIMIT = 45.0


@dataclass
class Admin:
    """A running hub, its admin page's base URL and a cookie-keeping client session."""

    hub: Bridge
    url: str
    http: aiohttp.ClientSession
    token: str | None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def page(self, path: str = "/", **kwargs: Any) -> str:
        async with self.http.get(self.url + path, headers=self.auth, **kwargs) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.text()

    async def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', await self.page())
        assert found is not None
        return found.group(1)

    async def state(self) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/api/admin/state", headers=self.auth) as resp:
            assert resp.status == 200
            data: dict[str, Any] = await resp.json()
            return data

    async def settle(self) -> None:
        await self.hub.dispatcher.idle(limit=10)


@asynccontextmanager
async def admin_page(
    tmp_path: Path,
    rooms: Sequence[ApiRoom],
    *,
    token: str | None = TOKEN,
    head: str = "",
    buffer: int = 10_000,
) -> AsyncIterator[Admin]:
    """Start a hub on ``rooms`` (one bridge "khub") and serve its admin page on loopback."""
    async with asyncio.timeout(TEST_LIMIT):
        config = config_for(rooms, head=head, buffer=buffer)
        async with running_hub(config, tmp_path) as hub:
            runner = await serve(create_app(hub, token=token), "127.0.0.1", 0)
            try:
                jar = aiohttp.CookieJar(unsafe=True)  # the default jar ignores IP hosts
                async with aiohttp.ClientSession(cookie_jar=jar) as http:
                    url = f"http://127.0.0.1:{bound_port(runner)}"
                    yield Admin(hub, url, http, token)
            finally:
                await runner.cleanup()


async def say(http: aiohttp.ClientSession, room: ApiRoom, user: str, text: str) -> None:
    """Post ``text`` as ``user`` in an API room, as a matterbridge client would."""
    body = {"text": text, "username": user, "userid": user, "gateway": "khub"}
    async with http.post(f"{room.url}/api/message", json=body) as resp:
        assert resp.status == 200, await resp.text()


async def received(http: aiohttp.ClientSession, room: ApiRoom) -> list[str]:
    """Drain the API room's buffer: the texts relayed into it."""
    async with http.get(f"{room.url}/api/messages") as resp:
        assert resp.status == 200
        return [m["text"] for m in await resp.json()]
