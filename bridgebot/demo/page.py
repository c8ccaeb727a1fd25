"""The demo page: every network's room side by side, each with a box to type into."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from bridgebot.app import Bridge
from bridgebot.demo.columns import Column
from bridgebot.model import Author, RoomRef
from rules import MessageFacts, decide

__all__ = ["make_page_app"]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bridgebot demo</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 0; background: #f4f4f6; }
header { padding: 10px 16px; background: #23263a; color: #fff; }
header a { color: #9cf; }
main { display: flex; gap: 10px; padding: 10px; align-items: flex-start; overflow-x: auto; }
section { background: #fff; border-radius: 8px; width: 300px; flex: none;
  box-shadow: 0 1px 3px #0002; display: flex; flex-direction: column; }
h2 { font-size: 15px; margin: 0; padding: 8px 10px; border-bottom: 1px solid #ddd; }
.privacy { font-size: 11px; padding: 1px 6px; border-radius: 8px; margin-left: 6px; }
.public { background: #d8f5d8; } .internal { background: #fde9b6; }
.closed { background: #f7c6c6; }
ol { list-style: none; margin: 0; padding: 8px 10px; height: 330px; overflow-y: auto; }
li { margin: 4px 0; } li b { color: #345; } li.relayed b { color: #805; }
form { display: flex; gap: 4px; padding: 8px 10px; border-top: 1px solid #ddd; }
input { flex: 1; padding: 4px; }
.why { font-size: 12px; color: #733; padding: 6px 10px; border-top: 1px dashed #ddd; }
</style></head><body>
<header><b>bridgebot demo</b>: bridge <i>khub</i>. Type as the person in any column and watch
the message cross, labelled, to the rooms its privacy allows.
<span id="admin"></span></header>
<main id="columns"></main>
<script>
const main = document.getElementById("columns");
let built = false;
function build(state) {
  state.columns.forEach((c, i) => {
    const s = document.createElement("section");
    s.id = "col-" + c.network;
    const h = document.createElement("h2");
    h.textContent = c.title;
    const p = document.createElement("span");
    p.className = "privacy " + c.privacy; p.textContent = c.privacy;
    h.appendChild(p);
    const ol = document.createElement("ol");
    const f = document.createElement("form");
    const inp = document.createElement("input");
    inp.placeholder = "say something as " + c.person; inp.name = "text";
    const b = document.createElement("button"); b.textContent = "Send";
    f.append(inp, b);
    f.onsubmit = async (e) => {
      e.preventDefault();
      if (!inp.value) return;
      await fetch("post", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({column: i, text: inp.value})});
      inp.value = "";
    };
    const why = document.createElement("div"); why.className = "why";
    s.append(h, ol, f, why);
    main.appendChild(s);
  });
  built = true;
}
function render(state) {
  if (!built) build(state);
  state.columns.forEach((c, i) => {
    const s = main.children[i];
    const ol = s.querySelector("ol");
    ol.replaceChildren(...c.lines.map(l => {
      const li = document.createElement("li");
      if (l.relayed) li.className = "relayed";
      const b = document.createElement("b"); b.textContent = l.author + ": ";
      li.append(b, document.createTextNode(l.text));
      return li;
    }));
    s.querySelector(".why").replaceChildren(...c.withheld.map(w => {
      const d = document.createElement("div");
      d.textContent = "Not from " + w.from + " — " + w.reason;
      return d;
    }));
  });
  if (state.admin) document.getElementById("admin").textContent =
    " Admin page: " + state.admin;
}
async function tick() {
  try { render(await (await fetch("state")).json()); } catch (e) {}
  setTimeout(tick, 700);
}
tick();
</script></body></html>
"""


def _withheld(hub: Bridge, columns: Sequence[Column], dest: Column) -> list[dict[str, str]]:
    """For the page: which other columns' messages never reach ``dest``, and why."""
    topology = hub.topology
    if topology is None:
        return []
    dest_found = topology.room_policy(RoomRef.parse(dest.room))
    out = []
    for origin in columns:
        if origin is dest:
            continue
        origin_found = topology.room_policy(RoomRef.parse(origin.room))
        if origin_found is None or dest_found is None:
            continue
        origin_ref = RoomRef.parse(origin.room)
        facts = MessageFacts(
            Author(origin.network, "demo", origin.person), f"{origin_ref.account}:demo", "", True
        )
        decision = decide(origin_found[1], dest_found[1], facts)
        if not decision.allowed and decision.withheld_by is not None:
            out.append({"from": origin.title, "reason": decision.withheld_by.detail})
    return out


def make_page_app(hub: Bridge, columns: Sequence[Column], admin_note: str) -> web.Application:
    """The demo page's aiohttp application."""

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def state(request: web.Request) -> web.Response:
        data: list[dict[str, Any]] = []
        for column in columns:
            lines = [
                {"author": line.author, "text": line.text, "relayed": line.relayed}
                for line in await column.messages()
            ]
            data.append(
                {
                    "title": column.title,
                    "network": column.network,
                    "privacy": column.privacy,
                    "person": column.person,
                    "room": column.room,
                    "lines": lines,
                    "withheld": _withheld(hub, columns, column),
                }
            )
        return web.json_response({"columns": data, "admin": admin_note})

    async def post(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            column = columns[int(body["column"])]
            text = str(body["text"])[:4000]
        except (ValueError, KeyError, IndexError, TypeError):
            return web.json_response({"error": "send {column, text}"}, status=400)
        await column.post(text)
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_get("/", index)
    app.router.add_get("/state", state)
    app.router.add_post("/post", post)
    return app
