"""The policy gates end to end: images built with attestations (or without) pushed to a real registry, Scout
data from the Scout emulator (answers executed against Scout's schema), decisions fail / skip / warn, baselines."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException

from airflow_provider_dockerhub.client import DockerHubSession
from airflow_provider_dockerhub.client.registry.layout import push_layout
from airflow_provider_dockerhub.operators.policy import (
    IMAGE_URL_KEY,
    DockerHubScoutPolicyGateOperator,
    DockerHubSupplyChainGateOperator,
)
from airflow_provider_dockerhub.testing.oci import ImageSpec, SbomPackage, build_oci_layout
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.scout_emulator import EmulatedImage, ScoutEmulator, package, vulnerability
from tests.specs import spec_path

pytestmark = pytest.mark.registry


class FakeTI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.fixture
def token_registry_conn(airflow_conn: Callable[..., str], token_registry: LocalRegistry) -> str:
    return airflow_conn(
        "dh_gate",
        login="alice",
        password="alice-secret",
        registry_url=token_registry.url,
        namespace="acme",
        allow_destructive=True,
    )


def build_and_push(
    token_session: DockerHubSession,
    tmp: Path,
    repository: str,
    tag: str,
    *,
    user: str | None = "65532",
    attestations: bool = True,
    packages: tuple[SbomPackage, ...] = (),
) -> str:
    spec = ImageSpec(files={"app/run": f"#!/bin/sh\necho {repository}:{tag}\n".encode()}, user=user, packages=packages)
    layout = build_oci_layout(tmp / f"{repository.replace('/', '_')}-{tag}", [spec], attestations=attestations)
    push_layout(token_session.registry, layout.path, repository, [tag])
    return layout.manifests["linux/amd64"]


def run(gate: Any) -> tuple[dict[str, Any], FakeTI]:
    ti = FakeTI()
    return gate.execute({"ti": ti}), ti


def full_report(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON report a gate wrote (its XCom holds only a summary and the path)."""
    from airflow.sdk import ObjectStoragePath

    return dict(json.loads(ObjectStoragePath(result["reports"]["json"]).read_bytes()))


def push_max_mode_image(token_session: DockerHubSession, repository: str, tag: str) -> str:
    """An index as ``docker buildx build --sbom=true --provenance=mode=max`` pushes it: one image (non-root), and
    an attestation manifest with an SPDX SBOM (one package) and a max-mode SLSA v0.2 provenance (buildConfig with
    its LLB steps, which only mode=max records)."""
    from airflow_provider_dockerhub.testing.oci import (
        SLSA_PREDICATE,
        SPDX_PREDICATE,
        Image,
        attestation_manifest,
        attested_index,
        digest,
        in_toto_statement,
        push_index,
        spdx_sbom,
    )

    image = Image(user="65532", files={"app/run": f"{repository}:{tag}".encode()})
    sbom = spdx_sbom([{"name": "zlib", "version": "1.3", "license": "Zlib", "purl": "pkg:apk/alpine/zlib@1.3"}])
    provenance = {
        "builder": {"id": ""},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "materials": [],
        "buildConfig": {"llbDefinition": [{"id": "step0", "op": {"source": {"identifier": "local://context"}}}]},
        "metadata": {"buildInvocationID": "test", "completeness": {"parameters": True}, "reproducible": False},
    }
    attestation = attestation_manifest(
        [
            (SPDX_PREDICATE, in_toto_statement(image.manifest, SPDX_PREDICATE, sbom)),
            (SLSA_PREDICATE, in_toto_statement(image.manifest, SLSA_PREDICATE, provenance)),
        ]
    )
    push_index(token_session.registry, repository, attested_index([(image, attestation)]), tag)
    return str(digest(image.manifest))


def test_supply_chain_gate_passes_an_attested_non_root_image(
    token_registry_conn: str, token_session: DockerHubSession
) -> None:
    digest = push_max_mode_image(token_session, "gate/good", "1.0")
    result, ti = run(
        DockerHubSupplyChainGateOperator(task_id="g", image="gate/good:1.0", dockerhub_conn_id=token_registry_conn)
    )
    assert result["passed"] is True and result["failures"] == []
    assert result["platforms"]["linux/amd64"]["digest"] == digest  # the index's digest is result["digest"]
    statuses = {r["id"]: r["status"] for r in result["report"]["results"]}
    assert statuses == {
        "supply-chain-attestations": "compliant",
        "default-non-root-user": "compliant",
        "copyleft-license": "compliant",
    }
    assert json.loads(json.dumps(result)) == result
    assert ti.pushed[IMAGE_URL_KEY] is None  # a local registry has no image page: no link rather than a wrong one


@pytest.mark.parametrize(
    ("on_failure", "outcome"), [("fail", AirflowFailException), ("skip", AirflowSkipException), ("warn", None)]
)
def test_supply_chain_gate_decisions(
    token_registry_conn: str,
    token_session: DockerHubSession,
    tmp_path: Path,
    on_failure: str,
    outcome: type[Exception] | None,
) -> None:
    build_and_push(
        token_session,
        tmp_path,
        "gate/bad",
        "1.0",
        user="root",
        attestations=False,
        packages=(SbomPackage("ghostscript", "9.5", "AGPL-3.0-only"),),
    )
    gate = DockerHubSupplyChainGateOperator(
        task_id="g", image="gate/bad:1.0", on_failure=on_failure, dockerhub_conn_id=token_registry_conn
    )
    if outcome is None:
        result, _ = run(gate)
        assert result["passed"] is False
        # No SBOM: the licence policy is "unknown", which fails too unless unknown_ok.
        assert set(result["failures"]) == {"supply-chain-attestations", "default-non-root-user", "copyleft-license"}
    else:
        with pytest.raises(outcome, match="default-non-root-user"):
            run(gate)


def test_copyleft_licence_in_the_sbom_fails_with_the_package_named(
    token_registry_conn: str, token_session: DockerHubSession, tmp_path: Path
) -> None:
    build_and_push(
        token_session,
        tmp_path,
        "gate/agpl",
        "1.0",
        packages=(SbomPackage("ghostscript", "9.5", "AGPL-3.0-only", "pkg:deb/debian/ghostscript@9.5"),),
    )
    result, _ = run(
        DockerHubSupplyChainGateOperator(
            task_id="g",
            image="gate/agpl:1.0",
            on_failure="warn",
            dockerhub_conn_id=token_registry_conn,
            report_dir=tmp_path.as_uri(),
        )
    )
    (copyleft,) = [r for r in full_report(result)["platforms"][0]["report"]["results"] if r["id"] == "copyleft-license"]
    assert copyleft["status"] == "non_compliant"
    assert "ghostscript" in json.dumps(copyleft["violations"])


@pytest.fixture
def scout(token_registry: LocalRegistry) -> Iterator[ScoutEmulator]:
    emulator = ScoutEmulator(
        schema_sdl=spec_path("docker-scout-schema.graphql").read_text(),
        token_valid=lambda t: "alice" if t == "hub-jwt" else None,
        entitled_orgs={"acme"},
    )

    def answer(request: httpx.Request) -> httpx.Response:
        status, body = emulator.execute(json.loads(request.content), request.headers.get("authorization"))
        return httpx.Response(status, json=body)

    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()  # the real registry and token issuer
        router.post("https://hub.docker.com/v2/auth/token").mock(
            return_value=httpx.Response(200, json={"access_token": "hub-jwt"})
        )
        router.post("https://api.scout.docker.com/v1/graphql").mock(side_effect=answer)
        yield emulator


def scout_image(registry: LocalRegistry, repository: str, digest: str, vulns: list[dict[str, Any]]) -> EmulatedImage:
    return EmulatedImage(
        registry.host,
        repository,
        digest,
        packages=[package("pkg:deb/debian/openssl@3.0.11", licenses=["Apache-2.0"], vulnerabilities=vulns)],
        organization="acme",
    )


def test_scout_gate_fails_on_a_fixable_high_and_passes_with_an_allow_list(
    token_registry_conn: str,
    token_session: DockerHubSession,
    tmp_path: Path,
    scout: ScoutEmulator,
    token_registry: LocalRegistry,
) -> None:
    digest = build_and_push(token_session, tmp_path, "gate/scout", "1.0")
    scout.add_image(
        scout_image(
            token_registry, "gate/scout", digest, [vulnerability("CVE-2024-1111", "HIGH", fixed_by="3.0.13", score=7.5)]
        )
    )
    only = ["fixable-vulnerabilities"]
    gate = DockerHubScoutPolicyGateOperator(
        task_id="g", image="gate/scout:1.0", policies=only, dockerhub_conn_id=token_registry_conn
    )
    with pytest.raises(AirflowFailException, match="fixable-vulnerabilities"):
        run(gate)
    allowed = DockerHubScoutPolicyGateOperator(
        task_id="g",
        image="gate/scout:1.0",
        policies=only,
        dockerhub_conn_id=token_registry_conn,
        allow_list=[{"id": "CVE-2024-1111", "expires": "2999-01-01", "reason": "not reachable"}],
        report_dir=tmp_path.as_uri(),
    )
    result, _ = run(allowed)
    assert result["passed"] is True
    results = full_report(result)["platforms"][0]["report"]["results"]
    (fixable,) = [r for r in results if r["id"] == "fixable-vulnerabilities"]
    assert fixable["suppressed"][0]["id"] == "CVE-2024-1111"
    expired = DockerHubScoutPolicyGateOperator(
        task_id="g",
        image="gate/scout:1.0",
        policies=only,
        dockerhub_conn_id=token_registry_conn,
        allow_list=[{"id": "CVE-2024-1111", "expires": "2020-01-01"}],
    )
    with pytest.raises(AirflowFailException):
        run(expired)


def test_scout_gate_unknown_until_indexed(
    token_registry_conn: str,
    token_session: DockerHubSession,
    tmp_path: Path,
    scout: ScoutEmulator,
    token_registry: LocalRegistry,
) -> None:
    digest = build_and_push(token_session, tmp_path, "gate/pending", "1.0")
    image = scout_image(token_registry, "gate/pending", digest, [])
    image.polls_until_indexed = 5
    scout.add_image(image)
    with pytest.raises(AirflowFailException, match="fixable-vulnerabilities"):
        run(
            DockerHubScoutPolicyGateOperator(
                task_id="g",
                image="gate/pending:1.0",
                dockerhub_conn_id=token_registry_conn,
                policies=["fixable-vulnerabilities"],
            )
        )
    result, _ = run(
        DockerHubScoutPolicyGateOperator(
            task_id="g",
            image="gate/pending:1.0",
            dockerhub_conn_id=token_registry_conn,
            policies=["fixable-vulnerabilities"],
            unknown_ok=True,
        )
    )
    assert result["report"]["results"][0]["status"] == "unknown"


def test_scout_gate_with_baseline_fails_only_on_what_got_worse(
    token_registry_conn: str,
    token_session: DockerHubSession,
    tmp_path: Path,
    scout: ScoutEmulator,
    token_registry: LocalRegistry,
) -> None:
    old = build_and_push(token_session, tmp_path, "gate/base", "prod")
    new = build_and_push(token_session, tmp_path, "gate/base", "rc", user="65533")
    known = vulnerability("CVE-2024-2222", "CRITICAL", fixed_by="1.1")
    scout.add_image(scout_image(token_registry, "gate/base", old, [known]))
    scout.add_image(scout_image(token_registry, "gate/base", new, [known]))
    result, _ = run(
        DockerHubScoutPolicyGateOperator(
            task_id="g",
            image="gate/base:rc",
            baseline="gate/base:prod",
            policies=["fixable-vulnerabilities"],
            dockerhub_conn_id=token_registry_conn,
        )
    )
    assert result["passed"] is True  # non-compliant, but no worse than production
    scout.add_image(
        scout_image(token_registry, "gate/base", new, [known, vulnerability("CVE-2024-3333", "HIGH", fixed_by="2.0")])
    )
    with pytest.raises(AirflowFailException, match="worse than gate/base:prod"):
        run(
            DockerHubScoutPolicyGateOperator(
                task_id="g",
                image="gate/base:rc",
                baseline="gate/base:prod",
                policies=["fixable-vulnerabilities"],
                dockerhub_conn_id=token_registry_conn,
            )
        )


def test_scout_gate_not_entitled_is_a_clear_error(
    token_registry_conn: str, token_session: DockerHubSession, tmp_path: Path, scout: ScoutEmulator
) -> None:
    from airflow_provider_dockerhub.client.scout.api import ScoutGraphQLError

    build_and_push(token_session, tmp_path, "gate/ent", "1.0")
    with pytest.raises(ScoutGraphQLError, match="not entitled"):
        run(
            DockerHubScoutPolicyGateOperator(
                task_id="g", image="gate/ent:1.0", organization="other-org", dockerhub_conn_id=token_registry_conn
            )
        )


def test_gate_on_a_missing_image_says_so(token_registry_conn: str) -> None:
    from airflow_provider_dockerhub.client import NotFoundError

    with pytest.raises(NotFoundError, match="gate/none"):
        run(DockerHubSupplyChainGateOperator(task_id="g", image="gate/none:1.0", dockerhub_conn_id=token_registry_conn))
