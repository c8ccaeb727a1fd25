"""Local lab servers: every network on loopback, for tests and ``bridgebot demo``."""

from __future__ import annotations

import json

__all__ = ["account_table"]


def account_table(network: str, account: str, **keys: object) -> str:
    """A ``[networks.NETWORK.ACCOUNT]`` table for bot.toml pointing an adapter at a lab.

    Values are written as TOML (JSON's strings, numbers and booleans are TOML too); a
    ``${ENV}`` reference stays as written, for the adapter to read from the environment.
    """
    lines = [f"[networks.{network}.{account}]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"
