"""The admin token: bearer header, login cookie, 401s that say what to do, CSRF-safe forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridgebot.web import create_app
from tests.e2e.conftest import api_rooms
from tests.web.conftest import TOKEN, admin_page


async def test_every_page_but_health_needs_the_token(tmp_path: Path) -> None:
    async with admin_page(tmp_path, api_rooms("a")) as admin:
        for path in ("/", "/explain", "/api/admin/state", "/metrics"):
            async with admin.http.get(admin.url + path) as resp:
                assert resp.status == 401, path
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                body = await resp.text()
                assert "Authorization: Bearer" in body or "/login" in body
        async with admin.http.get(admin.url + "/") as resp:
            page = await resp.text()
            assert 'action="/login"' in page and "admin token is required" in page
        async with admin.http.get(admin.url + "/api/admin/state") as resp:
            assert (await resp.json())["error"] == "the admin token is required"
        wrong = {"Authorization": "Bearer not-it"}
        async with admin.http.get(admin.url + "/", headers=wrong) as resp:
            assert resp.status == 401 and "wrong admin token" in await resp.text()
        async with admin.http.get(admin.url + "/health") as resp:
            assert resp.status == 200
        assert "api.a:api" in await admin.page("/")


async def test_login_sets_a_strict_httponly_cookie_that_opens_the_page(tmp_path: Path) -> None:
    async with admin_page(tmp_path, api_rooms("a")) as admin:
        http = admin.http
        form = {"token": "guess", "next": "/"}
        async with http.post(f"{admin.url}/login", data=form, allow_redirects=False) as resp:
            assert resp.status == 401
            assert "not the admin token" in await resp.text()
        assert len(http.cookie_jar) == 0

        form = {"token": TOKEN, "next": "//evil.example/"}
        async with http.post(f"{admin.url}/login", data=form, allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/"  # never an open redirect
            cookie = resp.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert TOKEN not in cookie
        async with http.get(f"{admin.url}/") as resp:
            assert resp.status == 200
            page = await resp.text()
            assert "Sign out" in page and "api.a:api" in page

        async with http.post(f"{admin.url}/logout", data={}, allow_redirects=False) as resp:
            assert resp.status == 403  # no csrf field: refused even with the cookie
        csrf = await admin.csrf()
        async with http.post(
            f"{admin.url}/logout", data={"csrf": csrf}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        async with http.get(f"{admin.url}/") as resp:
            assert resp.status == 401


async def test_forged_form_posts_are_refused(tmp_path: Path) -> None:
    async with admin_page(tmp_path, api_rooms("a", "b")) as admin:
        http = admin.http
        async with http.post(f"{admin.url}/login", data={"token": TOKEN}) as resp:
            assert resp.status == 200
        csrf = await admin.csrf()
        change = {"room": "api.a:api", "key": "sends", "value": "no"}
        async with http.post(f"{admin.url}/rooms/set", data=change) as resp:
            assert resp.status == 403  # cookie alone is not enough
        forged = {**change, "csrf": "0" * 64}
        async with http.post(f"{admin.url}/rooms/set", data=forged) as resp:
            assert resp.status == 403
        other_site = {"Origin": "http://evil.example"}
        async with http.post(
            f"{admin.url}/rooms/set", data={**change, "csrf": csrf}, headers=other_site
        ) as resp:
            assert resp.status == 403
        assert await admin.hub.store.overrides() == []
        async with http.post(
            f"{admin.url}/rooms/set", data={**change, "csrf": csrf}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        assert [(r, k) for r, k, *_ in await admin.hub.store.overrides()] == [
            ("api.a:api", "sends")
        ]


async def test_without_a_token_pages_are_open_but_forms_still_need_csrf(tmp_path: Path) -> None:
    async with admin_page(tmp_path, api_rooms("a"), token=None) as admin:
        assert "api.a:api" in await admin.page("/")
        change = {"room": "api.a:api", "key": "sends", "value": "no"}
        async with admin.http.post(f"{admin.url}/rooms/set", data=change) as resp:
            assert resp.status == 403
        change["csrf"] = await admin.csrf()
        async with admin.http.post(f"{admin.url}/rooms/set", data=change) as resp:
            assert resp.status == 200  # redirected back to the overview
            assert "Rule changed" in await resp.text()


async def test_an_empty_token_is_refused_at_creation(tmp_path: Path) -> None:
    async with admin_page(tmp_path, api_rooms("a")) as admin:
        with pytest.raises(ValueError, match="empty"):
            create_app(admin.hub, token="  ")
