"""Nightly re-gate: the digests currently promoted are gated again, because new CVEs are published after a
release; what changed since the release gate (new findings, fixed ones) is reported as drift.

Shows: resolving what is promoted (the ``release`` tag) to its digest; reading the release gate's verdict for that
digest from object storage (``gated.json`` beside its reports); DockerHubScoutPolicyGateOperator mapped over the
promoted digests with ``on_failure="warn"`` (a drift report, not a failed night), every platform of the index,
the accepted-risk ledger as a baseline source; and a drift report per digest written to object storage. Runs at
03:00 UTC and also right after each promotion (the image Asset event).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_dockerhub.assets import image_asset
from airflow_provider_dockerhub.operators.policy import DockerHubScoutPolicyGateOperator

REPOSITORY = "acme/app"
PROMOTED_TAGS = ["release"]
APP_IMAGE = image_asset(REPOSITORY, registry=os.environ.get("DOCKERHUB_EXAMPLE_REGISTRY", "docker.io"))
ROOT = "{{ var.value.get('dockerhub_demo_dir', 'file:///tmp/dockerhub-demo') }}"
GATE_REPORTS = ROOT + "/gate-reports"  # the release gate's report_dir
REGATE_REPORTS = ROOT + "/regate-reports"  # separate, so the release gate's gated.json stays the release's verdict
LEDGER = ROOT + "/accepted-risks"  # the accepted-risk ledger (a folder of entries), DockerHubAcceptRiskOperator's

with DAG(
    dag_id="dockerhub_scout_regate",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 3 * * *", timezone="UTC"), assets=[APP_IMAGE]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
):

    @task
    def promoted(gate_reports: str) -> list[dict[str, Any]]:
        """Every promoted tag's digest, with the release gate's verdict for it (None: never gated)."""
        import json

        from airflow_provider_dockerhub.client import NotFoundError
        from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook
        from airflow_provider_dockerhub.operators.policy import gated_record_path

        found: dict[str, dict[str, Any]] = {}
        with DockerHubHook() as hook:
            for tag in PROMOTED_TAGS:
                try:
                    digest = hook.registry.resolve_digest(REPOSITORY, tag)
                except NotFoundError:
                    print(f"{REPOSITORY}:{tag} does not exist (nothing promoted yet)")
                    continue
                entry = found.setdefault(digest, {"image": f"{REPOSITORY}@{digest}", "digest": digest, "tags": []})
                entry["tags"].append(tag)
        for entry in found.values():
            record = gated_record_path(gate_reports, REPOSITORY, entry["digest"])
            entry["gated"] = json.loads(record.read_bytes()) if record.exists() else None
        print(f"promoted: {[(e['image'], e['tags'], bool(e['gated'])) for e in found.values()]}")
        return list(found.values())

    @task
    def images(targets: list[dict[str, Any]]) -> list[str]:
        return [t["image"] for t in targets]

    targets = promoted(GATE_REPORTS)

    # [START howto_dockerhub_regate]
    regate = DockerHubScoutPolicyGateOperator.partial(
        task_id="regate",
        report_dir=REGATE_REPORTS,
        accepted_risks=LEDGER,
        on_failure="warn",  # drift is reported below; the night's run does not fail on it
    ).expand(image=images(targets))
    # [END howto_dockerhub_regate]

    @task
    def drift(targets: list[dict[str, Any]], results: list[dict[str, Any]], regate_reports: str) -> dict[str, Any]:
        """New and fixed findings per promoted digest since its release gate; one drift file per digest."""
        import json
        from datetime import UTC, datetime

        from airflow.sdk import ObjectStoragePath

        from airflow_provider_dockerhub.client.policy.report import drift as compare

        by_digest = {r["digest"]: r for r in results}
        summary: dict[str, Any] = {"digests": len(targets), "drifted": 0, "never_gated": 0, "details": []}
        for target in targets:
            now = by_digest[target["digest"]]
            after = json.loads(ObjectStoragePath(now["reports"]["json"]).read_bytes())
            gated = target.get("gated")
            if gated is None:
                summary["never_gated"] += 1  # promoted without a gate: every finding is new
                before: dict[str, Any] = {"platforms": [], "status": None}
            else:
                before = json.loads(ObjectStoragePath(gated["report"]).read_bytes())
            change = compare(before, after)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            out = (
                ObjectStoragePath(regate_reports)
                / REPOSITORY
                / target["digest"].replace(":", "-")
                / f"drift-{stamp}.json"
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(change, indent=1))
            summary["drifted"] += int(change["drifted"])
            summary["details"].append(
                {
                    "digest": target["digest"],
                    "tags": target["tags"],
                    "status": now["status"],
                    "new": sorted({f["id"] for f in change["new"]}),
                    "fixed": sorted({f["id"] for f in change["fixed"]}),
                    "unchanged": change["unchanged"],
                    "drift_report": str(out),
                }
            )
            print(f"{target['image']}: {now['status']}; {len(change['new'])} new, {len(change['fixed'])} fixed")
        return summary

    drift(targets, regate.output, REGATE_REPORTS)
