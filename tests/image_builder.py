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
