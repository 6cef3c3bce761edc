"""Registry housekeeping: delete old nightly builds, keeping the newest few. Dry run unless told otherwise.

Shows: reading tags and image configs with the hook, then DockerHubDeleteManifestOperator mapped over the
expired digests. Deletion is by digest (never by tag) and runs only when the connection has
``allow_destructive``, the operator has ``confirm_delete=True`` and the run's ``dry_run`` param is false.
Trigger with ``{"dry_run": false}`` to really delete.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_dockerhub.operators.registry import DockerHubDeleteManifestOperator

with DAG(
    dag_id="dockerhub_registry_housekeeping",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
    params={
        "repository": Param("acme/nightly", type="string"),
        "pattern": Param("nightly-*", type="string"),
        "older_than_days": Param(14, type="integer", minimum=0),
        "keep": Param(3, type="integer", minimum=0),
        "platform": Param("linux/amd64", type="string"),
        "dry_run": Param(True, type="boolean"),
    },
):

    @task
    def find_expired(params: dict[str, Any] | None = None) -> list[str]:
        """Digests of tags matching ``pattern``, older than ``older_than_days``, beyond the newest ``keep``."""
        from datetime import UTC, datetime, timedelta
        from fnmatch import fnmatchcase

        from airflow_provider_dockerhub.client.core.timeparse import parse_timestamp
        from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook

        assert params is not None
        repository = params["repository"]
        cutoff = datetime.now(UTC) - timedelta(days=params["older_than_days"])
        with DockerHubHook() as hook:
            registry = hook.registry
            dated = []
            for tag in registry.list_tags(repository):
                if not fnmatchcase(tag, params["pattern"]):
                    continue
                digest = registry.resolve_digest(repository, tag)  # HEAD: no pull counted
                created = registry.get_config(repository, digest, platform=params["platform"]).get("created")
                when = parse_timestamp(created)  # RFC 3339; BuildKit writes nanoseconds
                if when is None:  # an image without a creation date is never "old": keep it
                    print(f"{tag}: no usable 'created' in its config ({created!r}), kept")
                    continue
                dated.append((when, tag, digest))
        dated.sort(reverse=True)
        expired = sorted({digest for when, _tag, digest in dated[params["keep"] :] if when < cutoff})
        print(f"{len(dated)} matching tags, {len(expired)} expired digests")
        return expired

    # [START howto_dockerhub_delete_manifest]
    DockerHubDeleteManifestOperator.partial(
        task_id="delete",
        repository="{{ params.repository }}",
        dry_run="{{ params.dry_run }}",
        confirm_delete=True,
    ).expand(reference=find_expired())
    # [END howto_dockerhub_delete_manifest]
