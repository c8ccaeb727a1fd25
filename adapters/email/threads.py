"""What we remember of mail threads: subjects and References chains, bounded in memory.

Chat threads carry only their root's id; a mail thread needs the whole References chain
and the root's subject. Both are learned from every mail we send or receive. After a
restart the book is empty and a reply falls back to ``References: <root> <parent>``,
which every mail client still threads correctly.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["ThreadBook", "Threading"]

_LIMIT = 20_000
_MAX_REFERENCES = 20


@dataclass(frozen=True, slots=True)
class Threading:
    """Threading headers for one outgoing mail."""

    in_reply_to: str | None
    references: tuple[str, ...]
    root_subject: str | None


class ThreadBook:
    """Message-ID → (subject, references), and each thread's latest message."""

    def __init__(self) -> None:
        self._mails: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        self._latest: OrderedDict[str, str] = OrderedDict()

    def record(self, message_id: str, subject: str, references: tuple[str, ...]) -> None:
        """Remember one mail; it becomes the latest of the thread it belongs to."""
        self._mails[message_id] = (subject, references)
        self._mails.move_to_end(message_id)
        root = references[0] if references else message_id
        self._latest[root] = message_id
        self._latest.move_to_end(root)
        for cache in (self._mails, self._latest):
            while len(cache) > _LIMIT:
                cache.popitem(last=False)

    def plan(self, thread: str | None, reply_to: str | None) -> Threading:
        """In-Reply-To/References for a new message in ``thread``, replying to ``reply_to``.

        Without an explicit parent, a message in a thread answers the thread's latest mail,
        so a chat thread becomes one unbroken mail chain.
        """
        parent = reply_to or (self._latest.get(thread) if thread else None) or thread
        if parent is None:
            return Threading(None, (), None)
        known = self._mails.get(parent)
        chain = [*known[1], parent] if known else [parent]
        if thread and thread not in chain:
            chain.insert(0, thread)
        if len(chain) > _MAX_REFERENCES:
            # RFC 5322 advice: keep the root and the most recent ancestors
            chain = [chain[0], *chain[-(_MAX_REFERENCES - 1) :]]
        root = chain[0]
        root_known = self._mails.get(root)
        subject = root_known[0] if root_known else (known[0] if known else None)
        return Threading(parent, tuple(chain), subject)
