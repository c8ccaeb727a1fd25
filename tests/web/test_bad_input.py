"""Malformed requests get a clear 4xx and change nothing; the page keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import api_rooms
from tests.web.conftest import admin_page

BODIES = [
    ("multipart/form-data; boundary=xx", b"garbage\xff\xfe"),
    ("multipart/form-data", b"--\r\n"),
    ("application/x-www-form-urlencoded", b"room=%ff%fe&key=\xff"),
    ("application/x-www-form-urlencoded", b"x" * 100_000),
]
PATHS = ["/rooms/set", "/rooms/unset", "/login"]


@pytest.mark.parametrize("bearer", [True, False])
async def test_garbage_form_posts_are_refused_without_a_crash(
    tmp_path: Path, bearer: bool
) -> None:
    async with admin_page(tmp_path, api_rooms("a", "b")) as admin:
        for content_type, body in BODIES:
            for path in PATHS:
                headers = {**(admin.auth if bearer else {}), "Content-Type": content_type}
                async with admin.http.post(admin.url + path, data=body, headers=headers) as resp:
                    assert resp.status in (400, 401, 403, 413), (path, content_type, resp.status)
        assert await admin.hub.store.overrides() == []
        assert await admin.hub.store.audit_log() == []
        assert "api.a:api" in await admin.page("/")


async def test_unknown_paths_and_methods_are_plain_http_errors(tmp_path: Path) -> None:
    async with admin_page(tmp_path, api_rooms("a")) as admin:
        async with admin.http.get(f"{admin.url}/nope", headers=admin.auth) as resp:
            assert resp.status == 404
        async with admin.http.get(f"{admin.url}/rooms/set", headers=admin.auth) as resp:
            assert resp.status == 405
        async with admin.http.get(f"{admin.url}/style.css") as resp:
            assert resp.status == 200 and resp.content_type == "text/css"
