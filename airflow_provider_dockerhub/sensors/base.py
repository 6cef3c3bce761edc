"""What the provider's deferrable sensors share: poke once on the worker, then defer to the trigger, which
evaluates the very same predicate (the http provider's sensor and trigger drifted apart: apache/airflow#69903)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, BaseSensorOperator, conf

from airflow_provider_dockerhub.failures import fail_fast, wrap_task_methods
from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.triggers.base import BaseTrigger


# conn id -> (the connection's settings, the hook built from them). A sensor in poke mode pokes many times in one
# process; a new hook per poke minted a new token per poke. Reused while the connection's settings are the same.
_POKE_HOOKS: dict[str, tuple[Any, DockerHubHook]] = {}


def poke_hook(conn_id: str) -> DockerHubHook:
    """The hook this process's pokes share for ``conn_id`` (rebuilt when the connection changes)."""
    fresh = DockerHubHook(dockerhub_conn_id=conn_id)
    config = fresh.get_config()
    cached = _POKE_HOOKS.get(conn_id)
    if cached is not None and cached[0] == config:
        return cached[1]
    if cached is not None:
        cached[1].close()
    _POKE_HOOKS[conn_id] = (config, fresh)
    return fresh


class DockerHubDeferrableSensor(BaseSensorOperator):  # type: ignore[misc]
    """Subclasses implement ``poke()`` (returning a ``PokeReturnValue``) and ``trigger()``; the result of both is
    the value the sensor returns as XCom."""

    ui_color = "#2496ed"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A rejected secret or bad input fails at once, retries unused (airflow_provider_dockerhub.failures).
        super().__init_subclass__(**kwargs)
        wrap_task_methods(cls, ("poke", "execute", "execute_complete"))

    def hook(self) -> DockerHubHook:
        """The process-wide hook for this sensor's connection: one token cache across pokes."""
        return poke_hook(self.dockerhub_conn_id)

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

    @fail_fast
    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        self.defer(trigger=self.trigger(), method_name="execute_complete", timeout=timedelta(seconds=self.timeout))
        return None  # not reached: defer() raises

    @fail_fast
    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if not event or event.get("status") != "success":
            detail = (event or {}).get("message", "no event")
            raise AirflowException(f"waiting for {self.describe()} failed: {detail}")
        self.log.info("%s: done (%s)", self.describe(), event.get("digest"))
        return event.get("digest")
