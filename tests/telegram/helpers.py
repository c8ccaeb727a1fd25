"""Small builders shared by the Telegram tests."""

from __future__ import annotations

from bridgebot.model import Attachment, Outbound, RoomRef

ORIGIN = RoomRef("api.one", "api")


def outbound(
    text: str,
    *,
    label: str = "Ann · api",
    key: str = "k1",
    reply_to: str | None = None,
    thread: str | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> Outbound:
    """A delivery as the router would hand it to the adapter."""
    return Outbound(
        key=key,
        text=text,
        label=label,
        bridge="khub",
        origin=ORIGIN,
        author_name="Ann",
        author_id="ann",
        reply_to=reply_to,
        thread=thread,
        attachments=attachments,
    )
