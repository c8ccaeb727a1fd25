"""The Telegram adapter's I/O: python-telegram-bot's ``Bot`` with getUpdates long polling.

Parsing and rendering live in :mod:`adapters.telegram.translate`; errors are translated in
:func:`adapters.telegram.errors.map_errors`. Updates are fetched as raw JSON (a subclass
of ``Bot`` calls ``getUpdates`` itself) so that one malformed update is logged and skipped
instead of failing the whole batch inside PTB's parser.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import time
from collections import OrderedDict
from typing import Any, cast

from telegram import LinkPreviewOptions, ReactionTypeEmoji, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest

from adapters.base import AdapterSetup, Emit
from adapters.settings import TelegramSettings
from adapters.telegram.connect import PollingBot, check_rooms
from adapters.telegram.errors import map_errors
from adapters.telegram.http import AiohttpRequest
from adapters.telegram.render import MAX_CAPTION, MAX_TEXT, render, render_text
from adapters.telegram.translate import (
    NETWORK,
    FileRef,
    Inbound,
    ParseContext,
    parse_room,
    parse_update,
)
from bridgebot.errors import (
    PermanentError,
    RateLimited,
    RejectedEvent,
    TransientError,
)
from bridgebot.model import Attachment, Capabilities, Event, EventKind, Outbound, RoomRef
from bridgebot.pacing import Backoff

__all__ = ["ALLOWED_UPDATES", "CURSOR", "TelegramAdapter"]

#: message_reaction must be asked for explicitly (and the bot must be a chat admin)
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "message_reaction",
]
#: the context cursor holding the next getUpdates offset
CURSOR = "update_offset"
#: "A message can only be deleted if it was sent less than 48 hours ago." (deleteMessage)
DELETE_WINDOW = 48 * 3600
_REMEMBERED = 50_000


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _REMEMBERED:
        cache.popitem(last=False)


class TelegramAdapter:
    """One bot account; rooms are chat ids or ``CHAT/TOPIC`` forum topics."""

    network = NETWORK
    capabilities = Capabilities(per_message_identity=False, max_text_length=MAX_TEXT)

    def __init__(self, setup: AdapterSetup) -> None:
        self.account = setup.account
        self._settings = cast(TelegramSettings, setup.settings)
        self._rooms = frozenset(setup.rooms)
        self._context = setup.context
        self._log = setup.log
        self._bot: PollingBot | None = None
        self._task: asyncio.Task[None] | None = None
        self._me_id = 0
        self._forums: dict[str, bool] = {}
        self._topics: OrderedDict[tuple[int, int], int] = OrderedDict()
        self._sent: OrderedDict[tuple[str, int], float] = OrderedDict()

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Check the token, drop any webhook, check each room, then start long polling."""
        settings = self._settings
        bot = PollingBot(
            settings.token.get_secret_value(),
            base_url=settings.base_url,
            base_file_url=settings.base_file_url,
            request=AiohttpRequest(timeout=settings.request_timeout),
            # one long poll at a time; its read timeout is set per call (raw_updates)
            get_updates_request=AiohttpRequest(connections=1, timeout=settings.request_timeout),
        )
        try:
            with map_errors(self.account, "connect"):
                await bot.initialize()
                # getUpdates is refused while a webhook is set
                await bot.delete_webhook()
            self._bot = bot
            self._me_id = bot.bot.id
            await self._check_rooms(bool(bot.bot.can_read_all_group_messages))
            stored = await self._context.get_cursor(CURSOR)
        except BaseException:
            self._bot = None
            await bot.shutdown()
            raise
        offset = int(stored) if stored and stored.lstrip("-").isdigit() else None
        self._task = asyncio.create_task(self._poll(emit, offset), name=f"{self.account} poll")
        self._log.info("telegram account %s connected as @%s", self.account, bot.bot.username)

    async def stop(self) -> None:
        """Stop polling and close the HTTP clients; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()

    async def _check_rooms(self, can_read_all: bool) -> None:
        """Learn which rooms are forums; warn (never fail) about rooms it cannot read."""
        self._forums.update(
            await check_rooms(
                self._require(), self.account, sorted(self._rooms), can_read_all, self._log
            )
        )

    def _require(self) -> PollingBot:
        if self._bot is None:
            raise TransientError(f"telegram account {self.account} is not connected")
        return self._bot

    # ---- inbound -----------------------------------------------------------------------

    async def _poll(self, emit: Emit, offset: int | None) -> None:
        bot = self._require()
        # failed polls and updates not handed on count together; a handled batch resets
        backoff = Backoff(base=1.0, cap=60.0)
        while True:
            try:
                with map_errors(self.account, "getUpdates"):
                    updates = await bot.raw_updates(
                        offset, self._settings.poll_timeout, ALLOWED_UPDATES
                    )
            except RateLimited as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except TransientError as exc:
                delay = backoff.next_delay()
                self._log.warning("%s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            except PermanentError as exc:
                self._log.error("%s; telegram polling stopped", exc)
                return
            for update in updates:
                update_id = update.get("update_id")
                if not isinstance(update_id, int):
                    self._log.warning("dropped a telegram update without an update_id")
                    continue
                try:
                    await self._handle(update_id, update, emit)
                    await self._context.set_cursor(CURSOR, str(update_id + 1))
                except Exception as exc:
                    # not advancing the offset: the update is fetched again after a pause
                    delay = backoff.next_delay()
                    self._log.warning(
                        "telegram update %s not relayed yet (%s); retrying in %.1fs",
                        update_id,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    break
                offset = update_id + 1
            else:
                backoff.reset()

    async def _handle(self, update_id: int, update: dict[str, Any], emit: Emit) -> None:
        ctx = ParseContext(self.account, self._me_id, self._rooms, self._topics)
        try:
            parsed = parse_update(ctx, update)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # never log a payload: it carries message content
            self._log.warning(
                "dropped malformed telegram update %s (%s)", update_id, type(exc).__name__
            )
            return
        for inbound in parsed:
            await self._emit_one(inbound, emit)

    async def _emit_one(self, inbound: Inbound, emit: Emit) -> None:
        event = inbound.event
        if inbound.topic is not None:
            chat_id, message_id, topic = inbound.topic
            _remember(self._topics, (chat_id, message_id), topic)
        if event.kind in (EventKind.MESSAGE, EventKind.EDIT):
            own = event.target if event.kind is EventKind.EDIT else event.remote_id
            if own is not None and await self._context.is_copy(event.room, own):
                return
        if inbound.files:
            event = await self._with_files(event, inbound.files)
        try:
            await emit(event)
        except RejectedEvent as exc:
            self._log.info("telegram %s %s not relayed: %s", event.room, event.remote_id, exc)

    async def _with_files(self, event: Event, files: tuple[FileRef, ...]) -> Event:
        bot = self._require()
        attachments: list[Attachment] = []
        notes: list[str] = []
        for ref in files:
            if ref.size > self._settings.max_download_bytes:
                notes.append(f"[file not relayed, too large: {ref.filename}]")
                continue
            try:
                with map_errors(self.account, "getFile", event.room.room_id):
                    remote = await bot.get_file(ref.file_id)
                    data = bytes(await remote.download_as_bytearray())
            except PermanentError as exc:
                self._log.warning("telegram file in %s not fetched: %s", event.room, exc)
                notes.append(f"[file not relayed: {ref.filename}]")
                continue
            attachments.append(Attachment(ref.filename, ref.mime_type, len(data), data=data))
        text = "\n".join(filter(None, [event.text, *notes]))
        return dataclasses.replace(event, attachments=tuple(attachments), text=text)

    # ---- outbound ----------------------------------------------------------------------

    async def _is_forum(self, room_id: str) -> bool:
        chat_id, topic = parse_room(room_id)
        if topic is not None:
            return True
        key = str(chat_id)
        if key not in self._forums:
            with map_errors(self.account, "getChat", room_id):
                chat = await self._require().get_chat(chat_id)
            self._forums[key] = bool(chat.is_forum)
        return self._forums[key]

    def _target(self, room: RoomRef, remote_id: str) -> tuple[int | str, int]:
        try:
            chat_id, _ = parse_room(room.room_id)
            return chat_id, int(remote_id)
        except ValueError as exc:
            raise PermanentError(
                f"telegram account {self.account}: {room.room_id!r}/{remote_id!r} is not a "
                "Telegram chat (CHAT or CHAT/TOPIC) and message id"
            ) from exc

    async def send(self, room: RoomRef, out: Outbound) -> str:
        """Post ``out`` as HTML with the label in bold; files follow as documents/photos."""
        bot = self._require()
        links = [
            a
            for a in out.attachments
            if a.data is None and a.url and a.url.startswith(("https://", "http://"))
        ]
        # each link shows as a line with its file name; keep the whole within Telegram's limit
        shown = sum(len(a.filename) + 1 for a in links)
        try:
            is_forum = await self._is_forum(room.room_id)
            request = render(out, room.room_id, is_forum=is_forum, limit=MAX_TEXT - shown)
        except ValueError as exc:
            raise PermanentError(
                f"telegram account {self.account}: room {room.room_id!r} is not a chat id "
                "(CHAT or CHAT/TOPIC)"
            ) from exc
        reply = None
        if request["reply_to_message_id"] is not None:
            reply = ReplyParameters(
                request["reply_to_message_id"], allow_sending_without_reply=True
            )
        where: dict[str, Any] = {
            "chat_id": request["chat_id"],
            "message_thread_id": request["message_thread_id"],
            "reply_parameters": reply,
        }
        files = [a for a in out.attachments if a.data is not None]
        link_html = "".join(
            f'\n<a href="{html.escape(a.url or "")}">{html.escape(a.filename, quote=False)}</a>'
            for a in links
        )
        caption_fits = len(out.labelled_text()) + shown <= MAX_CAPTION
        first: int | None = None
        with map_errors(self.account, "send", room.room_id):
            if not files or not caption_fits:
                message = await bot.send_message(
                    text=request["text"] + link_html,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    **where,
                )
                first = message.message_id
            for attachment in files:
                caption = None
                if first is None:
                    caption = render_text(out, MAX_CAPTION - shown) + link_html
                assert attachment.data is not None
                is_image = attachment.mime_type.startswith("image/")
                if is_image:
                    message = await bot.send_photo(
                        photo=attachment.data,
                        filename=attachment.filename,
                        caption=caption,
                        parse_mode=ParseMode.HTML,
                        **where,
                    )
                else:
                    message = await bot.send_document(
                        document=attachment.data,
                        filename=attachment.filename,
                        caption=caption,
                        parse_mode=ParseMode.HTML,
                        **where,
                    )
                first = first if first is not None else message.message_id
        assert first is not None
        _remember(self._sent, (str(request["chat_id"]), first), time.time())
        return str(first)

    async def edit(self, room: RoomRef, remote_id: str, out: Outbound) -> None:
        """Replace our copy's text (or caption, for a copy that is a file)."""
        bot = self._require()
        chat_id, message_id = self._target(room, remote_id)
        with map_errors(self.account, "edit", room.room_id):
            try:
                await bot.edit_message_text(
                    render_text(out),
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            except BadRequest as exc:
                if "message is not modified" in exc.message.lower():
                    return  # already says this: a retried edit
                if "no text in the message" not in exc.message.lower():
                    raise
                await bot.edit_message_caption(
                    chat_id=chat_id,
                    message_id=message_id,
                    caption=render_text(out, MAX_CAPTION),
                    parse_mode=ParseMode.HTML,
                )

    async def delete(self, room: RoomRef, remote_id: str) -> None:
        """Delete our copy; Telegram refuses once it is 48 hours old (PermanentError)."""
        bot = self._require()
        chat_id, message_id = self._target(room, remote_id)
        sent = self._sent.get((str(chat_id), message_id))
        too_old = (
            f"telegram account {self.account}, room {room.room_id}: message {remote_id} not "
            "deleted: Telegram lets bots delete only messages less than 48 hours old"
        )
        if sent is not None and time.time() - sent >= DELETE_WINDOW:
            self._log.warning("%s", too_old)
            raise PermanentError(too_old)
        with map_errors(self.account, "delete", room.room_id):
            try:
                await bot.delete_message(chat_id, message_id)
            except BadRequest as exc:
                if "message to delete not found" in exc.message.lower():
                    self._log.info("telegram %s/%s was already deleted", room, remote_id)
                    return
                if "can't be deleted" in exc.message.lower():
                    self._log.warning(
                        "%s (or the bot lacks the right to delete it): %s", too_old, exc.message
                    )
                raise

    async def react(self, room: RoomRef, remote_id: str, emoji: str) -> None:
        """Set the bot's reaction; Telegram allows only its standard reaction emoji."""
        bot = self._require()
        chat_id, message_id = self._target(room, remote_id)
        # Telegram's reaction list has no emoji presentation selectors ("❤", not "❤️")
        plain = emoji.replace("\ufe0f", "")
        with map_errors(self.account, "react", room.room_id):
            try:
                await bot.set_message_reaction(chat_id, message_id, ReactionTypeEmoji(plain))
            except BadRequest as exc:
                if "reaction_invalid" not in exc.message.lower():
                    raise
                raise PermanentError(
                    f"telegram account {self.account}, room {room.room_id}: {emoji!r} is not "
                    "one of the reaction emoji Telegram allows bots to use (REACTION_INVALID)"
                ) from exc
