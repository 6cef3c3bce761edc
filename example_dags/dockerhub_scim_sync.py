"""Nightly SCIM sync: make Docker Hub's users match the identity provider's export; the reviewed plan is the
applied plan.

Shows: DockerHubScimSyncOperator reading an IdP export from object storage (here a local ``file://`` path;
``s3://`` and ``gs://`` work the same with their providers installed; Okta, Entra ID and Google Workspace exports
are recognised from their headers, see docs/idp-exports.md). The ``plan`` task is a dry run that writes the plan
(JSON) next to the export and returns its sha256; ``apply`` is pinned to that file and hash, so it applies exactly
the reviewed changes, or refuses if the file changed or the live users drifted. A review step (an approval task,
say) can sit between the two. Only users in the managed domain are touched, service accounts in
``protected_users`` are never deactivated, and if the export would deactivate more than 20 % of the active users
(a truncated export, an IdP outage) or create more than 50, the task fails before changing anything.
Deactivations are applied first and each change independently; the task fails at the end listing any user whose
change failed, and both tasks write a per-user report next to the plan.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

from airflow_provider_dockerhub.operators.scim import DockerHubScimSyncOperator

USERS_CSV = "{{ var.value.get('dockerhub_scim_csv', 'file:///tmp/dockerhub-demo/identity/docker-users.csv') }}"
PLANS = "{{ var.value.get('dockerhub_scim_plans', 'file:///tmp/dockerhub-demo/identity/plans') }}"
MANAGED_DOMAIN = "{{ var.value.get('dockerhub_scim_domain', 'acme.example') }}"

with DAG(
    dag_id="dockerhub_scim_sync",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
):
    # [START howto_dockerhub_scim_sync]
    plan = DockerHubScimSyncOperator(
        task_id="plan",
        source=USERS_CSV,
        dry_run=True,
        plan_path=PLANS + "/{{ run_id | replace(':', '') | replace('+', '') }}.json",
        managed_domains=[MANAGED_DOMAIN],
        protected_users=["ci-bot@acme.example"],
        max_deactivations=0.2,
        max_creations=50,
    )

    @task.branch
    def decide(result: dict[str, Any]) -> str:
        changes = sum(result[kind] for kind in ("create", "update", "reactivate", "deactivate"))
        return "apply" if changes else "nothing_to_do"

    apply = DockerHubScimSyncOperator(
        task_id="apply",
        plan_path="{{ ti.xcom_pull(task_ids='plan')['plan_path'] }}",
        plan_sha256="{{ ti.xcom_pull(task_ids='plan')['plan_sha256'] }}",
        managed_domains=[MANAGED_DOMAIN],
        protected_users=["ci-bot@acme.example"],
        max_deactivations=0.2,
        max_creations=50,
        allow_deactivation=True,  # and allow_destructive on the connection
    )
    # [END howto_dockerhub_scim_sync]

    decide(plan.output) >> [apply, EmptyOperator(task_id="nothing_to_do")]
