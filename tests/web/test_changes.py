"""Changes made on the page: rules (audited, effective at once) and dead-letter retries."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import api_rooms
from tests.web.conftest import admin_page, received, say

RETRY_ONCE = "[dispatch]\nmax_attempts = 1\n"


async def test_changing_privacy_is_audited_shown_and_changes_relaying(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with admin_page(tmp_path, [a, b]) as admin:
        await say(admin.http, a, "alice", "before the change")
        await admin.settle()
        assert await received(admin.http, b) == ["before the change"]

        change = {"room": a.ref, "key": "privacy", "value": "closed"}
        async with admin.http.post(
            f"{admin.url}/rooms/set", data=change, headers=admin.auth, allow_redirects=False
        ) as resp:
            assert resp.status == 303 and resp.headers["Location"].startswith("/?done=set")

        await say(admin.http, a, "alice", "after the change")
        await admin.settle()
        assert await received(admin.http, b) == []  # closed → public is withheld
        assert admin.hub.metrics.withheld_total == 1

        state = await admin.state()
        rooms = {r["room"]: r for r in state["bridges"][0]["rooms"]}
        assert rooms[a.ref]["privacy"] == "closed"
        assert rooms[a.ref]["overrides"][0]["actor"] == "web:admin"
        assert state["audit"][0]["actor"] == "web:admin"
        assert state["audit"][0]["action"] == "set"
        assert state["audit"][0]["room"] == a.ref
        assert '"privacy": "closed"' in state["audit"][0]["detail"]

        page = await admin.page("/?done=set")
        assert "Rule changed" in page
        assert "set by web:admin" in page

        unset = {"room": a.ref, "key": "privacy"}
        async with admin.http.post(
            f"{admin.url}/rooms/unset", data=unset, headers=admin.auth, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        await say(admin.http, a, "alice", "back to public")
        await admin.settle()
        assert await received(admin.http, b) == ["back to public"]
        assert [e["action"] for e in (await admin.state())["audit"]] == ["unset", "set"]


async def test_a_refused_change_shows_the_reason_and_changes_nothing(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with admin_page(tmp_path, [a, b]) as admin:
        cases = [
            ({"room": a.ref, "key": "privacy", "value": "secret"}, "privacy takes one of"),
            ({"room": a.ref, "key": "colour", "value": "red"}, "unknown key"),
            ({"room": "api.zz:api", "key": "sends", "value": "no"}, "is in no bridge"),
            ({"room": "nonsense", "key": "sends", "value": "no"}, "ACCOUNT:ROOM"),
            ({"room": a.ref, "key": "ignore_text", "value": "(["}, "cannot compile"),
            ({}, "no room"),
        ]
        for form, reason in cases:
            async with admin.http.post(
                f"{admin.url}/rooms/set", data=form, headers=admin.auth
            ) as resp:
                assert resp.status == 400, form
                page = await resp.text()
                assert "Not changed:" in page and reason in page, (form, page)
        json_client = {**admin.auth, "Accept": "application/json"}
        async with admin.http.post(
            f"{admin.url}/rooms/set", data=cases[0][0], headers=json_client
        ) as resp:
            assert resp.status == 400
            assert "privacy takes one of" in (await resp.json())["error"]
        async with admin.http.post(
            f"{admin.url}/rooms/unset", data={"room": a.ref, "key": "colour"}, headers=admin.auth
        ) as resp:
            assert resp.status == 400
        assert await admin.hub.store.overrides() == []
        assert await admin.hub.store.audit_log() == []


async def test_a_dead_letter_is_listed_and_retried_from_the_page(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with admin_page(tmp_path, [a, b], head=RETRY_ONCE, buffer=1) as admin:
        await say(admin.http, a, "alice", "first")
        await admin.settle()
        await say(admin.http, a, "<img src=x onerror=alert(1)>", "second")
        await admin.settle()  # b's buffer holds one message: the second one fails for good

        page = await admin.page("/")
        assert "retry all dead letters" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "<img src=x" not in page
        dead = (await admin.state())["dead_letters"]
        assert [(d["dest_room"], d["attempts"]) for d in dead] == [(b.ref, 0)]
        assert "gave up after 1 attempts" in dead[0]["reason"]

        assert await received(admin.http, b) == ["first"]  # b's client catches up
        retry = {"id": str(dead[0]["id"])}
        async with admin.http.post(
            f"{admin.url}/dead-letters/retry", data=retry, headers=admin.auth
        ) as resp:
            assert resp.status == 200
            assert "1 dead letters queued again" in await resp.text()
        await admin.settle()
        assert await received(admin.http, b) == ["second"]
        state = await admin.state()
        assert state["dead_letters"] == []
        assert (state["audit"][0]["actor"], state["audit"][0]["action"]) == ("web:admin", "retry")

        async with admin.http.post(
            f"{admin.url}/dead-letters/retry", data={"id": "x1"}, headers=admin.auth
        ) as resp:
            assert resp.status == 400
            assert "must be numbers" in await resp.text()
