"""What the overview, explain page and JSON state show, with hostile names escaped."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import ApiRoom, api_rooms
from tests.web.conftest import admin_page, say

HOSTILE = '<script>alert("x")</script>'


async def test_overview_lists_bridges_rooms_rules_adapters_and_queues(tmp_path: Path) -> None:
    a, b = api_rooms("a", ("b", "closed"))
    b = ApiRoom(b.account, b.port, "closed", 'tags = ["khub"]\nredact = ["email"]')
    async with admin_page(tmp_path, [a, b]) as admin:
        page = await admin.page("/")
        for text in ("Bridge khub", a.ref, b.ref, "closed", "email", "Adapters", "Audit log",
                     "Dead letters", "No dead letters.", 'action="/rooms/set"',
                     'action="/explain"', "Nothing is waiting"):  # fmt: skip
            assert text in page, text
        assert page.count('class="up">up<') == 2

        state = await admin.state()
        assert set(state) >= {"bridges", "adapters", "queues", "dead_letters", "audit"}
        rooms = {r["room"]: r for r in state["bridges"][0]["rooms"]}
        assert rooms[b.ref]["privacy"] == "closed"
        assert rooms[b.ref]["tags"] == ["khub"]
        assert rooms[b.ref]["redact"] == ["email"]
        assert rooms[a.ref]["networks"] is None
        assert {k: v["state"] for k, v in state["adapters"].items()} == {
            a.account: "up",
            b.account: "up",
        }


async def test_explain_form_prints_the_decision(tmp_path: Path) -> None:
    a, b = api_rooms("a", ("b", "closed"))
    async with admin_page(tmp_path, [a, b]) as admin:
        page = await admin.page(f"/explain?from={b.ref}&to={a.ref}&author=carol&text=hi")
        assert '<pre id="explanation">' in page
        assert "= withheld (privacy)" in page
        page = await admin.page(f"/explain?from={a.ref}&to={b.ref}&author=carol&text=hi")
        assert "= relayed" in page
        async with admin.http.get(
            f"{admin.url}/explain?from=nonsense&to={a.ref}", headers=admin.auth
        ) as resp:
            assert resp.status == 400
            assert "ACCOUNT:ROOM" in await resp.text()


async def test_hostile_names_and_text_are_escaped_everywhere(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with admin_page(tmp_path, [a, b]) as admin:
        change = {"room": a.ref, "key": "name", "value": HOSTILE}
        async with admin.http.post(
            f"{admin.url}/rooms/set", data=change, headers=admin.auth
        ) as resp:
            assert resp.status == 200
        change = {"room": a.ref, "key": "tags", "value": '"><b>x</b>'}
        async with admin.http.post(
            f"{admin.url}/rooms/set", data=change, headers=admin.auth
        ) as resp:
            assert resp.status == 200
        await say(admin.http, a, HOSTILE, "hello")
        await admin.settle()

        page = await admin.page("/")
        explained = await admin.page(
            f"/explain?from={a.ref}&to={b.ref}&author=%3Cscript%3E&text=%3Cb%3Ehi"
        )
        for shown in (page, explained):
            assert "<script>" not in shown
            assert "<b>" not in shown
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
        assert "&lt;script&gt;" in explained and "&lt;b&gt;hi" in explained
        async with admin.http.get(f"{admin.url}/", headers=admin.auth) as resp:
            assert "script-src" not in resp.headers["Content-Security-Policy"]
            assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


async def test_announcements_are_listed_with_the_rooms_they_were_queued_for(
    tmp_path: Path,
) -> None:
    a, b = api_rooms("a", "b")
    roles = '[roles]\nfacilitators = ["api.a:fac"]\n'
    async with admin_page(tmp_path, [a, b], head=roles) as admin:
        assert "No announcements yet" in await admin.page("/")
        await say(admin.http, a, "fac", "!announce meeting at noon")
        await admin.settle()
        page = await admin.page("/")
        section = page.split('id="announcements"', 1)[1].split('id="audit"', 1)[0]
        assert "api.a:fac" in section and b.ref in section
        assert "landed in 1 of 1" in section and "meeting at noon" not in section
        await say(admin.http, a, "fac", "!announce --at 2099-01-01T09:00 far future")
        await admin.settle()
        page = await admin.page("/")
        section = page.split('id="announcements"', 1)[1].split('id="audit"', 1)[0]
        assert "scheduled for 2099-01-01" in section
