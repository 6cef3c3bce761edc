"""DockerHubScoutIndexedTrigger: polls Scout until it has indexed an image digest (same predicate as the sensor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dockerhub.triggers.base import DockerHubPollingTrigger

if TYPE_CHECKING:
    from airflow_provider_dockerhub.client.session import AsyncDockerHubSession


class DockerHubScoutIndexedTrigger(DockerHubPollingTrigger):
    """Fires once Scout's ``sbomState`` for the digest is ``INDEXED``; an indexing failure ends the wait with an
    error event (:func:`index_state_flow`, shared with the sensor's ``poke()``)."""

    def __init__(
        self,
        *,
        dockerhub_conn_id: str,
        repository: str,
        digest: str,
        organization: str | None = None,
        poll_interval: float = 30.0,
    ) -> None:
        super().__init__(dockerhub_conn_id=dockerhub_conn_id, poll_interval=poll_interval)
        self.repository = repository
        self.digest = digest
        self.organization = organization

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

    async def check(self, session: AsyncDockerHubSession) -> tuple[bool, dict[str, Any]]:
        from airflow_provider_dockerhub.client.scout.api import ImageCoordinates, index_state_flow

        config = session.state.config
        coords = ImageCoordinates.for_registry(
            config.registry_host, session.registry.ops.repository(self.repository), self.digest
        )
        scout = session.scout
        done, state = await scout.run(index_state_flow(scout.ops, self.organization or config.namespace, coords))
        return done, {"digest": self.digest, "state": state}
