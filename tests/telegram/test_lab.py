"""The lab Bot API server on the wire, with a plain HTTP client (aiohttp)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bridgebot.lab.telegram import RateLimits, TelegramLab
from bridgebot.lab.telegram_html import HtmlParseError, parse_html


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("plain &lt;b&gt; &amp; &quot;", 'plain <b> & "', []),
        ("<b>bold</b>", "bold", [{"type": "bold", "offset": 0, "length": 4}]),
        ("😀<i>x</i>", "😀x", [{"type": "italic", "offset": 2, "length": 1}]),
        (
            '<a href="https://e.org/?a=1&amp;b=2">l</a>',
            "l",
            [{"type": "text_link", "url": "https://e.org/?a=1&b=2", "offset": 0, "length": 1}],
        ),
        (
            '<pre><code class="language-py">x</code></pre>',
            "x",
            [{"type": "pre", "language": "py", "offset": 0, "length": 1}],
        ),
        ("&#65;&#x42;", "AB", []),
        ("a & b", "a & b", []),
        (
            "<b><i>x</i></b>",
            "x",
            [
                {"type": "bold", "offset": 0, "length": 1},
                {"type": "italic", "offset": 0, "length": 1},
            ],
        ),
    ],
)
def test_parse_html(markup: str, text: str, entities: list[dict[str, Any]]) -> None:
    assert parse_html(markup) == (text, entities)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<script>x</script>", 'Unsupported start tag "script"'),
        ("<b>x", "Can't find end tag"),
        ("<b>x</i>", "Unmatched end tag"),
        ("a < b", "Unclosed start tag"),
        ("a > b", "Unexpected end tag"),
        ("&nbsp;", "Unsupported HTML entity"),
        ('<span class="x">y</span>', 'Unsupported start tag "span"'),
    ],
)
def test_parse_html_refuses(markup: str, error: str) -> None:
    with pytest.raises(HtmlParseError, match=error):
        parse_html(markup)


@pytest.fixture
async def lab() -> AsyncIterator[TelegramLab]:
    server = TelegramLab()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _call(
    http: aiohttp.ClientSession, endpoint: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    async with asyncio.timeout(15), http.post(endpoint, data=params) as response:
        return response.status, await response.json()


async def test_token_and_method_checks(lab: TelegramLab, http: aiohttp.ClientSession) -> None:
    bot = lab.create_bot("b")
    assert await _call(http, f"{lab.api_url}nonsense/getMe") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    wrong = bot.token[:-4] + "abcd"
    assert await _call(http, f"{lab.api_url}{wrong}/getMe") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    status, body = await _call(http, f"{lab.api_url}{bot.token}/noSuchMethod")
    assert (status, body["description"]) == (404, "Not Found")
    async with http.get(f"{lab.api_url}{bot.token}/getme") as response:
        me = await response.json()
    assert me["ok"] and me["result"]["is_bot"] and me["result"]["username"] == "b"


async def test_send_message_errors(lab: TelegramLab, http: aiohttp.ClientSession) -> None:
    bot = lab.create_bot("b")
    chat = lab.create_chat("G", members=(bot.id,))
    url = f"{lab.api_url}{bot.token}/sendMessage"
    cases = [
        ({"chat_id": chat.id, "text": " "}, 400, "Bad Request: message text is empty"),
        ({"chat_id": chat.id, "text": "x" * 4097}, 400, "Bad Request: message is too long"),
        ({"chat_id": -5, "text": "x"}, 400, "Bad Request: chat not found"),
        (
            {"chat_id": chat.id, "text": "<x>", "parse_mode": "HTML"},
            400,
            'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
        ),
        (
            {"chat_id": chat.id, "text": "x", "message_thread_id": 99},
            400,
            "Bad Request: message thread not found",
        ),
    ]
    for params, status, description in cases:
        assert await _call(http, url, **params) == (
            status,
            {"ok": False, "error_code": status, "description": description},
        )
    other = lab.create_chat("Other")
    status, body = await _call(http, url, chat_id=other.id, text="x")
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot is not a member of the supergroup chat",
    )


async def test_json_body_and_rate_limit_answer(
    lab: TelegramLab, http: aiohttp.ClientSession
) -> None:
    bot = lab.create_bot("b")
    chat = lab.create_chat("G", members=(bot.id,))
    url = f"{lab.api_url}{bot.token}/sendMessage"
    async with http.post(url, json={"chat_id": chat.id, "text": "one"}) as response:
        assert (await response.json())["result"]["text"] == "one"
    status, body = await _call(http, url, chat_id=chat.id, text="two")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }


async def test_long_poll_offsets_and_conflicts(
    lab: TelegramLab, http: aiohttp.ClientSession
) -> None:
    bot = lab.create_bot("b")
    user = lab.create_user("U")
    chat = lab.create_chat("G", members=(bot.id, user["id"]))
    url = f"{lab.api_url}{bot.token}/getUpdates"
    started = time.monotonic()
    poll = asyncio.create_task(_call(http, url, timeout=10))
    await asyncio.sleep(0.1)
    lab.post_as_user(chat.id, user["id"], "wake up")
    status, body = await poll
    assert status == 200 and time.monotonic() - started < 5
    (update,) = body["result"]
    assert update["update_id"] == 1 and update["message"]["text"] == "wake up"
    # not confirmed yet: answered again; confirmed by a higher offset: gone
    assert len((await _call(http, url))[1]["result"]) == 1
    assert (await _call(http, url, offset=2))[1]["result"] == []
    older = asyncio.create_task(_call(http, url, timeout=10))
    await asyncio.sleep(0.1)
    newer = asyncio.create_task(_call(http, url, timeout=1))
    status, body = await older
    assert status == 409 and body["description"].startswith("Conflict: terminated by other")
    assert (await newer)[1]["result"] == []
    await _call(http, f"{lab.api_url}{bot.token}/setWebhook", url="https://example.org/hook")
    status, body = await _call(http, url)
    assert status == 409 and "webhook is active" in body["description"]


async def test_files_and_control_surface(lab: TelegramLab, http: aiohttp.ClientSession) -> None:
    bot = lab.create_bot("b")
    chat = lab.create_chat("G", members=(bot.id,))
    form = aiohttp.FormData()
    form.add_field("chat_id", str(chat.id))
    form.add_field("caption", "<b>doc</b>")
    form.add_field("parse_mode", "HTML")
    form.add_field("document", b"data!", filename="d.txt", content_type="text/plain")
    async with http.post(f"{lab.api_url}{bot.token}/sendDocument", data=form) as response:
        sent = (await response.json())["result"]
    assert sent["caption"] == "doc" and sent["document"]["file_name"] == "d.txt"
    _, body = await _call(
        http, f"{lab.api_url}{bot.token}/getFile", file_id=sent["document"]["file_id"]
    )
    async with http.get(f"{lab.file_url}{bot.token}/{body['result']['file_path']}") as response:
        assert await response.read() == b"data!"
    async with http.get(f"{lab.file_url}1:{'x' * 30}/{body['result']['file_path']}") as response:
        assert response.status == 401
    async with http.post(
        f"{lab.url}/_lab/post", json={"channel": chat.id, "user": "Zoe", "text": "hi"}
    ) as response:
        assert (await response.json())["result"]["from"]["first_name"] == "Zoe"
    async with http.post(f"{lab.url}/_lab/post", data="not json") as response:
        assert response.status == 400
    async with http.get(f"{lab.url}/_lab/history", params={"channel": str(chat.id)}) as response:
        texts = [m.get("text") or m.get("caption") for m in (await response.json())["result"]]
    assert texts == ["doc", "hi"]
    async with http.get(f"{lab.url}/_lab/chats") as response:
        assert json.dumps((await response.json())["result"][0]["id"]) == str(chat.id)


async def test_time_scaled_limits_answer_fractional_retry_after() -> None:
    lab = TelegramLab(RateLimits(time_scale=0.5))
    await lab.start()
    try:
        bot = lab.create_bot("b")
        chat = lab.create_chat("G", members=(bot.id,))
        async with aiohttp.ClientSession() as http:
            url = f"{lab.api_url}{bot.token}/sendMessage"
            await _call(http, url, chat_id=chat.id, text="1")
            status, body = await _call(http, url, chat_id=chat.id, text="2")
        assert status == 429 and 0 < body["parameters"]["retry_after"] <= 0.5
    finally:
        await lab.stop()
