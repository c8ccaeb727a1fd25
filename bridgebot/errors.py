"""The error hierarchy: shallow, one docstring each. The core catches only these."""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "BridgeError",
    "ConfigError",
    "PermanentError",
    "RateLimited",
    "RejectedEvent",
    "StoreError",
    "TransientError",
]


class BridgeError(Exception):
    """Base class of every error bridgebot raises on purpose."""


class ConfigError(BridgeError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class StoreError(BridgeError):
    """The store cannot be opened, migrated or written."""


class AdapterError(BridgeError):
    """A network call failed."""


class TransientError(AdapterError):
    """A failure worth retrying with backoff (timeouts, 5xx, dropped connections)."""


class RateLimited(TransientError):
    """The network asked us to slow down; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        self.retry_after = max(0.0, float(retry_after))
        super().__init__(message or f"rate limited; retry after {self.retry_after:.2f}s")


class PermanentError(AdapterError):
    """A failure that retrying will not fix (forbidden, unknown room, invalid payload)."""


class RejectedEvent(BridgeError):
    """The core refused an inbound event (unknown bridge, room in no bridge, empty text);
    an adapter that can answer its sender (the HTTP API) reports ``str(exc)`` to them."""
