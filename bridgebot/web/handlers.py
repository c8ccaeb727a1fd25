"""Request handlers of the admin page: overview, explain, rule changes, retries, health,
metrics and the JSON state. Rule changes go through the admin service, the same path as
``!bridge set``, so they are validated, recompiled at once and audited."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bridgebot.app import Bridge
from bridgebot.core.topology import OVERRIDABLE_KEYS
from bridgebot.errors import ConfigError
from bridgebot.model import Author, RoomRef
from bridgebot.web.auth import COOKIE, Auth, redirect
from bridgebot.web.html import CSS, Safe, fill, page
from bridgebot.web.state import collect, count_dead_letters
from bridgebot.web.views import explain_section, nav, overview
from rules import MessageFacts, explain

__all__ = ["AUTH", "HUB", "METRICS_LOCK", "WEB_ACTOR", "routes"]

log = logging.getLogger("bridgebot.web")

HUB = web.AppKey("hub", Bridge)
AUTH = web.AppKey("auth", Auth)
METRICS_LOCK = web.AppKey("metrics_lock", asyncio.Lock)

#: Who the audit log names for changes made on this page.
WEB_ACTOR = "web:admin"
#: The Prometheus text exposition format the parser and scrapers expect.
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_DONE = {
    "set": "Rule changed. It applies to the next message; see the audit log below.",
    "unset": "Override removed: the room is back to its bot.toml value.",
}


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _nav(request: web.Request) -> Safe:
    auth = request.app[AUTH]
    return nav(auth.csrf, signed_in=auth.token is not None and COOKIE in request.cookies)


async def _overview(
    request: web.Request, *, error: str = "", notice: str = "", status: int = 200
) -> web.Response:
    state = await collect(request.app[HUB])
    body = overview(state, request.app[AUTH].csrf, error=error, notice=notice)
    return _html(page("bridgebot admin", body, _nav(request)), status)


async def index(request: web.Request) -> web.Response:
    """GET /: the overview."""
    done = request.query.get("done", "")
    notice = _DONE.get(done, "")
    if done == "retry":
        count = request.query.get("n", "")
        notice = f"{int(count) if count.isdigit() else 'The'} dead letters queued again."
    return await _overview(request, notice=notice)


async def api_state(request: web.Request) -> web.Response:
    """GET /api/admin/state: the overview as JSON."""
    return web.json_response((await collect(request.app[HUB])).to_json())


async def explain_page(request: web.Request) -> web.Response:
    """GET /explain?from=&to=&author=&text=: ``rules explain`` for two rooms."""
    hub = request.app[HUB]
    q = request.query
    query = (
        q.get("from", "").strip(),
        q.get("to", "").strip(),
        q.get("author", "").strip(),
        q.get("text", ""),
    )
    output, status = Safe(""), 200
    if query[0] or query[1]:
        try:
            origin, dest = RoomRef.parse(query[0]), RoomRef.parse(query[1])
        except ValueError as exc:
            output, status = fill('<p class="error">{e}</p>', e=exc), 400
        else:
            name = query[2] or "someone"
            ref = f"{origin.account}:{name}"
            facts = MessageFacts(
                Author(origin.network, name, name),
                ref,
                query[3] or "hello",
                await hub.store.get_consent(ref),
            )
            lines = explain(hub.topology, origin, dest, facts)
            output = fill('<pre id="explanation">{o}</pre>', o="\n".join(lines))
    rooms = sorted({str(r.room) for b in hub.topology.bridges for r in b.rooms})
    body = explain_section(rooms, query, output)
    return _html(page("Explain a route", body, _nav(request)), status)


async def _form(request: web.Request) -> dict[str, str]:
    """The posted fields as text (uploads and unreadable bodies count as empty)."""
    try:
        form = await request.post()
    except ValueError:
        return {}
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _refused(request: web.Request, reason: str) -> web.Response:
    if _wants_json(request):
        return web.json_response({"error": reason}, status=400)
    return await _overview(request, error=reason, status=400)


def _done(request: web.Request, what: str, **extra: object) -> web.Response:
    if _wants_json(request):
        return web.json_response({"ok": True, **extra})
    query = "&".join(f"{k}={v}" for k, v in extra.items() if isinstance(v, int))
    return redirect(f"/?done={what}" + (f"&{query}" if query else ""))


async def set_rule(request: web.Request) -> web.Response:
    """POST /rooms/set (room, key, value): change one rule of a room, audited."""
    form = await _form(request)
    room_text, key, value = form.get("room", ""), form.get("key", ""), form.get("value", "")
    try:
        room = RoomRef.parse(room_text)
        await request.app[HUB].admin.set_rule(room, key, value.strip(), WEB_ACTOR)
    except (ValueError, ConfigError) as exc:
        log.info("web: refused to set %r of %s: %s", key, room_text, exc)
        return await _refused(request, f"{room_text or 'no room'}: {exc}")
    log.info("web: %s set %s of %s", WEB_ACTOR, key, room)
    return _done(request, "set")


async def unset_rule(request: web.Request) -> web.Response:
    """POST /rooms/unset (room, key): drop a run-time override, audited."""
    form = await _form(request)
    room_text, key = form.get("room", ""), form.get("key", "")
    hub = request.app[HUB]
    try:
        room = RoomRef.parse(room_text)
    except ValueError as exc:
        return await _refused(request, str(exc))
    if key not in OVERRIDABLE_KEYS:
        return await _refused(request, f"unknown key {key!r}")
    if not hub.topology.memberships(room):
        return await _refused(request, f"room {room} is in no bridge")
    await hub.admin.unset_rule(room, key, WEB_ACTOR)
    return _done(request, "unset")


async def retry_dead(request: web.Request) -> web.Response:
    """POST /dead-letters/retry (optional ``id`` fields; none means all): queue them again."""
    try:
        form = await request.post()
        ids = [int(str(v)) for v in form.getall("id", [])]
    except ValueError:
        return await _refused(request, "dead letter ids must be numbers")
    hub = request.app[HUB]
    moved = await hub.admin.retry_dead_letters(ids, WEB_ACTOR)
    detail = "all" if not ids else ",".join(str(i) for i in ids)
    log.info("web: %s retried %d dead letters (%s)", WEB_ACTOR, moved, detail)
    return _done(request, "retry", n=moved)


async def health(request: web.Request) -> web.Response:
    """GET /health: 200 when every adapter is up, else 503; states only, no details."""
    adapters = request.app[HUB].status()["adapters"]
    states = {account: str(s.get("state", "?")) for account, s in adapters.items()}
    ok = all(state == "up" for state in states.values())
    body = {"status": "ok" if ok else "degraded", "adapters": states}
    return web.json_response(body, status=200 if ok else 503)


async def _refresh_gauges(hub: Bridge) -> None:
    metrics = hub.metrics
    depths = await hub.store.queue_depths()
    rooms = {str(r.room) for b in hub.topology.bridges for r in b.rooms}
    # clear() first so that a room no longer in the outbox or the config stops being reported.
    metrics.queued.clear()
    for room in rooms | set(depths):
        metrics.queued.labels(room).set(depths.get(room, 0))
    metrics.dead_letters.set(await count_dead_letters(hub))
    metrics.adapter_up.clear()
    for account, state in hub.status()["adapters"].items():
        metrics.adapter_up.labels(account).set(1 if state.get("state") == "up" else 0)


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: the Prometheus text format, gauges refreshed first."""
    hub = request.app[HUB]
    async with request.app[METRICS_LOCK]:
        await _refresh_gauges(hub)
        body = hub.metrics.render()
    return web.Response(body=body, headers={"Content-Type": METRICS_TYPE})


async def style(request: web.Request) -> web.Response:
    """GET /style.css."""
    return web.Response(text=CSS, content_type="text/css")


def routes(auth: Auth) -> list[web.RouteDef]:
    """Every route of the admin app."""
    return [
        web.get("/", index),
        web.get("/explain", explain_page),
        web.post("/rooms/set", set_rule),
        web.post("/rooms/unset", unset_rule),
        web.post("/dead-letters/retry", retry_dead),
        web.get("/api/admin/state", api_state),
        web.get("/health", health),
        web.get("/metrics", metrics),
        web.get("/style.css", style),
        web.get("/login", auth.get_login),
        web.post("/login", auth.post_login),
        web.post("/logout", auth.post_logout),
    ]
