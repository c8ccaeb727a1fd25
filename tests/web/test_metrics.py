"""/metrics in the Prometheus text format, and /health."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import api_rooms
from tests.web.conftest import admin_page, received, say


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_count_a_relayed_and_a_withheld_message(tmp_path: Path) -> None:
    a, b = api_rooms("a", ("b", "closed"))
    async with admin_page(tmp_path, [a, b]) as admin:
        await say(admin.http, a, "alice", "public to closed: relayed")
        await say(admin.http, b, "bob", "closed to public: withheld")
        await admin.settle()
        assert await received(admin.http, b) == ["public to closed: relayed"]

        async with admin.http.get(f"{admin.url}/metrics") as resp:
            assert resp.status == 401
        async with admin.http.get(f"{admin.url}/metrics", headers=admin.auth) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            got = samples(await resp.text())
        assert got[("bridgebot_relayed_total", (("network", "api"),))] == 1
        assert got[("bridgebot_withheld_total", (("reason", "privacy"),))] == 1
        assert got[("bridgebot_sent_total", (("network", "api"),))] == 1
        assert got[("bridgebot_queued", (("room", a.ref),))] == 0
        assert got[("bridgebot_queued", (("room", b.ref),))] == 0
        assert got[("bridgebot_dead_letters_waiting", ())] == 0
        assert got[("bridgebot_adapter_up", (("account", a.account),))] == 1
        assert got[("bridgebot_adapter_up", (("account", b.account),))] == 1


async def test_health_is_ok_when_every_adapter_is_up_and_degraded_otherwise(
    tmp_path: Path,
) -> None:
    a, b = api_rooms("a", "b")
    async with admin_page(tmp_path, [a, b]) as admin:
        async with admin.http.get(f"{admin.url}/health") as resp:
            assert resp.status == 200
            assert await resp.json() == {
                "status": "ok",
                "adapters": {a.account: "up", b.account: "up"},
            }
        await admin.hub.supervisor.stop()
        async with admin.http.get(f"{admin.url}/health") as resp:
            assert resp.status == 503
            body = await resp.json()
            assert body["status"] == "degraded"
            assert body["adapters"][a.account] == "stopped"
        async with admin.http.get(f"{admin.url}/metrics", headers=admin.auth) as resp:
            got = samples(await resp.text())
        assert got[("bridgebot_adapter_up", (("account", a.account),))] == 0
