"""The Slack lab's Web API: ``POST /api/METHOD`` with Slack's token, scope and error rules.

Every method answers HTTP 200 with ``{"ok": false, "error": CODE}`` on failure, as Slack
does, except rate limiting: HTTP 429 with ``Retry-After`` (whole seconds) and
``{"ok": false, "error": "ratelimited"}``. Arguments arrive as query, form or JSON body;
the token as ``Authorization: Bearer`` or a ``token`` argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bridgebot.lab.slack_args import ApiFail, RateLimit, json_arg, text_arg
from bridgebot.lab.slack_files import FileApi
from bridgebot.lab.slack_socket import SocketHub
from bridgebot.lab.slack_state import SlackWorld

__all__ = ["ApiFail", "WebApi"]

MAX_TEXT = 40_000
_EMOJI_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_+-'")


Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class _Method:
    handler: Handler
    scope: str | None
    token: str  # "bot", "app" or "any"


class WebApi:
    """Web API methods over a :class:`SlackWorld`; events go out through a :class:`SocketHub`."""

    def __init__(self, world: SlackWorld, hub: SocketHub, base_url: Callable[[], str]) -> None:
        self.world = world
        self.hub = hub
        self.base_url = base_url
        #: Every call received, ``(method, args)``, for tests to assert on.
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rate_limited = 0
        self._faults: dict[str, list[tuple[int, str, bool]]] = {}
        self.files = FileApi(world, hub, base_url, self._member_channel)
        self.methods: dict[str, _Method] = {
            "auth.test": _Method(self.auth_test, None, "any"),
            "apps.connections.open": _Method(self.connections_open, "connections:write", "app"),
            "conversations.info": _Method(self.conversations_info, "channels:read", "bot"),
            "conversations.list": _Method(self.conversations_list, "channels:read", "bot"),
            "conversations.history": _Method(self.history, "channels:history", "bot"),
            "users.info": _Method(self.users_info, "users:read", "bot"),
            "chat.postMessage": _Method(self.post_message, "chat:write", "bot"),
            "chat.update": _Method(self.update, "chat:write", "bot"),
            "chat.delete": _Method(self.delete, "chat:write", "bot"),
            "reactions.add": _Method(self.reactions_add, "reactions:write", "bot"),
            "files.getUploadURLExternal": _Method(self.files.upload_url, "files:write", "bot"),
            "files.completeUploadExternal": _Method(
                self.files.complete_upload, "files:write", "bot"
            ),
        }

    def inject_fault(
        self, method: str, status: int = 200, error: str = "internal_error", after: bool = False
    ) -> None:
        """Make the next call of ``method`` fail with HTTP ``status`` and ``error``;
        ``after``: do the work first, as when a response is lost on the way back."""
        self._faults.setdefault(method, []).append((status, error, after))

    # -- transport -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """Route ``/api/{method}``: parse arguments, check token and scope, answer."""
        name = request.match_info["method"]
        headers = {"X-OAuth-Scopes": ",".join(sorted(self.world.scopes))}
        try:
            args = await _read_args(request)
            self.calls.append((name, args))
            method = self.methods.get(name)
            if method is None:
                raise ApiFail("unknown_method")
            self._check_token(request, args, method)
            fault = self._faults[name].pop(0) if self._faults.get(name) else None
            if fault is not None and not fault[2]:
                return web.json_response({"ok": False, "error": fault[1]}, status=fault[0])
            if method.scope:
                headers["X-Accepted-OAuth-Scopes"] = method.scope
            result = method.handler(args)
            if fault is not None:
                return web.json_response({"ok": False, "error": fault[1]}, status=fault[0])
            if name == "auth.test" and self._token(request, args) == self.world.app_token:
                # Uncertain: what auth.test says for an app-level token is not documented;
                # the lab answers without a bot identity, which is what matters here.
                result = {"team_id": self.world.team_id, "app_id": self.world.app_id}
        except ApiFail as fail:
            return web.json_response(
                {"ok": False, "error": fail.error, **fail.extra}, headers=headers
            )
        except RateLimit as limit:
            self.rate_limited += 1
            headers["Retry-After"] = str(limit.retry_after)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        return web.json_response({"ok": True, **result}, headers=headers)

    def _token(self, request: web.Request, args: dict[str, Any]) -> str:
        auth = request.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else text_arg(args, "token")

    def _check_token(self, request: web.Request, args: dict[str, Any], method: _Method) -> None:
        token = self._token(request, args)
        if not token:
            raise ApiFail("not_authed")
        if token == self.world.bot_token:
            kind = "bot"
        elif token == self.world.app_token:
            kind = "app"
        else:
            raise ApiFail("invalid_auth")
        if method.token not in ("any", kind):
            raise ApiFail("not_allowed_token_type")
        if kind == "bot" and method.scope and method.scope not in self.world.scopes:
            raise ApiFail(
                "missing_scope", needed=method.scope, provided=",".join(sorted(self.world.scopes))
            )

    # -- identity and connections --------------------------------------------------------

    def auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        bot = self.world.bot
        return {
            "url": "https://lab.slack.invalid/",
            "team": "Bridgebot Lab",
            "user": bot.name,
            "team_id": self.world.team_id,
            "user_id": bot.id,
            "bot_id": bot.bot_id,
            "is_enterprise_install": False,
        }

    def connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ws_base = self.base_url().replace("http://", "ws://", 1)
        return {"url": f"{ws_base}/_lab/socket?ticket={self.hub.new_ticket()}"}

    # -- conversations and users ---------------------------------------------------------

    def _channel(self, args: dict[str, Any], key: str = "channel") -> str:
        channel = self.world.find_channel(text_arg(args, key))
        if channel is None:
            raise ApiFail("channel_not_found")
        return channel.id

    def _member_channel(self, args: dict[str, Any], key: str = "channel") -> str:
        channel_id = self._channel(args, key)
        if self.world.bot.id not in self.world.channels[channel_id].members:
            raise ApiFail("not_in_channel")
        return channel_id

    def conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.world.channels[self._channel(args)]
        return {"channel": channel.to_api(self.world.bot.id)}

    def conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = text_arg(args, "types") or "public_channel"
        wanted = {t.strip() for t in types.split(",")}
        channels = [
            c.to_api(self.world.bot.id)
            for c in self.world.channels.values()
            if ("private_channel" if c.is_private else "public_channel") in wanted
        ]
        try:
            start = int(text_arg(args, "cursor") or 0)
            limit = int(args.get("limit") or 100)
        except ValueError as exc:
            raise ApiFail("invalid_cursor") from exc
        page = channels[start : start + max(1, limit)]
        more = start + len(page) < len(channels)
        return {
            "channels": page,
            "response_metadata": {"next_cursor": str(start + len(page)) if more else ""},
        }

    def history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._member_channel(args)
        messages = list(reversed(self.world.messages[channel_id]))
        try:
            limit = max(1, min(999, int(args.get("limit") or 100)))
        except (TypeError, ValueError) as exc:
            raise ApiFail("invalid_limit") from exc
        # Slack returns message metadata in history only when asked for it.
        if str(args.get("include_all_metadata", "")).lower() not in ("1", "true"):
            messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
        return {"messages": messages[:limit], "has_more": len(messages) > limit}

    def users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.world.users.get(text_arg(args, "user"))
        if user is None:
            raise ApiFail("user_not_found")
        return {"user": user.to_api(self.world.team_id)}

    # -- messages ------------------------------------------------------------------------

    def post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(args)
        text = text_arg(args, "text")
        if not text and not args.get("blocks") and not args.get("attachments"):
            raise ApiFail("no_text")
        wait = self.world.take_post_token(channel)
        if wait > 0:
            raise RateLimit(max(1, math.ceil(wait)))
        bot = self.world.bot
        message: dict[str, Any] = {
            "type": "message",
            "user": bot.id,
            "bot_id": bot.bot_id,
            "app_id": self.world.app_id,
            # Slack documents truncating text beyond 40,000 characters, not refusing it.
            "text": text[:MAX_TEXT],
            "ts": self.world.new_ts(),
            "team": self.world.team_id,
        }
        thread_ts = text_arg(args, "thread_ts")
        if thread_ts:
            root = self.world.thread_root(channel, thread_ts)
            if root is None:
                # Uncertain: Slack's documented code for an unknown parent is not listed
                # for every case; "thread_not_found" is what the reference names.
                raise ApiFail("thread_not_found")
            message["thread_ts"] = root
        metadata = json_arg(args, "metadata")
        if metadata is not None:
            if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
                raise ApiFail("invalid_metadata_format")
            message["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata.get("event_payload") or {},
            }
        # Custom identity needs chat:write.customize; without it Slack ignores the fields
        # (uncertain: the docs say the scope is required, not whether the call fails).
        if "chat:write.customize" in self.world.scopes:
            if text_arg(args, "username"):
                message["username"] = text_arg(args, "username")[:80]
                message["subtype"] = "bot_message"
            if text_arg(args, "icon_url"):
                message["icons"] = {"image_72": text_arg(args, "icon_url")}
        if str(args.get("link_names", "")).lower() in ("1", "true"):
            message["link_names"] = True
        self.world.store(channel, message)
        self.hub.deliver({**message, "channel": channel, "event_ts": message["ts"]})
        return {"channel": channel, "ts": message["ts"], "message": message}

    def _own_message(self, args: dict[str, Any], denied: str) -> tuple[str, dict[str, Any]]:
        channel = self._member_channel(args)
        message = self.world.find_message(channel, text_arg(args, "ts"))
        if message is None:
            raise ApiFail("message_not_found")
        if message.get("user") != self.world.bot.id:
            raise ApiFail(denied)
        return channel, message

    def update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._own_message(args, "cant_update_message")
        text = text_arg(args, "text")
        if not text and not args.get("blocks"):
            raise ApiFail("no_text")
        previous = dict(message)
        message["text"] = text[:MAX_TEXT]
        message["edited"] = {"user": self.world.bot.id, "ts": self.world.new_ts()}
        metadata = json_arg(args, "metadata")
        if isinstance(metadata, dict):
            message["metadata"] = metadata
        self._deliver_changed(channel, message, previous)
        return {"channel": channel, "ts": message["ts"], "text": message["text"]}

    def _deliver_changed(
        self, channel: str, message: dict[str, Any], previous: dict[str, Any]
    ) -> None:
        ts = self.world.new_ts()
        self.hub.deliver(
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel,
                "ts": ts,
                "event_ts": ts,
                "message": dict(message),
                "previous_message": previous,
            }
        )

    def delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._own_message(args, "cant_delete_message")
        self.world.messages[channel].remove(message)
        self._deliver_deleted(channel, message)
        return {"channel": channel, "ts": message["ts"]}

    def _deliver_deleted(self, channel: str, message: dict[str, Any]) -> None:
        ts = self.world.new_ts()
        self.hub.deliver(
            {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "channel": channel,
                "ts": ts,
                "event_ts": ts,
                "deleted_ts": message["ts"],
                "previous_message": message,
            }
        )

    def reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(args)
        name = text_arg(args, "name").strip(":")
        if not name or not set(name.split("::")[0]) <= _EMOJI_NAME_CHARS:
            raise ApiFail("invalid_name")
        self.add_reaction(channel, text_arg(args, "timestamp"), self.world.bot.id, name)
        return {}

    def add_reaction(self, channel: str, ts: str, user: str, name: str) -> None:
        """Record ``user``'s reaction and send ``reaction_added`` (API and control surface)."""
        message = self.world.find_message(channel, ts)
        if message is None:
            raise ApiFail("message_not_found")
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if user in entry["users"]:
            raise ApiFail("already_reacted")
        entry["users"].append(user)
        entry["count"] += 1
        self.hub.deliver(
            {
                "type": "reaction_added",
                "user": user,
                "reaction": name,
                "item_user": message.get("user"),
                "item": {"type": "message", "channel": channel, "ts": ts},
                "event_ts": self.world.new_ts(),
            }
        )


async def _read_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return args
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise ApiFail("invalid_json") from exc
        if not isinstance(body, dict):
            raise ApiFail("invalid_json")
        args.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    else:
        raise ApiFail("invalid_form_data")
    return args
