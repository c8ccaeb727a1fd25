"""Web API argument helpers and the two ways a lab method can fail."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ApiFail", "RateLimit", "json_arg", "text_arg"]


class ApiFail(Exception):
    """An ``ok: false`` answer with Slack's error code and extra fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class RateLimit(Exception):
    """Answer 429 with this many seconds in ``Retry-After``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def text_arg(args: dict[str, Any], key: str) -> str:
    """A string argument, or "" when absent or not a string."""
    value = args.get(key)
    return value if isinstance(value, str) else ""


def json_arg(args: dict[str, Any], key: str) -> Any:
    """Form bodies carry nested values (metadata, files) as JSON strings."""
    value = args.get(key)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ApiFail("invalid_arguments", detail=f"{key} is not valid JSON") from exc
    return value
