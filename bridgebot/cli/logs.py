"""Logging setup: human-readable by default, one JSON object per line with ``--log-json``."""

from __future__ import annotations

import json
import logging
import sys
import time

__all__ = ["setup_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger once for the process."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # third-party libraries are chatty at INFO; keep them at WARNING unless debugging
    # discord.py warns at every start that voice support is missing; bridgebot has no voice.
    logging.getLogger("discord.client").setLevel(logging.ERROR)
    if level.lower() != "debug":
        for name in (
            "aiohttp.access",
            "nio",
            "slack_bolt",
            "slack_sdk",
            "discord",
            "telegram",
            "httpx",
            "mail-parser-reply",
            "aiosmtpd",
        ):
            logging.getLogger(name).setLevel(logging.WARNING)
