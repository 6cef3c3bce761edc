"""DockerHubScoutIndexedSensor: wait until Docker Scout has indexed an image digest (its SBOM is built)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, PokeReturnValue

from airflow_provider_dockerhub.sensors.base import DockerHubDeferrableSensor
from airflow_provider_dockerhub.triggers.scout import (
    FINAL_ERRORS,
    DockerHubScoutIndexedTrigger,
    platform_images,
    unknown_digest,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class DockerHubScoutIndexedSensor(DockerHubDeferrableSensor):
    """Wait until Scout reports ``INDEXED`` for ``repository@digest``; for an index digest, for every platform
    image it lists. Fails at once, without retries, when the wait cannot end: indexing failed
    (``ScoutIndexingFailed``), the organization is not entitled or not permitted (``ScoutNotEntitled``, with a
    hint), the repository is not enabled for Scout (``ScoutRepositoryNotEnabled``), or the digest is not in the
    registry (``ScoutUnknownDigest``).

    :param organization: the Scout organization (default: the connection's ``namespace``).
    :param deferrable: poke once, then wait in the triggerer. ``poke()`` and the trigger share one predicate
        (the registry's ``platforms()``, then Scout's ``indexing_state()``).

    Returns (XCom) the digest.
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
        from airflow_provider_dockerhub.client.core.errors import DockerHubError, NotFoundError
        from airflow_provider_dockerhub.client.scout.api import ImageCoordinates
        from airflow_provider_dockerhub.failures import as_task_failure

        hook = self.hook()
        config = hook.get_config()
        coords = ImageCoordinates.for_connection(config, self.repository, self.digest)
        try:
            try:
                entries = hook.registry.platforms(coords.repository, coords.digest)
            except NotFoundError as exc:
                raise unknown_digest(coords) from exc
            done, payload = hook.scout.indexing_state(
                self.organization or config.namespace, coords, platform_images(entries)
            )
        except DockerHubError as exc:
            if type(exc).__name__ in FINAL_ERRORS:
                raise as_task_failure(exc) from exc
            raise
        self.log.info(
            "Scout state of %s@%s: %s %s", self.repository, self.digest, payload["state"], payload["platforms"]
        )
        return PokeReturnValue(is_done=done, xcom_value=self.digest if done else None)

    def trigger(self) -> DockerHubScoutIndexedTrigger:
        return DockerHubScoutIndexedTrigger(
            dockerhub_conn_id=self.dockerhub_conn_id,
            repository=self.repository,
            digest=self.digest,
            organization=self.organization,
            poll_interval=self.poke_interval,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if event and event.get("status") == "error" and event.get("error_type") in FINAL_ERRORS:
            raise AirflowFailException(f"waiting for {self.describe()} failed: {event.get('message')}")
        return super().execute_complete(context, event)
