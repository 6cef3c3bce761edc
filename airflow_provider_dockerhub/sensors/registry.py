"""DockerHubDigestSensor: wait for a tag to exist, to change away from a digest, or to equal one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import PokeReturnValue

from airflow_provider_dockerhub.sensors.base import DockerHubDeferrableSensor
from airflow_provider_dockerhub.triggers.registry import DockerHubDigestTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_dockerhub.client.registry.digest_watch import DigestWatch


class DockerHubDigestSensor(DockerHubDeferrableSensor):
    """Wait until ``repository:tag`` meets ``condition``; returns the tag's digest as XCom.

    :param repository: repository name (``library/`` is implied for single-segment names on Docker Hub).
    :param tag: the tag to watch.
    :param condition: ``exists`` (default), ``changed`` (differs from ``digest``) or ``equals`` (``digest``).
    :param digest: the known digest (``changed``) or the expected one (``equals``).
    :param deferrable: poke once, then wait in the triggerer instead of holding a worker slot.

    Uses manifest HEAD requests only: on Docker Hub a GET counts as a pull against the rate limit, a HEAD does
    not. ``poke()`` and the trigger evaluate the same predicate (:func:`digest_state`). ``timeout``,
    ``soft_fail`` and ``mode="reschedule"`` behave as for every sensor.
    """

    template_fields: Sequence[str] = ("repository", "tag", "digest", "dockerhub_conn_id")

    def __init__(
        self, *, repository: str, tag: str, condition: str = "exists", digest: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.repository = repository
        self.tag = tag
        self.condition = condition
        self.digest = digest

    def describe(self) -> str:
        return f"{self.repository}:{self.tag} ({self.condition})"

    def _watch(self) -> DigestWatch:
        from airflow_provider_dockerhub.client.registry.digest_watch import DigestWatch

        return DigestWatch(self.repository, self.tag, self.condition, self.digest or None)  # type: ignore[arg-type]

    def poke(self, context: Context) -> PokeReturnValue:
        watch = self._watch()
        met, current = self.hook().registry.digest_state(watch)
        self.log.info("%s:%s is at %s (condition %s: %s)", self.repository, self.tag, current, self.condition, met)
        return PokeReturnValue(is_done=met, xcom_value=current)

    def trigger(self) -> DockerHubDigestTrigger:
        return DockerHubDigestTrigger(
            dockerhub_conn_id=self.dockerhub_conn_id,
            repository=self.repository,
            tag=self.tag,
            condition=self.condition,
            digest=self.digest or None,
            poll_interval=self.poke_interval,
        )
