"""What every Docker Hub operator shares: the hook, the destructive gate, and image Asset events."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from airflow_provider_dockerhub.assets import image_asset, is_image_asset
from airflow_provider_dockerhub.failures import wrap_task_methods
from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class DockerHubBaseOperator(BaseOperator):  # type: ignore[misc]
    template_fields: Sequence[str] = ("dockerhub_conn_id",)
    ui_color = "#2496ed"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every operator's task methods fail at once, retries unused, on errors a retry would repeat
        # (rejected credentials, refused writes, bad input): airflow_provider_dockerhub.failures.
        super().__init_subclass__(**kwargs)
        wrap_task_methods(cls, ("execute", "execute_complete"))

    def __init__(self, *, dockerhub_conn_id: str = DockerHubHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dockerhub_conn_id = dockerhub_conn_id

    @cached_property
    def hook(self) -> DockerHubHook:
        return DockerHubHook(dockerhub_conn_id=self.dockerhub_conn_id)

    def require_confirmation(self, confirmed: bool, what: str, argument: str) -> None:
        """Deletes need the operator's own explicit argument *and* the connection's ``allow_destructive``
        (checked by the client). Refused before any request, and not retried: the DAG must change."""
        if confirmed is not True:
            raise AirflowFailException(f"{what} refused: pass {argument}=True to confirm (and dry_run=False)")

    def emit_image_event(self, context: Context, extra: dict[str, Any]) -> None:
        """Attach the digest to this task's image Asset events (declared in ``outlets``)."""
        for outlet in self.outlets or []:
            if is_image_asset(outlet):
                context["outlet_events"][outlet].extra = extra


def default_image_outlets(repository: str, outlets: Any, emit_asset: bool, registry: str = "docker.io") -> list[Any]:
    """``outlets`` plus the image's Asset on ``registry``, when the repository is known at parse time (not
    templated)."""
    result = list(outlets or [])
    if emit_asset and "{{" not in repository and not any(is_image_asset(o) for o in result):
        result.append(image_asset(repository, registry))
    return result
