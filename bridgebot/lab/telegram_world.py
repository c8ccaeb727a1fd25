"""The lab Telegram world and its control surface (what a human in a chat would do).

:class:`LabWorld` holds every user, bot, chat, message and file, creates messages, and
delivers updates to the bots that would see them. Tests and ``bridgebot demo`` drive it
with :meth:`LabWorld.post_as_user` and friends; :mod:`bridgebot.lab.telegram_api` uses the
same helpers to serve the Bot API.
"""

from __future__ import annotations

import copy
import itertools
import time
from typing import Any

from bridgebot.lab.telegram_state import (
    ApiError,
    LabBot,
    LabChat,
    LabFile,
    RateLimits,
    WindowLimiter,
    bad_request,
    new_token,
    now,
    retry_after_value,
)

__all__ = ["LabWorld"]


def _split_channel(channel: int | str) -> tuple[int, int | None]:
    """``-100123`` or ``"-100123/45"`` (a forum topic) → (chat id, topic id or None)."""
    text = str(channel)
    chat, _, topic = text.partition("/")
    try:
        return int(chat), (int(topic) if topic else None)
    except ValueError:
        raise KeyError(f"no such chat {channel!r}") from None


class LabWorld:
    """Users, bots and chats of a lab Telegram, with no HTTP."""

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self.users: dict[int, dict[str, Any]] = {}
        self.bots: dict[str, LabBot] = {}
        self.chats: dict[int, LabChat] = {}
        self.files: dict[str, LabFile] = {}
        #: every Bot API call received: (method, parameters), for tests to assert on
        self.requests: list[tuple[str, dict[str, Any]]] = []
        #: how many calls were answered 429
        self.rate_limited = 0
        #: method name → errors to answer instead of running it (one per call)
        self.injected: dict[str, list[ApiError]] = {}
        #: set while stopping, so pending long polls answer at once
        self.closing = False
        self._ids = itertools.count(5_000_001)
        self._chat_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._limiters: dict[tuple[int, int, str], WindowLimiter] = {}

    # ---- setup -------------------------------------------------------------------------

    def create_user(
        self, first_name: str, username: str | None = None, last_name: str | None = None
    ) -> dict[str, Any]:
        """A human account; returns its ``User`` object."""
        user: dict[str, Any] = {"id": next(self._ids), "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        self.users[user["id"]] = user
        return user

    def create_bot(
        self, username: str, first_name: str = "", *, can_read_all_group_messages: bool = True
    ) -> LabBot:
        """A bot account with a fresh token (privacy mode on when reading is not allowed)."""
        bot_id = next(self._ids)
        user = {"id": bot_id, "is_bot": True, "first_name": first_name or username}
        user["username"] = username
        self.users[bot_id] = user
        count, window = self.limits.per_bot
        bot = LabBot(
            user=user,
            token=new_token(bot_id),
            can_read_all_group_messages=can_read_all_group_messages,
            limiter=WindowLimiter(count, window * self.limits.time_scale, self.limits.slack),
        )
        self.bots[bot.token] = bot
        return bot

    def create_chat(
        self,
        title: str,
        type: str = "supergroup",
        *,
        is_forum: bool = False,
        members: tuple[int, ...] = (),
        admins: tuple[int, ...] = (),
        username: str | None = None,
    ) -> LabChat:
        """A chat with the given members (user or bot ids) and administrators."""
        n = next(self._chat_ids)
        chat_id = -(1_000_000_000_000 + n) if type in ("supergroup", "channel") else -n
        chat = LabChat(chat_id, type, title, is_forum=is_forum, username=username)
        chat.members.update(dict.fromkeys(members, "member"))
        chat.members.update(dict.fromkeys(admins, "administrator"))
        self.chats[chat_id] = chat
        return chat

    def create_topic(self, chat_id: int, name: str, user_id: int | None = None) -> int:
        """Open a forum topic; returns its ``message_thread_id`` (its first message's id)."""
        chat = self.chat(chat_id)
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        author = self.users[user_id] if user_id else next(iter(self.users.values()))
        message = self.new_message(
            chat, author, extra={"forum_topic_created": {"name": name, "icon_color": 7322096}}
        )
        chat.topics[message["message_id"]] = name
        message["message_thread_id"] = message["message_id"]
        message["is_topic_message"] = True
        return int(message["message_id"])

    # ---- control surface: what humans do ----------------------------------------------

    def post_as_user(
        self,
        channel: int | str,
        user_id: int,
        text: str = "",
        *,
        reply_to: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        document: tuple[str, bytes, str] | None = None,
        photo: bytes | None = None,
        sender_chat: int | None = None,
    ) -> dict[str, Any]:
        """A human posts in ``channel`` (``CHAT`` or ``CHAT/TOPIC``); bots get the update.

        ``document`` is (file name, bytes, MIME type); with a file, ``text`` is its caption.
        """
        chat_id, topic = _split_channel(channel)
        chat = self.chat(chat_id)
        author = self.users[user_id]
        extra: dict[str, Any] = {}
        if sender_chat is not None:
            extra["sender_chat"] = self.chat(sender_chat).as_chat()
        if document is not None:
            name, data, mime = document
            extra["document"] = self.store_file(data, name, mime).document()
        if photo is not None:
            extra["photo"] = [self.store_file(photo, "photo.jpg", "image/jpeg").photo_size()]
        has_file = document is not None or photo is not None
        message = self.new_message(
            chat,
            author,
            text=text,
            entities=entities or [],
            thread=topic,
            reply_to=reply_to,
            extra=extra,
            caption=has_file,
        )
        self.dispatch(chat, "channel_post" if chat.type == "channel" else "message", message)
        return message

    def edit_as_user(self, channel: int | str, message_id: int, text: str) -> dict[str, Any]:
        """A human edits their message; bots get ``edited_message``."""
        chat = self.chat(_split_channel(channel)[0])
        message = self.message(chat, message_id)
        message["text"] = text
        message.pop("entities", None)
        message["edit_date"] = now()
        kind = "edited_channel_post" if chat.type == "channel" else "edited_message"
        self.dispatch(chat, kind, message)
        return message

    def react_as_user(
        self, channel: int | str, message_id: int, user_id: int, emoji: str
    ) -> dict[str, Any]:
        """A human sets a reaction; admin bots that asked for ``message_reaction`` see it."""
        chat = self.chat(_split_channel(channel)[0])
        message = self.message(chat, message_id)
        reactions: dict[str, list[str]] = message.setdefault("_reactions", {})
        old = reactions.get(str(user_id), [])
        reactions[str(user_id)] = [emoji]
        update = {
            "chat": chat.as_chat(),
            "message_id": message_id,
            "user": self.users[user_id],
            "date": now(),
            "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
            "new_reaction": [{"type": "emoji", "emoji": emoji}],
        }
        for bot in self.bots.values():
            if chat.members.get(bot.id) in ("administrator", "creator"):
                bot.enqueue("message_reaction", copy.deepcopy(update))
        return update

    def history(self, channel: int | str) -> list[dict[str, Any]]:
        """The chat's (or one topic's) current messages, oldest first.

        Deleted messages are gone; reactions are kept under a lab-only ``_reactions`` key
        (``{user id: [emoji]}``), which the Bot API never sends.
        """
        chat_id, topic = _split_channel(channel)
        messages = list(self.chat(chat_id).messages.values())
        if topic is not None:
            messages = [m for m in messages if m.get("message_thread_id") == topic]
        return [copy.deepcopy(m) for m in messages]

    def set_message_date(self, channel: int | str, message_id: int, date: int) -> None:
        """Backdate a message (to test Telegram's 48-hour delete window)."""
        self.message(self.chat(_split_channel(channel)[0]), message_id)["date"] = date

    def inject_error(self, method: str, code: int, description: str) -> None:
        """Answer the next call of ``method`` with this error (e.g. 502 Bad Gateway)."""
        self.injected.setdefault(method, []).append(ApiError(code, description))

    # ---- helpers shared with the Bot API ----------------------------------------------

    def chat(self, chat_id: int) -> LabChat:
        """The chat, or the API's "chat not found"."""
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def message(self, chat: LabChat, message_id: int) -> dict[str, Any]:
        """A message of ``chat``, or the API's "message not found"."""
        message = chat.messages.get(message_id)
        if message is None:
            raise bad_request("message not found")
        return message

    def store_file(self, data: bytes, name: str, mime: str) -> LabFile:
        """Keep an uploaded file; returns it with fresh ids and a download path."""
        n = next(self._file_ids)
        folder = "photos" if mime.startswith("image/") else "documents"
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        lab_file = LabFile(
            file_id=f"BQACAgQAAx{n:06d}{new_token(n).split(':')[1][:20]}",
            file_unique_id=f"AgAD{n:06d}",
            data=data,
            file_name=name,
            mime_type=mime,
            file_path=f"{folder}/file_{n}.{suffix}",
        )
        self.files[lab_file.file_id] = lab_file
        return lab_file

    def new_message(
        self,
        chat: LabChat,
        author: dict[str, Any],
        *,
        text: str = "",
        entities: list[dict[str, Any]] | None = None,
        thread: int | None = None,
        reply_to: int | None = None,
        extra: dict[str, Any] | None = None,
        caption: bool = False,
    ) -> dict[str, Any]:
        """Create and store a message; ``caption`` puts the text in ``caption``."""
        if thread is not None and thread not in chat.topics:
            raise bad_request("message thread not found")
        message: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "from": author,
            "chat": chat.as_chat(),
            "date": now(),
        }
        chat.next_message_id += 1
        if text:
            key = "caption" if caption else "text"
            message[key] = text
            if entities:
                message[f"{key}_entities" if caption else "entities"] = entities
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
            # in a topic, a message that replies to nothing replies to the topic's first message
            reply_to = reply_to or thread
        if reply_to is not None:
            replied = self.message(chat, reply_to)
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k not in ("reply_to_message", "_reactions")
            }
        message.update(extra or {})
        chat.messages[message["message_id"]] = message
        return message

    def dispatch(self, chat: LabChat, kind: str, message: dict[str, Any]) -> None:
        """Queue ``kind`` for every bot in the chat that would see ``message``."""
        author_id = message["from"]["id"]
        for bot in self.bots.values():
            status = chat.members.get(bot.id)
            if status is None or bot.id == author_id or message["from"].get("is_bot"):
                # bots never see other bots' messages in groups (Bot API FAQ)
                continue
            if chat.is_group and not bot.can_read_all_group_messages and status == "member":
                replied = message.get("reply_to_message", {}).get("from", {}).get("id")
                if not message.get("text", "").startswith("/") and replied != bot.id:
                    continue
            bot.enqueue(kind, {k: v for k, v in message.items() if k != "_reactions"})

    def check_rate(self, bot: LabBot, chat: LabChat) -> None:
        """Raise 429 if one more message from ``bot`` into ``chat`` breaks a limit."""
        clock = time.monotonic()
        limiters = self._limiters_for(bot, chat)
        wait = max(limiter.wait(clock) for limiter in limiters)
        if wait > 0:
            self.rate_limited += 1
            retry = retry_after_value(wait, self.limits.time_scale)
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        for limiter in limiters:
            limiter.record(clock)

    def _limiters_for(self, bot: LabBot, chat: LabChat) -> list[WindowLimiter]:
        scale, slack = self.limits.time_scale, self.limits.slack
        wanted = [("chat", self.limits.per_chat)]
        if chat.is_group:
            wanted.append(("group", self.limits.per_group))
        found = [bot.limiter] if bot.limiter else []
        for name, (count, window) in wanted:
            key = (bot.id, chat.id, name)
            if key not in self._limiters:
                self._limiters[key] = WindowLimiter(count, window * scale, slack)
            found.append(self._limiters[key])
        return found
