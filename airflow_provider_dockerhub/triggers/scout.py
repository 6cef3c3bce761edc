"""DockerHubScoutIndexedTrigger: polls Scout until it has indexed an image digest (same predicate as the sensor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dockerhub.triggers.base import DockerHubPollingTrigger

if TYPE_CHECKING:
    from airflow_provider_dockerhub.client.session import AsyncDockerHubSession


class DockerHubScoutIndexedTrigger(DockerHubPollingTrigger):
    """Fires once Scout's ``sbomState`` for the digest is ``INDEXED``; an indexing failure ends the wait with an
    error event (``index_state_done``, shared with the sensor's ``poke()``)."""

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
        from airflow_provider_dockerhub.client.scout.api import ImageCoordinates

        config = session.config
        coords = ImageCoordinates.for_connection(config, self.repository, self.digest)
        done, state = await session.scout.index_state_done(self.organization or config.namespace, coords)
        return done, {"digest": self.digest, "state": state}
