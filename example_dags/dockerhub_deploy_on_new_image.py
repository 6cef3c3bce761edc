"""Deploy on a new image: scheduled on the image Asset that the release gate's promotion emits, and refusing any
digest that was never gated.

Shows: scheduling on ``image_asset(repository)`` and reading the digest from the triggering Asset event's extra, so
a deploy always uses the exact digest that passed the gate (never a moving tag); and checking, before anything is
rolled out, that the event carries the policy gate's report hash (``gate_report_hash``, set by the promotion),
that the report with that hash exists in the gate's ``report_dir``, hashes to it, names this digest and passed.
A promotion done by hand (or by a DAG that skipped the gate) is refused, not deployed.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dockerhub.assets import image_asset

# The registry the release gate promotes to, as image references name it (docker.io for Docker Hub). Read from the
# environment at parse time (cheap, no metadata-DB call); the demo points it at its local registry.
APP_REGISTRY = os.environ.get("DOCKERHUB_EXAMPLE_REGISTRY", "docker.io")
APP_IMAGE = image_asset("acme/app", registry=APP_REGISTRY)
# Where the release gate writes its reports (its report_dir): object storage every worker can read.
GATE_REPORTS = "{{ var.value.get('dockerhub_demo_dir', 'file:///tmp/dockerhub-demo') }}/gate-reports"

with DAG(
    dag_id="dockerhub_deploy_on_new_image",
    schedule=[APP_IMAGE],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
):

    @task
    def verify_gated(gate_reports: str, triggering_asset_events: Any = None) -> dict[str, Any]:
        """Refuse the digest unless the gate's report for it exists, matches the event's hash, and passed."""
        import hashlib
        import json

        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_provider_dockerhub.operators.policy import REPORT_FILES, report_location

        event = triggering_asset_events[APP_IMAGE][-1]
        digest, repository = event.extra["digest"], event.extra["repository"]
        expected = event.extra.get("gate_report_hash")
        if not expected:
            raise AirflowFailException(
                f"refusing {repository}@{digest}: its promotion carries no gate_report_hash, so it was never gated"
            )
        path = report_location(gate_reports, repository, digest, expected) / REPORT_FILES["json"]
        if not path.exists():
            raise AirflowFailException(f"refusing {repository}@{digest}: no gate report {expected} at {path}")
        document = path.read_bytes()
        actual = "sha256:" + hashlib.sha256(document).hexdigest()
        report = json.loads(document)
        if actual != expected or report.get("digest") != digest or report.get("passed") is not True:
            raise AirflowFailException(
                f"refusing {repository}@{digest}: the gate report {path} hashes to {actual} (expected {expected}), "
                f"names {report.get('digest')} and passed={report.get('passed')}"
            )
        platforms = {p["platform"]: p["digest"] for p in report.get("platforms") or []}
        print(f"{repository}@{digest} passed its gate at {report.get('evaluated_at')} (report {expected})")
        return {"reference": f"{repository}@{digest}", "report_hash": expected, "platforms": platforms}

    @task
    def deploy(verified: dict[str, Any], triggering_asset_events: Any = None) -> dict[str, Any]:
        event = triggering_asset_events[APP_IMAGE][-1]
        # A real deployment would roll this digest out (kubectl set image, a Helm value, a GitOps commit...).
        print(
            f"deploying {verified['reference']} (tags {event.extra.get('tags')}, gate report {verified['report_hash']})"
        )
        return {"deployed": verified["reference"], "gate_report_hash": verified["report_hash"]}

    deploy(verify_gated(GATE_REPORTS))
