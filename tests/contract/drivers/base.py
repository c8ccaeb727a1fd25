"""What the contract suite needs from each network: a person there, and a reader of what
the bot posted. One subclass per network, in ``tests/contract/drivers/<network>.py``.

A driver acts only as people and servers do (the lab's control surface, the real client
library, SMTP/IMAP, HTTP) and reads only what the server holds; it never touches the
adapter under test.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bridgebot.lab.relay import eventually

__all__ = ["WAIT", "Driver", "File", "MentionSample", "Seen"]

WAIT = 30.0  # seconds: the bound of every wait on a network (Synapse on 2 busy cores)


@dataclass(frozen=True)
class File:
    """A file as a person on the network gets it: its name and its bytes (or a link)."""

    name: str
    data: bytes | None = None
    url: str | None = None


@dataclass(frozen=True)
class Seen:
    """One message the bot posted, as the network shows it now (edits applied, deletes gone).

    ``label`` is the author line the network shows (a webhook's or sender's name, or the
    bold prefix of the text); ``text`` is what follows it. ``reply_to`` is the id of the
    message it answers (the thread root where replies are threads). ``links`` are the
    targets of links whose address the text does not show.
    """

    id: str
    label: str
    text: str
    reply_to: str | None = None
    files: tuple[File, ...] = ()
    links: tuple[str, ...] = ()
    reactions: frozenset[str] = frozenset()
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class MentionSample:
    """A mass mention posted on the API side and how it must arrive on the network."""

    posted: str
    shown: str


class Driver(ABC):
    """A network with its lab (or real server): rooms, a person in them, the bot's posts."""

    network: ClassVar[str]
    #: the person's name as labels show it: "{author} · {network}"
    human_name: ClassVar[str]
    #: what a person can do there at all (through the network's clients)
    human_edits: ClassVar[bool] = True
    human_deletes: ClassVar[bool] = True
    human_reacts: ClassVar[bool] = True
    #: whether what is posted while the bridge is stopped is relayed after a restart
    catches_up: ClassVar[bool] = True
    #: a mass mention from the API side and the harmless form it must take here
    mention: ClassVar[MentionSample]
    wait: ClassVar[float] = WAIT
    #: the bot's account on this network in bot.toml (``slack.lab``)
    account: str = ""

    # ---- lifecycle and configuration ----------------------------------------------------

    @abstractmethod
    async def start(self) -> None:
        """Start the lab (or connect to the shared real server) and make the bot account."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop what ``start`` started; safe after a failed start."""

    @abstractmethod
    async def make_room(self) -> str:
        """A new room with the bot and the person in it; returns its id for bot.toml."""

    @abstractmethod
    def accounts_toml(self) -> str:
        """The ``[networks.X.Y]`` tables for bot.toml (after the rooms are made)."""

    def accounts(self) -> list[str]:
        """The account names those tables define."""
        return [self.account]

    def ref(self, room: str) -> str:
        """``ACCOUNT:ROOM`` for a room made here."""
        return f"{self.account}:{room}"

    def env(self) -> dict[str, str]:
        """Environment the tables refer to (``${SLACK_BOT_TOKEN}``...)."""
        return {}

    @abstractmethod
    async def ready(self, rooms: list[str]) -> None:
        """Wait until the server shows the bot listening in ``rooms`` (after its account is
        up): messages posted from now on must reach it."""

    # ---- a person on the network --------------------------------------------------------

    @abstractmethod
    async def post(self, room: str, text: str) -> str:
        """Post ``text``; returns the network's id of the message."""

    @abstractmethod
    async def post_markup(self, room: str) -> str:
        """Post a message with the network's own markup (and a mention of everyone where
        the network has one); returns the canonical text the API side must get."""

    @abstractmethod
    async def reply(self, room: str, to: str, text: str) -> str:
        """Answer message ``to`` as the network's clients do; returns the answer's id."""

    async def edit(self, room: str, message: str, text: str) -> None:
        """Change the text of one's own message."""
        raise NotImplementedError(f"people on {self.network} cannot edit")

    async def delete(self, room: str, message: str) -> None:
        """Delete one's own message."""
        raise NotImplementedError(f"{self.network} does not tell bots of deletions")

    async def react(self, room: str, message: str, emoji: str) -> None:
        """React to a message with ``emoji`` (a character; the driver names it natively)."""
        raise NotImplementedError(f"people on {self.network} cannot react")

    @abstractmethod
    async def post_file(self, room: str, name: str, data: bytes, text: str) -> str:
        """Share a file with a caption; returns the message id."""

    async def fetch(self, url: str) -> bytes:
        """The bytes behind a file link the bridge relayed from here, fetched as a person
        of this network could (with their credentials where the server asks for them)."""
        raise AssertionError(f"{self.network} files should arrive inline, got a link {url}")

    # ---- what the bot posted ------------------------------------------------------------

    @abstractmethod
    async def copies(self, room: str) -> list[Seen]:
        """Every message the bot posted in ``room`` as it stands now, oldest first."""

    @abstractmethod
    def linked_file(self, text: str, name: str, url: str) -> str:
        """The text of the copy of ``text`` sent with a file known only by its link."""

    def reply_target(self, room: str, message: str) -> str:
        """The id a reply to ``message`` points at (the thread root where replies are
        threads)."""
        return message

    @abstractmethod
    def check_harmless(self, copy: Seen) -> None:
        """Network-specific proof that the copy of ``mention.posted`` notifies nobody."""

    @abstractmethod
    def check_marked(self, copy: Seen) -> None:
        """Network-specific proof that a copy carries the bridge's origin marker, where the
        network has a place for one (so another bridge does not loop it back)."""

    # ---- waits ---------------------------------------------------------------------------

    async def wait_copies(self, room: str, count: int) -> list[Seen]:
        """Wait until the bot has ``count`` messages in ``room`` (or more); returns them."""
        found: list[Seen] = []

        async def enough() -> bool:
            found[:] = await self.copies(room)
            return len(found) >= count

        await eventually(enough, self.wait, interval=0.05, what=lambda: f"{count} in {found}")
        return found

    async def wait_copy(self, room: str, text: str) -> Seen:
        """Wait until a copy with ``text`` is in ``room``; returns it."""
        return await self.wait_seen(room, lambda seen: seen.text == text, repr(text))

    async def wait_seen(self, room: str, test: Callable[[Seen], bool], what: str) -> Seen:
        """Wait until some copy in ``room`` passes ``test``; returns the first that does."""
        found: list[Seen] = []

        async def there() -> bool:
            found[:] = await self.copies(room)
            return any(test(seen) for seen in found)

        await eventually(there, self.wait, interval=0.05, what=lambda: f"{what} in {found}")
        return next(seen for seen in found if test(seen))
