"""DockerHubScimSyncOperator: make Docker Hub's SCIM users match a desired list, safely and idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.operators.base import DockerHubBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_dockerhub.client.hub.scim_sync import DesiredUser


def read_text(source: Any) -> tuple[str, str]:
    """Text and file suffix of an ObjectStoragePath, or of a path/URL string (``s3://…``, ``file://…``, local)."""
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    path = (
        source
        if isinstance(source, ObjectStoragePath)
        else ObjectStoragePath(str(source) if "://" in str(source) else f"file://{source}")
    )
    return path.read_text(), path.suffix.lower().lstrip(".")


class DockerHubScimSyncOperator(DockerHubBaseOperator):
    """Sync SCIM users (by ``userName``) to a desired list: create, update names, reactivate, deactivate.

    :param source: an ObjectStoragePath or path/URL of a CSV (header with ``userName``; optional ``givenName``,
        ``familyName``, ``active``) or JSON (a list of such objects) file, local or in object storage.
    :param users: the desired users as a list of dicts instead (e.g. from XCom).
    :param source_format: ``csv`` or ``json``; by default from the file suffix.
    :param dry_run: compute and log the plan, change nothing.
    :param max_deactivations: guard: a count (int) or a fraction of active users (float < 1). A plan with more
        deactivations fails the task **before any change** (a truncated export must not deprovision everyone).
    :param allow_deactivation: deactivating users is destructive: it needs this **and** the connection's
        ``allow_destructive``.

    Cost: one listing pass plus one request per change. Returns the plan's counts.
    """

    template_fields: Sequence[str] = ("source", "users", "dockerhub_conn_id")

    def __init__(
        self,
        *,
        source: Any = None,
        users: list[dict[str, Any]] | None = None,
        source_format: str | None = None,
        dry_run: bool = False,
        max_deactivations: int | float = 0.1,
        allow_deactivation: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (source is None) == (users is None):
            raise ValueError("give exactly one of source or users")
        self.source = source
        self.users = users
        self.source_format = source_format
        self.dry_run = dry_run
        self.max_deactivations = max_deactivations
        self.allow_deactivation = allow_deactivation

    def desired(self) -> list[DesiredUser]:
        from airflow_provider_dockerhub.client.hub.scim_sync import desired_users, parse_users_text

        if self.users is not None:
            return desired_users(self.users)
        text, suffix = read_text(self.source)
        return parse_users_text(text, (self.source_format or suffix or "csv").lower())

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.hub.scim_sync import deactivation_limit, plan_sync

        deactivation_limit(self.max_deactivations, 0)  # like the users, validated before any request
        desired = self.desired()
        try:
            scim = self.hook.scim
            plan = plan_sync(desired, scim.list_users())
            self.log.info("%s", plan.describe())
            counts: dict[str, Any] = plan.counts()
            deactivations = counts["deactivate"]
            limit = deactivation_limit(self.max_deactivations, plan.current_active)
            if deactivations > limit:
                raise AirflowFailException(
                    f"the plan deactivates {deactivations} of {plan.current_active} active users, more than "
                    f"max_deactivations allows ({limit}); nothing was changed"
                )
            if self.dry_run:
                return {**counts, "dry_run": True, "applied": False}
            if deactivations and not self.allow_deactivation:
                raise AirflowFailException(
                    f"the plan deactivates {deactivations} users: pass allow_deactivation=True to allow it "
                    "(dry_run=True to review); nothing was changed"
                )
            # A plan with changes needs allow_destructive, checked before its first request.
            scim.apply_plan(plan)
        finally:
            self.hook.close()
        return {**counts, "dry_run": False, "applied": True}
