"""DockerHubDigestTrigger: polls a tag's digest in the triggerer until the sensor's condition holds."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_dockerhub.triggers.base import DockerHubPollingTrigger

if TYPE_CHECKING:
    from airflow_provider_dockerhub.client.session import AsyncDockerHubSession

log = logging.getLogger(__name__)


class DockerHubDigestTrigger(DockerHubPollingTrigger):
    """Fires when ``repository:tag`` meets ``condition`` (``exists``, ``changed`` from ``digest``, ``equals``
    ``digest``), evaluated by :func:`digest_state` with HEAD requests, exactly as the sensor's ``poke()``."""

    def __init__(
        self,
        *,
        dockerhub_conn_id: str,
        repository: str,
        tag: str,
        condition: str = "exists",
        digest: str | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__(dockerhub_conn_id=dockerhub_conn_id, poll_interval=poll_interval)
        self.repository = repository
        self.tag = tag
        self.condition = condition
        self.digest = digest

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dockerhub_conn_id": self.dockerhub_conn_id,
                "repository": self.repository,
                "tag": self.tag,
                "condition": self.condition,
                "digest": self.digest,
                "poll_interval": self.poll_interval,
            },
        )

    def describe(self) -> str:
        wanted = {"exists": "to exist", "changed": f"to change from {self.digest}", "equals": f"to be {self.digest}"}
        return f"{self.repository}:{self.tag} {wanted.get(self.condition, self.condition)}"

    async def check(self, session: AsyncDockerHubSession) -> tuple[bool, dict[str, Any]]:
        from airflow_provider_dockerhub.client.registry.digest_watch import DigestWatch

        watch = DigestWatch(self.repository, self.tag, self.condition, self.digest)  # type: ignore[arg-type]
        met, current = await session.registry.digest_state(watch)
        log.debug("%s:%s is at %s", self.repository, self.tag, current)
        return met, {"digest": current}
