"""Nightly audit-log export: the organization's Docker Hub audit events as JSON Lines in object storage, every
event exactly once.

Shows: DockerHubAuditLogExportOperator with its watermark next to the output (``<root>/_watermark.json``, in
object storage, so any worker or executor continues where the last run stopped). Each run exports from the newest
event already exported, minus a lookback of two days for events Docker Hub ingests late, to the end of its data
interval. So ``catchup=False`` loses nothing: the intervals it skips (a paused DAG, a scheduler outage) are
covered by the next run that does happen, and the overlap with earlier runs is recognised by content and not
exported twice. Each run writes its own partition (named after the window it covers) with a manifest (window,
count, first and last event time, SHA-256); no run overwrites another's.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_dockerhub.operators.hub import DockerHubAuditLogExportOperator

# The export's root: the same for every run (it holds the watermark). Object storage in production
# (``s3://audit/dockerhub``); the demo's directory here, from a Variable (stable across runs, so allowed).
EXPORT_ROOT = "{{ var.value.get('dockerhub_demo_dir', 'file:///tmp/dockerhub-demo') }}/audit"

with DAG(
    dag_id="dockerhub_audit_export",
    # A data-interval timetable: each run covers up to the end of the previous day. (Airflow 3's plain "@daily"
    # runs have a point-in-time interval.)
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # completeness comes from the watermark, not from running every interval
    max_active_runs=1,  # runs advance one watermark: one at a time
    tags=["dockerhub", "example"],
    doc_md=__doc__,
):
    # [START howto_dockerhub_audit_export]
    DockerHubAuditLogExportOperator(
        task_id="export",
        account="acme",
        destination=EXPORT_ROOT,
        lookback=timedelta(days=2),
        retries=3,  # a retry resumes after the pages the failed try wrote
    )
    # [END howto_dockerhub_audit_export]
