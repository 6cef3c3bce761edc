"""DockerHubScoutIndexedSensor: wait until Docker Scout has indexed an image digest (its SBOM is built)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import PokeReturnValue

from airflow_provider_dockerhub.sensors.base import DockerHubDeferrableSensor
from airflow_provider_dockerhub.triggers.scout import DockerHubScoutIndexedTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class DockerHubScoutIndexedSensor(DockerHubDeferrableSensor):
    """Wait until Scout reports ``INDEXED`` for ``repository@digest``; fails at once if indexing failed.

    :param organization: the Scout organization (default: the connection's ``namespace``).
    :param deferrable: poke once, then wait in the triggerer. ``poke()`` and the trigger share one predicate.
    """

    template_fields: Sequence[str] = ("repository", "digest", "organization", "dockerhub_conn_id")

    def __init__(self, *, repository: str, digest: str, organization: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repository = repository
        self.digest = digest
        self.organization = organization

    def describe(self) -> str:
        return f"Scout to index {self.repository}@{self.digest}"

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_provider_dockerhub.client.scout.api import ImageCoordinates

        hook = self.hook()
        config = hook.get_config()
        coords = ImageCoordinates.for_connection(config, self.repository, self.digest)
        done, state = hook.scout.index_state_done(self.organization or config.namespace, coords)
        self.log.info("Scout state of %s@%s: %s", self.repository, self.digest, state)
        return PokeReturnValue(is_done=done, xcom_value=self.digest if done else None)

    def trigger(self) -> DockerHubScoutIndexedTrigger:
        return DockerHubScoutIndexedTrigger(
            dockerhub_conn_id=self.dockerhub_conn_id,
            repository=self.repository,
            digest=self.digest,
            organization=self.organization,
            poll_interval=self.poke_interval,
        )
