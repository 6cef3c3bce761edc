"""Release gate: build an image, push it, wait for its digest and for Scout, gate it, then promote it.

Shows: DockerHubPushImageOperator (from an OCI layout), DockerHubDigestSensor and DockerHubScoutIndexedSensor
(deferrable: they poke once, then wait in the triggerer), DockerHubSupplyChainGateOperator (registry-only
policies) and DockerHubScoutPolicyGateOperator (Scout data, Docker's default policies evaluated locally), and
DockerHubCopyImageOperator promoting the image to ``release``, which emits the image Asset event that
``dockerhub_deploy_on_new_image`` is scheduled on.

The first task builds a tiny OCI image layout in pure Python, so the DAG runs anywhere (no Docker needed); in
a real pipeline that is ``docker buildx build --output type=oci,dest=...`` or skopeo.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dockerhub.operators.policy import (
    DockerHubScoutPolicyGateOperator,
    DockerHubSupplyChainGateOperator,
)
from airflow_provider_dockerhub.operators.registry import DockerHubCopyImageOperator, DockerHubPushImageOperator
from airflow_provider_dockerhub.sensors.registry import DockerHubDigestSensor
from airflow_provider_dockerhub.sensors.scout import DockerHubScoutIndexedSensor

REPOSITORY = "acme/app"
# Where the connection pushes, as image references name it: the promotion's image Asset names it, so a DAG scheduled
# on the Docker Hub image never fires for a push to another registry. The demo sets it to its local registry.
REGISTRY = os.environ.get("DOCKERHUB_EXAMPLE_REGISTRY", "docker.io")
# Manual runs have no logical date in Airflow 3: name builds after the run's run_after instead.
BUILD_TAG = "build-{{ dag_run.run_after.strftime('%Y%m%dT%H%M%S') }}"

with DAG(
    dag_id="dockerhub_release_gate",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
):

    @task
    def build_image(run_id: str | None = None) -> dict[str, str]:
        """Build a one-platform image with SBOM and provenance attestations; returns the layout's path."""
        import tempfile

        from airflow_provider_dockerhub.testing.oci import ImageSpec, SbomPackage, build_oci_layout

        spec = ImageSpec(
            files={"app/run": f"#!/bin/sh\necho 'hello from {run_id}'\n".encode()},
            user="65532",
            packages=[
                SbomPackage("busybox", "1.36.1", "GPL-2.0-only", "pkg:apk/alpine/busybox@1.36.1"),
                SbomPackage("openssl", "3.0.11", "Apache-2.0", "pkg:apk/alpine/openssl@3.0.11"),
            ],
            labels={"org.opencontainers.image.revision": run_id or ""},
        )
        layout = build_oci_layout(tempfile.mkdtemp(prefix="release-gate-"), [spec])
        return {"layout": str(layout.path), "image_digest": layout.manifests[spec.platform]}

    built = build_image()

    # [START howto_dockerhub_push_image]
    push = DockerHubPushImageOperator(
        task_id="push",
        layout_path="{{ ti.xcom_pull(task_ids='build_image')['layout'] }}",
        repository=REPOSITORY,
        tags=[BUILD_TAG],
        emit_asset=False,  # the promotion below announces the image, not every build
    )
    # [END howto_dockerhub_push_image]

    # [START howto_dockerhub_digest_sensor]
    wait_for_digest = DockerHubDigestSensor(
        task_id="wait_for_digest",
        repository=REPOSITORY,
        tag=BUILD_TAG,
        condition="equals",
        digest="{{ ti.xcom_pull(task_ids='push')['digest'] }}",
        deferrable=True,
        poke_interval=5,
        timeout=600,
    )
    # [END howto_dockerhub_digest_sensor]

    wait_for_scout = DockerHubScoutIndexedSensor(
        task_id="wait_for_scout",
        repository=REPOSITORY,
        digest="{{ ti.xcom_pull(task_ids='build_image')['image_digest'] }}",
        deferrable=True,
        poke_interval=5,
        timeout=900,
    )

    # [START howto_dockerhub_policy_gates]
    supply_chain_gate = DockerHubSupplyChainGateOperator(task_id="supply_chain_gate", image=f"{REPOSITORY}:{BUILD_TAG}")

    scout_gate = DockerHubScoutPolicyGateOperator(
        task_id="scout_gate",
        image=f"{REPOSITORY}:{BUILD_TAG}",
        policy_config={"fixable-vulnerabilities": {"severities": ["CRITICAL", "HIGH"]}},
        allow_list=[{"id": "CVE-2023-42366", "expires": "2027-06-30", "reason": "busybox applet not shipped"}],
        on_failure="fail",
    )
    # [END howto_dockerhub_policy_gates]

    # [START howto_dockerhub_promote]
    promote = DockerHubCopyImageOperator(
        task_id="promote",
        source=f"{REPOSITORY}:{BUILD_TAG}",
        destination=f"{REPOSITORY}:release",
        registry=REGISTRY,
        extra_tags=["{{ dag_run.run_after.strftime('%Y%m%d') }}"],
    )
    # [END howto_dockerhub_promote]

    built >> push >> wait_for_digest >> wait_for_scout >> [supply_chain_gate, scout_gate] >> promote
