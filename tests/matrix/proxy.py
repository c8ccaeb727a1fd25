"""A loopback HTTP proxy in front of Synapse that a test can break: 502s or cut connections."""

from __future__ import annotations

import aiohttp
from aiohttp import web


class FlakyProxy:
    """Forwards every request to ``upstream``; ``mode`` "up", "502" or "drop" says how."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "up"
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(auto_decompress=False)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "502":
            return web.Response(
                status=502, text="<html>bad gateway</html>", content_type="text/html"
            )
        if self.mode == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        assert self._session is not None
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}
        }
        async with self._session.request(
            request.method,
            f"{self.upstream}{request.rel_url}",
            headers=headers,
            data=await request.read(),
        ) as upstream:
            body = await upstream.read()
            keep = {"content-type", "content-disposition"}
            out = {k: v for k, v in upstream.headers.items() if k.lower() in keep}
            return web.Response(status=upstream.status, body=body, headers=out)
