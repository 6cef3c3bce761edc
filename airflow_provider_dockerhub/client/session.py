"""A session: one credential set, its token caches, and one pooled httpx client per host.

``SessionState`` is everything that is not I/O (config, retry policy, auth flows, telemetry) and is shared by the
API clients; ``DockerHubSession`` and ``AsyncDockerHubSession`` add the pooled clients and a driver. Nothing here
does I/O at construction: clients are built on first use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Generic, TypeVar

import httpx

from .auth import (
    DOCKER_SCOUT_SUFFIX,
    HubAuth,
    HubTokenSource,
    RealmPolicy,
    RegistryAuth,
    RegistryTokenSource,
    SecretSink,
    StaticBearerAuth,
    is_loopback,
)
from .config import ClientConfig
from .errors import ConfigurationError, DestructiveOperationRefused
from .flow import AsyncDriver, SyncDriver
from .reference import is_docker_hub_registry
from .transport import RateLimitTelemetry, RetryPolicy, RetryStats

if TYPE_CHECKING:
    from .hub import AsyncHubClient, HubClient
    from .registry import AsyncRegistryClient, RegistryClient
    from .scim import ScimClient
    from .scout import AsyncScoutClient, ScoutClient

C = TypeVar("C", httpx.Client, httpx.AsyncClient)


def _require_https_or_loopback(name: str, url: str) -> None:
    parsed = httpx.URL(url)
    if parsed.scheme != "https" and not is_loopback(parsed.host):
        raise ConfigurationError(f"{name} {url!r} must use https (plain http is allowed only on loopback)")


class SessionState:
    """The I/O-free half of a session."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        on_secret: SecretSink | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.policy = policy or RetryPolicy(max_retries=config.max_retries, max_total_wait=config.max_retry_wait)
        self.telemetry = RateLimitTelemetry()
        self.stats = RetryStats()
        sink = on_secret or (lambda _secret: None)
        self.on_secret: SecretSink = sink
        self.realms = RealmPolicy(config)
        self.hub_tokens = HubTokenSource(config, self.policy, sink)
        self.registry_tokens = RegistryTokenSource(config, self.policy, self.realms, sink, self.telemetry)
        self.hub_auth = HubAuth(config, self.hub_tokens, self.policy, self.telemetry, self.stats)
        self.registry_auth = RegistryAuth(
            config, self.registry_tokens, self.policy, self.realms, telemetry=self.telemetry, stats=self.stats
        )
        self.scim_auth = StaticBearerAuth(config.scim_token, self.policy, self.telemetry)

    @property
    def registry_is_docker_hub(self) -> bool:
        return is_docker_hub_registry(httpx.URL(self.config.registry_url).host)

    def check_hub_url(self) -> None:
        _require_https_or_loopback("hub_url", self.config.hub_url)

    def check_scout_url(self) -> None:
        """The Hub JWT goes to Scout; only to Docker's own host, loopback (the emulator) or a listed host."""
        url = httpx.URL(self.config.scout_url)
        _require_https_or_loopback("scout_url", self.config.scout_url)
        host = url.host.lower()
        if not (host.endswith(DOCKER_SCOUT_SUFFIX) or is_loopback(host) or host in self.config.trusted_realms):
            raise ConfigurationError(
                f"refusing to send the Docker Hub token to scout_url host {host!r}: not a Docker host; "
                "list it in 'trusted_realms' if it really is Scout"
            )

    def require_destructive(self, operation: str) -> None:
        """Writes and deletes need the connection's ``allow_destructive``: checked before any request."""
        if not self.config.allow_destructive:
            raise DestructiveOperationRefused(
                f"{operation} refused: the connection does not set allow_destructive=true"
            )


class _Pool(Generic[C]):
    """One pooled client per origin (scheme, host, port); created on first use, thread-safe."""

    def __init__(self, config: ClientConfig, factory: Callable[..., C]) -> None:
        self._config = config
        self._factory: Callable[..., C] = factory
        self._clients: dict[tuple[str, str, int | None], C] = {}
        self._lock = threading.Lock()

    def client_for(self, url: httpx.URL) -> C:
        origin = (url.scheme, url.host, url.port)
        client = self._clients.get(origin)
        if client is None:
            with self._lock:
                client = self._clients.get(origin)
                if client is None:
                    client = self._factory(
                        verify=self._config.ssl_context,
                        timeout=self._config.httpx_timeout,
                        headers={"User-Agent": self._config.user_agent},
                        # As many kept alive as allowed open: with fewer, a busy pool closes and reopens
                        # connections it is about to reuse (encode/httpcore#1035).
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
                        trust_env=False,
                    )
                    self._clients[origin] = client
        return client

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
        self.driver = SyncDriver(self._pool, sleep)

    @property
    def config(self) -> ClientConfig:
        return self.state.config

    @cached_property
    def hub(self) -> HubClient:
        from .hub import HubClient

        return HubClient(self.state, self.driver.run)

    @cached_property
    def registry(self) -> RegistryClient:
        from .registry import RegistryClient

        return RegistryClient(self.state, self.driver.run)

    @cached_property
    def scout(self) -> ScoutClient:
        from .scout import ScoutClient

        return ScoutClient(self.state, self.driver.run)

    @cached_property
    def scim(self) -> ScimClient:
        from .scim import ScimClient

        return ScimClient(self.state, self.driver.run)

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
        self.driver = AsyncDriver(self._pool)

    @property
    def config(self) -> ClientConfig:
        return self.state.config

    @cached_property
    def hub(self) -> AsyncHubClient:
        from .hub import AsyncHubClient

        return AsyncHubClient(self.state, self.driver.run)

    @cached_property
    def registry(self) -> AsyncRegistryClient:
        from .registry import AsyncRegistryClient

        return AsyncRegistryClient(self.state, self.driver.run)

    @cached_property
    def scout(self) -> AsyncScoutClient:
        from .scout import AsyncScoutClient

        return AsyncScoutClient(self.state, self.driver.run)

    async def aclose(self) -> None:
        for client in self._pool.take_all():
            await client.aclose()

    async def __aenter__(self) -> AsyncDockerHubSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
