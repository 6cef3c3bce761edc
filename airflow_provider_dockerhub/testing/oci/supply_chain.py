"""Supply-chain documents for tests: SBOMs (SPDX, CycloneDX), SLSA provenance and OCI referrers (artifacts whose
``subject`` is an image, and the referrers fallback tag index)."""

from __future__ import annotations

import json
from typing import Any

from .documents import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, canonical, descriptor, digest, image_index

CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
SPDX_JSON = "application/spdx+json"
CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
DSSE = "application/vnd.dsse.envelope.v1+json"


def spdx_sbom(packages: list[dict[str, str]]) -> dict[str, Any]:
    """An SPDX 2.3 JSON document as syft writes it for BuildKit; each package: name, version, license
    (``licenseConcluded``; ``declared`` optional) and purl (optional)."""
    entries = []
    for number, package in enumerate(packages):
        entry: dict[str, Any] = {
            "SPDXID": f"SPDXRef-Package-{number}",
            "name": package["name"],
            "versionInfo": package.get("version", ""),
            "downloadLocation": "NOASSERTION",
            "licenseConcluded": package.get("license", "NOASSERTION"),
            "licenseDeclared": package.get("declared", "NOASSERTION"),
            "copyrightText": "NOASSERTION",
        }
        if package.get("purl"):
            entry["externalRefs"] = [
                {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": package["purl"]}
            ]
        entries.append(entry)
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "sbom",
        "documentNamespace": "https://example.invalid/sbom",
        "creationInfo": {"created": "2024-05-01T00:00:00Z", "creators": ["Tool: syft-v0.105.0"]},
        "packages": entries,
    }


def cyclonedx_sbom(components: list[dict[str, Any]]) -> dict[str, Any]:
    """A CycloneDX 1.5 JSON BOM; components are given in CycloneDX's own shape."""
    return {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components}


def slsa_provenance(version: str = SLSA_V02) -> dict[str, Any]:
    """A minimal SLSA provenance predicate as BuildKit (mode=min) writes it, for v0.2 or v1."""
    if version == SLSA_V1:
        return {
            "buildDefinition": {"buildType": "https://mobyproject.org/buildkit@v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://github.com/actions/runner"}, "metadata": {}},
        }
    return {
        "builder": {"id": "https://github.com/actions/runner"},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "invocation": {"configSource": {"entryPoint": "Dockerfile"}},
        "metadata": {"buildStartedOn": "2024-05-01T00:00:00Z"},
    }


def referrer_artifact(
    subject: bytes, artifact_type: str, layers: list[tuple[str, bytes, dict[str, str] | None]]
) -> tuple[bytes, list[bytes]]:
    """An OCI artifact manifest (empty config) whose ``subject`` is the manifest ``subject``; layers are
    ``(media type, bytes, annotations)``. Returns the manifest and its blobs."""
    empty = b"{}"
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": descriptor(OCI_EMPTY, empty),
            "layers": [
                descriptor(media_type, data, **({"annotations": notes} if notes else {}))
                for media_type, data, notes in layers
            ],
            "subject": descriptor(json.loads(subject).get("mediaType", OCI_MANIFEST), subject),
        }
    )
    return manifest, [empty, *(data for _, data, _ in layers)]


def push_referrers(
    registry: Any, repository: str, subject_digest: str, artifacts: list[tuple[bytes, list[bytes]]]
) -> str:
    """Push artifacts and the referrers fallback tag (``sha256-<hex>``) index listing them, as ORAS and cosign
    do on a registry without the referrers API (distribution 2.8). Returns the fallback index's digest."""
    entries = []
    for manifest, blobs in artifacts:
        for blob in blobs:
            registry.push_blob(repository, blob, digest=digest(blob))
        registry.put_manifest(repository, digest(manifest), manifest, OCI_MANIFEST)
        entries.append(descriptor(OCI_MANIFEST, manifest, artifactType=json.loads(manifest)["artifactType"]))
    fallback = image_index(entries)
    tag = "sha256-" + subject_digest.split(":")[1]
    return str(registry.put_manifest(repository, tag, fallback, OCI_INDEX))
