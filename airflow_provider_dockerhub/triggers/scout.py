"""DockerHubScoutIndexedTrigger, and the indexing predicate it shares with the sensor's ``poke()``.

The predicate is the same two steps in ``poke()`` (sync hook) and here (async session): the registry's
``platforms()`` (the digest must be there, else it was never pushed and Scout will never index it; an index stands
for its platform images), then Scout's ``indexing_state()`` flow (every image ``INDEXED``). A failed indexing, an
organization Scout refuses (402/403) and a repository with Scout's analysis turned off end the wait at once with
a typed error instead of polling until the timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dockerhub.triggers.base import DockerHubPollingTrigger

if TYPE_CHECKING:
    from airflow_provider_dockerhub.client.scout.api import ImageCoordinates
    from airflow_provider_dockerhub.client.session import AsyncDockerHubSession

# The errors that end a Scout wait for good: a sensor fails on them without using its retries.
FINAL_ERRORS = ("ScoutIndexingFailed", "ScoutNotEntitled", "ScoutRepositoryNotEnabled", "ScoutUnknownDigest")


def platform_images(entries: list[dict[str, Any]]) -> list[str]:
    """The image digests Scout indexes for a reference: each platform image of an index (attestation manifests
    are not images), or the image itself (``registry.platforms()``' answer)."""
    return [str(e["digest"]) for e in entries if not e.get("attestation") and e.get("digest")]


def unknown_digest(coords: ImageCoordinates) -> Exception:
    from airflow_provider_dockerhub.client.scout.api import ScoutUnknownDigest

    return ScoutUnknownDigest(
        f"{coords.repository}@{coords.digest} is not in the registry (never pushed, or deleted): Scout will never "
        "index it; check the digest (the push task's XCom 'digest', or a platform digest of its 'manifests')"
    )


class DockerHubScoutIndexedTrigger(DockerHubPollingTrigger):
    """Fires once Scout has indexed the digest (every platform image of an index); a final error (see
    ``FINAL_ERRORS``) ends the wait with an error event. The predicate is shared with the sensor's ``poke()``."""

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
        from airflow_provider_dockerhub.client.core.errors import NotFoundError
        from airflow_provider_dockerhub.client.scout.api import ImageCoordinates

        config = session.config
        coords = ImageCoordinates.for_connection(config, self.repository, self.digest)
        try:
            entries = await session.registry.platforms(coords.repository, coords.digest)
        except NotFoundError as exc:
            raise unknown_digest(coords) from exc
        organization = self.organization or config.namespace
        return await session.scout.indexing_state(organization, coords, platform_images(entries))
