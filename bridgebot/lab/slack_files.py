"""The Slack lab's external upload flow: ``files.getUploadURLExternal``, the upload URL,
``files.completeUploadExternal``, then a ``file_share`` message and ``file_shared`` events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bridgebot.lab.slack_args import ApiFail, json_arg, text_arg
from bridgebot.lab.slack_socket import SocketHub
from bridgebot.lab.slack_state import LabFile, SlackWorld

__all__ = ["FileApi"]


class FileApi:
    """File methods; ``member_channel(args, key)`` resolves a channel the bot is in."""

    def __init__(
        self,
        world: SlackWorld,
        hub: SocketHub,
        base_url: Callable[[], str],
        member_channel: Callable[[dict[str, Any], str], str],
    ) -> None:
        self.world = world
        self.hub = hub
        self.base_url = base_url
        self._member_channel = member_channel

    def upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = text_arg(args, "filename")
        try:
            length = int(args.get("length") or 0)
        except (TypeError, ValueError) as exc:
            raise ApiFail("invalid_arguments") from exc
        if not filename or length <= 0:
            raise ApiFail("invalid_arguments")
        file = LabFile(self.world.new_id("F"), filename, length, self.world.bot.id)
        self.world.files[file.id] = file
        return {"upload_url": f"{self.base_url()}/_lab/upload/{file.id}", "file_id": file.id}

    def complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = json_arg(args, "files")
        if not isinstance(entries, list) or not entries:
            raise ApiFail("invalid_arguments")
        files: list[LabFile] = []
        for entry in entries:
            file = self.world.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if file is None or file.data is None:
                raise ApiFail("file_not_found")
            file.title = str(entry.get("title") or file.name)
            files.append(file)
        channel_id = text_arg(args, "channel_id")
        if channel_id:
            channel = self._member_channel(args, "channel_id")
            self.share(
                channel,
                self.world.bot.id,
                files,
                text_arg(args, "initial_comment"),
                text_arg(args, "thread_ts"),
            )
        return {"files": [{"id": f.id, "title": f.title} for f in files]}

    def share(
        self, channel: str, user: str, files: list[LabFile], text: str, thread_ts: str = ""
    ) -> dict[str, Any]:
        """Post a ``file_share`` message, then ``file_shared`` per file, as Slack does."""
        base = self.base_url()
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "file_share",
            "user": user,
            "text": text,
            "ts": self.world.new_ts(),
            "team": self.world.team_id,
            "files": [f.to_api(base) for f in files],
            "upload": True,
        }
        sender = self.world.users.get(user)
        if sender is not None and sender.bot_id:
            message["bot_id"] = sender.bot_id
        if thread_ts:
            root = self.world.thread_root(channel, thread_ts)
            if root is not None:
                message["thread_ts"] = root
        self.world.store(channel, message)
        self.hub.deliver({**message, "channel": channel, "event_ts": message["ts"]})
        for file in files:
            self.hub.deliver(
                {
                    "type": "file_shared",
                    "channel_id": channel,
                    "file_id": file.id,
                    "user_id": user,
                    "file": {"id": file.id},
                    "event_ts": str(time.time()),
                }
            )
        return message
