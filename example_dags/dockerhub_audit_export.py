"""Nightly audit-log export: the organization's Docker Hub audit events of each day, as JSON Lines, partitioned
by date.

Shows: DockerHubAuditLogExportOperator exporting the data interval ``[start, end)`` to object storage (here a
local ``file://`` directory); re-running a day replaces that day's file, and an event on midnight belongs to
exactly one day.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_dockerhub.operators.hub import DockerHubAuditLogExportOperator

EXPORT_ROOT = "{{ var.value.get('dockerhub_demo_dir', 'file:///tmp/dockerhub-demo') }}"

with DAG(
    dag_id="dockerhub_audit_export",
    # A data-interval timetable: each run covers the whole previous day. (Airflow 3's plain "@daily" runs have a
    # point-in-time interval, which exports nothing.)
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
):
    # [START howto_dockerhub_audit_export]
    DockerHubAuditLogExportOperator(
        task_id="export",
        account="acme",
        destination=EXPORT_ROOT + "/audit/{{ data_interval_start | ds }}/events.jsonl",
    )
    # [END howto_dockerhub_audit_export]
