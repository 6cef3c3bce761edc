"""DockerHubScoutIndexedTrigger, and the indexing predicate it shares with the sensor's ``poke()``.

The predicate is one flow over the registry and Scout (run by the sync hook in ``poke()`` and by the async
session here): the digest must be in the registry (else it was never pushed and Scout will never index it); an
index stands for its platform images, and every one of them must be ``INDEXED``; a failed indexing, an
organization Scout refuses (402/403) and a repository with Scout's analysis turned off end the wait at once with
a typed error instead of polling until the timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dockerhub.triggers.base import DockerHubPollingTrigger

if TYPE_CHECKING:
    from airflow_provider_dockerhub.client.core.flow import Flow
    from airflow_provider_dockerhub.client.registry.api import RegistryOperations
    from airflow_provider_dockerhub.client.scout.api import ImageCoordinates, ScoutOperations
    from airflow_provider_dockerhub.client.session import AsyncDockerHubSession

# The errors that end a Scout wait for good: a sensor fails on them without using its retries.
FINAL_ERRORS = ("ScoutIndexingFailed", "ScoutNotEntitled", "ScoutRepositoryNotEnabled", "ScoutUnknownDigest")


def indexing_state(
    registry: RegistryOperations, scout: ScoutOperations, organization: str | None, coords: ImageCoordinates
) -> Flow[tuple[bool, dict[str, Any]]]:
    """``(done, payload)``: done when Scout has indexed the digest, or every platform image of an index.

    The payload (the sensor's and the trigger's result) is ``{"digest", "state", "platforms": {digest: state}}``
    with ``state`` the least advanced of the platforms' states.
    """
    from airflow_provider_dockerhub.client.core.errors import NotFoundError
    from airflow_provider_dockerhub.client.registry.media import child_descriptors, is_attestation, is_index
    from airflow_provider_dockerhub.client.scout.api import (
        INDEX_FAILED,
        INDEXED,
        ScoutIndexingFailed,
        ScoutRepositoryNotEnabled,
        ScoutUnknownDigest,
    )

    where = f"{coords.repository}@{coords.digest}"
    try:
        top = yield from registry.get_manifest(coords.repository, coords.digest)
    except NotFoundError as exc:
        raise ScoutUnknownDigest(
            f"{where} is not in the registry (never pushed, or deleted): Scout will never index it; check the "
            "digest (the push task's XCom 'digest', or a platform digest from its 'manifests')"
        ) from exc
    images = [str(d.get("digest")) for d in child_descriptors(top) if not is_attestation(d)] if is_index(top) else []
    images = images or [coords.digest]
    states = yield from scout.index_states(organization, coords.host, coords.repository, images)
    failed = {d: s for d, s in states.items() if s in INDEX_FAILED}
    if failed:
        raise ScoutIndexingFailed(f"Scout could not index {where}: " + ", ".join(f"{d} {s}" for d, s in failed.items()))
    if any(s == "NONE" for s in states.values()):
        enabled = yield from scout.repository_enabled(organization, coords.host, coords.repository)
        if enabled is False:
            raise ScoutRepositoryNotEnabled(
                f"Scout's image analysis is off for {coords.host}/{coords.repository}: nothing pushed there is "
                "indexed; enable the repository in Docker Scout (scout.docker.com, Settings, Repository settings) "
                f"for organization {organization or '(none)'}"
            )
    order = ("NONE", "INDEXING", INDEXED)
    least = min(states.values(), key=lambda s: order.index(s) if s in order else 0)
    done = all(s == INDEXED for s in states.values())
    return done, {"digest": coords.digest, "state": least, "platforms": states}


class DockerHubScoutIndexedTrigger(DockerHubPollingTrigger):
    """Fires once Scout has indexed the digest (every platform image of an index); a final error (see
    ``FINAL_ERRORS``) ends the wait with an error event. The predicate is :func:`indexing_state`, shared with
    the sensor's ``poke()``."""

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
        flow = indexing_state(session.registry.ops, session.scout.ops, self.organization or config.namespace, coords)
        return await session.scout.run(flow)
