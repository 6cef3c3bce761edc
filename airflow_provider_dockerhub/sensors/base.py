"""What the provider's deferrable sensors share: poke once on the worker, then defer to the trigger, which
evaluates the very same predicate (the http provider's sensor and trigger drifted apart: apache/airflow#69903)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, BaseSensorOperator, conf

from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.triggers.base import BaseTrigger


class DockerHubDeferrableSensor(BaseSensorOperator):  # type: ignore[misc]
    """Subclasses implement ``poke()`` (returning a ``PokeReturnValue``) and ``trigger()``; the result of both is
    the value the sensor returns as XCom."""

    ui_color = "#2496ed"

    def __init__(
        self,
        *,
        dockerhub_conn_id: str = DockerHubHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dockerhub_conn_id = dockerhub_conn_id
        self.deferrable = deferrable

    def trigger(self) -> BaseTrigger:
        raise NotImplementedError

    def describe(self) -> str:
        """What is awaited, for messages."""
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        self.defer(trigger=self.trigger(), method_name="execute_complete", timeout=timedelta(seconds=self.timeout))
        return None  # not reached: defer() raises

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if not event or event.get("status") != "success":
            detail = (event or {}).get("message", "no event")
            raise AirflowException(f"waiting for {self.describe()} failed: {detail}")
        self.log.info("%s: done (%s)", self.describe(), event.get("digest"))
        return event.get("digest")
