"""Core → Slack: what the real adapter makes the lab server store."""

from __future__ import annotations

import pytest

from bridgebot.errors import PermanentError, RateLimited, TransientError
from bridgebot.lab.slack import BOT_SCOPES, SlackLab, broadcast_mentions, user_mentions
from bridgebot.model import Attachment, RoomRef

from .conftest import ACCOUNT, AdapterFactory, outbound


async def test_send_edit_react_delete(lab: SlackLab, make_adapter: AdapterFactory) -> None:
    general = lab.add_channel("general")
    adapter, _ = await make_adapter(("#general",))
    room = RoomRef(ACCOUNT, "#general")

    ts = await adapter.send(room, outbound("hello **all**"))
    (posted,) = lab.history(general)
    assert posted["ts"] == ts
    assert posted["text"] == "hello *all*"
    assert posted["username"] == "Alice · matrix"
    assert posted["icons"] == {"image_72": "https://example.org/alice.png"}
    assert posted["metadata"]["event_type"] == "bridgebot_relay"
    assert posted["metadata"]["event_payload"]["origin"] == "matrix.home:!r:example.org"

    reply = await adapter.send(room, outbound("in thread", key="k2", thread=ts))
    assert lab.history(general)[1]["thread_ts"] == ts

    await adapter.edit(room, ts, outbound("hello, edited"))
    await adapter.react(room, ts, "👍")
    await adapter.react(room, ts, "👍")  # already there: still fine
    await adapter.react(room, ts, ":party_parrot:")
    first = lab.history(general)[0]
    assert first["text"] == "hello, edited"
    assert [r["name"] for r in first["reactions"]] == ["+1", "party_parrot"]
    with pytest.raises(PermanentError, match="no Slack name"):
        await adapter.react(room, ts, "🦩")

    await adapter.delete(room, reply)
    await adapter.delete(room, reply)  # already gone: still fine
    assert [m["ts"] for m in lab.history(general)] == [ts]


async def test_label_in_text_without_customize_scope(make_adapter: AdapterFactory) -> None:
    server = SlackLab(scopes=BOT_SCOPES - {"chat:write.customize"}, post_rate=None)
    await server.start()
    try:
        general = server.add_channel("general")
        adapter, _ = await make_adapter((general,), server=server)
        await adapter.send(RoomRef(ACCOUNT, general), outbound("hi"))
        (posted,) = server.history(general)
    finally:
        await server.stop()
    assert posted["text"] == "*Alice · matrix:* hi"
    assert "username" not in posted


async def test_hostile_text_is_neutralised(lab: SlackLab, make_adapter: AdapterFactory) -> None:
    general = lab.add_channel("general")
    adapter, _ = await make_adapter((general,))
    room = RoomRef(ACCOUNT, general)
    hostile = [
        "<!channel> <!here> <!everyone> <@" + lab.bot.id + ">",
        "[https://trusted.example](https://evil.example)",
        "<https://evil.example|https://trusted.example>",
        "&lt;!channel&gt; and <!subteam^S1|@everyone>",
        "x" * 39_990 + " <!channel>" + "<" * 5_000,
    ]
    for n, text in enumerate(hostile):
        await adapter.send(room, outbound(text, key=f"k{n}", label="<!here> Mallory"))
    for message in lab.history(general):
        assert broadcast_mentions(message["text"]) == []
        assert user_mentions(message["text"]) == []
        assert "|https://trusted.example>" not in message["text"]
        assert len(message["text"]) <= 40_000
    assert lab.history(general)[1]["text"] == "https://trusted.example (<https://evil.example>)"
    assert lab.history(general)[-1]["text"].endswith("[…]")


async def test_files_are_uploaded_or_linked(lab: SlackLab, make_adapter: AdapterFactory) -> None:
    general = lab.add_channel("general")
    adapter, _ = await make_adapter((general,), max_upload_bytes=10)
    files = (
        Attachment("minutes.txt", "text/plain", 7, data=b"minutes"),
        Attachment("video.mp4", "video/mp4", 10**9, url="https://files.example/video.mp4"),
    )
    ts = await adapter.send(RoomRef(ACCOUNT, general), outbound("see files", attachments=files))
    text_message, file_message = lab.history(general)
    assert text_message["ts"] == ts
    assert text_message["text"] == "see files\n<https://files.example/video.mp4|video.mp4>"
    (shared,) = file_message["files"]
    assert shared["name"] == "minutes.txt"
    assert lab.file_data(shared["id"]) == b"minutes"


async def test_rate_limit_becomes_rate_limited(make_adapter: AdapterFactory) -> None:
    server = SlackLab(post_rate=1.0, post_burst=1)
    await server.start()
    try:
        general = server.add_channel("general")
        adapter, _ = await make_adapter((general,), server=server)
        room = RoomRef(ACCOUNT, general)
        await adapter.send(room, outbound("one"))
        with pytest.raises(RateLimited) as caught:
            await adapter.send(room, outbound("two"))
    finally:
        await server.stop()
    assert caught.value.retry_after >= 1
    assert "slack.work" in str(caught.value)


async def test_permanent_errors_name_account_and_room(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    general = lab.add_channel("general")
    adapter, _ = await make_adapter((general,))
    lab.world.channels[general].members.discard(lab.bot.id)  # the bot was removed
    with pytest.raises(PermanentError, match=rf"slack\.work.*{general}.*not_in_channel.*invite"):
        await adapter.send(RoomRef(ACCOUNT, general), outbound("x"))
    with pytest.raises(PermanentError, match="not resolved"):
        await adapter.send(RoomRef(ACCOUNT, "#elsewhere"), outbound("x"))


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (500, "internal_error", TransientError),
        (503, "service_unavailable", TransientError),
        (200, "fatal_error", TransientError),
        (200, "is_archived", PermanentError),
        (200, "msg_too_long", PermanentError),
        (200, "something_new", PermanentError),
    ],
)
async def test_server_failures_are_typed(
    lab: SlackLab,
    make_adapter: AdapterFactory,
    status: int,
    error: str,
    kind: type[Exception],
) -> None:
    general = lab.add_channel("general")
    adapter, _ = await make_adapter((general,))
    lab.api.inject_fault("chat.postMessage", status, error)
    with pytest.raises(kind, match=error) as caught:
        await adapter.send(RoomRef(ACCOUNT, general), outbound("x"))
    assert not isinstance(caught.value, RateLimited)
    assert caught.value.__cause__ is not None
    await adapter.send(RoomRef(ACCOUNT, general), outbound("x"))  # the next one goes through


async def test_a_retry_after_a_lost_response_does_not_post_twice(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    general = lab.add_channel("general")
    adapter, _ = await make_adapter((general,))
    room = RoomRef(ACCOUNT, general)
    lab.api.inject_fault("chat.postMessage", 502, "bad_gateway", after=True)
    with pytest.raises(TransientError):
        await adapter.send(room, outbound("once", key="delivery-7"))
    ts = await adapter.send(room, outbound("once", key="delivery-7"))  # the dispatcher retries
    assert [m["ts"] for m in lab.history(general)] == [ts]
    assert [m["text"] for m in lab.history(general)] == ["once"]
    # A failure that never posted is simply posted on retry.
    lab.api.inject_fault("chat.postMessage", 502, "bad_gateway")
    with pytest.raises(TransientError):
        await adapter.send(room, outbound("twice", key="delivery-8"))
    await adapter.send(room, outbound("twice", key="delivery-8"))
    assert [m["text"] for m in lab.history(general)] == ["once", "twice"]
