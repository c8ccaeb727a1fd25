"""The network accounts: one adapter per ``[networks.TYPE.NAME]``, built from the registry
the composition root hands in, each with its own :class:`AdapterContext`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from bridgebot.config import Config
from bridgebot.contract import Adapter, AdapterSetup, NetworkSpec
from bridgebot.core.supervisor import Supervisor
from bridgebot.errors import ConfigError
from bridgebot.model import Capabilities, RoomRef
from bridgebot.store import Store

__all__ = ["Accounts"]

log = logging.getLogger("bridgebot.hub")


class _Context:
    """The AdapterContext one account sees: cursors namespaced by account."""

    def __init__(self, store: Store, account: str, is_admin: Callable[[str], bool]) -> None:
        self._store = store
        self._account = account
        self._is_admin = is_admin

    async def get_cursor(self, key: str) -> str | None:
        return await self._store.get_cursor(f"{self._account}:{key}")

    async def set_cursor(self, key: str, value: str) -> None:
        await self._store.set_cursor(f"{self._account}:{key}", value)

    async def is_copy(self, room: RoomRef, remote_id: str) -> bool:
        return await self._store.is_copy(str(room), remote_id)

    def is_admin(self, user_ref: str) -> bool:
        return self._is_admin(user_ref)


class Accounts:
    """Builds the adapters and rebuilds one when its account gains rooms."""

    def __init__(
        self,
        config: Config,
        registry: Mapping[str, NetworkSpec],
        store: Store,
        rooms: Mapping[str, tuple[str, ...]],
        is_admin: Callable[[str], bool],
    ) -> None:
        self._config = config
        self._registry = registry
        self._store = store
        self._is_admin = is_admin
        self._rooms: dict[str, tuple[str, ...]] = {}
        #: account → its adapter; the supervisor and the dispatcher share this mapping.
        self.adapters: dict[str, Adapter] = {
            account: self._build(account, rooms.get(account, ())) for account in config.networks
        }

    def _build(self, account: str, rooms: tuple[str, ...]) -> Adapter:
        network = account.split(".", 1)[0]
        spec = self._registry.get(network)
        if spec is None:
            raise ConfigError(
                f"{self._config.source}: networks.{account}: no adapter "
                f"for network type {network!r} in this build"
            )
        setup = AdapterSetup(
            account=account,
            settings=self._config.networks[account],
            rooms=rooms,
            context=_Context(self._store, account, self._is_admin),
            log=logging.getLogger(f"bridgebot.adapter.{account}"),
        )
        self._rooms[account] = rooms
        return spec.factory(setup)

    def capabilities(self) -> dict[str, Capabilities]:
        """Each account's adapter's capabilities (the router asks these, not names)."""
        return {account: a.capabilities for account, a in self.adapters.items()}

    async def follow(
        self, supervisor: Supervisor, config: Config, rooms: Mapping[str, tuple[str, ...]]
    ) -> None:
        """Restart the adapters whose accounts gained rooms (a link, or a reload of
        bot.toml), so that they listen there too; their catch-up covers the restart."""
        self._config = config
        for account, wanted in rooms.items():
            if account not in self.adapters:
                if account in config.networks:
                    log.warning(
                        "networks.%s is new in %s: restart bridgebot to connect it",
                        account,
                        config.source,
                    )
                continue
            if set(wanted) <= set(self._rooms.get(account, ())):
                continue
            log.info("adapter %s: restarting to listen in %d rooms", account, len(wanted))
            await supervisor.replace(account, self._build(account, wanted))
