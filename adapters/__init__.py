"""Network adapters: one module (or package) per network, each exporting ``SPEC``.

:func:`registry` is the composition root's list of networks; the Hub receives it as a
parameter and never imports adapters itself.
"""

from __future__ import annotations

import importlib

from pydantic import BaseModel

from bridgebot.contract import NetworkSpec

__all__ = ["NETWORKS", "registry", "settings_models"]

#: Network type → module that exports its SPEC.
NETWORKS: dict[str, str] = {
    "api": "adapters.api",
    "discord": "adapters.discord",
    "email": "adapters.email",
    "matrix": "adapters.matrix",
    "slack": "adapters.slack",
    "telegram": "adapters.telegram",
}


def registry() -> dict[str, NetworkSpec]:
    """Import every adapter module and return ``{network type: NetworkSpec}``."""
    specs: dict[str, NetworkSpec] = {}
    for name, module in NETWORKS.items():
        spec = importlib.import_module(module).SPEC
        assert isinstance(spec, NetworkSpec)
        specs[name] = spec
    return specs


def settings_models() -> dict[str, type[BaseModel]]:
    """``{network type: settings model}`` for the config loader: every documented network,
    whether or not its adapter is in this build (the Hub reports a missing adapter)."""
    from adapters import settings as s

    return {
        "api": s.ApiSettings,
        "matrix": s.MatrixSettings,
        "slack": s.SlackSettings,
        "discord": s.DiscordSettings,
        "telegram": s.TelegramSettings,
        "email": s.EmailSettings,
    }
