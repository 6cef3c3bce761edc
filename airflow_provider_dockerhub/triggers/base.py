"""The poll loop every provider trigger shares, and the session triggers of one connection share.

Triggers only poll (idempotent reads); they never push or delete. Transient errors (network, 5xx, 429) are
logged and polled through; any other error ends the wait with an error event, which the sensor turns into a task
failure. Every path of the loop sleeps, so an error can never spin it.
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

# (event loop, conn id) -> [session, users]. A triggerer runs many triggers on one loop: sharing a session means
# one token per scope and one connection pool for all of them. The last trigger out closes it.
_SHARED: dict[tuple[int, str], list[Any]] = {}
# One connection lookup per (loop, conn id): without it, a thousand triggers starting together would each resolve
# the connection (a round trip to the API server) before the first one had stored its session.
_RESOLVING: dict[tuple[int, str], asyncio.Lock] = {}


async def acquire_session(conn_id: str) -> AsyncDockerHubSession:
    from airflow_provider_dockerhub.hooks.dockerhub import DockerHubAsyncHook

    key = (id(asyncio.get_running_loop()), conn_id)
    entry = _SHARED.get(key)
    if entry is None:
        async with _RESOLVING.setdefault(key, asyncio.Lock()):
            entry = _SHARED.get(key)
            if entry is None:
                session = await DockerHubAsyncHook(dockerhub_conn_id=conn_id).get_async_conn()
                entry = _SHARED[key] = [session, 0]
    entry[1] += 1
    return entry[0]  # type: ignore[no-any-return]


async def release_session(conn_id: str) -> None:
    key = (id(asyncio.get_running_loop()), conn_id)
    entry = _SHARED.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _SHARED[key]
        _RESOLVING.pop(key, None)
        await entry[0].aclose()


def error_event(exc: Exception) -> dict[str, Any]:
    return {"status": "error", "error_type": type(exc).__name__, "message": str(exc)}


class DockerHubPollingTrigger(BaseTrigger):  # type: ignore[misc]
    """Subclasses implement ``check(session) -> (done, success payload)``, an idempotent read."""

    def __init__(self, *, dockerhub_conn_id: str, poll_interval: float) -> None:
        super().__init__()
        self.dockerhub_conn_id = dockerhub_conn_id
        self.poll_interval = float(poll_interval)

    async def check(self, session: AsyncDockerHubSession) -> tuple[bool, dict[str, Any]]:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_dockerhub.client.core.errors import DockerHubError, is_transient

        try:
            session = await acquire_session(self.dockerhub_conn_id)
        except DockerHubError as exc:
            yield TriggerEvent(error_event(exc))
            return
        try:
            while True:
                try:
                    done, payload = await self.check(session)
                except DockerHubError as exc:
                    if not is_transient(exc):
                        yield TriggerEvent(error_event(exc))
                        return
                    log.warning("%s: poll failed, will poll again: %s", type(self).__name__, exc)
                else:
                    if done:
                        yield TriggerEvent({"status": "success", **payload})
                        return
                await asyncio.sleep(self.poll_interval)
        finally:
            await release_session(self.dockerhub_conn_id)
