"""Helpers for the sandbox fixtures (tests/integration/conftest.py: ``sandbox``, ``sandbox_conn``,
``sandbox_session``): images built as buildx builds them (an index with attestation manifests), pushed through the
provider's client, and a wait until the sandbox's Scout has indexed them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.registry.layout import push_layout
from airflow_provider_dockerhub.testing.oci import BuiltLayout, ImageSpec, SbomPackage, build_oci_layout
from airflow_provider_dockerhub.testing.sandbox import Sandbox
from tests.specs import spec_path

LOG4J = SbomPackage("log4j-core", "2.14.1", "Apache-2.0", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")


def start_sandbox(workdir: Path) -> Sandbox:
    return Sandbox(workdir, spec_path=str(spec_path("docker-hub-api.yaml")), seed=False)


def session_for(sandbox: Sandbox) -> DockerHubSession:
    connection = sandbox.connection
    return DockerHubSession(ClientConfig.from_fields(connection["login"], connection["password"], connection["extra"]))


def push_built(
    session: DockerHubSession,
    tmp: Path,
    repository: str,
    tag: str,
    *,
    platforms: Sequence[str] = ("linux/amd64",),
    packages: Sequence[SbomPackage] = (),
    user: str | None = "65532",
    attestations: bool = True,
    extra_packages: Mapping[str, Sequence[SbomPackage]] | None = None,
) -> BuiltLayout:
    """Build an image as buildx does (an index with one attestation manifest per platform: its SPDX SBOM and
    provenance) and push it; ``extra_packages`` adds packages to one platform's SBOM."""
    specs = [
        ImageSpec(
            files={"app/run": f"{repository}:{tag} {p}".encode()},
            platform=p,
            user=user,
            packages=[*packages, *(extra_packages or {}).get(p, ())],
        )
        for p in platforms
    ]
    layout = build_oci_layout(tmp / f"{repository.replace('/', '_')}-{tag}", specs, attestations=attestations)
    push_layout(session.registry, layout.path, repository, [tag])
    return layout


def wait_indexed(conn: str, repository: str, digest: str, polls: int = 20) -> None:
    """Poke the Scout sensor until the sandbox's Scout has indexed ``digest`` (every platform of an index)."""
    from airflow_provider_dockerhub.sensors.scout import DockerHubScoutIndexedSensor

    sensor = DockerHubScoutIndexedSensor(task_id="wait", repository=repository, digest=digest, dockerhub_conn_id=conn)
    for _ in range(polls):
        if sensor.poke({}).is_done:
            return
    raise AssertionError(f"{repository}@{digest} not indexed after {polls} polls")
