"""DockerHubScoutIndexedTrigger: polls Scout until it has indexed an image digest (same predicate as the sensor)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_dockerhub.triggers.registry import _acquire_session, _error_event, _release_session

log = logging.getLogger(__name__)


class DockerHubScoutIndexedTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires once Scout's ``sbomState`` for the digest is ``INDEXED``; an indexing failure ends the wait with an
    error event. Transient errors (network, 5xx, 429) are polled through."""

    def __init__(
        self,
        *,
        dockerhub_conn_id: str,
        repository: str,
        digest: str,
        organization: str | None = None,
        poll_interval: float = 30.0,
    ) -> None:
        super().__init__()
        self.dockerhub_conn_id = dockerhub_conn_id
        self.repository = repository
        self.digest = digest
        self.organization = organization
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dockerhub_conn_id": self.dockerhub_conn_id,
                "repository": self.repository,
                "digest": self.digest,
                "organization": self.organization,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_dockerhub.client.errors import (
            DockerHubError,
            RateLimitedError,
            ServerError,
            TransportError,
        )
        from airflow_provider_dockerhub.client.scout import ImageCoordinates, index_state_flow

        try:
            session = await _acquire_session(self.dockerhub_conn_id)
        except DockerHubError as exc:
            yield TriggerEvent(_error_event(exc))
            return
        try:
            try:
                coords = ImageCoordinates.for_registry(
                    session.state.config.registry_host, session.registry.ops.repository(self.repository), self.digest
                )
                scout = session.scout
            except DockerHubError as exc:
                yield TriggerEvent(_error_event(exc))
                return
            while True:
                try:
                    organization = self.organization or session.state.config.namespace
                    done, state = await scout.run(index_state_flow(scout.ops, organization, coords))
                except (TransportError, ServerError, RateLimitedError) as exc:
                    log.warning("Scout poll for %s failed, will poll again: %s", self.digest, exc)
                except DockerHubError as exc:
                    yield TriggerEvent(_error_event(exc))
                    return
                else:
                    if done:
                        yield TriggerEvent({"status": "success", "digest": self.digest, "state": state})
                        return
                    log.debug("Scout state of %s: %s; waiting", self.digest, state)
                await asyncio.sleep(self.poll_interval)
        finally:
            await _release_session(self.dockerhub_conn_id)
