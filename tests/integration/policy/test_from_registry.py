"""Supply-chain evidence gathered from a real ``docker-registry`` (token auth), then evaluated by the policy engine:
BuildKit-style attestation manifests in an index, SBOMs and provenance attached as OCI referrers (through the
``sha256-<hex>`` fallback tag, as distribution 2.8 has no referrers API), and every way an attestation can be
unreadable."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from airflow_provider_dockerhub.client import DockerHubSession, InvalidInputError
from airflow_provider_dockerhub.client.policy import from_registry as supply_chain
from airflow_provider_dockerhub.client.policy.engine import evaluate
from airflow_provider_dockerhub.client.policy.from_registry import (
    cyclonedx_packages,
    gather_registry_evidence,
    predicate_kind,
    spdx_packages,
)
from airflow_provider_dockerhub.testing.oci import (
    CYCLONEDX_JSON,
    DSSE,
    IN_TOTO,
    SLSA_V02,
    SLSA_V1,
    SPDX_JSON,
    SPDX_PREDICATE,
    Image,
    MultiPlatform,
    attestation_manifest,
    attested_index,
    canonical,
    cyclonedx_sbom,
    digest,
    in_toto_statement,
    push_index,
    push_multi,
    push_raw,
    push_referrers,
    referrer_artifact,
    slsa_provenance,
    spdx_sbom,
)

pytestmark = pytest.mark.registry

CHAIN = ["supply-chain-attestations", "default-non-root-user", "copyleft-license"]
AGPL_PACKAGE = {
    "name": "ghostscript",
    "version": "10.0.0~dfsg-11",
    "license": "AGPL-3.0-or-later",
    "purl": "pkg:deb/debian/ghostscript@10.0.0~dfsg-11?arch=amd64&distro=debian-12",
}
PACKAGES = [
    {"name": "openssl", "version": "3.0.11-1", "license": "Apache-2.0", "purl": "pkg:deb/debian/openssl@3.0.11-1"},
    {"name": "express", "version": "4.19.2", "license": "MIT", "purl": "pkg:npm/express@4.19.2"},
    AGPL_PACKAGE,
    {"name": "scanned-rootfs", "version": "", "license": "NOASSERTION"},  # syft's root package: no purl
]


def max_provenance(version: str = SLSA_V02) -> dict[str, Any]:
    """BuildKit's provenance with ``mode=max``: ``buildConfig.llbDefinition`` is "Only included with mode=max"
    (docker/docs build/metadata/attestations/slsa-definitions); no base image materials (FROM scratch)."""
    predicate = slsa_provenance(version)
    steps = {"llbDefinition": [{"id": "step0", "op": {"Op": {"source": {"identifier": "local://context"}}}}]}
    if version == SLSA_V1:
        predicate["buildDefinition"]["internalParameters"] = {"buildConfig": steps}
        predicate["buildDefinition"]["resolvedDependencies"] = []
    else:
        predicate.update(buildConfig=steps, materials=[])
    return predicate


def full_attestation(image: Image, packages: list[dict[str, str]], provenance: bool = True) -> Any:
    statements = [(SPDX_PREDICATE, in_toto_statement(image.manifest, SPDX_PREDICATE, spdx_sbom(packages)))]
    if provenance:
        statements.append((SLSA_V02, in_toto_statement(image.manifest, SLSA_V02, max_provenance())))
    return attestation_manifest(statements)


def statuses(evidence: Any, **kwargs: Any) -> dict[str, str]:
    report = evaluate(evidence, CHAIN, **kwargs)
    return {r.id: r.status for r in report.results}


# -- attestation manifests in the index ------------------------------------------------------------------------


def test_attested_multi_platform_image_is_compliant_but_agpl_is_found(token_session: DockerHubSession) -> None:
    amd64 = Image(files={"app": b"chain-amd64"}, user="1000:1000")
    arm64 = Image(architecture="arm64", variant="v8", files={"app": b"chain-arm64"}, user="app")
    built = attested_index([(amd64, full_attestation(amd64, PACKAGES)), (arm64, full_attestation(arm64, PACKAGES[:2]))])
    index_digest = push_index(token_session.registry, "chain/attested", built, "1.0")

    evidence = gather_registry_evidence(token_session.registry, "chain/attested", "1.0", platform="linux/amd64")
    assert evidence.digest == digest(amd64.manifest) and evidence.platform == "linux/amd64"
    assert evidence.reference == "chain/attested:1.0"
    assert (evidence.sbom, evidence.provenance, evidence.user, evidence.config_known) == (True, True, "1000:1000", True)
    assert evidence.vulnerabilities is None and evidence.sources["vulnerabilities"].startswith("unknown")
    assert evidence.sources["image"] == f"index {index_digest} → manifest {digest(amd64.manifest)}"
    assert evidence.sources["packages"].startswith("sbom-attestation: attestation-manifest")
    assert evidence.packages is not None and len(evidence.packages) == 4
    ghostscript = next(p for p in evidence.packages if p.name == "ghostscript")
    assert ghostscript.type == "deb" and ghostscript.licenses == ("AGPL-3.0-or-later",)
    assert next(p for p in evidence.packages if p.name == "scanned-rootfs").licenses == ()

    report = evaluate(evidence, CHAIN)
    assert [r.status for r in report.results] == ["compliant", "compliant", "non_compliant"]
    copyleft = report.result("copyleft-license")
    assert copyleft is not None and [v["name"] for v in copyleft.violations] == ["ghostscript"]
    assert copyleft.violations[0]["package"] == AGPL_PACKAGE["purl"]
    assert copyleft.violations[0]["matched"] == ["AGPL-3.0-or-later"]
    assert "ghostscript" in report.summary()
    # Every default policy: the registry has no vulnerability data, so those two are unknown, never passed.
    everything = evaluate(evidence)
    assert everything.ids("unknown") == ["fixable-vulnerabilities", "high-profile-vulnerabilities"]
    assert not everything.passed(unknown_ok=True)  # the AGPL package still fails it

    # The arm64 image has its own attestation, without the AGPL package: per-platform evidence.
    arm = gather_registry_evidence(token_session.registry, "chain/attested", index_digest, platform="linux/arm64")
    assert arm.digest == digest(arm64.manifest) and arm.platform == "linux/arm64/v8"
    assert arm.reference == f"chain/attested@{index_digest}"
    assert statuses(arm) == dict.fromkeys(CHAIN, "compliant")
    assert evaluate(arm, CHAIN).passed()


def test_sbom_only_attestation_and_root_user(token_session: DockerHubSession) -> None:
    # The pre-existing builder: BuildKit-style, SBOM only (what `docker build --sbom=true` alone produces).
    multi = MultiPlatform([Image(files={"app": b"no-provenance"}, user="root")])
    push_multi(token_session.registry, "chain/sbom-only", multi, "v1")
    evidence = gather_registry_evidence(token_session.registry, "chain/sbom-only", "v1")  # one platform: none needed
    assert (evidence.sbom, evidence.provenance, evidence.packages) == (True, False, [])
    assert evidence.sources["provenance"].startswith("none")
    report = evaluate(evidence, CHAIN)
    # The builder's SBOM lists no packages: it proves nothing about licences (unknown, never compliant).
    assert [r.status for r in report.results] == ["non_compliant", "non_compliant", "unknown"]
    chain = report.result("supply-chain-attestations")
    assert chain is not None and chain.violations[0]["attestation"] == "provenance"
    assert chain.message == "no provenance attestation found"
    root = report.result("default-non-root-user")
    assert root is not None and root.violations[0]["user"] == "root"
    # Only the SBOM is required: still no pass, since that SBOM lists no packages (an empty SBOM is no data).
    config = {"supply-chain-attestations": {"required_attestations": ["sbom"]}}
    assert statuses(evidence, config=config)["supply-chain-attestations"] == "unknown"


@pytest.mark.parametrize("user", [None, "0", "0:0", "root:root"])
def test_root_user_variants_from_real_configs(token_session: DockerHubSession, user: str | None) -> None:
    image = Image(files={"u": f"user-{user}".encode()}, user=user)
    push_raw(token_session.registry, "chain/users", image, f"u-{user or 'none'}".replace(":", "-"))
    evidence = gather_registry_evidence(token_session.registry, "chain/users", digest(image.manifest))
    assert evidence.config_known and evidence.user == (user or "")
    assert (evidence.sbom, evidence.provenance) == (False, False)  # no index, no referrers: proven absent
    assert statuses(evidence)["default-non-root-user"] == "non_compliant"


def test_image_without_any_attestation_is_non_compliant_and_license_unknown(token_session: DockerHubSession) -> None:
    image = Image(files={"bare": b"bare"}, user="nobody")
    push_raw(token_session.registry, "chain/bare", image, "v1")
    evidence = gather_registry_evidence(token_session.registry, "chain/bare", "v1", platform="linux/amd64")
    assert evidence.platform == "linux/amd64" and evidence.packages is None
    assert statuses(evidence) == {
        "supply-chain-attestations": "non_compliant",
        "default-non-root-user": "compliant",
        "copyleft-license": "unknown",
    }
    with pytest.raises(InvalidInputError, match="is a linux/amd64 image, not linux/arm64"):
        gather_registry_evidence(token_session.registry, "chain/bare", "v1", platform="linux/arm64")


def test_multi_platform_index_needs_a_platform(token_session: DockerHubSession) -> None:
    multi = MultiPlatform([Image(files={"p": b"p-amd64"}), Image(architecture="arm64", files={"p": b"p-arm64"})])
    push_multi(token_session.registry, "chain/platforms", multi, "v1")
    with pytest.raises(InvalidInputError, match="none given"):
        gather_registry_evidence(token_session.registry, "chain/platforms", "v1")
    with pytest.raises(InvalidInputError, match="no manifest for platform linux/s390x"):
        gather_registry_evidence(token_session.registry, "chain/platforms", "v1", platform="linux/s390x")


# -- unreadable attestations: unknown, never a crash -----------------------------------------------------------


def _other_image() -> Image:
    return Image(files={"other": b"another image"})


MALFORMED: dict[str, Any] = {
    "not-json": lambda image: [(SPDX_PREDICATE, b"\x00\xffnot json"), (SLSA_V02, b"{truncated")],
    "subject-is-another-image": lambda image: [
        (SPDX_PREDICATE, in_toto_statement(_other_image().manifest, SPDX_PREDICATE, spdx_sbom(PACKAGES))),
        (SLSA_V02, in_toto_statement(_other_image().manifest, SLSA_V02, max_provenance())),
    ],
    "predicate-contradicts-annotation": lambda image: [
        (SPDX_PREDICATE, in_toto_statement(image.manifest, SLSA_V02, max_provenance())),
        (SLSA_V02, in_toto_statement(image.manifest, SPDX_PREDICATE, spdx_sbom(PACKAGES))),
    ],
    "not-in-toto": lambda image: [
        (SPDX_PREDICATE, canonical(spdx_sbom(PACKAGES))),
        (SLSA_V02, canonical({"predicate": max_provenance()})),
    ],
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_unreadable_attestations_are_unknown(token_session: DockerHubSession, case: str) -> None:
    image = Image(files={"m": f"malformed-{case}".encode()})
    built = attested_index([(image, attestation_manifest(MALFORMED[case](image)))])
    push_index(token_session.registry, "chain/malformed", built, case)
    evidence = gather_registry_evidence(token_session.registry, "chain/malformed", case)
    assert (evidence.sbom, evidence.provenance, evidence.packages) == (None, None, None)
    assert "unreadable" in evidence.sources["sbom"] and "unreadable" in evidence.sources["provenance"]
    report = evaluate(evidence, CHAIN)
    assert statuses(evidence) == {
        "supply-chain-attestations": "unknown",
        "default-non-root-user": "compliant",
        "copyleft-license": "unknown",
    }
    assert not report.passed() and report.passed(unknown_ok=True)
    chain = report.result("supply-chain-attestations")
    assert chain is not None and "unreadable" in chain.message


def test_statement_about_an_object_within_the_image_counts(token_session: DockerHubSession) -> None:
    # BuildKit's storage doc allows the subject to be "the target manifest ... or some object within".
    image = Image(files={"w": b"within"}, user="app")
    statements = [
        (SPDX_PREDICATE, in_toto_statement(image.config, SPDX_PREDICATE, spdx_sbom(PACKAGES[:1]))),
        (SLSA_V02, in_toto_statement(image.layer, SLSA_V02, max_provenance())),
    ]
    push_index(
        token_session.registry, "chain/within", attested_index([(image, attestation_manifest(statements))]), "v1"
    )
    evidence = gather_registry_evidence(token_session.registry, "chain/within", "v1")
    assert (evidence.sbom, evidence.provenance) == (True, True)
    assert statuses(evidence) == dict.fromkeys(CHAIN, "compliant")


def test_spdx_predicate_that_is_not_spdx_leaves_provenance_intact(token_session: DockerHubSession) -> None:
    image = Image(files={"m": b"bad-spdx"}, user="app")
    statements = [
        (SPDX_PREDICATE, in_toto_statement(image.manifest, SPDX_PREDICATE, {"packages": "all of them"})),
        (SLSA_V1, in_toto_statement(image.manifest, SLSA_V1, max_provenance(SLSA_V1))),
    ]
    push_index(
        token_session.registry, "chain/bad-spdx", attested_index([(image, attestation_manifest(statements))]), "v1"
    )
    evidence = gather_registry_evidence(token_session.registry, "chain/bad-spdx", "v1")
    assert (evidence.sbom, evidence.provenance, evidence.packages) == (None, True, None)
    assert "not an SPDX 2.x JSON document" in evidence.sources["sbom"]
    assert statuses(evidence)["supply-chain-attestations"] == "unknown"


def test_deleted_attestation_manifest_and_blob_are_unknown(token_session: DockerHubSession) -> None:
    image = Image(files={"d": b"deleted-attestation"})
    attestation = full_attestation(image, PACKAGES)
    push_index(token_session.registry, "chain/deleted", attested_index([(image, attestation)]), "v1")
    statement = attestation[1][1]  # the SPDX statement blob
    token_session.registry.delete_blob("chain/deleted", digest(statement))
    evidence = gather_registry_evidence(token_session.registry, "chain/deleted", "v1")
    assert (evidence.sbom, evidence.provenance) == (None, True)
    assert "NotFound" in evidence.sources["sbom"] or "404" in evidence.sources["sbom"]

    token_session.registry.delete_manifest("chain/deleted", digest(attestation[0]))
    evidence = gather_registry_evidence(token_session.registry, "chain/deleted", "v1")
    assert (evidence.sbom, evidence.provenance) == (None, None)
    assert evidence.sources["sbom"].startswith("unknown: attestation-manifest")


def test_oversized_sbom_is_not_read(token_session: DockerHubSession, monkeypatch: pytest.MonkeyPatch) -> None:
    image = Image(files={"big": b"oversized"})
    push_index(token_session.registry, "chain/big", attested_index([(image, full_attestation(image, PACKAGES))]), "v1")
    monkeypatch.setattr(supply_chain, "MAX_ATTESTATION_SIZE", 256)
    evidence = gather_registry_evidence(token_session.registry, "chain/big", "v1")
    assert evidence.sbom is None and "cap" in evidence.sources["sbom"]


def test_request_budgets_bound_the_work(token_session: DockerHubSession, monkeypatch: pytest.MonkeyPatch) -> None:
    image = Image(files={"budget": b"budget"})
    push_index(
        token_session.registry, "chain/budget", attested_index([(image, full_attestation(image, PACKAGES))]), "v1"
    )
    monkeypatch.setattr(supply_chain, "MAX_BLOBS", 1)
    evidence = gather_registry_evidence(token_session.registry, "chain/budget", "v1")
    assert (evidence.sbom, evidence.provenance) == (True, None)
    assert "more than 1 attestation blobs" in evidence.sources["provenance"]
    monkeypatch.setattr(supply_chain, "MAX_DOCUMENTS", 0)
    evidence = gather_registry_evidence(token_session.registry, "chain/budget", "v1")
    assert (evidence.sbom, evidence.provenance) == (None, None)
    assert "more than 0 documents" in evidence.sources["sbom"]


# -- referrers (fallback tag schema on distribution 2.8) -------------------------------------------------------


def test_sbom_and_provenance_attached_as_referrers(token_session: DockerHubSession) -> None:
    image = Image(files={"r": b"referred"}, user="65532")
    subject = push_raw(token_session.registry, "chain/referrers", image, "v1")
    sbom = referrer_artifact(image.manifest, SPDX_JSON, [(SPDX_JSON, canonical(spdx_sbom(PACKAGES)), None)])
    statement = in_toto_statement(image.manifest, SLSA_V1, max_provenance(SLSA_V1))
    envelope = canonical({"payloadType": IN_TOTO, "payload": base64.b64encode(statement).decode(), "signatures": []})
    provenance = referrer_artifact(image.manifest, IN_TOTO, [(DSSE, envelope, {"in-toto.io/predicate-type": SLSA_V1})])
    signature = referrer_artifact(image.manifest, "application/vnd.dev.cosign.artifact.sig.v1+json", [])
    push_referrers(token_session.registry, "chain/referrers", subject, [sbom, provenance, signature])

    evidence = gather_registry_evidence(token_session.registry, "chain/referrers", "v1")
    assert (evidence.sbom, evidence.provenance, evidence.user) == (True, True, "65532")
    assert evidence.sources["sbom"].startswith("referrer ") and evidence.sources["provenance"].startswith("referrer")
    assert evidence.packages is not None and {p.name for p in evidence.packages} >= {"ghostscript", "express"}
    report = evaluate(evidence, CHAIN)
    assert [r.status for r in report.results] == ["compliant", "compliant", "non_compliant"]
    copyleft = report.result("copyleft-license")
    assert copyleft is not None and copyleft.violations[0]["name"] == "ghostscript"
    # The AGPL package can be accepted by configuration, as the CLI's ignored_packages does.
    config = {"copyleft-license": {"ignored_packages": ["ghostscript"]}}
    assert statuses(evidence, config=config)["copyleft-license"] == "compliant"


def test_cyclonedx_referrer_with_license_expressions(token_session: DockerHubSession) -> None:
    image = Image(files={"c": b"cyclonedx"}, user="app")
    subject = push_raw(token_session.registry, "chain/cyclonedx", image, "v1")
    bom = cyclonedx_sbom(
        [
            {"type": "library", "name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0",
             "licenses": [{"license": {"id": "WTFPL"}}]},
            {"type": "library", "name": "mongo-tools", "version": "100.9.0", "purl": "pkg:golang/mongo-tools@100.9.0",
             "licenses": [{"expression": "Apache-2.0 OR AGPL-3.0-only"}],
             "components": [{"type": "library", "name": "vendored", "purl": "pkg:golang/vendored@1",
                             "licenses": [{"license": {"name": "Custom"}}]}]},
        ]
    )  # fmt: skip
    artifact = referrer_artifact(image.manifest, CYCLONEDX_JSON, [(CYCLONEDX_JSON, canonical(bom), None)])
    push_referrers(token_session.registry, "chain/cyclonedx", subject, [artifact])
    evidence = gather_registry_evidence(token_session.registry, "chain/cyclonedx", "v1")
    assert (evidence.sbom, evidence.provenance) == (True, False)
    assert evidence.packages is not None
    assert {p.name: p.licenses for p in evidence.packages} == {
        "left-pad": ("WTFPL",),
        "mongo-tools": ("Apache-2.0 OR AGPL-3.0-only",),
        "vendored": ("Custom",),
    }
    copyleft = evaluate(evidence, ["copyleft-license"]).results[0]
    assert copyleft.status == "non_compliant" and copyleft.violations[0]["package"] == "pkg:golang/mongo-tools@100.9.0"


def test_referrer_whose_subject_is_another_image_is_unknown(token_session: DockerHubSession) -> None:
    image = Image(files={"s": b"stale-fallback"})
    subject = push_raw(token_session.registry, "chain/stale", image, "v1")
    other = _other_image()
    push_raw(token_session.registry, "chain/stale", other)
    # The fallback tag of this image lists an SBOM whose manifest names another image as its subject.
    stray = referrer_artifact(other.manifest, SPDX_JSON, [(SPDX_JSON, canonical(spdx_sbom(PACKAGES)), None)])
    push_referrers(token_session.registry, "chain/stale", subject, [stray])
    evidence = gather_registry_evidence(token_session.registry, "chain/stale", "v1")
    assert evidence.sbom is None and f"not {subject}" in evidence.sources["sbom"]
    assert evidence.provenance is None  # what that document was is unknown: it could have been anything


# -- parsers (no registry) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicate", "kind"),
    [
        ("https://spdx.dev/Document", "spdx"),
        ("https://spdx.dev/Document/v2.3", "spdx"),
        ("https://cyclonedx.org/bom", "cyclonedx"),
        ("https://slsa.dev/provenance/v0.2", "provenance"),
        ("https://slsa.dev/provenance/v1", "provenance"),
        ("https://cosign.sigstore.dev/attestation/vuln/v1", None),
        (None, None),
    ],
)
def test_predicate_kinds(predicate: str | None, kind: str | None) -> None:
    assert predicate_kind(predicate) == kind


def test_spdx_parser_keeps_both_license_fields_and_skips_noassertion() -> None:
    document = spdx_sbom([{"name": "a", "version": "1", "license": "MIT", "declared": "MIT OR AGPL-3.0-only"}])
    document["packages"].append("not a package")
    [package] = spdx_packages(document)
    assert package.licenses == ("MIT", "MIT OR AGPL-3.0-only") and package.purl == "" and package.type == ""
    broken: Any
    for broken in ({"spdxVersion": "SPDX-3.0"}, [], {"spdxVersion": "SPDX-2.3", "packages": {}}):
        with pytest.raises(ValueError, match="SPDX"):
            spdx_packages(broken)
    with pytest.raises(ValueError, match="CycloneDX"):
        cyclonedx_packages(json.loads('{"components": []}'))


def test_openvex_referrer_suppresses_and_an_unreadable_one_does_not(token_session: DockerHubSession) -> None:
    from airflow_provider_dockerhub.client.policy.evidence import Vulnerability

    image = Image(files={"x": b"vex-referrer"}, user="65532")
    subject = push_raw(token_session.registry, "chain/vex", image, "v1")
    vex = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://acme.example/vex/1",
        "author": "security@acme.example",
        "statements": [
            {"vulnerability": {"name": "CVE-2023-5363"}, "products": ["pkg:docker/chain/vex"], "status": "fixed"}
        ],
    }
    good = referrer_artifact(
        image.manifest, "application/vnd.openvex+json", [("application/vnd.openvex+json", canonical(vex), None)]
    )
    bad = referrer_artifact(
        image.manifest, "application/vnd.openvex+json", [("application/vnd.openvex+json", b"{not json", None)]
    )
    push_referrers(token_session.registry, "chain/vex", subject, [good, bad])
    evidence = gather_registry_evidence(token_session.registry, "chain/vex", "v1")
    assert [(s.source, s.id, s.reason) for s in evidence.vex] == [("vex", "CVE-2023-5363", "fixed")]
    assert (
        "unreadable (suppresses nothing)" in evidence.sources["vex"]
        and "1 suppressing statements" in evidence.sources["vex"]
    )
    # Registry evidence carries no scan: give it one, and the VEX statement suppresses the CVE it names, only that.
    evidence.vulnerabilities = [
        Vulnerability("CVE-2023-5363", "HIGH", 7.5, "pkg:deb/debian/openssl@3.0.11", "3.0.13"),
        Vulnerability("CVE-2024-0727", "HIGH", 7.5, "pkg:deb/debian/openssl@3.0.11", "3.0.13"),
    ]
    result = evaluate(evidence, ["fixable-vulnerabilities"]).results[0]
    assert [v["id"] for v in result.violations] == ["CVE-2024-0727"]
    assert result.suppressed[0]["suppression"]["source"] == "vex"


def test_base_images_from_provenance_materials(token_session: DockerHubSession) -> None:
    host = token_session.config.registry_host
    base = Image(files={"os": b"base-for-materials"})
    base_digest = push_raw(token_session.registry, "chain/base", base, "1")
    materials = [
        {"uri": "pkg:docker/docker/dockerfile@1", "digest": {"sha256": "9" * 64}},  # the frontend: not a base image
        {"uri": f"pkg:docker/{host}/chain/base@1?platform=linux%2Famd64", "digest": {"sha256": base_digest[7:]}},
        {"uri": "pkg:docker/golang@1.22?platform=linux%2Famd64", "digest": {"sha256": "8" * 64}},  # Docker Hub
        {
            "uri": f"pkg:docker/{host}/chain/base@{base_digest}?platform=linux%2Famd64",
            "digest": {"sha256": base_digest[7:]},
        },
    ]
    image = Image(files={"app": b"multi-stage"}, user="65532")
    predicate = {**max_provenance(), "materials": materials}
    statements = [
        (SPDX_PREDICATE, in_toto_statement(image.manifest, SPDX_PREDICATE, spdx_sbom(PACKAGES))),
        (SLSA_V02, in_toto_statement(image.manifest, SLSA_V02, predicate)),
    ]
    push_index(token_session.registry, "chain/app", attested_index([(image, attestation_manifest(statements))]), "v1")
    evidence = gather_registry_evidence(token_session.registry, "chain/app", "v1")
    assert evidence.provenance_mode == "max"
    assert evidence.base_images is not None
    [ours, hub, pinned] = evidence.base_images
    assert (ours.reference, ours.current) == (f"{host}/chain/base:1", True)
    assert hub.reference == "docker.io/library/golang:1.22" and hub.current is None and "not the connection" in hub.why
    assert pinned.tag is None and pinned.current is None and "pinned by digest" in pinned.why
    # Every stage's base is checked: the Hub one cannot be looked up here, so the policy has no data.
    assert evaluate(evidence, ["no-stale-base-images"]).results[0].status == "unknown"
    config = {"approved-base-images": {"allowed_base_images": [f"{host}/chain/*"], "allowed_distros_only": False}}
    approved = evaluate(evidence, ["approved-base-images"], config).results[0]
    assert approved.status == "non_compliant" and [v["id"] for v in approved.violations] == [
        "docker.io/library/golang:1.22"
    ]


def test_a_multi_stage_build_is_judged_on_its_runtime_base(token_session: DockerHubSession) -> None:
    from airflow_provider_dockerhub.testing.oci import (
        OCI_MANIFEST,
        attestation_descriptor,
        descriptor,
        diff_id,
        image_index,
        image_manifest,
        layer,
    )

    host = token_session.config.registry_host
    runtime = Image(files={"os": b"runtime base: distroless-like"})
    runtime_digest = push_raw(token_session.registry, "chain/runtime", runtime, "12")
    app_layer = layer({"app/run": b"the binary the builder stage made"})
    config = canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"User": "65532"},
            "rootfs": {"type": "layers", "diff_ids": [diff_id(runtime.layer), diff_id(app_layer)]},
        }
    )
    manifest = image_manifest(config, [runtime.layer, app_layer])  # FROM runtime, then COPY --from=builder
    materials = [
        {"uri": "pkg:docker/golang@1.22?platform=linux%2Famd64", "digest": {"sha256": "8" * 64}},  # builder stage
        {"uri": f"pkg:docker/{host}/chain/runtime@12?platform=linux%2Famd64", "digest": {"sha256": runtime_digest[7:]}},
    ]
    statements = [
        (SPDX_PREDICATE, in_toto_statement(manifest, SPDX_PREDICATE, spdx_sbom(PACKAGES[:2]))),
        (SLSA_V02, in_toto_statement(manifest, SLSA_V02, {**max_provenance(), "materials": materials})),
    ]
    attestation, attestation_blobs = attestation_manifest(statements)
    index = image_index(
        [
            descriptor(OCI_MANIFEST, manifest, platform={"os": "linux", "architecture": "amd64"}),
            attestation_descriptor(attestation, manifest),
        ]
    )
    blobs = [config, runtime.layer, app_layer, *attestation_blobs]
    push_index(token_session.registry, "chain/multi-stage", (index, [manifest, attestation], blobs), "v1")

    evidence = gather_registry_evidence(token_session.registry, "chain/multi-stage", "v1")
    assert evidence.base_images is not None
    assert [b.reference for b in evidence.base_images] == [f"{host}/chain/runtime:12"]  # the builder is not a base
    assert evidence.sources["base_images"].startswith("provenance, runtime stage by its layers")
    assert evaluate(evidence, ["no-stale-base-images"]).results[0].status == "compliant"
    push_raw(token_session.registry, "chain/runtime", Image(files={"os": b"runtime base, patched"}), "12")
    again = gather_registry_evidence(token_session.registry, "chain/multi-stage", "v1")
    outdated = evaluate(again, ["no-stale-base-images"]).results[0]
    assert outdated.status == "non_compliant" and outdated.violations[0]["id"] == f"{host}/chain/runtime:12"
