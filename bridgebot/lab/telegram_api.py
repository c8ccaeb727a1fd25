"""The Bot API methods the lab serves, each from its entry in the Bot API documentation.

A method gets the calling bot and its parameters as the wire delivers them (strings from a
form or query string, JSON-serialised objects for nested values, uploads for files) and
returns the ``result``, or raises :class:`ApiError` with the real API's code and wording.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bridgebot.lab.telegram_html import HtmlParseError, parse_html
from bridgebot.lab.telegram_state import (
    DEFAULT_UPDATES,
    DELETE_WINDOW,
    ApiError,
    LabBot,
    LabChat,
    bad_request,
    now,
)
from bridgebot.lab.telegram_world import LabWorld

__all__ = ["REACTIONS", "Upload", "call_method"]

#: ReactionTypeEmoji: the emoji a bot may use (Bot API documentation, ReactionTypeEmoji).
_REACTION_LIST = (
    "❤ 👍 👎 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤\u200d🔥 🌚 "
    "🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨\u200d💻 👀 🎃 🙈 😇 😨 🤝 ✍ "
    "🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷\u200d♂ 🤷 🤷\u200d♀ 😡"
)
REACTIONS = frozenset(_REACTION_LIST.split())
MAX_TEXT = 4096
MAX_CAPTION = 1024


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    data: bytes
    content_type: str


Params = dict[str, Any]
Method = Callable[[LabWorld, LabBot, Params], Awaitable[Any]]


def _int(params: Params, name: str, *, required: bool = True) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise bad_request(f"{name} is empty")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _json(params: Params, name: str) -> Any:
    value = params.get(name)
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise bad_request(f"can't parse {name} JSON object") from None


def _chat(world: LabWorld, bot: LabBot, params: Params) -> LabChat:
    raw = params.get("chat_id")
    if raw in (None, ""):
        raise bad_request("chat_id is empty")
    text = str(raw)
    if text.startswith("@"):
        found = [c for c in world.chats.values() if c.username == text[1:]]
        if not found:
            raise bad_request("chat not found")
        chat = found[0]
    else:
        try:
            chat = world.chat(int(text))
        except ValueError:
            raise bad_request("chat not found") from None
    if bot.id not in chat.members:
        kind = "channel" if chat.type == "channel" else f"{chat.type} chat"
        raise ApiError(403, f"Forbidden: bot is not a member of the {kind}")
    return chat


def _formatted(params: Params, key: str, limit: int) -> tuple[str, list[dict[str, Any]]]:
    text = str(params.get(key) or "")
    mode = str(params.get("parse_mode") or "")
    if mode.lower() == "html":
        try:
            text, entities = parse_html(text)
        except HtmlParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    elif mode:
        # MarkdownV2 is not implemented by the lab; say so rather than guess its rules
        raise bad_request(f"unsupported parse_mode {mode!r} in the lab server")
    else:
        entities = _json(params, "entities" if key == "text" else "caption_entities") or []
    # the documented limits count characters after entity parsing
    if len(text) > limit:
        what = "message is too long" if key == "text" else "message caption is too long"
        raise bad_request(what)
    return text, entities


def _reply_to(world: LabWorld, chat: LabChat, params: Params) -> int | None:
    reply = _json(params, "reply_parameters") or {}
    if not isinstance(reply, dict):
        raise bad_request("can't parse reply parameters JSON object")
    message_id = reply.get("message_id") or _int(params, "reply_to_message_id", required=False)
    if message_id is None:
        return None
    if int(message_id) not in chat.messages:
        if reply.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return int(message_id)


def _send(world: LabWorld, bot: LabBot, params: Params, extra: dict[str, Any], key: str) -> Any:
    chat = _chat(world, bot, params)
    text, entities = _formatted(params, key, MAX_TEXT if key == "text" else MAX_CAPTION)
    if key == "text" and not text.strip():
        raise bad_request("message text is empty")
    thread = _int(params, "message_thread_id", required=False)
    reply_to = _reply_to(world, chat, params)
    world.check_rate(bot, chat)
    message = world.new_message(
        chat,
        bot.user,
        text=text,
        entities=entities,
        thread=thread,
        reply_to=reply_to,
        extra=extra,
        caption=key == "caption",
    )
    if chat.type == "channel":
        world.dispatch(chat, "channel_post", message)
    return {k: v for k, v in message.items() if k != "_reactions"}


async def get_me(world: LabWorld, bot: LabBot, params: Params) -> Any:
    return bot.me()


async def delete_webhook(world: LabWorld, bot: LabBot, params: Params) -> Any:
    bot.webhook_url = ""
    if str(params.get("drop_pending_updates", "")).lower() == "true":
        bot.updates.clear()
    return True


async def set_webhook(world: LabWorld, bot: LabBot, params: Params) -> Any:
    bot.webhook_url = str(params.get("url") or "")
    return True


async def get_webhook_info(world: LabWorld, bot: LabBot, params: Params) -> Any:
    return {
        "url": bot.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }


async def get_updates(world: LabWorld, bot: LabBot, params: Params) -> Any:
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.wakeup.set()  # an older poll wakes up, sees it was superseded and answers 409
    if bot.webhook_url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = _int(params, "offset", required=False)
    limit = min(100, max(1, _int(params, "limit", required=False) or 100))
    timeout = max(0, _int(params, "timeout", required=False) or 0)
    allowed = _json(params, "allowed_updates")
    if allowed is not None:
        if not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON array")
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATES
    if offset is not None and offset < 0:
        while len(bot.updates) > -offset:
            bot.updates.popleft()
    elif offset is not None:
        # "An update is considered confirmed as soon as getUpdates is called with an offset
        # higher than its update_id."
        while bot.updates and bot.updates[0]["update_id"] < offset:
            bot.updates.popleft()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await asyncio.sleep(0)  # let the superseded poll answer first
    while True:
        if generation != bot.poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if bot.updates:
            return [bot.updates[i] for i in range(min(limit, len(bot.updates)))]
        remaining = deadline - loop.time()
        if remaining <= 0 or world.closing:
            return []
        bot.wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bot.wakeup.wait(), remaining)


async def send_message(world: LabWorld, bot: LabBot, params: Params) -> Any:
    return _send(world, bot, params, {}, "text")


def _upload(world: LabWorld, params: Params, field: str, default_mime: str) -> Any:
    value = params.get(field)
    if isinstance(value, Upload):
        return world.store_file(value.data, value.filename, value.content_type or default_mime)
    if isinstance(value, str) and value in world.files:
        return world.files[value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        # the real API fetches the URL; the lab has no internet, so it refuses plainly
        raise bad_request("wrong file identifier/HTTP URL specified")
    raise bad_request(f"there is no {field} in the request")


async def send_document(world: LabWorld, bot: LabBot, params: Params) -> Any:
    lab_file = _upload(world, params, "document", "application/octet-stream")
    return _send(world, bot, params, {"document": lab_file.document()}, "caption")


async def send_photo(world: LabWorld, bot: LabBot, params: Params) -> Any:
    lab_file = _upload(world, params, "photo", "image/jpeg")
    return _send(world, bot, params, {"photo": [lab_file.photo_size()]}, "caption")


def _own_message(world: LabWorld, bot: LabBot, params: Params, what: str) -> dict[str, Any]:
    chat = _chat(world, bot, params)
    message_id = _int(params, "message_id")
    assert message_id is not None
    message = chat.messages.get(message_id)
    if message is None:
        raise bad_request(f"message to {what} not found")
    return message


async def edit_message_text(world: LabWorld, bot: LabBot, params: Params) -> Any:
    message = _own_message(world, bot, params, "edit")
    if message["from"]["id"] != bot.id:
        raise bad_request("message can't be edited")
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    return _edit(message, params, "text", MAX_TEXT)


async def edit_message_caption(world: LabWorld, bot: LabBot, params: Params) -> Any:
    message = _own_message(world, bot, params, "edit")
    if message["from"]["id"] != bot.id:
        raise bad_request("message can't be edited")
    if "document" not in message and "photo" not in message:
        raise bad_request("there is no caption in the message to edit")
    return _edit(message, params, "caption", MAX_CAPTION)


def _edit(message: dict[str, Any], params: Params, key: str, limit: int) -> Any:
    text, entities = _formatted(params, key, limit)
    entities_key = "entities" if key == "text" else "caption_entities"
    if message.get(key, "") == text and message.get(entities_key, []) == entities:
        raise bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    message[key] = text
    message.pop(entities_key, None)
    if entities:
        message[entities_key] = entities
    message["edit_date"] = now()
    return {k: v for k, v in message.items() if k != "_reactions"}


async def delete_message(world: LabWorld, bot: LabBot, params: Params) -> Any:
    chat = _chat(world, bot, params)
    message = _own_message(world, bot, params, "delete")
    own = message["from"]["id"] == bot.id
    admin = chat.members.get(bot.id) in ("administrator", "creator")
    if now() - int(message["date"]) >= DELETE_WINDOW or not (own or admin):
        raise bad_request("message can't be deleted for everyone")
    del chat.messages[message["message_id"]]
    return True


async def set_message_reaction(world: LabWorld, bot: LabBot, params: Params) -> Any:
    message = _own_message(world, bot, params, "react")
    reaction = _json(params, "reaction") or []
    if not isinstance(reaction, list):
        raise bad_request("can't parse reaction types JSON object")
    emoji: list[str] = []
    for item in reaction:
        if not isinstance(item, dict) or item.get("type") != "emoji":
            raise bad_request("REACTION_INVALID")
        if item.get("emoji") not in REACTIONS:
            raise bad_request("REACTION_INVALID")
        emoji.append(str(item["emoji"]))
    if len(emoji) > 1:
        # non-premium accounts, bots included, set at most one reaction per message
        raise bad_request("REACTIONS_TOO_MANY")
    message.setdefault("_reactions", {})[str(bot.id)] = emoji
    return True


async def get_file(world: LabWorld, bot: LabBot, params: Params) -> Any:
    lab_file = world.files.get(str(params.get("file_id") or ""))
    if lab_file is None:
        raise bad_request("invalid file_id")
    return lab_file.file()


async def get_chat(world: LabWorld, bot: LabBot, params: Params) -> Any:
    return _chat(world, bot, params).full_info()


async def get_chat_member(world: LabWorld, bot: LabBot, params: Params) -> Any:
    chat = _chat(world, bot, params)
    user_id = _int(params, "user_id")
    assert user_id is not None
    status = chat.members.get(user_id)
    user = world.users.get(user_id)
    if user is None or status is None:
        if user is None:
            raise bad_request("user not found")
        return {"status": "left", "user": user}
    if status == "member":
        return {"status": "member", "user": user}
    rights = [
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
        "can_pin_messages",
        "can_manage_topics",
    ]
    return {
        "status": status,
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        **dict.fromkeys(rights, True),
    }


METHODS: dict[str, Method] = {
    "getme": get_me,
    "deletewebhook": delete_webhook,
    "setwebhook": set_webhook,
    "getwebhookinfo": get_webhook_info,
    "getupdates": get_updates,
    "sendmessage": send_message,
    "senddocument": send_document,
    "sendphoto": send_photo,
    "editmessagetext": edit_message_text,
    "editmessagecaption": edit_message_caption,
    "deletemessage": delete_message,
    "setmessagereaction": set_message_reaction,
    "getfile": get_file,
    "getchat": get_chat,
    "getchatmember": get_chat_member,
}


async def call_method(world: LabWorld, bot: LabBot, method: str, params: Params) -> Any:
    """Run ``method`` (case-insensitive, as in the real API) for ``bot``."""
    handler = METHODS.get(method.lower())
    if handler is None:
        raise ApiError(404, "Not Found")
    pending = world.injected.get(method) or world.injected.get(method.lower())
    if pending:
        raise pending.pop(0)
    return await handler(world, bot, params)
