"""The lab server's Web API and control surface, exercised with the official slack_sdk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridgebot.lab.slack import BOT_SCOPES, SlackLab


@pytest.fixture
async def web(lab: SlackLab) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=lab.bot_token, base_url=lab.api_url, session=session)


async def test_auth_test_names_the_bot_and_its_scopes(lab: SlackLab, web: AsyncWebClient) -> None:
    auth = await web.auth_test()
    assert (auth["user_id"], auth["bot_id"]) == (lab.bot.id, lab.bot.bot_id)
    assert set(auth.headers["X-OAuth-Scopes"].split(",")) == set(BOT_SCOPES)


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-wrong", "invalid_auth"), ("xapp-1-lab-app-token", "not_allowed_token_type")],
)
async def test_bad_tokens_are_refused(lab: SlackLab, token: str, error: str) -> None:
    async with aiohttp.ClientSession() as session:
        web = AsyncWebClient(token=token, base_url=lab.api_url, session=session)
        with pytest.raises(SlackApiError) as caught:
            await web.chat_postMessage(channel="C1", text="x")
    assert caught.value.response["error"] == error


async def test_no_token_is_not_authed(lab: SlackLab) -> None:
    async with aiohttp.ClientSession() as session:
        web = AsyncWebClient(base_url=lab.api_url, session=session)
        with pytest.raises(SlackApiError) as caught:
            await web.auth_test()
    assert caught.value.response["error"] == "not_authed"


async def test_missing_scope_names_the_scope() -> None:
    lab = SlackLab(scopes=BOT_SCOPES - {"reactions:write"})
    await lab.start()
    try:
        channel = lab.add_channel("general")
        async with aiohttp.ClientSession() as session:
            web = AsyncWebClient(token=lab.bot_token, base_url=lab.api_url, session=session)
            posted = await web.chat_postMessage(channel=channel, text="x")
            with pytest.raises(SlackApiError) as caught:
                await web.reactions_add(channel=channel, timestamp=posted["ts"], name="tada")
    finally:
        await lab.stop()
    assert caught.value.response["error"] == "missing_scope"
    assert caught.value.response["needed"] == "reactions:write"


async def test_error_codes_for_malformed_calls(lab: SlackLab, web: AsyncWebClient) -> None:
    outside = lab.add_channel("outside", bot=False)
    inside = lab.add_channel("inside")
    cases = [
        (web.chat_postMessage(channel="C404", text="x"), "channel_not_found"),
        (web.chat_postMessage(channel=outside, text="x"), "not_in_channel"),
        (web.api_call("chat.postMessage", json={"channel": inside}), "no_text"),
        (web.chat_update(channel=inside, ts="1.0", text="x"), "message_not_found"),
        (web.chat_delete(channel=inside, ts="1.0"), "message_not_found"),
        (web.reactions_add(channel=inside, timestamp="1.0", name="tada"), "message_not_found"),
        (web.users_info(user="U404"), "user_not_found"),
        (web.api_call("no.such.method"), "unknown_method"),
    ]
    for call, error in cases:
        with pytest.raises(SlackApiError) as caught:
            await call
        assert caught.value.response["error"] == error


async def test_humans_messages_cannot_be_edited_by_the_bot(
    lab: SlackLab, web: AsyncWebClient
) -> None:
    alice = lab.add_user("alice")
    channel = lab.add_channel("general", members=(alice,))
    ts = lab.post_as_user(channel, alice, "mine")["ts"]
    for call, error in [
        (web.chat_update(channel=channel, ts=ts, text="x"), "cant_update_message"),
        (web.chat_delete(channel=channel, ts=ts), "cant_delete_message"),
    ]:
        with pytest.raises(SlackApiError) as caught:
            await call
        assert caught.value.response["error"] == error


async def test_posting_faster_than_the_limit_gets_429_with_retry_after() -> None:
    lab = SlackLab(post_rate=1.0, post_burst=3)
    await lab.start()
    try:
        channel = lab.add_channel("general")
        other = lab.add_channel("other")
        async with aiohttp.ClientSession() as session:
            web = AsyncWebClient(token=lab.bot_token, base_url=lab.api_url, session=session)
            for n in range(3):
                await web.chat_postMessage(channel=channel, text=f"burst {n}")
            with pytest.raises(SlackApiError) as caught:
                await web.chat_postMessage(channel=channel, text="one too many")
            # The limit is per channel: another channel is unaffected.
            await web.chat_postMessage(channel=other, text="elsewhere")
    finally:
        await lab.stop()
    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert int(caught.value.response.headers["Retry-After"]) >= 1
    assert [m["text"] for m in lab.history(channel)] == ["burst 0", "burst 1", "burst 2"]


async def test_thread_edit_delete_reaction_and_file_round_trip(
    lab: SlackLab, web: AsyncWebClient
) -> None:
    channel = lab.add_channel("general")
    parent = await web.chat_postMessage(channel=channel, text="parent")
    reply = await web.chat_postMessage(channel=channel, text="reply", thread_ts=parent["ts"])
    await web.chat_update(channel=channel, ts=reply["ts"], text="reply, edited")
    await web.reactions_add(channel=channel, timestamp=parent["ts"], name="tada")
    with pytest.raises(SlackApiError) as caught:
        await web.reactions_add(channel=channel, timestamp=parent["ts"], name="tada")
    assert caught.value.response["error"] == "already_reacted"
    upload = await web.files_upload_v2(channel=channel, file=b"abc", filename="a.txt")
    file_id = upload["files"][0]["id"]
    history = lab.history(channel)
    assert history[0]["reply_count"] == 1
    assert history[0]["reactions"] == [{"name": "tada", "users": [lab.bot.id], "count": 1}]
    assert history[1]["thread_ts"] == parent["ts"] and history[1]["text"] == "reply, edited"
    assert history[2]["files"][0]["id"] == file_id and lab.file_data(file_id) == b"abc"
    await web.chat_delete(channel=channel, ts=reply["ts"])
    assert [m["ts"] for m in lab.history(channel)] == [parent["ts"], history[2]["ts"]]


async def test_conversations_list_pages(lab: SlackLab, web: AsyncWebClient) -> None:
    for n in range(5):
        lab.add_channel(f"room{n}")
    names: list[str] = []
    cursor = None
    async with asyncio.timeout(5):
        while True:
            page = await web.conversations_list(limit=2, cursor=cursor)
            names += [c["name"] for c in page["channels"]]
            cursor = page["response_metadata"]["next_cursor"]
            if not cursor:
                break
    assert names == [f"room{n}" for n in range(5)]


async def test_control_surface_over_http(lab: SlackLab) -> None:
    async with aiohttp.ClientSession(base_url=lab.url) as http:
        user = (await (await http.post("/_lab/users", json={"name": "dora"})).json())["result"]
        chan = (await (await http.post("/_lab/channels", json={"name": "ops"})).json())["result"]
        post = await http.post(
            "/_lab/post", json={"channel": "#ops", "user": user["id"], "text": "hi"}
        )
        ts = (await post.json())["result"]["ts"]
        await http.post("/_lab/edit", json={"channel": chan["id"], "ts": ts, "text": "hi!"})
        await http.post(
            "/_lab/react", json={"channel": chan["id"], "ts": ts, "user": user["id"], "name": "+1"}
        )
        history = await (await http.get("/_lab/history", params={"channel": chan["id"]})).json()
        assert [m["text"] for m in history["messages"]] == ["hi!"]
        bad = await http.post("/_lab/post", data=b"not json")
        assert bad.status == 400
        missing = await http.post(
            "/_lab/post", json={"channel": "#nope", "user": "U1", "text": "x"}
        )
        assert (missing.status, (await missing.json())["error"]) == (400, "channel_not_found")
        await http.post("/_lab/delete", json={"channel": chan["id"], "ts": ts})
        state = await (await http.get("/_lab/state")).json()
        assert "ops" in [c["name"] for c in state["channels"]]
    assert lab.history(chan["id"]) == []


async def test_malformed_web_api_bodies(lab: SlackLab) -> None:
    headers = {"Authorization": f"Bearer {lab.bot_token}"}
    async with aiohttp.ClientSession() as http:
        bad_json = await http.post(
            f"{lab.api_url}chat.postMessage",
            data=b"{nope",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert (await bad_json.json())["error"] == "invalid_json"
        bad_meta = await http.post(
            f"{lab.api_url}chat.postMessage",
            data={"channel": lab.add_channel("x"), "text": "x", "metadata": json.dumps([1])},
            headers=headers,
        )
        assert (await bad_meta.json())["error"] == "invalid_metadata_format"
