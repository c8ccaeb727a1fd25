"""``bridgebot demo``: every network's lab room on loopback, bridged, with a web page.

Starts the lab servers (Slack, Discord, Telegram; Synapse for Matrix and a list server for
email when they are installed), an API room, and bridgebot itself with a demo bridge
"khub" whose rooms have different privacy levels, then serves a page where each network's
room is a column. Ctrl-C stops everything and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bridgebot.app import Bridge
from bridgebot.demo.columns import ApiColumn, Column, DiscordColumn, SlackColumn, TelegramColumn
from bridgebot.demo.more_columns import EmailColumn, MatrixColumn, email_missing, matrix_missing
from bridgebot.demo.page import make_page_app
from bridgebot.store import open_store

__all__ = ["Demo", "demo_running", "run_demo"]

log = logging.getLogger("bridgebot.demo")


@dataclass
class Demo:
    hub: Bridge
    columns: list[Column]
    page_url: str
    admin_url: str
    admin_token: str


def _columns() -> tuple[list[Column], list[str]]:
    """The demo's rooms, and a note for each network left out (and how to add it)."""
    columns: list[Column] = [SlackColumn(), DiscordColumn(), TelegramColumn(), ApiColumn()]
    notes: list[str] = []
    if (why := matrix_missing()) is None:
        columns.insert(0, MatrixColumn())
    else:
        notes.append(why)
    if (why := email_missing()) is None:
        columns.append(EmailColumn())
    else:
        notes.append(why)
    return columns, notes


def _config(columns: list[Column], workdir: Path, admin_port: int) -> str:
    parts = [
        f'[store]\npath = "{workdir / "demo.db"}"\n',
        '[log]\nlevel = "warning"\n',
        f'[web]\nenabled = true\nbind = "127.0.0.1:{admin_port}"\n',
        "[roles]\nadmins = []\nfacilitators = []\n",
    ]
    parts += [c.toml() for c in columns]
    parts.append('[[bridges]]\nname = "khub"\nlabel = "{author} · {network}"\n')
    for c in columns:
        parts.append(f'  [[bridges.rooms]]\n  room = "{c.room}"\n  privacy = "{c.privacy}"\n')
    return "\n".join(parts)


@asynccontextmanager
async def demo_running(port: int = 0, admin_port: int = 0) -> AsyncIterator[Demo]:
    """Start everything the demo needs; stop it all on exit."""
    from adapters import registry, settings_models
    from bridgebot.config import parse_config
    from bridgebot.web import bound_port, start_web

    columns, notes = _columns()
    for note in notes:
        print(note)
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bridgebot-demo-")))
        env: dict[str, str] = {}
        for column in columns:
            await column.start()
            stack.push_async_callback(column.stop)
            env.update(column.env)
        text = _config(columns, workdir, admin_port)
        (workdir / "bot.toml").write_text(text)
        config = parse_config(text, str(workdir / "bot.toml"), settings_models(), env)
        store = await open_store(config.store.path)
        stack.push_async_callback(store.close)
        hub = await Bridge.assemble(config, registry(), store)
        await hub.start()
        stack.push_async_callback(hub.stop)
        for column in columns:
            if isinstance(column, ApiColumn):
                await column.connect()
        token = secrets.token_urlsafe(16)
        admin = await start_web(hub, config, token)
        stack.push_async_callback(admin.cleanup)
        admin_url = f"http://127.0.0.1:{bound_port(admin)}/"
        note = f"{admin_url} (token {token})"
        runner = web.AppRunner(make_page_app(hub, columns, note), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        page_url = f"http://127.0.0.1:{bound_port(runner)}/"
        yield Demo(hub, columns, page_url, admin_url, token)


async def run_demo(port: int = 8480) -> int:
    """Run the demo until Ctrl-C."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with demo_running(port, 0) as demo:
        print(f"\nbridgebot demo is running: open {demo.page_url}")
        print(f"admin page: {demo.admin_url}  (token: {demo.admin_token})")
        print("rooms:", ", ".join(f"{c.title} [{c.privacy}]" for c in demo.columns))
        print("Ctrl-C stops everything.\n", flush=True)
        await stop.wait()
        print("stopping the demo…", flush=True)
    return 0
