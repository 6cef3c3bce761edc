"""Nightly SCIM sync: make Docker Hub's users match the identity provider's export, with a dry-run branch.

Shows: DockerHubScimSyncOperator reading a CSV from object storage (here a local ``file://`` path; ``s3://`` and
``gs://`` work the same with their providers installed), a dry run whose plan decides whether to apply, and the
deactivation guard: if the export would deactivate more than 20 % of active users (a truncated export, an IdP
outage), the task fails before changing anything.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

from airflow_provider_dockerhub.operators.scim import DockerHubScimSyncOperator

USERS_CSV = "{{ var.value.get('dockerhub_scim_csv', 'file:///tmp/dockerhub-demo/identity/docker-users.csv') }}"

with DAG(
    dag_id="dockerhub_scim_sync",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
):
    # [START howto_dockerhub_scim_sync]
    plan = DockerHubScimSyncOperator(task_id="plan", source=USERS_CSV, dry_run=True, max_deactivations=0.2)

    @task.branch
    def decide(counts: dict[str, Any]) -> str:
        changes = sum(counts[kind] for kind in ("create", "update", "reactivate", "deactivate"))
        return "apply" if changes else "nothing_to_do"

    apply = DockerHubScimSyncOperator(
        task_id="apply",
        source=USERS_CSV,
        max_deactivations=0.2,
        allow_deactivation=True,  # and allow_destructive on the connection
    )
    # [END howto_dockerhub_scim_sync]

    decide(plan.output) >> [apply, EmptyOperator(task_id="nothing_to_do")]
