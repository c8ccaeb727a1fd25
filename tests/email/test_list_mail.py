"""What only list mail shows, through a real bridge: a conversation from the API reads as a
list thread (the author's label as the sender's name, ``[bridge]`` subjects, ``Re:`` and
``In-Reply-To`` on the answers).

Relaying itself (labels, replies, files, restarts...) is the contract suite's
(tests/contract), which runs email as one network among the others.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

from bridgebot.lab.mail import Dovecot
from tests.contract.drivers.email import EmailDriver
from tests.contract.pair import Pair


async def test_an_api_conversation_reads_as_a_list_thread(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    driver = EmailDriver(dovecot)
    await driver.start()
    try:
        pair = Pair(tmp_path, driver)
        room = await pair.room()
        async with pair.running() as relay:
            carol = {"username": "carol", "userid": "carol"}
            first = await relay.api.post(text="Agenda for Tuesday", **carol)
            await relay.api.post(text="Item one: budget", parent_id=first["id"], **carol)
            await driver.wait_copies(room, 2)
        history = driver.lab.history(room)
    finally:
        await driver.stop()
    assert len(history) == 2
    mails = [message_from_bytes(r["raw"], policy=policy.default) for r in history]
    assert mails[0]["From"].addresses[0].display_name == "carol · api"
    assert str(mails[0]["Subject"]) == "[khub] Agenda for Tuesday"
    assert str(mails[1]["In-Reply-To"]) == str(mails[0]["Message-ID"])
    assert str(mails[1]["Subject"]) == "Re: [khub] Agenda for Tuesday"
