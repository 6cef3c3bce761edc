"""Build a small OCI image layout from files, in pure Python, for demos and tests (no Docker needed).

The result is what ``docker buildx build --output type=oci,tar=false`` writes: ``oci-layout``, ``index.json`` and
``blobs/sha256/…``, with one gzipped tar layer per image, an image config (user, env, entrypoint, created), and,
like BuildKit with ``--attest``, attestation manifests carrying an SPDX SBOM and a SLSA provenance statement in an
image index. Layers are reproducible (fixed timestamps), so the same input gives the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
IN_TOTO = "application/vnd.in-toto+json"
SPDX_PREDICATE = "https://spdx.dev/Document"
SLSA_PREDICATE = "https://slsa.dev/provenance/v0.2"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data), **extra}


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


class _Blobs:
    def __init__(self, root: Path) -> None:
        self.dir = root / "blobs" / "sha256"
        self.dir.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        digest = _digest(data)
        (self.dir / digest.split(":", 1)[1]).write_bytes(data)
        return digest


def _layer(files: Mapping[str, bytes]) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mtime, info.mode = len(content), 0, 0o755
            tar.addfile(info, io.BytesIO(content))
    uncompressed = raw.getvalue()
    return gzip.compress(uncompressed, mtime=0), _digest(uncompressed)


def _statement(predicate_type: str, predicate: dict[str, Any], subject_digest: str) -> bytes:
    return _json(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": predicate_type,
            "subject": [{"name": "image", "digest": {"sha256": subject_digest.split(":", 1)[1]}}],
            "predicate": predicate,
        }
    )


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
    return {
        "builder": {"id": builder},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "metadata": {"buildStartedOn": spec.created.isoformat().replace("+00:00", "Z"), "reproducible": True},
        "materials": [],
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
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    blobs = _Blobs(root)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries: list[dict[str, Any]] = []
    attestation_entries: list[dict[str, Any]] = []
    manifests: dict[str, str] = {}
    raw_manifests: list[bytes] = []
    for spec in images:
        os_name, architecture, *variant = spec.platform.split("/")
        layer, diff_id = _layer(spec.files)
        blobs.put(layer)
        config: dict[str, Any] = {
            "created": spec.created.isoformat().replace("+00:00", "Z"),
            "architecture": architecture,
            "os": os_name,
            "config": {
                "Env": list(spec.env),
                "Entrypoint": list(spec.entrypoint),
                "Labels": dict(spec.labels),
                **({"User": spec.user} if spec.user else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": spec.created.isoformat().replace("+00:00", "Z"), "created_by": "oci_build"}],
        }
        if variant:
            config["variant"] = variant[0]
        config_raw = _json(config)
        blobs.put(config_raw)
        manifest = _json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": _descriptor(OCI_CONFIG, config_raw),
                "layers": [_descriptor(OCI_LAYER, layer)],
            }
        )
        digest = blobs.put(manifest)
        manifests[spec.platform] = digest
        raw_manifests.append(manifest)
        platform = {"os": os_name, "architecture": architecture, **({"variant": variant[0]} if variant else {})}
        entries.append(_descriptor(OCI_MANIFEST, manifest, platform=platform))
        if attestations:
            sbom = _statement(SPDX_PREDICATE, _spdx(spec, ref_name), digest)
            provenance = _statement(SLSA_PREDICATE, _provenance(spec, builder), digest)
            empty = _json({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers"}})
            for data in (sbom, provenance, empty):
                blobs.put(data)
            attestation = _json(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": _descriptor(OCI_CONFIG, empty),
                    "layers": [
                        _descriptor(IN_TOTO, sbom, annotations={"in-toto.io/predicate-type": SPDX_PREDICATE}),
                        _descriptor(IN_TOTO, provenance, annotations={"in-toto.io/predicate-type": SLSA_PREDICATE}),
                    ],
                }
            )
            blobs.put(attestation)
            attestation_entries.append(
                _descriptor(
                    OCI_MANIFEST,
                    attestation,
                    platform={"os": "unknown", "architecture": "unknown"},
                    annotations={
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": digest,
                    },
                )
            )
    if len(entries) == 1 and not attestation_entries:
        top, media_type = raw_manifests[0], OCI_MANIFEST
    else:
        top = _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries + attestation_entries})
        media_type = OCI_INDEX
        blobs.put(top)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [_descriptor(media_type, top, annotations={"org.opencontainers.image.ref.name": ref_name})],
    }
    (root / "index.json").write_text(json.dumps(index))
    return BuiltLayout(root, _digest(top), media_type, manifests)
