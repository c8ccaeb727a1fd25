"""The Matrix adapter (matrix-nio): ``SPEC`` registers it with the core.

``translate`` and ``text`` are pure (parse/render, HTML ↔ text); ``client`` and ``sync``
do the I/O; ``errors`` maps every failure to bridgebot's error types.
"""

from __future__ import annotations

from adapters.matrix.client import MAX_TEXT_LENGTH, MatrixAdapter
from adapters.matrix.sync import SYNC_CURSOR
from adapters.matrix.translate import ORIGIN_KEY
from adapters.settings import MatrixSettings
from bridgebot.contract import AdapterSetup, NetworkSpec

__all__ = [
    "MAX_TEXT_LENGTH",
    "NETWORK",
    "ORIGIN_KEY",
    "SPEC",
    "SYNC_CURSOR",
    "MatrixAdapter",
    "create",
]

NETWORK = "matrix"


def create(setup: AdapterSetup) -> MatrixAdapter:
    """Build the adapter for one ``[networks.matrix.NAME]`` account."""
    return MatrixAdapter(setup)


SPEC = NetworkSpec(name=NETWORK, settings=MatrixSettings, factory=create)
