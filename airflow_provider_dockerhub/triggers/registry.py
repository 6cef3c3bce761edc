"""DockerHubDigestTrigger: polls a tag's digest in the triggerer until the sensor's condition holds.

Triggers only poll (idempotent HEADs); they never push or delete. Triggers of one connection in one triggerer
share one async session, so a thousand waiting sensors share one token per scope and one connection pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from airflow_provider_dockerhub.client.session import AsyncDockerHubSession

log = logging.getLogger(__name__)

# (event loop, conn id) -> [session, users]; sessions are closed when their last trigger ends.
_SHARED: dict[tuple[int, str], list[Any]] = {}


async def _acquire_session(conn_id: str) -> AsyncDockerHubSession:
    from airflow_provider_dockerhub.hooks.dockerhub import DockerHubAsyncHook

    key = (id(asyncio.get_running_loop()), conn_id)
    entry = _SHARED.get(key)
    if entry is None:
        session = await DockerHubAsyncHook(dockerhub_conn_id=conn_id).get_async_conn()
        entry = _SHARED.setdefault(key, [session, 0])
        if entry[0] is not session:  # another trigger won the race while we resolved the connection
            await session.aclose()
    entry[1] += 1
    return entry[0]  # type: ignore[no-any-return]


async def _release_session(conn_id: str) -> None:
    key = (id(asyncio.get_running_loop()), conn_id)
    entry = _SHARED.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _SHARED[key]
        await entry[0].aclose()


class DockerHubDigestTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires when ``repository:tag`` meets ``condition`` (``exists``, ``changed`` from ``digest``, ``equals``
    ``digest``). Transient errors (network, 5xx, 429) are logged and polled through; others end the wait with
    an error event that the sensor turns into a task failure."""

    def __init__(
        self,
        *,
        dockerhub_conn_id: str,
        repository: str,
        tag: str,
        condition: str = "exists",
        digest: str | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.dockerhub_conn_id = dockerhub_conn_id
        self.repository = repository
        self.tag = tag
        self.condition = condition
        self.digest = digest
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dockerhub_conn_id": self.dockerhub_conn_id,
                "repository": self.repository,
                "tag": self.tag,
                "condition": self.condition,
                "digest": self.digest,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_dockerhub.client.digest_watch import DigestWatch, digest_state
        from airflow_provider_dockerhub.client.errors import (
            DockerHubError,
            RateLimitedError,
            ServerError,
            TransportError,
        )

        try:
            watch = DigestWatch(self.repository, self.tag, self.condition, self.digest)  # type: ignore[arg-type]
            session = await _acquire_session(self.dockerhub_conn_id)
        except DockerHubError as exc:
            yield TriggerEvent(_error_event(exc))
            return
        try:
            while True:
                try:
                    met, current = await session.registry.run(digest_state(session.registry.ops, watch))
                except (TransportError, ServerError, RateLimitedError) as exc:
                    log.warning("digest poll of %s:%s failed, will poll again: %s", self.repository, self.tag, exc)
                except DockerHubError as exc:
                    yield TriggerEvent(_error_event(exc))
                    return
                else:
                    if met:
                        yield TriggerEvent({"status": "success", "digest": current})
                        return
                    log.debug("%s:%s is at %s; waiting", self.repository, self.tag, current)
                await asyncio.sleep(self.poll_interval)
        finally:
            await _release_session(self.dockerhub_conn_id)


def _error_event(exc: Exception) -> dict[str, Any]:
    return {"status": "error", "error_type": type(exc).__name__, "message": str(exc)}
