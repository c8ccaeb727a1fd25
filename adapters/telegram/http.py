"""python-telegram-bot's HTTP layer on aiohttp instead of httpx.

PTB does all the Bot API work (building requests, parsing answers, raising its errors from
the status and the JSON body) and hands the bytes to a :class:`~telegram.request.BaseRequest`;
that interface exists so a bot can bring the HTTP client it already runs. bridgebot already
runs aiohttp, and a send through it costs a quarter of the client CPU of PTB's default
httpx backend (bench/telegram_send.py: about 1.1 ms against 4 ms a message), which is
what delayed the last of a burst when many Telegram rooms send in the same second.
"""

from __future__ import annotations

import re

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]


def _seconds(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """One aiohttp session for one PTB ``Bot`` role (sending, or long polling)."""

    __slots__ = ("_connect_timeout", "_limit", "_read_timeout", "_session", "_write_timeout")

    def __init__(
        self,
        *,
        connections: int = 100,
        timeout: float = 10.0,
    ) -> None:
        """``timeout``: the default for connecting, for writing the request and for reading
        the answer (a call may pass its own, as the long poll does)."""
        self._session: aiohttp.ClientSession | None = None
        self._limit = connections
        self._read_timeout: float | None = timeout
        self._write_timeout: float | None = timeout
        self._connect_timeout: float | None = timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return the status and the body, as PTB expects."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = _seconds(read_timeout, self._read_timeout)
        write = _seconds(write_timeout, self._write_timeout)
        connect = _seconds(connect_timeout, self._connect_timeout)
        pool = _seconds(pool_timeout, None)
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime)
                data = form
            else:
                data = request_data.json_parameters
        # aiohttp has no write timeout of its own: a stalled upload is caught by the total,
        # which allows for the whole write and the whole read
        total = None if read is None or write is None else read + write + (connect or 0.0)
        timeout = aiohttp.ClientTimeout(
            total=total, connect=pool, sock_connect=connect, sock_read=read
        )
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as resp:
                return resp.status, await resp.read()
        except TimeoutError as exc:
            raise TimedOut(f"{_method_of(url)} timed out: the Bot API did not answer") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp: {type(exc).__name__}: {_redact(str(exc))}") from exc


#: A bot token inside a URL (``/bot123:ABC/sendMessage``); errors and logs never show it.
_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")


def _redact(text: str) -> str:
    return _TOKEN.sub("bot<token>", text)


def _method_of(url: str) -> str:
    """The Bot API method of ``url``, never the token that precedes it."""
    return url.rsplit("/", 1)[-1].split("?", 1)[0]
