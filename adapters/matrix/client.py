"""The Matrix adapter's I/O: login, joins, outgoing events. The sync loop is in sync.py."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from typing import Any, cast

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    RoomResolveAliasResponse,
    RoomSendResponse,
    UploadResponse,
    WhoamiResponse,
)

from adapters.matrix.errors import MatrixFailure, check, map_errors
from adapters.matrix.sync import SyncLoop
from adapters.matrix.translate import (
    msgtype_for,
    render_edit,
    render_file,
    render_message,
    render_reaction,
    txn_id,
)
from adapters.settings import MatrixSettings
from bridgebot.contract import AdapterContext, AdapterSetup, Emit
from bridgebot.errors import AdapterError, PermanentError
from bridgebot.model import Attachment, Capabilities, Event, Outbound, RoomRef

__all__ = ["MAX_TEXT_LENGTH", "MatrixAdapter"]

MAX_TEXT_LENGTH = 30_000
DEVICE_CURSOR = "device_id"


class _WithholdContent(logging.Filter):
    """nio logs a schema failure with the whole event, and its reason may quote a value;
    we never log the content of a message we do not relay, so say only that it failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Error validating event"):
            record.msg = "an event failed nio's schema validation (content withheld)"
            record.args = ()
        return True


_FILTER = _WithholdContent()


def _quiet_nio_content_logs() -> None:
    logger = logging.getLogger("nio.events.misc")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


class MatrixAdapter:
    """One Matrix account: a nio client, one continuous sync, typed errors."""

    network = "matrix"
    capabilities = Capabilities(
        edits=True,
        deletes=True,
        reactions=True,
        threads=True,
        replies=True,
        per_message_identity=False,
        attachments=True,
        max_text_length=MAX_TEXT_LENGTH,
    )

    def __init__(self, setup: AdapterSetup) -> None:
        self.account = setup.account
        self.settings = cast(MatrixSettings, setup.settings)
        self.rooms = setup.rooms
        self.context: AdapterContext = setup.context
        self.log = setup.log
        self.user_id = self.settings.user_id
        self.homeserver = self.settings.homeserver.rstrip("/")
        self._client: AsyncClient | None = None
        self._sync: SyncLoop | None = None
        # configured room name (id or alias) ↔ room id
        self._room_ids: dict[str, str] = {}
        self._names: dict[str, str] = {}

    def where(self, room: str | None, action: str) -> str:
        """``account (user), room: action``, the context every error message starts with."""
        where = f"matrix account {self.account} ({self.user_id})"
        return f"{where}, room {room}: {action}" if room else f"{where}: {action}"

    @property
    def client(self) -> AsyncClient:
        """The nio client; only valid between ``start()`` and ``stop()``."""
        if self._client is None:
            raise PermanentError(self.where(None, "adapter is not started"))
        return self._client

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Log in, join the configured rooms, catch up from the stored sync token, then sync."""
        _quiet_nio_content_logs()
        config = AsyncClientConfig(
            max_limit_exceeded=0,  # the dispatcher owns retries: surface 429s at once
            max_timeouts=0,
            request_timeout=self.settings.request_timeout,
            store_sync_tokens=False,
            encryption_enabled=False,
        )
        self._client = AsyncClient(self.homeserver, self.user_id, config=config)
        try:
            await self._login()
            for room in self.rooms:
                try:
                    await self._join(room)
                except PermanentError as exc:
                    # One room we may not join must not silence the others; sends to it
                    # fail with the same reason, so it reaches the admin's dead letters.
                    self.log.error("matrix %s: cannot join %s: %s", self.account, room, exc)
            self._sync = SyncLoop(self, emit)
            await self._sync.start()
        except BaseException:
            await self.stop()
            raise
        self.log.info("matrix %s connected as %s", self.account, self.user_id)

    async def _login(self) -> None:
        client = self.client
        with map_errors(self.where(None, "login")):
            if self.settings.access_token is not None:
                client.access_token = self.settings.access_token.get_secret_value()
                who = check(await client.whoami())
                assert isinstance(who, WhoamiResponse)
                if who.user_id != self.user_id:
                    raise PermanentError(
                        self.where(
                            None, f"access_token belongs to {who.user_id}, not {self.user_id}"
                        )
                    )
                client.user_id = who.user_id
                client.device_id = who.device_id or ""
            elif self.settings.password is not None:
                # Reusing the stored device keeps txn-id deduplication across restarts.
                client.device_id = await self.context.get_cursor(DEVICE_CURSOR) or ""
                resp = check(
                    await client.login(
                        self.settings.password.get_secret_value(),
                        device_name=self.settings.device_name,
                    )
                )
                assert isinstance(resp, LoginResponse)
            else:
                raise PermanentError(self.where(None, "set access_token or password"))
        if client.device_id:
            await self.context.set_cursor(DEVICE_CURSOR, client.device_id)

    async def _join(self, room: str) -> str:
        with map_errors(self.where(room, "join")):
            resp = check(await self.client.join(room))
        assert isinstance(resp, JoinResponse)
        self.remember_room(room, resp.room_id)
        return str(resp.room_id)

    def remember_room(self, name: str, room_id: str) -> None:
        """Record that the configured room ``name`` (id or alias) is ``room_id``."""
        self._room_ids[name] = room_id
        self._names.setdefault(room_id, name)

    def room_ref(self, room_id: str) -> RoomRef:
        """The canonical reference for a joined room, under the name the config uses."""
        return RoomRef(self.account, self._names.get(room_id, room_id))

    async def stop(self) -> None:
        """Stop syncing and close the HTTP session; safe to call twice."""
        sync, self._sync = self._sync, None
        if sync is not None:
            await sync.stop()
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # -- outgoing --------------------------------------------------------------------------

    async def _room_id(self, room: RoomRef) -> str:
        name = room.room_id
        if name in self._room_ids:
            return self._room_ids[name]
        if name.startswith("#"):
            with map_errors(self.where(name, "resolve alias")):
                resp = check(await self.client.room_resolve_alias(name))
            assert isinstance(resp, RoomResolveAliasResponse)
            self.remember_room(name, resp.room_id)
            return str(resp.room_id)
        return name

    async def _put(self, room: RoomRef, etype: str, content: dict[str, Any], txn: str) -> str:
        room_id = await self._room_id(room)
        with map_errors(self.where(str(room), f"send {etype}")):
            resp = check(await self.client.room_send(room_id, etype, content, tx_id=txn))
        assert isinstance(resp, RoomSendResponse)
        return str(resp.event_id)

    async def _upload(self, room: RoomRef, attachment: Attachment) -> str:
        data = attachment.data or b""
        with map_errors(self.where(str(room), f"upload {attachment.filename!r}")):
            resp, _ = await self.client.upload(
                lambda *_: io.BytesIO(data),
                content_type=attachment.mime_type,
                filename=attachment.filename,
                filesize=len(data),
            )
            check(resp)
        assert isinstance(resp, UploadResponse)
        return str(resp.content_uri)

    async def send(self, room: RoomRef, out: Outbound) -> str:
        """Post ``out``; files go to the media repository, big or remote ones as links.

        Returns the text event's id (or the first file's when there is no text).
        """
        uploads = [
            a
            for a in out.attachments
            if a.data is not None and len(a.data) <= self.settings.max_upload_bytes
        ]
        links = tuple(
            f"{a.filename}: {a.url}" if a.url else f"({a.filename}, {a.size} bytes, not relayed)"
            for a in out.attachments
            if a not in uploads
        )
        first: str | None = None
        if out.text or out.label or links or not uploads:
            content = render_message(out, links=links, max_length=MAX_TEXT_LENGTH)
            first = await self._put(room, "m.room.message", content, txn_id("m", out.key))
        for index, attachment in enumerate(uploads):
            mxc = await self._upload(room, attachment)
            content = render_file(out, attachment, mxc, msgtype_for(attachment.mime_type))
            event_id = await self._put(
                room, "m.room.message", content, txn_id(f"f{index}", out.key)
            )
            first = first or event_id
        assert first is not None
        return first

    async def edit(self, room: RoomRef, remote_id: str, out: Outbound) -> None:
        """Replace our copy ``remote_id`` with an ``m.replace`` edit."""
        content = render_edit(out, remote_id, max_length=MAX_TEXT_LENGTH)
        await self._put(room, "m.room.message", content, txn_id("e", out.key))

    async def delete(self, room: RoomRef, remote_id: str) -> None:
        """Redact our copy ``remote_id`` (a repeated redaction is harmless)."""
        room_id = await self._room_id(room)
        with map_errors(self.where(str(room), "redact")):
            check(
                await self.client.room_redact(
                    room_id, remote_id, tx_id=txn_id("d", f"{room_id}\0{remote_id}")
                )
            )

    async def react(self, room: RoomRef, remote_id: str, emoji: str) -> None:
        """Annotate ``remote_id`` with ``emoji``; an identical existing reaction is success."""
        content = render_reaction(remote_id, emoji)
        txn = txn_id("r", f"{remote_id}\0{emoji}")
        try:
            await self._put(room, "m.reaction", content, txn)
        except PermanentError as exc:
            cause = exc.__cause__
            if isinstance(cause, MatrixFailure) and cause.errcode == "M_DUPLICATE_ANNOTATION":
                return
            raise

    # -- used by the sync loop -------------------------------------------------------------

    async def fetch_files(self, event: Event) -> Event:
        """Download an inbound event's small files, so other networks can re-upload them.

        Files above ``max_upload_bytes``, of unknown size, or that fail to download keep
        only their URL (which needs this account's token: authenticated media).
        """
        if not event.attachments:
            return event
        files = tuple([await self._fetch(attachment) for attachment in event.attachments])
        return dataclasses.replace(event, attachments=files)

    async def _fetch(self, attachment: Attachment) -> Attachment:
        limit = self.settings.max_upload_bytes
        prefix = f"{self.homeserver}/_matrix/client/v1/media/download/"
        url = attachment.url
        if url is None or not url.startswith(prefix) or not 0 < attachment.size <= limit:
            return attachment
        server, _, media_id = url[len(prefix) :].partition("/")
        try:
            with map_errors(self.where(None, f"download {attachment.filename!r}")):
                async with asyncio.timeout(self.settings.request_timeout):
                    resp = check(await self.client.download(server_name=server, media_id=media_id))
        except AdapterError as exc:
            self.log.warning("matrix %s: relaying a link instead of a file: %s", self.account, exc)
            return attachment
        body = getattr(resp, "body", None)
        if not isinstance(body, bytes) or len(body) > limit:
            return attachment
        return dataclasses.replace(attachment, data=body, size=len(body))

    async def answer_invite(self, room_id: str, inviter: str | None) -> None:
        """Join rooms an admin invites us to; decline (leave) every other invite."""
        if inviter is not None and self.context.is_admin(f"{self.account}:{inviter}"):
            self.log.info("matrix %s: joining %s on invite from admin %s",
                          self.account, room_id, inviter)  # fmt: skip
            await self._join(room_id)
            return
        self.log.warning("matrix %s: declining invite to %s from non-admin %s",
                         self.account, room_id, inviter)  # fmt: skip
        try:
            with map_errors(self.where(room_id, "decline invite")):
                check(await self.client.room_leave(room_id))
        except AdapterError as exc:
            self.log.warning("matrix %s: could not decline invite: %s", self.account, exc)
