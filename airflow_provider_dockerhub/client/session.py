"""A session: one credential set, its token caches, and one pooled httpx client per host.

``DockerHubSession`` and ``AsyncDockerHubSession`` add the pooled clients and a driver to a ``SessionState``
(everything that is not I/O). Nothing here does I/O at construction: clients are built on first use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Generic, TypeVar

import httpx

from .auth.tokens import SecretSink
from .core.config import ClientConfig
from .core.flow import AsyncDriver, SyncDriver
from .core.transport import RetryPolicy
from .state import SessionState

if TYPE_CHECKING:
    from .hub.client import AsyncHubClient, HubClient
    from .hub.scim import AsyncScimClient, ScimClient
    from .registry.client import AsyncRegistryClient, RegistryClient
    from .scout.api import AsyncScoutClient, ScoutClient

C = TypeVar("C", httpx.Client, httpx.AsyncClient)

log = logging.getLogger("airflow_provider_dockerhub.client")


class _Pool(Generic[C]):
    """One pooled client per origin (scheme, host, port), with that origin's trust (``ClientConfig.
    ssl_context_for``: the registry's CA bundle for the registry's host only); created on first use, thread-safe.
    """

    def __init__(self, config: ClientConfig, factory: Callable[..., C]) -> None:
        self._config = config
        self._factory: Callable[..., C] = factory
        self._clients: dict[tuple[str, str, int | None], C] = {}
        self._lock = threading.Lock()
        self._warned = False

    def client_for(self, url: httpx.URL) -> C:
        origin = (url.scheme, url.host, url.port)
        client = self._clients.get(origin)
        if client is None:
            with self._lock:
                client = self._clients.get(origin)
                if client is None:
                    self._warn_if_unverified()
                    client = self._factory(
                        verify=self._config.ssl_context_for(url),
                        timeout=self._config.httpx_timeout,
                        # No default headers: the flows build their requests by hand, and client.send() merges
                        # none of a client's defaults into those (the drivers set the User-Agent instead).
                        # As many kept alive as allowed open: with fewer, a busy pool closes and reopens
                        # connections it is about to reuse (encode/httpcore#1035).
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
                        trust_env=False,
                    )
                    self._clients[origin] = client
        return client

    def _warn_if_unverified(self) -> None:
        """Once per session (called under the lock): credentials sent where certificates are not checked can be
        read and images altered by anyone on the path, and nothing else would tell the operator."""
        hosts = self._config.unverified_hosts
        if hosts and not self._warned:
            self._warned = True
            log.warning(
                "TLS certificate verification is off (connection extra 'verify' is false) for %s and every other "
                "host this session contacts (token realms, redirects); for a privately signed registry set "
                "'registry_ca_bundle' to its CA's PEM file instead",
                ", ".join(hosts),
            )

    def take_all(self) -> list[C]:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        return clients


class DockerHubSession:
    """Synchronous session: ``.hub``, ``.registry``, ``.scout``, ``.scim``. Use as a context manager or close()."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        on_secret: SecretSink | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = SessionState(config, on_secret=on_secret, policy=policy)
        self._pool: _Pool[httpx.Client] = _Pool(config, httpx.Client)
        self.driver = SyncDriver(self._pool, sleep, user_agent=config.user_agent)

    @property
    def config(self) -> ClientConfig:
        return self.state.config

    @cached_property
    def hub(self) -> HubClient:
        from .hub.client import HubClient, HubOperations

        return HubClient(HubOperations(self.state), self.driver.run)

    @cached_property
    def registry(self) -> RegistryClient:
        from .registry.api import RegistryOperations
        from .registry.client import RegistryClient

        return RegistryClient(RegistryOperations(self.state), self.driver.run)

    @cached_property
    def scout(self) -> ScoutClient:
        from .scout.api import ScoutClient, ScoutOperations

        return ScoutClient(ScoutOperations(self.state), self.driver.run)

    @cached_property
    def scim(self) -> ScimClient:
        from .hub.scim import ScimClient, ScimOperations

        return ScimClient(ScimOperations(self.state), self.driver.run)

    def close(self) -> None:
        for client in self._pool.take_all():
            client.close()

    def __enter__(self) -> DockerHubSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDockerHubSession:
    """The async twin for triggers and async tasks: the same flows, driven on the event loop."""

    def __init__(
        self, config: ClientConfig, *, on_secret: SecretSink | None = None, policy: RetryPolicy | None = None
    ) -> None:
        self.state = SessionState(config, on_secret=on_secret, policy=policy)
        self._pool: _Pool[httpx.AsyncClient] = _Pool(config, httpx.AsyncClient)
        self.driver = AsyncDriver(self._pool, user_agent=config.user_agent)

    @property
    def config(self) -> ClientConfig:
        return self.state.config

    @cached_property
    def hub(self) -> AsyncHubClient:
        from .hub.client import AsyncHubClient, HubOperations

        return AsyncHubClient(HubOperations(self.state), self.driver.run)

    @cached_property
    def registry(self) -> AsyncRegistryClient:
        from .registry.api import RegistryOperations
        from .registry.client import AsyncRegistryClient

        return AsyncRegistryClient(RegistryOperations(self.state), self.driver.run)

    @cached_property
    def scout(self) -> AsyncScoutClient:
        from .scout.api import AsyncScoutClient, ScoutOperations

        return AsyncScoutClient(ScoutOperations(self.state), self.driver.run)

    @cached_property
    def scim(self) -> AsyncScimClient:
        from .hub.scim import AsyncScimClient, ScimOperations

        return AsyncScimClient(ScimOperations(self.state), self.driver.run)

    async def aclose(self) -> None:
        for client in self._pool.take_all():
            await client.aclose()

    async def __aenter__(self) -> AsyncDockerHubSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
