"""Build real OCI images for tests: configs, layers, manifests, multi-platform indexes with BuildKit-style
attestation manifests, and OCI image layout directories as ``docker buildx --output type=oci`` writes them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
IN_TOTO = "application/vnd.in-toto+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def layer(files: dict[str, bytes]) -> bytes:
    """A gzipped tar layer with fixed timestamps, so equal files give equal digests."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest(data), "size": len(data), **extra}


@dataclass
class Image:
    """One platform's image: its blobs and manifest."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    files: dict[str, bytes] = field(default_factory=lambda: {"app/hello.txt": b"hello"})
    user: str | None = "1000"

    def __post_init__(self) -> None:
        self.layer = layer(self.files)
        config: dict[str, Any] = {
            "architecture": self.architecture,
            "os": self.os,
            "config": {"User": self.user} if self.user else {},
            "rootfs": {"type": "layers", "diff_ids": [digest(gzip.decompress(self.layer))]},
        }
        if self.variant:
            config["variant"] = self.variant
        self.config = canonical(config)
        self.manifest = canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor(OCI_CONFIG, self.config),
                "layers": [descriptor(OCI_LAYER, self.layer)],
            }
        )

    @property
    def platform(self) -> dict[str, str]:
        platform = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            platform["variant"] = self.variant
        return platform

    @property
    def blobs(self) -> list[bytes]:
        return [self.config, self.layer]


def attestation_for(image: Image, predicate: dict[str, Any] | None = None) -> tuple[bytes, list[bytes]]:
    """A BuildKit-style attestation manifest (an in-toto statement layer) for ``image``."""
    statement = canonical(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://spdx.dev/Document",
            "subject": [{"name": "image", "digest": {"sha256": digest(image.manifest).split(":")[1]}}],
            "predicate": predicate or {"spdxVersion": "SPDX-2.3", "packages": []},
        }
    )
    config = canonical({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers"}})
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [
                descriptor(IN_TOTO, statement, annotations={"in-toto.io/predicate-type": "https://spdx.dev/Document"})
            ],
        }
    )
    return manifest, [config, statement]


@dataclass
class MultiPlatform:
    """An index of several images plus one attestation manifest per image (as BuildKit pushes them)."""

    images: list[Image]
    attestations: bool = True

    def __post_init__(self) -> None:
        entries: list[dict[str, Any]] = []
        self.extra_manifests: list[bytes] = []
        self.extra_blobs: list[bytes] = []
        for image in self.images:
            entries.append(descriptor(OCI_MANIFEST, image.manifest, platform=image.platform))
        if self.attestations:
            for image in self.images:
                manifest, blobs = attestation_for(image)
                self.extra_manifests.append(manifest)
                self.extra_blobs.extend(blobs)
                entries.append(
                    descriptor(
                        OCI_MANIFEST,
                        manifest,
                        platform={"os": "unknown", "architecture": "unknown"},
                        annotations={
                            "vnd.docker.reference.type": "attestation-manifest",
                            "vnd.docker.reference.digest": digest(image.manifest),
                        },
                    )
                )
        self.index = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})

    @property
    def manifests(self) -> list[bytes]:
        return [image.manifest for image in self.images] + self.extra_manifests

    @property
    def blobs(self) -> list[bytes]:
        return [b for image in self.images for b in image.blobs] + self.extra_blobs


def write_layout(
    path: Path, top: bytes, media_type: str, documents: list[bytes], blobs: list[bytes], *, ref_name: str = "latest"
) -> Path:
    """An OCI image layout directory holding ``top`` (named ``ref_name``), its manifests and blobs."""
    (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for data in [top, *documents, *blobs]:
        (path / "blobs" / "sha256" / digest(data).split(":")[1]).write_bytes(data)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(media_type, top, annotations={"org.opencontainers.image.ref.name": ref_name})],
    }
    (path / "index.json").write_text(json.dumps(index))
    return path


def push_raw(registry: Any, repository: str, image: Image, tag: str | None = None) -> str:
    """Push one image through the provider's registry client (blobs, then the manifest)."""
    for blob in image.blobs:
        registry.push_blob(repository, blob, digest=digest(blob))
    return str(registry.put_manifest(repository, tag or digest(image.manifest), image.manifest, OCI_MANIFEST))


def push_multi(registry: Any, repository: str, multi: MultiPlatform, tag: str) -> str:
    for blob in multi.blobs:
        registry.push_blob(repository, blob, digest=digest(blob))
    for manifest in multi.manifests:
        registry.put_manifest(repository, digest(manifest), manifest, OCI_MANIFEST)
    return str(registry.put_manifest(repository, tag, multi.index, OCI_INDEX))


# -- supply-chain attestations (SBOM, provenance) and referrers ------------------------------------------------

SPDX_PREDICATE = "https://spdx.dev/Document"
CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
SPDX_JSON = "application/spdx+json"
CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"


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


def in_toto_statement(subject_manifest: bytes, predicate_type: str, predicate: Any) -> bytes:
    """An in-toto v0.1 statement about the image whose manifest is ``subject_manifest``."""
    return canonical(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": predicate_type,
            "subject": [
                {"name": "pkg:docker/test@latest", "digest": {"sha256": digest(subject_manifest).split(":")[1]}}
            ],
            "predicate": predicate,
        }
    )


def attestation_manifest(statements: list[tuple[str, bytes]]) -> tuple[bytes, list[bytes]]:
    """A BuildKit-style attestation manifest with one in-toto layer per ``(predicate type, statement bytes)``;
    the bytes are used as given, so a test can make them malformed. Returns the manifest and its blobs."""
    config = canonical({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers"}})
    layers = [
        descriptor(IN_TOTO, statement, annotations={"in-toto.io/predicate-type": predicate_type})
        for predicate_type, statement in statements
    ]
    manifest = canonical(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config), "layers": layers}
    )
    return manifest, [config, *(statement for _, statement in statements)]


def attested_index(
    entries: list[tuple[Image, tuple[bytes, list[bytes]] | None]],
) -> tuple[bytes, list[bytes], list[bytes]]:
    """An index of images, each with its own attestation manifest (or none), linked as BuildKit links them.
    Returns ``(index, manifests, blobs)`` for :func:`push_index`."""
    descriptors = [descriptor(OCI_MANIFEST, image.manifest, platform=image.platform) for image, _ in entries]
    manifests = [image.manifest for image, _ in entries]
    blobs = [blob for image, _ in entries for blob in image.blobs]
    for image, attestation in entries:
        if attestation is None:
            continue
        manifest, attestation_blobs = attestation
        manifests.append(manifest)
        blobs.extend(attestation_blobs)
        descriptors.append(
            descriptor(
                OCI_MANIFEST,
                manifest,
                platform={"os": "unknown", "architecture": "unknown"},
                annotations={
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": digest(image.manifest),
                },
            )
        )
    index = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors})
    return index, manifests, blobs


def push_index(registry: Any, repository: str, built: tuple[bytes, list[bytes], list[bytes]], tag: str) -> str:
    index, manifests, blobs = built
    for blob in blobs:
        registry.push_blob(repository, blob, digest=digest(blob))
    for manifest in manifests:
        registry.put_manifest(repository, digest(manifest), manifest, OCI_MANIFEST)
    return str(registry.put_manifest(repository, tag, index, OCI_INDEX))


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
    fallback = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    tag = "sha256-" + subject_digest.split(":")[1]
    return str(registry.put_manifest(repository, tag, fallback, OCI_INDEX))
