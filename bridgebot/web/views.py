"""The admin page's HTML, built from an :class:`AdminState`; every value goes through ``esc``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bridgebot.core.topology import OVERRIDABLE_KEYS
from bridgebot.web.html import Safe, fill, join, when
from bridgebot.web.state import (
    AdminState,
    AnnouncementView,
    AuditView,
    BridgeView,
    DeadView,
    OverrideView,
    RoomView,
)

__all__ = ["ExplainQuery", "explain_section", "nav", "overview"]

#: (from, to, author, text) as typed into the explain form.
ExplainQuery = tuple[str, str, str, str]

_CSRF = '<input type="hidden" name="csrf" value="{csrf}">'


def _table(head: Sequence[str], rows: Iterable[Safe], empty: str) -> Safe:
    rows = list(rows)
    if not rows:
        return fill("<p><small>{e}</small></p>", e=empty)
    cells = join(fill("<th>{h}</th>", h=h) for h in head)
    return Safe(
        fill("<table><thead><tr>{c}</tr></thead><tbody>", c=cells)
        + join(rows)
        + "</tbody></table>"
    )


def _row(*cells: object) -> Safe:
    return Safe("<tr>" + join(fill("<td>{v}</td>", v=c) for c in cells) + "</tr>")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _listed(items: Sequence[str] | None, none: str) -> str:
    if items is None:
        return "any"
    return ", ".join(items) or none


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(empty)"
    if isinstance(value, bool):
        return _yes(value)
    return value if isinstance(value, str) else json.dumps(value)


def nav(csrf: str, signed_in: bool) -> Safe:
    """Links to the other endpoints, and a sign-out button when there is a session."""
    links = Safe(
        '<nav><a href="/">Overview</a><a href="/explain">Explain</a>'
        '<a href="/metrics">Metrics</a><a href="/health">Health</a>'
        '<a href="/api/admin/state">State (JSON)</a>'
    )
    if signed_in:
        links = Safe(
            links
            + fill(
                '<form method="post" action="/logout" class="inline">'
                + _CSRF
                + '<button type="submit">Sign out</button></form>',
                csrf=csrf,
            )
        )
    return Safe(links + "</nav>")


def _override(room: str, o: OverrideView, csrf: str) -> Safe:
    return fill(
        "<div>{key} = {value} <small>set by {actor}, {ts}</small> "
        '<form method="post" action="/rooms/unset" class="inline">'
        + _CSRF
        + '<input type="hidden" name="room" value="{room}">'
        '<input type="hidden" name="key" value="{key}">'
        '<button type="submit">unset</button></form></div>',
        key=o.key,
        value=_shown(o.value),
        actor=o.actor,
        ts=when(o.ts),
        room=room,
        csrf=csrf,
    )


def _change_form(room: str, csrf: str) -> Safe:
    options = join(fill('<option value="{k}">{k}</option>', k=k) for k in sorted(OVERRIDABLE_KEYS))
    return fill(
        '<form method="post" action="/rooms/set" aria-label="change a rule of {room}">'
        + _CSRF
        + '<input type="hidden" name="room" value="{room}">'
        '<select name="key">{options}</select> '
        '<input name="value" size="14" placeholder="value" list="rule-values"> '
        '<button type="submit">set</button></form>',
        room=room,
        options=options,
        csrf=csrf,
    )


def _room_row(r: RoomView, csrf: str) -> Safe:
    ignores = "; ".join(
        [f"authors {p}" for p in r.ignore_authors] + [f"text {p}" for p in r.ignore_text]
    )
    overrides = join(_override(r.room, o, csrf) for o in r.overrides) or Safe("-")
    return Safe(
        fill('<tr id="room-{room}">', room=r.room)
        + join(
            fill("<td>{v}</td>", v=v)
            for v in (
                r.room,
                r.name or "-",
                r.privacy,
                _yes(r.sends),
                _yes(r.receives),
                _listed(r.networks, "none"),
                r.consent,
                r.attribution,
                _listed(r.redact, "-"),
                _listed(r.tags, "-"),
                ignores or "-",
                r.queued,
                overrides,
                _change_form(r.room, csrf),
            )
        )
        + "</tr>"
    )


#: What each key takes, shown under the rooms (the same values as `!bridge set`).
_VALUES_HINT = (
    "privacy: public, internal or closed · sends, receives: yes or no · consent: implied or "
    "opt-in · attribution: name, pseudonym or none · networks, redact, tags, ignore_authors, "
    "ignore_text: a list, separated by spaces or commas (empty clears it) · name: any text. "
    "A change applies to the next message and is written to the audit log."
)
_VALUES = ("public", "internal", "closed", "yes", "no", "implied", "opt-in", "name",
           "pseudonym", "none")  # fmt: skip


def _bridges(bridges: Sequence[BridgeView], csrf: str) -> Safe:
    head = ("room", "name", "privacy", "sends", "receives", "networks", "consent",
            "attribution", "redact", "tags", "ignore", "queued", "changed at run time",
            "change a rule")  # fmt: skip
    parts = [
        Safe(
            fill("<h3>Bridge {name} <small>label {label}</small></h3>", name=b.name, label=b.label)
            + _table(head, (_room_row(r, csrf) for r in b.rooms), "no rooms")
        )
        for b in bridges
    ]
    if not parts:
        return fill("<p>No bridges are configured.</p>")
    values = join(fill('<option value="{v}">', v=v) for v in _VALUES)
    hint = fill('<datalist id="rule-values">{v}</datalist><p><small>{h}</small></p>',
                v=values, h=_VALUES_HINT)  # fmt: skip
    return Safe(join(parts) + hint)


def _adapters(adapters: dict[str, dict[str, Any]]) -> Safe:
    rows = (
        Safe(
            "<tr>"
            + fill(
                '<td>{a}</td><td class="{cls}">{state}</td><td>{detail}</td><td>{since}</td>'
                "<td>{attempts}</td>",
                a=account,
                cls="up" if s.get("state") == "up" else "down",
                state=s.get("state", "?"),
                detail=s.get("detail") or "-",
                since=when(s.get("since")),
                attempts=s.get("attempts", 0),
            )
            + "</tr>"
        )
        for account, s in sorted(adapters.items())
    )
    return _table(("account", "state", "detail", "since", "failed starts"), rows, "no adapters")


def _dead(letters: Sequence[DeadView], csrf: str) -> Safe:
    def retry_one(d: DeadView) -> Safe:
        return fill(
            '<form method="post" action="/dead-letters/retry" class="inline">'
            + _CSRF
            + '<input type="hidden" name="id" value="{id}">'
            '<button type="submit">retry</button></form>',
            id=d.id,
            csrf=csrf,
        )

    rows = (
        _row(
            d.id,
            d.dest_room,
            d.kind,
            d.author or "-",
            d.attempts,
            d.reason,
            when(d.failed_at),
            retry_one(d),
        )
        for d in letters
    )
    head = ("#", "to", "kind", "author", "attempts", "why it failed", "failed", "")
    table = _table(head, rows, "No dead letters.")
    if not letters:
        return table
    retry_all = fill(
        '<form method="post" action="/dead-letters/retry">'
        + _CSRF
        + '<button type="submit">retry all dead letters</button></form>',
        csrf=csrf,
    )
    return Safe(retry_all + table)


def _audit(entries: Sequence[AuditView]) -> Safe:
    rows = (_row(when(e.ts), e.actor, e.action, e.room or "-", e.detail) for e in entries)
    return _table(("when", "who", "what", "room", "detail"), rows, "Nothing audited yet.")


def _announcement_state(a: AnnouncementView) -> str:
    if a.state == "scheduled":
        return f"scheduled for {when(a.when)}"
    total = len(a.landed) + len(a.queued) + len(a.failed)
    parts = [f"landed in {len(a.landed)} of {total}"] if a.state != "cancelled" else []
    if a.queued:
        parts.append(f"{len(a.queued)} queued")
    if a.failed:
        parts.append(f"{len(a.failed)} failed")
    return ", ".join(parts) or a.state


def _announcement_rooms(a: AnnouncementView) -> str:
    rooms = [*a.landed, *(f"{r} (queued)" for r in a.queued)]
    rooms += [f"{r} (failed: {why})" for r, why in sorted(a.failed.items())]
    return ", ".join(rooms) or "-"


def _announcements(entries: Sequence[AnnouncementView]) -> Safe:
    rows = (
        _row(
            a.id, when(a.when), a.author, a.origin, _announcement_state(a), _announcement_rooms(a)
        )
        for a in entries
    )
    head = ("#", "when", "who", "from", "state", "rooms")
    return _table(head, rows, "No announcements yet (facilitators post them with !announce).")


def explain_section(rooms: Sequence[str], query: ExplainQuery, output: Safe) -> Safe:
    """The ``rules explain`` form, prefilled with ``query``, and ``output`` below it."""
    options = join(fill('<option value="{r}">', r=r) for r in rooms)
    origin, dest, author, text = query
    form = fill(
        '<form method="get" action="/explain"><datalist id="rooms">{options}</datalist>'
        '<label>from <input name="from" list="rooms" value="{origin}" required></label> '
        '<label>to <input name="to" list="rooms" value="{dest}" required></label> '
        '<label>author <input name="author" value="{author}"></label> '
        '<label>text <input name="text" value="{text}"></label> '
        '<button type="submit">explain</button></form>',
        options=options,
        origin=origin,
        dest=dest,
        author=author,
        text=text,
    )
    return Safe(form + output)


def overview(state: AdminState, csrf: str, *, error: str = "", notice: str = "") -> Safe:
    """The body of ``GET /``."""
    banner = Safe("")
    if error:
        banner = fill('<p class="error" role="alert">Not changed: {e}</p>', e=error)
    elif notice:
        banner = fill('<p class="notice" role="status">{n}</p>', n=notice)
    c = state.counters
    counts = fill(
        "<p>Relayed {relayed} · withheld by rules {withheld} · sent {sent} · "
        "dead letters {dead} · running since {since}</p>",
        relayed=c["relayed"],
        withheld=c["withheld"],
        sent=c["sent"],
        dead=c["dead"],
        since=when(c["started_at"]),
    )
    queues = _table(
        ("room", "queued"),
        (_row(room, n) for room, n in sorted(state.queues.items())),
        "Nothing is waiting to be delivered.",
    )
    rooms = sorted({r.room for b in state.bridges for r in b.rooms})
    return join(
        [
            banner,
            counts,
            Safe('<h2 id="bridges">Bridges and rooms</h2>'),
            _bridges(state.bridges, csrf),
            Safe('<h2 id="adapters">Adapters</h2>'),
            _adapters(state.adapters),
            Safe('<h2 id="queues">Queues</h2>'),
            queues,
            Safe('<h2 id="dead-letters">Dead letters</h2>'),
            _dead(state.dead_letters, csrf),
            Safe('<h2 id="announcements">Announcements</h2>'),
            _announcements(state.announcements),
            Safe('<h2 id="audit">Audit log</h2>'),
            _audit(state.audit),
            Safe('<h2 id="explain">Explain a route</h2>'),
            explain_section(rooms, ("", "", "", ""), Safe("")),
        ]
    )
