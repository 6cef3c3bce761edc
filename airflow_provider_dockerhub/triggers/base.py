"""The poll loop every provider trigger shares, and the session triggers of one connection share.

Triggers only poll (idempotent reads); they never push or delete. Transient errors (network, 5xx, 429) are
logged and polled through; any other error ends the wait with an error event, which the sensor turns into a task
failure. Every path of the loop sleeps, so an error can never spin it.

A deferred task's log is the triggerer's log of its trigger, so the loop says at info what it waits for when it
starts, what it last saw at most every ``STILL_WAITING_EVERY`` seconds (not every poll: a thousand triggers polling
every few seconds would flood the triggerer), and why it fires. A trigger holds no state beyond its serialized
kwargs: when its triggerer dies, Airflow hands those kwargs to another triggerer, which starts the wait afresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
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


STILL_WAITING_EVERY = 300.0


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

    def describe(self) -> str:
        """What the trigger waits for, for its log (subclasses say it in words; never a secret)."""
        _, kwargs = self.serialize()
        return ", ".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("dockerhub_conn_id", "poll_interval"))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_dockerhub.client.core.errors import DockerHubError, is_transient

        name, started = type(self).__name__, time.monotonic()
        log.info(
            "%s: waiting for %s (connection %s, polling every %g s)",
            name,
            self.describe(),
            self.dockerhub_conn_id,
            self.poll_interval,
        )
        try:
            session = await acquire_session(self.dockerhub_conn_id)
        except DockerHubError as exc:
            log.error("%s: cannot open the connection, giving up: %s", name, exc)
            yield TriggerEvent(error_event(exc))
            return
        polls, last_said = 0, float("-inf")
        try:
            while True:
                polls += 1
                try:
                    done, payload = await self.check(session)
                except DockerHubError as exc:
                    if not is_transient(exc):
                        log.error("%s: %s, giving up after %d polls", name, exc, polls)
                        yield TriggerEvent(error_event(exc))
                        return
                    log.warning("%s: poll failed, will poll again: %s", name, exc)
                else:
                    waited = time.monotonic() - started
                    if done:
                        log.info("%s: condition met after %d polls in %.0f s: %s", name, polls, waited, payload)
                        yield TriggerEvent({"status": "success", **payload})
                        return
                    if time.monotonic() - last_said >= STILL_WAITING_EVERY:
                        last_said = time.monotonic()
                        log.info(
                            "%s: still waiting after %d polls in %.0f s, last seen: %s", name, polls, waited, payload
                        )
                await asyncio.sleep(self.poll_interval)
        finally:
            await release_session(self.dockerhub_conn_id)
