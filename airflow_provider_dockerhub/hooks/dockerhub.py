"""DockerHubHook: an Airflow connection of type ``dockerhub`` turned into a client session.

The hook is thin on purpose: it resolves the connection, builds a :class:`ClientConfig`, and hands it to the
Airflow-free session, which owns auth, retries and pooling. No I/O happens in ``__init__``; the connection is read
and clients are built on first use.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

if TYPE_CHECKING:
    from airflow_provider_dockerhub.client.core.config import ClientConfig
    from airflow_provider_dockerhub.client.hub.client import HubClient
    from airflow_provider_dockerhub.client.hub.scim import ScimClient
    from airflow_provider_dockerhub.client.registry.client import RegistryClient
    from airflow_provider_dockerhub.client.scout.api import ScoutClient
    from airflow_provider_dockerhub.client.session import AsyncDockerHubSession, DockerHubSession


def mask_derived_secret(secret: str) -> None:
    """Every token we derive (Hub JWT, registry bearer) is masked in task logs, XCom and rendered fields."""
    from airflow.providers.common.compat.sdk import mask_secret

    mask_secret(secret)


# Tasks that tell the supervisor of a mask from the event loop; kept so the loop does not drop them half done.
_PENDING_MASKS: set[asyncio.Task[None]] = set()


def mask_derived_secret_in_loop(secret: str) -> None:
    """The async session's masker. The sync ``mask_secret`` asks the supervisor synchronously, which inside an
    event loop with another request in flight raises ``DeadlockImminentError`` (a ``BaseException``, so its own
    ``suppress(Exception)`` lets it through). ``amask_secret`` masks locally and tells the supervisor with an async
    send; scheduled here on the running loop, it runs while the request the token authorizes is awaited, so before
    anything about that request can be logged."""
    try:
        from airflow.sdk.log import amask_secret

        loop = asyncio.get_running_loop()
    except (ImportError, RuntimeError):  # no async masking in this Airflow, or no loop: the sync path is safe
        mask_derived_secret(secret)
        return
    task = loop.create_task(amask_secret(secret))
    _PENDING_MASKS.add(task)
    task.add_done_callback(_PENDING_MASKS.discard)


def config_from_connection(login: str | None, password: str | None, extra: dict[str, Any]) -> ClientConfig:
    # Imported here, not at module level: DAG files import this module, and parsing must stay cheap.
    from airflow_provider_dockerhub.client.core.config import ClientConfig, build_user_agent

    return ClientConfig.from_fields(login, password, extra, user_agent=build_user_agent(_airflow_product()))


def _airflow_product() -> str:
    from airflow import __version__ as airflow_version

    return f"airflow/{airflow_version}"


class DockerHubHook(BaseHook):  # type: ignore[misc]  # BaseHook is Any to mypy (airflow not followed)
    """Docker Hub, its registry (or any OCI registry) and Docker Scout, behind one connection.

    :param dockerhub_conn_id: the ``dockerhub`` connection to use.

    Use ``hook.hub``, ``hook.registry``, ``hook.scout`` and ``hook.scim``; they share one credential set, one
    token cache and one pooled HTTP client per host. Call :meth:`close` (or use the hook as a context manager)
    to release connections early; otherwise they close with the process.
    """

    conn_name_attr = "dockerhub_conn_id"
    default_conn_name = "dockerhub_default"
    conn_type = "dockerhub"
    hook_name = "Docker Hub"

    def __init__(self, dockerhub_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dockerhub_conn_id = dockerhub_conn_id
        self._config: ClientConfig | None = None
        self._session: DockerHubSession | None = None
        self._lock = threading.Lock()

    # -- configuration ----------------------------------------------------------------------------------------

    def get_config(self) -> ClientConfig:
        """Read and validate the connection (once per hook)."""
        if self._config is None:
            conn = self.get_connection(self.dockerhub_conn_id)
            self._config = config_from_connection(conn.login, conn.password, dict(conn.extra_dejson))
        return self._config

    # -- sync session -----------------------------------------------------------------------------------------

    def get_conn(self) -> DockerHubSession:
        """The session (built on first call, then reused by every caller of this hook)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from airflow_provider_dockerhub.client.session import DockerHubSession

                    self._session = DockerHubSession(self.get_config(), on_secret=mask_derived_secret)
        return self._session

    @property
    def hub(self) -> HubClient:
        return self.get_conn().hub

    @property
    def registry(self) -> RegistryClient:
        return self.get_conn().registry

    @property
    def scout(self) -> ScoutClient:
        return self.get_conn().scout

    @property
    def scim(self) -> ScimClient:
        return self.get_conn().scim

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> DockerHubHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- UI ---------------------------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """One cheap, read-only call; never raises.

        With credentials: mint the Hub JWT when the connection targets Docker Hub's API, else ping the registry
        with the credentials. Anonymous: ping the registry.
        """
        try:
            config = self.get_config()
            session = self.get_conn()
            if not config.anonymous and _targets_hub(config):
                session.hub.authenticate()
                return True, f"Authenticated to {config.hub_url} as {config.login}"
            authenticated = session.registry.ping()
            who = f"as {config.login}" if authenticated and not config.anonymous else "anonymously"
            return True, f"Reached {config.registry_url} {who}"
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            self.close()


def _targets_hub(config: ClientConfig) -> bool:
    """A connection for a private registry (registry_url set, hub_url default) is tested on the registry."""
    from airflow_provider_dockerhub.client.core.config import DEFAULT_HUB_URL, DEFAULT_REGISTRY_URL

    return config.hub_url != DEFAULT_HUB_URL or config.registry_url == DEFAULT_REGISTRY_URL


class DockerHubAsyncHook(DockerHubHook):
    """The async twin used by triggers: resolves the connection with the async API, never the sync one."""

    async def get_async_config(self) -> ClientConfig:
        if self._config is None:
            from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

            conn = await get_async_connection(self.dockerhub_conn_id, hook=self)
            extra = await get_async_extra_dejson(conn)
            self._config = config_from_connection(conn.login, conn.password, dict(extra))
        return self._config

    async def get_async_conn(self) -> AsyncDockerHubSession:
        """A new async session; the caller owns it (``async with`` or ``await session.aclose()``)."""
        from airflow_provider_dockerhub.client.session import AsyncDockerHubSession

        return AsyncDockerHubSession(await self.get_async_config(), on_secret=mask_derived_secret_in_loop)
