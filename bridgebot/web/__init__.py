"""The admin web page: bridges, rooms and their rules, adapter health, queues, dead letters,
the audit log and ``rules explain``, plus ``/metrics`` and ``/health``.

    app = create_app(hub, token=os.environ["BRIDGEBOT_WEB_TOKEN"])
    runner = await serve(app, "127.0.0.1", 8480)
    print(bound_port(runner))
    ...
    await runner.cleanup()

Server-rendered HTML with no JavaScript; every value is escaped (see :mod:`.html`).

Security: with a ``token``, every path but ``/health`` needs it (bearer header or the login
cookie, see :mod:`.auth`). The page changes how the bridge relays, so bind it to loopback
(``127.0.0.1``) and reach it through an SSH tunnel or a TLS reverse proxy; ``serve`` binds
wherever it is told. ``token=None`` turns the login off and is meant only for a loopback
demo on a single-user machine.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bridgebot.app import Bridge
from bridgebot.config import Config
from bridgebot.errors import ConfigError
from bridgebot.web.auth import Auth
from bridgebot.web.handlers import AUTH, HUB, METRICS_LOCK, WEB_ACTOR, routes

__all__ = ["WEB_ACTOR", "bound_port", "create_app", "serve", "start_web"]

log = logging.getLogger("bridgebot.web")

_SECURITY_HEADERS = {
    # No scripts, no frames, forms only to ourselves: an injected tag could do nothing.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def create_app(hub: Bridge, *, token: str | None) -> web.Application:
    """The admin app for a started ``hub``; ``token=None`` disables the login (demo only)."""
    if token is not None and not token.strip():
        raise ValueError("the admin token is empty; set a real secret or pass token=None")
    auth = Auth(token)
    # Forms are small; a larger body is a mistake or an attack, refused with 413.
    app = web.Application(middlewares=[auth.middleware], client_max_size=64 * 1024)
    app[HUB] = hub
    app[AUTH] = auth
    app[METRICS_LOCK] = asyncio.Lock()
    app.add_routes(routes(auth))
    app.on_response_prepare.append(_add_headers)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Listen on ``host:port`` (0 picks a free port); stop with ``await runner.cleanup()``."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    log.info("admin page on http://%s:%d/", host, bound_port(runner))
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The TCP port ``runner`` actually listens on (useful after ``serve(..., port=0)``)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the admin app is not listening on a TCP port")


async def start_web(bridge: Bridge, config: Config, token: str | None = None) -> web.AppRunner:
    """Serve the admin page for ``bridge`` on ``[web] bind``; refuse to run it without a token."""
    if token is None:
        if config.web.token is None:
            raise ConfigError(
                f"{config.source}: web.token: the admin page needs a token; write "
                'token = "${BRIDGEBOT_ADMIN_TOKEN}" and export BRIDGEBOT_ADMIN_TOKEN'
            )
        token = config.web.token.get_secret_value()
    host, _, port = config.web.bind.rpartition(":")
    runner = await serve(create_app(bridge, token=token), host, int(port))
    log.info("admin page on http://%s:%d/", host, bound_port(runner))
    return runner
