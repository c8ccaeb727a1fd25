"""The relay contract, once for every network: a room there bridged with an API room.

Each test runs a real bridge in this process against the network's lab or real server and
asserts on what the server and the API room received. What a network's adapter claims in
its ``capabilities`` must happen; what it does not claim must not (checked after a later
message has crossed on the same path, so a late delivery could not hide).
"""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import pytest

from bridgebot.lab.relay import Relay
from tests.contract.drivers.base import Driver, Seen
from tests.contract.drivers.slack import SlackDriver
from tests.contract.pair import Pair

LABEL = "bob · api"  # how copies of the API person's messages are labelled


def label_of(driver: Driver) -> str:
    return f"{driver.human_name} · {driver.network}"


async def api_barrier(relay: Relay, driver: Driver, room: str, text: str) -> None:
    """The network's person posts ``text`` and it reaches the API room: everything the
    network sent before it has been relayed (or was never going to be)."""
    await driver.post(room, text)
    await relay.api.wait_text(text)


async def network_barrier(relay: Relay, driver: Driver, room: str, text: str) -> Seen:
    """The API person posts ``text`` and its copy reaches the room (the same per-room order
    holds for every earlier delivery there)."""
    await relay.api.post(text=text)
    return await driver.wait_copy(room, text)


async def test_relay_both_ways_with_the_label_and_no_echo(pair: Pair, driver: Driver) -> None:
    room = await pair.room()
    async with pair.running() as relay:
        await driver.post(room, f"hello from {driver.network}")
        (got,) = await relay.api.wait_for(1)
        assert (got["text"], got["username"]) == (f"hello from {driver.network}", label_of(driver))
        await relay.api.post(text="hello from api")
        (copy,) = await driver.wait_copies(room, 1)
        assert (copy.label, copy.text) == (LABEL, "hello from api")
        driver.check_marked(copy)
        # Neither side gets its own message back: after one more message each way, each
        # room holds exactly the other side's.
        await api_barrier(relay, driver, room, "last from the network")
        await network_barrier(relay, driver, room, "last from api")
        assert [m["text"] for m in relay.api.received] == [
            f"hello from {driver.network}",
            "last from the network",
        ]
        assert [c.text for c in await driver.copies(room)] == ["hello from api", "last from api"]


async def test_the_networks_markup_arrives_as_markdown(pair: Pair, driver: Driver) -> None:
    room = await pair.room()
    async with pair.running() as relay:
        expected = await driver.post_markup(room)
        (got,) = await relay.api.wait_for(1)
    assert (got["text"], got["username"]) == (expected, label_of(driver))


async def test_a_mass_mention_arrives_harmless(pair: Pair, driver: Driver) -> None:
    room = await pair.room()
    async with pair.running() as relay:
        await relay.api.post(text=driver.mention.posted)
        (copy,) = await driver.wait_copies(room, 1)
    assert (copy.label, copy.text) == (LABEL, driver.mention.shown)
    driver.check_harmless(copy)


async def test_replies_point_at_the_right_copy_both_ways(pair: Pair, driver: Driver) -> None:
    room = await pair.room()
    async with pair.running() as relay:
        # A thread started on the network: the API copy of the answer names the root's copy.
        root = await driver.post(room, "root")
        root_copy = await relay.api.wait_text("root")
        answer = await driver.reply(room, root, "a reply")
        answer_copy = await relay.api.wait_text("a reply")
        assert answer_copy["parent_id"] == root_copy["id"]
        # The API answers its copy: the network's copy answers the original.
        await relay.api.post(text="re", parent_id=answer_copy["id"])
        re = await driver.wait_copy(room, "re")
        assert re.reply_to == driver.reply_target(room, answer)
        # A thread started on the API: the network's copies form the same thread ...
        question = await relay.api.post(text="question")
        question_copy = await driver.wait_copy(room, "question")
        await relay.api.post(text="answer", parent_id=question["id"])
        answer_there = await driver.wait_copy(room, "answer")
        assert answer_there.reply_to == question_copy.id
        # ... and the network's person answering the copy answers the API's original.
        await driver.reply(room, question_copy.id, "answer to a copy")
        back = await relay.api.wait_text("answer to a copy")
        assert back["parent_id"] == question["id"]


async def test_edits_follow_as_far_as_claimed(pair: Pair, driver: Driver) -> None:
    room = await pair.room()
    edits = pair.claims().edits
    async with pair.running() as relay:
        if driver.human_edits:
            draft = await driver.post(room, "draft")
            await relay.api.wait_text("draft")
            await driver.edit(room, draft, "draft, edited")
            await api_barrier(relay, driver, room, "after the draft")
            got = relay.api.received
            edited = ["draft, edited"] if edits else []
            assert [m["text"] for m in got] == ["draft", *edited, "after the draft"]
            if edits:
                assert got[1]["id"] == got[0]["id"]  # the edit names the copy it changes
        first = await relay.api.post(text="hello")
        copy = await driver.wait_copy(room, "hello")
        await relay.api.post(text="hello, edited", id=first["id"])
        await network_barrier(relay, driver, room, "after the edit")
        copies = await driver.copies(room)
    shown = "hello, edited" if edits else "hello"
    assert [(c.id, c.label, c.text) for c in copies[:1]] == [(copy.id, LABEL, shown)]
    assert [c.text for c in copies] == [shown, "after the edit"]


async def test_deletes_follow_as_far_as_claimed(pair: Pair, driver: Driver) -> None:
    room = await pair.room()
    deletes = pair.claims().deletes
    async with pair.running() as relay:
        if driver.human_deletes:
            doomed = await driver.post(room, "doomed")
            await relay.api.wait_text("doomed")
            await driver.delete(room, doomed)
            await api_barrier(relay, driver, room, "after the doomed")
            got = relay.api.received
            events = [(m["event"], m["id"]) for m in got]
            gone = [("msg_delete", got[0]["id"])] if deletes else []
            assert events == [("", got[0]["id"]), *gone, ("", got[-1]["id"])]
        first = await relay.api.post(text="hello")
        await driver.wait_copy(room, "hello")
        await relay.api.post(text="kept")
        await driver.wait_copy(room, "kept")
        await relay.api.post(event="msg_delete", id=first["id"])
        await network_barrier(relay, driver, room, "after the delete")
        texts = [c.text for c in await driver.copies(room)]
    assert texts == [*([] if deletes else ["hello"]), "kept", "after the delete"]


async def test_reactions_follow_as_far_as_claimed(driver: Driver, tmp_path: Path) -> None:
    # A reaction needs a person who can react, and a room that shows the bot's reactions:
    # a second room on this network where people react, else a Slack channel reacts.
    if driver.human_reacts:
        await check_reactions(Pair(tmp_path, driver), driver, driver)
        return
    source = SlackDriver()
    await source.start()
    try:
        await check_reactions(Pair(tmp_path, driver, source), source, driver)
    finally:
        await source.stop()


async def check_reactions(pair: Pair, source: Driver, driver: Driver) -> None:
    """A person on ``source`` reacts to their message; its copy on ``driver``'s network gets
    the bot's reaction if that adapter claims reactions, and the API room gets none."""
    origin = await pair.room(source)
    room = await pair.room(driver)
    claims = pair.claims(driver)
    async with pair.running() as relay:
        message = await source.post(origin, "react to me")
        copy = await driver.wait_copy(room, "react to me")
        await relay.api.wait_text("react to me")
        await source.react(origin, message, "👍")
        if claims.reactions:
            reacted = await driver.wait_seen(room, lambda s: "👍" in s.reactions, "a 👍")
            assert reacted.id == copy.id
        # The API claims no reactions: nothing reaches it but the messages.
        await api_barrier(relay, source, origin, "after the reaction")
        assert [m["text"] for m in relay.api.received] == ["react to me", "after the reaction"]
        copies = await driver.wait_copies(room, 2)
    assert [c.text for c in copies] == ["react to me", "after the reaction"]
    assert copies[0].reactions == (frozenset({"👍"}) if claims.reactions else frozenset())


async def test_files_cross_both_ways(pair: Pair, driver: Driver) -> None:
    room = await pair.room()
    claims = pair.claims()
    assert claims.attachments, f"{driver.network} claims no attachments"
    async with pair.running() as relay:
        await driver.post_file(room, "minutes.txt", b"the minutes", "notes")
        (got,) = await relay.api.wait_for(1)
        (file,) = got["Extra"]["file"]
        assert (got["text"], got["username"], file["Name"]) == (
            "notes",
            label_of(driver),
            "minutes.txt",
        )
        # API clients get the bytes, or a link they can fetch with the network's credentials
        data = base64.b64decode(file["Data"]) if file["Data"] else await driver.fetch(file["URL"])
        assert data == b"the minutes"

        agenda = base64.b64encode(b"agenda items").decode()
        video = "https://files.example/video.mp4"
        files = [{"Name": "agenda.txt", "Data": agenda}, {"Name": "video.mp4", "URL": video}]
        await relay.api.post(text="agenda", Extra={"file": files})
        await network_barrier(relay, driver, room, "after the agenda")
        copies = [c for c in await driver.copies(room) if c.text != "after the agenda"]
        shared = [f for c in copies for f in c.files]
        assert [(f.name, f.data) for f in shared if f.data is not None] == [
            ("agenda.txt", b"agenda items")
        ]
        shown = [c.text for c in copies] + [f.url or "" for f in shared]
        shown += [link for c in copies for link in c.links]
        assert any(video in part for part in shown), copies
        # the first copy carries the text and the label; a file may follow on its own
        assert (copies[0].label, copies[0].text) == (
            LABEL,
            driver.linked_file("agenda", "video.mp4", video),
        )
        # nothing came back to the API room
        await api_barrier(relay, driver, room, "after the files")
        assert [m["text"] for m in relay.api.received] == ["notes", "after the files"]


async def test_restart_catches_up_as_far_as_claimed(pair: Pair, driver: Driver) -> None:
    room = await pair.room()
    async with pair.running() as relay:
        await driver.post(room, "before the restart")
        await relay.api.wait_text("before the restart")
    if driver.catches_up:
        await driver.post(room, "while the bridge was down")
    else:
        with pytest.raises(aiohttp.ClientConnectionError):
            await driver.post(room, "while the bridge was down")
    async with pair.running() as relay:
        if driver.catches_up:
            missed = await relay.api.wait_text("while the bridge was down")
            # Labelled as before the restart: the adapter knows names again at once.
            assert missed["username"] == label_of(driver)
        await api_barrier(relay, driver, room, "after the restart")
        expected = ["while the bridge was down"] if driver.catches_up else []
        assert [m["text"] for m in relay.api.received] == [*expected, "after the restart"]
