"""A real Synapse homeserver on loopback, for tests and ``bridgebot demo``.

Synapse is started as a subprocess (``python -m synapse.app.homeserver``) in a temporary
directory with a generated config: fresh SQLite database, rate limits raised so tests are
limited by CPU, not by policy, and its log written to a file so it never floods the test
output. Users are registered through the shared-secret admin API.

The harness is synchronous on purpose: a test session starts one Synapse from a plain
session-scoped fixture, outside any event loop. Async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MatrixUser", "Synapse", "SynapseError"]

SERVER_NAME = "localhost"
_FAST = {"per_second": 10000, "burst_count": 10000}


class SynapseError(RuntimeError):
    """Synapse would not start, or refused an admin call."""


@dataclass(frozen=True, slots=True)
class MatrixUser:
    """A registered account: its full id, password and a fresh access token."""

    user_id: str
    password: str
    access_token: str
    device_id: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(base: Path, port: int, secret: str) -> dict[str, Any]:
    limits: dict[str, Any] = {
        name: _FAST
        for name in (
            "rc_message",
            "rc_registration",
            "rc_joins_per_room",
            "rc_invites",
            "rc_room_creation",
            "rc_3pid_validation",
            "rc_admin_redaction",
            "rc_presence",
            "rc_delayed_event_mgmt",
        )
    }
    limits["rc_login"] = {"address": _FAST, "account": _FAST, "failed_attempts": _FAST}
    limits["rc_joins"] = {"local": _FAST, "remote": _FAST}
    limits["rc_invites"] = {"per_room": _FAST, "per_user": _FAST, "per_sender": _FAST}
    return {
        "server_name": SERVER_NAME,
        "pid_file": str(base / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(base / "homeserver.db")}},
        "log_config": str(base / "log.yaml"),
        "media_store_path": str(base / "media"),
        "signing_key_path": str(base / "signing.key"),
        "registration_shared_secret": secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "trusted_key_servers": [],
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "suppress_key_server_warning": True,
        "enable_metrics": False,
        "max_upload_size": "10M",
        **limits,
    }


def _log_config(base: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "plain",
                "filename": str(base / "homeserver.log"),
            }
        },
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


class Synapse:
    """One Synapse process: ``start()``, ``register()`` users, ``stop()``.

    ``url`` is ``http://127.0.0.1:PORT``; user ids are ``@NAME:localhost``. The log is at
    ``log_path`` for post-mortems. ``stop()`` leaves no process and no temp dir behind.
    """

    def __init__(self, *, base_dir: Path | None = None, startup_timeout: float = 60.0) -> None:
        self._own_dir = base_dir is None
        self.base = base_dir or Path(tempfile.mkdtemp(prefix="bridgebot-synapse-"))
        self.port = 0
        self.url = ""
        self.server_name = SERVER_NAME
        self._secret = secrets.token_hex(16)
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin: MatrixUser | None = None

    @property
    def log_path(self) -> Path:
        """Synapse's own log file (warnings and errors only)."""
        return self.base / "homeserver.log"

    def start(self) -> None:
        """Generate config and keys, start Synapse, wait until the client API answers."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_path = self.base / "homeserver.yaml"
        # JSON is valid YAML, so no YAML library is needed to write the config.
        config_path.write_text(json.dumps(_config(self.base, self.port, self._secret)))
        (self.base / "log.yaml").write_text(json.dumps(_log_config(self.base)))
        out = (self.base / "stdout.log").open("ab")
        cmd = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config_path)]
        subprocess.run(
            [*cmd, "--generate-keys"], stdout=out, stderr=out, check=True, cwd=self.base
        )
        self._proc = subprocess.Popen(
            cmd, stdout=out, stderr=out, cwd=self.base, start_new_session=True
        )
        out.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise SynapseError(
                    f"Synapse exited with {self._proc.returncode}; see {self.base}/stdout.log"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise SynapseError(f"Synapse did not answer within {self._timeout:.0f}s")

    def stop(self) -> None:
        """Terminate Synapse (SIGTERM, then SIGKILL) and remove its directory; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._own_dir:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Synapse:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP helpers (stdlib only: this module must import no network client library) --

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """One JSON call to the homeserver; raises ``SynapseError`` on an HTTP error."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                result: dict[str, Any] = json.loads(resp.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            raise SynapseError(f"{method} {path}: {exc.code} {exc.read()!r}") from exc

    def register(self, name: str, password: str | None = None, admin: bool = False) -> MatrixUser:
        """Register ``@name:localhost`` via the shared-secret admin API and log it in."""
        password = password or secrets.token_hex(8)
        path = "/_synapse/admin/v1/register"
        nonce = self.request("GET", path)["nonce"]
        mac = hmac.new(self._secret.encode(), digestmod=hashlib.sha1)
        mac.update(f"{nonce}\0{name}\0{password}\0{'admin' if admin else 'notadmin'}".encode())
        body = {
            "nonce": nonce,
            "username": name,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        result = self.request("POST", path, body)
        return MatrixUser(result["user_id"], password, result["access_token"], result["device_id"])

    def admin(self) -> MatrixUser:
        """A server admin, registered on first use."""
        if self._admin is None:
            self._admin = self.register(f"admin-{secrets.token_hex(3)}", admin=True)
        return self._admin

    def set_message_rate(self, user_id: str, per_second: float, burst: int) -> None:
        """Override one user's message rate limit (for tests of ``M_LIMIT_EXCEEDED``)."""
        self.request(
            "POST",
            f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit",
            {"messages_per_second": per_second, "burst_count": burst},
            token=self.admin().access_token,
        )
