"""Posting to Discord: channel webhooks (one per channel, found or created), threads, files.

I/O only; what to post is decided by ``translate.render``.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from dataclasses import replace

import discord
from discord.utils import MISSING

from adapters.discord.errors import map_errors
from adapters.discord.translate import Rendered, quote_line, render
from adapters.settings import DiscordSettings
from bridgebot.contract import AdapterContext
from bridgebot.errors import PermanentError
from bridgebot.model import Outbound, RoomRef

__all__ = ["Poster"]

#: allowed_mentions on every relayed message: nothing in a copy may ping anyone.
NO_PINGS = discord.AllowedMentions.none()
#: Discord error code: "A thread has already been created for this message".
_THREAD_EXISTS = 160004


class Poster:
    """Sends, edits, deletes and reacts for one account; remembers webhooks and threads."""

    def __init__(
        self,
        client: discord.Client,
        settings: DiscordSettings,
        account: str,
        context: AdapterContext,
        log: logging.Logger,
        on_webhook: Callable[[int], None],
    ) -> None:
        self._client = client
        self._settings = settings
        self._account = account
        self._context = context
        self._log = log
        self._on_webhook = on_webhook
        self._hooks: dict[str, discord.Webhook | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._thread_of: dict[str, str] = {}
        #: ids we deleted ourselves, so their MESSAGE_DELETE is not reported back as news
        self.deleted: dict[str, None] = {}

    # ---- the four operations -----------------------------------------------------------

    async def send(self, room: RoomRef, out: Outbound) -> str:
        """Post ``out``; through the channel webhook when there is one."""
        cid = room.room_id
        thread = await self._thread_for(room, out.thread)
        hook = await self.webhook_for(room)
        quote = self._quote(cid, thread, out.reply_to) if hook and out.reply_to else None
        post = render(
            out,
            via_webhook=hook is not None,
            max_upload_bytes=self._settings.max_upload_bytes,
            reply_quote=quote,
        )
        with map_errors(self._account, str(room), "send a message"):
            if hook is not None:
                try:
                    sent: discord.Message = await hook.send(
                        content=post.content,
                        username=post.username or MISSING,
                        avatar_url=post.avatar_url or MISSING,
                        allowed_mentions=NO_PINGS,
                        files=_files(post) or MISSING,
                        thread=discord.Object(int(thread)) if thread else MISSING,
                        wait=True,
                    )
                except discord.NotFound:
                    self._hooks.pop(cid, None)  # deleted by someone: found or made anew on retry
                    raise
            else:
                target = self._client.get_partial_messageable(int(thread or cid))
                reference = None
                if post.reply_to:
                    reference = discord.MessageReference(
                        message_id=int(post.reply_to),
                        channel_id=int(thread or cid),
                        fail_if_not_exists=False,
                    )
                files = _files(post) or MISSING
                if reference is None:
                    sent = await target.send(
                        content=post.content, files=files, allowed_mentions=NO_PINGS
                    )
                else:
                    sent = await target.send(
                        content=post.content,
                        files=files,
                        allowed_mentions=NO_PINGS,
                        reference=reference,
                    )
        remote_id = str(sent.id)
        if thread:
            self._thread_of[remote_id] = thread
            # edits and deletes of a message in a thread must name the thread, even after
            # a restart, and Discord ids do not say which thread a message is in
            await self._context.set_cursor(f"thread:{remote_id}", thread)
        return remote_id

    async def edit(self, room: RoomRef, remote_id: str, out: Outbound) -> None:
        """Edit our copy: as the webhook's message, else as the bot's own message."""
        thread = await self._known_thread(remote_id) or out.thread
        hook = await self.webhook_for(room)
        # files uploaded with the message stay on it; only linked ones are part of the text
        out = replace(out, attachments=tuple(a for a in out.attachments if a.data is None))
        with map_errors(self._account, str(room), "edit a message"):
            if hook is not None:
                quote = self._quote(room.room_id, thread, out.reply_to) if out.reply_to else None
                post = render(out, via_webhook=True, max_upload_bytes=0, reply_quote=quote)
                try:
                    await hook.edit_message(
                        int(remote_id),
                        content=post.content,
                        allowed_mentions=NO_PINGS,
                        thread=discord.Object(int(thread)) if thread else MISSING,
                    )
                    return
                except discord.NotFound:
                    pass  # posted before the webhook existed: the bot's own message
            post = render(out, via_webhook=False, max_upload_bytes=0)
            message = self._partial(room, thread, remote_id)
            await message.edit(content=post.content, allowed_mentions=NO_PINGS)

    async def delete(self, room: RoomRef, remote_id: str) -> None:
        """Delete our copy."""
        thread = await self._known_thread(remote_id)
        hook = await self.webhook_for(room)
        self.deleted[remote_id] = None
        while len(self.deleted) > 1000:
            del self.deleted[next(iter(self.deleted))]
        with map_errors(self._account, str(room), "delete a message"):
            if hook is not None:
                try:
                    obj = discord.Object(int(thread)) if thread else MISSING
                    await hook.delete_message(int(remote_id), thread=obj)
                    return
                except discord.NotFound:
                    pass
            await self._partial(room, thread, remote_id).delete()

    async def react(self, room: RoomRef, remote_id: str, emoji: str) -> None:
        """React as the bot; ``:name:`` finds a custom emoji of that name in the guild."""
        thread = await self._known_thread(remote_id)
        choice: str | discord.Emoji = emoji
        if len(emoji) > 2 and emoji.startswith(":") and emoji.endswith(":"):
            custom = discord.utils.get(self._client.emojis, name=emoji.strip(":"))
            if custom is None:
                raise PermanentError(
                    f"discord {self._account}: emoji {emoji} has no equivalent in {room}"
                )
            choice = custom
        with map_errors(self._account, str(room), "add a reaction"):
            await self._partial(room, thread, remote_id).add_reaction(choice)

    # ---- webhooks and threads ----------------------------------------------------------

    async def webhook_for(self, room: RoomRef) -> discord.Webhook | None:
        """The channel's webhook (ours, found or created); None when we may not use one."""
        cid = room.room_id
        if not self._settings.webhooks:
            return None
        if cid in self._hooks:
            return self._hooks[cid]
        async with self._locks.setdefault(cid, asyncio.Lock()):
            if cid in self._hooks:
                return self._hooks[cid]
            configured = self._settings.webhook_urls.get(cid)
            if configured is not None:
                hook = self._configured_webhook(room, configured.get_secret_value())
                self._hooks[cid] = hook
                return hook
            channel = self._client.get_channel(int(cid))
            if not isinstance(channel, discord.TextChannel):
                self._hooks[cid] = None
                return None
            me = self._client.user.id if self._client.user else 0
            try:
                with map_errors(self._account, str(room), "set up the relay webhook"):
                    hook = next(
                        (
                            h
                            for h in await channel.webhooks()
                            if h.token and h.user is not None and h.user.id == me
                        ),
                        None,
                    )
                    if hook is None:
                        hook = await channel.create_webhook(name=self._settings.webhook_name)
            except PermanentError:
                self._log.warning(
                    "discord %s: cannot use a webhook in %s (the bot needs Manage Webhooks);"
                    " relayed messages there carry the author's name in the text",
                    self._account,
                    room,
                )
                self._hooks[cid] = None
                return None
            self._on_webhook(hook.id)
            self._hooks[cid] = hook
            return hook

    def _configured_webhook(self, room: RoomRef, url: str) -> discord.Webhook | None:
        """A webhook from its URL (``…/webhooks/ID/TOKEN``), bound to our client's session."""
        parts = url.rstrip("/").split("/")
        if len(parts) < 2 or not parts[-2].isdigit() or not parts[-1]:
            self._log.warning(
                "discord %s: the webhook URL configured for %s is not …/webhooks/ID/TOKEN;"
                " relaying there as the bot",
                self._account,
                room,
            )
            return None
        hook = discord.Webhook.partial(int(parts[-2]), parts[-1], client=self._client)
        self._on_webhook(hook.id)
        return hook

    async def _thread_for(self, room: RoomRef, root: str | None) -> str | None:
        """The thread channel for replies under ``root``, started if it does not exist.

        A thread started from a message has that message's id, so the root's id names it.
        """
        if not root:
            return None
        existing = self._client.get_channel(int(root))
        if isinstance(existing, discord.Thread):
            return root
        cached = discord.utils.get(self._client.cached_messages, id=int(root))
        name = " ".join((cached.content if cached else "").split())[:60] or "Thread"
        channel = self._client.get_channel(int(room.room_id))
        if not isinstance(channel, discord.TextChannel):
            return None  # not a channel with threads (or not visible): post in the room
        try:
            with map_errors(self._account, str(room), "start a thread"):
                try:
                    await channel.get_partial_message(int(root)).create_thread(name=name)
                except discord.HTTPException as exc:
                    if exc.code != _THREAD_EXISTS:
                        raise
        except PermanentError:
            # the root is gone or threads are not allowed: post in the channel instead
            self._log.info("discord %s: no thread under %s in %s", self._account, root, room)
            return None
        return root

    async def _known_thread(self, remote_id: str) -> str | None:
        if remote_id in self._thread_of:
            return self._thread_of[remote_id]
        return await self._context.get_cursor(f"thread:{remote_id}")

    def _partial(
        self, room: RoomRef, thread: str | None, remote_id: str
    ) -> discord.PartialMessage:
        channel = self._client.get_partial_messageable(int(thread or room.room_id))
        return channel.get_partial_message(int(remote_id))

    def _quote(self, cid: str, thread: str | None, reply_to: str | None) -> str | None:
        """A quote line for a webhook reply: the replied-to author and text when cached."""
        if not reply_to:
            return None
        cached = discord.utils.get(self._client.cached_messages, id=int(reply_to))
        channel = self._client.get_channel(int(cid))
        guild = getattr(getattr(channel, "guild", None), "id", "@me")
        link = f"https://discord.com/channels/{guild}/{thread or cid}/{reply_to}"
        if cached is None:
            return quote_line(None, None, link)
        return quote_line(cached.author.display_name, cached.content, link)


def _files(post: Rendered) -> list[discord.File]:
    return [
        discord.File(io.BytesIO(att.data or b""), filename=att.filename) for att in post.uploads
    ]
