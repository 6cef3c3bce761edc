"""Release gate: build an image into object storage, push it, wait for its digest and for Scout, gate it, promote it.

Shows: DockerHubPushImageOperator pushing an OCI layout from object storage, DockerHubDigestSensor and
DockerHubScoutIndexedSensor (deferrable: they poke once, then wait in the triggerer), DockerHubSupplyChainGateOperator
(registry-only policies) and DockerHubScoutPolicyGateOperator (Scout data, Docker's default policies evaluated
locally), and DockerHubCopyImageOperator promoting the image to ``release``, which emits the image Asset event that
``dockerhub_deploy_on_new_image`` is scheduled on.

Nothing is handed between tasks on a worker's local disk: the build writes its OCI image layout under the Airflow
Variable ``dockerhub_release_storage``, an object-storage URL every worker can read (``s3://bucket/builds`` with the
Amazon provider, ``gs://bucket/builds`` with the Google provider, or ``file://`` on a volume all workers mount), and
the push streams it from there, so build and push may run on different workers (CeleryExecutor, KubernetesExecutor).

Pinned to digests end to end, each step returning the digest the next one takes: the build returns the image
index's digest; the digest sensor waits for the build tag to serve exactly that index (it runs beside the push: a
tag that another pusher moved fails nothing, the sensor keeps waiting); the push returns the index digest it wrote,
the Scout sensor waits for every platform of ``repository@digest`` and returns it, the gates gate
``repository@digest`` (every platform) and return it with the report's hash, and the promotion copies that
``repository@digest`` and carries the hash in its Asset event, which ``dockerhub_deploy_on_new_image`` checks. A
concurrent run moving the build tag cannot change what is gated or promoted. Tags are named after ``run_after``, so
runs triggered from the UI or the API (no logical date) work.

The build is a tiny image made in pure Python with the standard library (no Docker needed), with the SBOM and
provenance attestations ``docker buildx build --attest type=sbom --attest type=provenance`` adds; in a real pipeline
this task is ``docker buildx build --output type=oci,tar=false,dest=...`` and a copy of that directory to object
storage. The run's ``payload_mb`` param adds an incompressible layer of that size, to watch a large push (the
distributed demo uses it to kill a worker in the middle of one).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

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
BUILT = "ti.xcom_pull(task_ids='build_image')"
INDEX_DIGEST = "{{ " + BUILT + "['index_digest'] }}"
PUSHED_DIGEST = "{{ ti.xcom_pull(task_ids='push')['digest'] }}"
INDEXED_DIGEST = "{{ ti.xcom_pull(task_ids='wait_for_scout') }}"
GATED = "ti.xcom_pull(task_ids='scout_gate')"
# Where the gates write their reports (gate-report.json, summary.md, results.sarif, gated.json): object storage the
# deploy and the nightly re-gate read.
GATE_REPORTS = "{{ var.value.get('dockerhub_demo_dir', 'file:///tmp/dockerhub-demo') }}/gate-reports"

with DAG(
    dag_id="dockerhub_release_gate",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
    params={"payload_mb": Param(0, type="integer", minimum=0, maximum=4096)},
):

    @task
    def build_image(run_id: str | None = None, params: dict[str, Any] | None = None) -> dict[str, str]:
        """Write the OCI layout to object storage; return its URL and the digests the next steps pin to."""
        import re

        from airflow.sdk import ObjectStoragePath, Variable

        storage = Variable.get("dockerhub_release_storage", default=None)
        if not storage:
            raise ValueError(
                "set the Airflow Variable dockerhub_release_storage to an object-storage URL every worker can read, "
                "e.g. s3://my-bucket/builds or file:///mnt/shared/builds"
            )
        layout = ObjectStoragePath(storage) / re.sub(r"[^A-Za-z0-9._-]", "_", run_id or "run") / "oci"
        payload_mb = int((params or {}).get("payload_mb") or 0)
        index_digest, image_digest = write_layout(layout, run_id or "", payload_mb)
        print(f"built {index_digest} (image {image_digest}) at {layout}")
        return {"layout": str(layout), "index_digest": index_digest, "image_digest": image_digest}

    built = build_image()

    # [START howto_dockerhub_push_image]
    push = DockerHubPushImageOperator(
        task_id="push",
        layout_path="{{ " + BUILT + "['layout'] }}",  # s3://, gs://, file://... or a local directory
        repository=REPOSITORY,
        tags=[BUILD_TAG],
        emit_asset=False,  # the promotion below announces the image, not every build
        # A retry, on any worker, resumes each blob's upload where the failed try left it: the resume state is
        # kept in object storage that every worker reads.
        resume_store="{{ var.value.dockerhub_release_storage }}/resume",
        chunk_size=16 * 1024 * 1024,  # resume points: a retry re-sends at most one chunk
        retries=2,
        retry_delay=timedelta(seconds=5),
    )
    # [END howto_dockerhub_push_image]

    @task
    def remove_layout(layout: str) -> None:
        """The layout is not needed once pushed; a failed push keeps it for the next try."""
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(layout)
        if path.exists():
            path.parent.rmdir(recursive=True)

    # [START howto_dockerhub_digest_sensor]
    wait_for_digest = DockerHubDigestSensor(
        task_id="wait_for_digest",
        repository=REPOSITORY,
        tag=BUILD_TAG,
        condition="equals",
        digest=INDEX_DIGEST,
        deferrable=True,
        poke_interval=5,
        timeout=900,
    )
    # [END howto_dockerhub_digest_sensor]

    wait_for_scout = DockerHubScoutIndexedSensor(
        task_id="wait_for_scout",
        repository=REPOSITORY,
        digest=PUSHED_DIGEST,  # an index: every platform image it lists
        deferrable=True,
        poke_interval=5,
        timeout=900,
    )

    # [START howto_dockerhub_policy_gates]
    supply_chain_gate = DockerHubSupplyChainGateOperator(
        task_id="supply_chain_gate", image=f"{REPOSITORY}@{INDEXED_DIGEST}"
    )

    scout_gate = DockerHubScoutPolicyGateOperator(
        task_id="scout_gate",
        image=f"{REPOSITORY}@{INDEXED_DIGEST}",  # every platform of the index
        report_dir=GATE_REPORTS,
        policy_config={"fixable-vulnerabilities": {"severities": ["CRITICAL", "HIGH"]}},
        allow_list=[{"id": "CVE-2024-0727", "expires": "2027-06-30", "reason": "no PKCS12 files are parsed"}],
        on_failure="fail",
    )
    # [END howto_dockerhub_policy_gates]

    # [START howto_dockerhub_promote]
    promote = DockerHubCopyImageOperator(
        task_id="promote",
        source=f"{REPOSITORY}@{{{{ {GATED}['digest'] }}}}",  # the digest that was gated, not the build tag
        destination=f"{REPOSITORY}:release",
        gate_report_hash=f"{{{{ {GATED}['report_hash'] }}}}",  # the deploy checks the report exists and passed
        registry=REGISTRY,
        extra_tags=["{{ dag_run.run_after.strftime('%Y%m%d') }}"],
    )
    # [END howto_dockerhub_promote]

    built >> [push, wait_for_digest]
    push >> [remove_layout(built["layout"]), wait_for_scout]
    [wait_for_digest, wait_for_scout] >> supply_chain_gate
    [wait_for_digest, wait_for_scout] >> scout_gate
    [supply_chain_gate, scout_gate] >> promote


def write_layout(layout: Any, revision: str, payload_mb: int) -> tuple[str, str]:
    """An OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``) under ``layout``, a pathlib-like
    ObjectStoragePath: one linux/amd64 image (non-root user, one gzipped layer, optionally an incompressible
    payload layer) in an index with BuildKit's attestation manifest (SPDX SBOM, SLSA provenance). Returns the
    index's and the image's digests."""
    import gzip
    import hashlib
    import io
    import json
    import random
    import tarfile

    def digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def canonical(document: dict[str, Any]) -> bytes:
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()

    def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
        return {"mediaType": media_type, "digest": digest(data), "size": len(data), **extra}

    def tar(name: str, content: bytes) -> bytes:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 0, 0o755
            archive.addfile(info, io.BytesIO(content))
        return raw.getvalue()

    blobs: list[bytes] = []
    app = tar("app/run", f"#!/bin/sh\necho 'hello from {revision}'\n".encode())
    layers = [(gzip.compress(app, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip", app)]
    if payload_mb:  # uncompressed: random bytes do not compress, and gzip would only cost CPU
        noise = random.Random(revision)  # noqa: S311 (filler bytes, not a secret)
        # 1 MiB at a time: randbytes() of more than 256 MiB overflows a C int.
        payload = tar("app/payload.bin", b"".join(noise.randbytes(1 << 20) for _ in range(payload_mb)))
        layers.append((payload, "application/vnd.oci.image.layer.v1.tar", payload))
    created = "2026-01-01T00:00:00Z"
    config = canonical(
        {
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "User": "65532",
                "Entrypoint": ["/app/run"],
                "Labels": {"org.opencontainers.image.revision": revision},
            },
            "rootfs": {"type": "layers", "diff_ids": [digest(plain) for _, _, plain in layers]},
            "history": [{"created": created, "created_by": "example build"}],
        }
    )
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [descriptor(media_type, blob) for blob, media_type, _ in layers],
        }
    )
    blobs += [config, manifest, *(blob for blob, _, _ in layers)]

    def statement(predicate_type: str, predicate: dict[str, Any]) -> bytes:
        subject = [{"name": "image", "digest": {"sha256": digest(manifest).split(":")[1]}}]
        return canonical(
            {
                "_type": "https://in-toto.io/Statement/v0.1",
                "predicateType": predicate_type,
                "subject": subject,
                "predicate": predicate,
            }
        )

    packages = [
        ("musl", "1.2.4", "MIT", "pkg:apk/alpine/musl@1.2.4"),
        ("openssl", "3.0.11", "Apache-2.0", "pkg:apk/alpine/openssl@3.0.11"),
    ]
    sbom = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "app",
        "documentNamespace": f"https://example.invalid/sbom/{revision}",
        "creationInfo": {"created": created, "creators": ["Tool: example build"]},
        "packages": [
            {
                "SPDXID": f"SPDXRef-Package-{number}",
                "name": name,
                "versionInfo": version,
                "licenseConcluded": license_id,
                "licenseDeclared": license_id,
                "downloadLocation": "NOASSERTION",
                "externalRefs": [
                    {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}
                ],
            }
            for number, (name, version, license_id, purl) in enumerate(packages)
        ],
    }
    provenance = {
        "builder": {"id": "https://example.invalid/builder"},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "metadata": {"buildStartedOn": created, "reproducible": True},
        "materials": [],
        # What `--provenance=mode=max` adds (buildConfig is "only included with mode=max"): Docker's supply-chain
        # policy asks for max-mode provenance.
        "buildConfig": {
            "llbDefinition": [{"id": "step0", "op": {"Op": {"source": {"identifier": "local://context"}}}}]
        },
    }
    statements = [
        ("https://spdx.dev/Document", statement("https://spdx.dev/Document", sbom)),
        ("https://slsa.dev/provenance/v0.2", statement("https://slsa.dev/provenance/v0.2", provenance)),
    ]
    # BuildKit's attestation manifest: an "unknown" platform config, one in-toto layer per statement.
    attestation_config = canonical(
        {"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers"}}
    )
    attestation = canonical(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", attestation_config),
            "layers": [
                descriptor("application/vnd.in-toto+json", data, annotations={"in-toto.io/predicate-type": kind})
                for kind, data in statements
            ],
        }
    )
    blobs += [attestation_config, attestation, *(data for _, data in statements)]
    index = canonical(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                descriptor(
                    "application/vnd.oci.image.manifest.v1+json",
                    manifest,
                    platform={"os": "linux", "architecture": "amd64"},
                ),
                descriptor(
                    "application/vnd.oci.image.manifest.v1+json",
                    attestation,
                    platform={"os": "unknown", "architecture": "unknown"},
                    annotations={
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": digest(manifest),
                    },
                ),
            ],
        }
    )
    blobs.append(index)
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    for data in blobs:
        (layout / "blobs" / "sha256" / digest(data).split(":")[1]).write_bytes(data)
    top = descriptor(
        "application/vnd.oci.image.index.v1+json", index, annotations={"org.opencontainers.image.ref.name": "latest"}
    )
    (layout / "index.json").write_bytes(canonical({"schemaVersion": 2, "manifests": [top]}))
    # The marker last: a reader that finds it finds a complete layout.
    (layout / "oci-layout").write_bytes(b'{"imageLayoutVersion":"1.0.0"}')
    return digest(index), digest(manifest)
