"""Build a small OCI image layout from files, in pure Python, for demos and tests (no Docker needed).

The result is what ``docker buildx build --output type=oci,tar=false`` writes: ``oci-layout``, ``index.json`` and
``blobs/sha256/…``, with one gzipped tar layer per image, an image config (user, env, entrypoint, created), and,
like BuildKit with ``--attest``, attestation manifests carrying an SPDX SBOM and a SLSA provenance statement in an
image index (provenance in BuildKit's max mode). Layers are reproducible (fixed timestamps), so the same input
gives the same digests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .documents import (
    OCI_INDEX,
    OCI_MANIFEST,
    SPDX_PREDICATE,
    attestation_descriptor,
    attestation_manifest,
    canonical,
    descriptor,
    diff_id,
    digest,
    image_index,
    image_manifest,
    in_toto_statement,
    layer,
    write_layout,
)

SLSA_PREDICATE = "https://slsa.dev/provenance/v0.2"


@dataclass(frozen=True)
class SbomPackage:
    """A package the SBOM lists (name, version, SPDX licence expression, purl)."""

    name: str
    version: str
    license: str = "NOASSERTION"
    purl: str | None = None


@dataclass
class ImageSpec:
    files: Mapping[str, bytes]
    platform: str = "linux/amd64"
    user: str | None = "65532"
    entrypoint: Sequence[str] = ("/app/run",)
    env: Sequence[str] = ("PATH=/usr/local/bin:/usr/bin:/bin",)
    created: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    packages: Sequence[SbomPackage] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass
class BuiltLayout:
    path: Path
    digest: str  # what index.json points to (the index, or the manifest without attestations)
    media_type: str
    manifests: dict[str, str]  # platform -> image manifest digest


def _spdx(spec: ImageSpec, name: str) -> dict[str, Any]:
    packages = []
    for index, pkg in enumerate(spec.packages):
        entry: dict[str, Any] = {
            "SPDXID": f"SPDXRef-Package-{index}",
            "name": pkg.name,
            "versionInfo": pkg.version,
            "licenseConcluded": pkg.license,
            "licenseDeclared": pkg.license,
            "downloadLocation": "NOASSERTION",
        }
        if pkg.purl:
            entry["externalRefs"] = [
                {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": pkg.purl}
            ]
        packages.append(entry)
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"https://airflow-provider-dockerhub.invalid/sbom/{name}",
        "creationInfo": {"created": spec.created.isoformat().replace("+00:00", "Z"), "creators": ["Tool: oci_build"]},
        "packages": packages,
    }


def _provenance(spec: ImageSpec, builder: str) -> dict[str, Any]:
    # What `--provenance=mode=max` writes: buildConfig.llbDefinition is "Only included with mode=max" (docker/docs
    # build/metadata/attestations/slsa-definitions), and Scout's supply-chain policy requires max mode.
    return {
        "builder": {"id": builder},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "metadata": {"buildStartedOn": spec.created.isoformat().replace("+00:00", "Z"), "reproducible": True},
        "materials": [],
        "buildConfig": {
            "llbDefinition": [{"id": "step0", "op": {"Op": {"source": {"identifier": "local://context"}}}}]
        },
    }


def build_oci_layout(
    path: str | Path,
    images: Sequence[ImageSpec],
    *,
    ref_name: str = "latest",
    attestations: bool = True,
    builder: str = "https://github.com/airflow-provider-dockerhub/oci_build",
) -> BuiltLayout:
    """Write an OCI image layout for ``images`` (one per platform) to ``path``; returns its top digest."""
    entries: list[dict[str, Any]] = []
    attestation_entries: list[dict[str, Any]] = []
    manifests: dict[str, str] = {}
    documents: list[bytes] = []
    blobs: list[bytes] = []
    for spec in images:
        os_name, architecture, *variant = spec.platform.split("/")
        # Files are executables (the entrypoint among them), hence 0755.
        layer_blob = layer(spec.files, mode=0o755)
        created = spec.created.isoformat().replace("+00:00", "Z")
        config: dict[str, Any] = {
            "created": created,
            "architecture": architecture,
            "os": os_name,
            "config": {
                "Env": list(spec.env),
                "Entrypoint": list(spec.entrypoint),
                "Labels": dict(spec.labels),
                **({"User": spec.user} if spec.user else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id(layer_blob)]},
            "history": [{"created": created, "created_by": "oci_build"}],
        }
        if variant:
            config["variant"] = variant[0]
        config_raw = canonical(config)
        manifest = image_manifest(config_raw, [layer_blob])
        blobs += [layer_blob, config_raw]
        documents.append(manifest)
        manifests[spec.platform] = digest(manifest)
        platform = {"os": os_name, "architecture": architecture, **({"variant": variant[0]} if variant else {})}
        entries.append(descriptor(OCI_MANIFEST, manifest, platform=platform))
        if attestations:
            sbom = in_toto_statement(manifest, SPDX_PREDICATE, _spdx(spec, ref_name), subject_name="image")
            provenance = in_toto_statement(manifest, SLSA_PREDICATE, _provenance(spec, builder), subject_name="image")
            attestation, attestation_blobs = attestation_manifest(
                [(SPDX_PREDICATE, sbom), (SLSA_PREDICATE, provenance)]
            )
            blobs += attestation_blobs
            documents.append(attestation)
            attestation_entries.append(attestation_descriptor(attestation, manifest))
    if len(entries) == 1 and not attestation_entries:
        top, media_type = documents[0], OCI_MANIFEST
    else:
        top, media_type = image_index(entries + attestation_entries), OCI_INDEX
    write_layout(Path(path), top, media_type, documents, blobs, ref_name=ref_name)
    return BuiltLayout(Path(path), digest(top), media_type, manifests)
