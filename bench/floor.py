"""The floor for bench/relay.py: a bare aiohttp forwarder, no rules, no store.

Listens on two ports with matterbridge's websocket path; every JSON text frame received on
port A is re-encoded and written to every websocket client of port B. Same sockets, same
JSON work, nothing else: what bridgebot costs above this is its rules, store and outbox.

    python bench/floor.py PORT_A PORT_B
"""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import WSMsgType, web


def make_app(clients: set[web.WebSocketResponse], outbound: bool) -> web.Application:
    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"event": "api_connected"}))
        if outbound:
            clients.add(ws)
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT and not outbound:
                    msg = json.loads(frame.data)
                    data = json.dumps(
                        {"text": msg.get("text", ""), "username": msg.get("username")}
                    )
                    for client in list(clients):
                        await client.send_str(data)
        finally:
            clients.discard(ws)
        return ws

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/api/websocket", websocket)
    app.router.add_get("/api/health", health)
    return app


async def main(port_a: int, port_b: int) -> None:
    clients: set[web.WebSocketResponse] = set()
    runners = []
    for port, outbound in ((port_a, False), (port_b, True)):
        runner = web.AppRunner(make_app(clients, outbound), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
