"""Helpers to run a real bridge in-process, for tests and benchmarks.

    async with running_hub(CONFIG_TOML, tmp_path) as hub:
        ...  # the adapters in the config are started for real

Nothing here is a mock: the Hub, the store (a real SQLite file), the rules and the
adapters named in the config all run as they do under `bridgebot run`.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from bridgebot.app import Bridge
from bridgebot.config import parse_config
from bridgebot.contract import NetworkSpec
from bridgebot.store import open_store

__all__ = ["free_port", "running_hub"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for configs that must name a port up front)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def running_hub(
    config_text: str,
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    registry: Mapping[str, NetworkSpec] | None = None,
    db_name: str = "bridgebot.db",
) -> AsyncIterator[Bridge]:
    """Start a bridge on ``config_text`` with its store in ``workdir``; stop it on exit."""
    from adapters import registry as default_registry
    from adapters import settings_models

    config = parse_config(config_text, str(workdir / "bot.toml"), settings_models(), env or {})
    store = await open_store(workdir / db_name)
    hub = await Bridge.assemble(config, registry or default_registry(), store)
    try:
        await hub.start()
        yield hub
    finally:
        await hub.stop()
        await store.close()
