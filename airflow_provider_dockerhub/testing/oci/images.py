"""Images for tests: one platform's image, multi-platform indexes with attestations, and pushing them through
the provider's registry client (blobs first, then manifests, then the tagged top)."""

from __future__ import annotations

from dataclasses import dataclass, field
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
)

Built = tuple[bytes, list[bytes], list[bytes]]  # (index, manifests, blobs)


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
            "rootfs": {"type": "layers", "diff_ids": [diff_id(self.layer)]},
        }
        if self.variant:
            config["variant"] = self.variant
        self.config = canonical(config)
        self.manifest = image_manifest(self.config, [self.layer])

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
    statement = in_toto_statement(
        image.manifest,
        SPDX_PREDICATE,
        predicate or {"spdxVersion": "SPDX-2.3", "packages": []},
        subject_name="image",
    )
    return attestation_manifest([(SPDX_PREDICATE, statement)])


@dataclass
class MultiPlatform:
    """An index of several images plus one attestation manifest per image (as BuildKit pushes them)."""

    images: list[Image]
    attestations: bool = True

    def __post_init__(self) -> None:
        entries = [descriptor(OCI_MANIFEST, image.manifest, platform=image.platform) for image in self.images]
        self.extra_manifests: list[bytes] = []
        self.extra_blobs: list[bytes] = []
        if self.attestations:
            for image in self.images:
                manifest, blobs = attestation_for(image)
                self.extra_manifests.append(manifest)
                self.extra_blobs.extend(blobs)
                entries.append(attestation_descriptor(manifest, image.manifest))
        self.index = image_index(entries)

    @property
    def manifests(self) -> list[bytes]:
        return [image.manifest for image in self.images] + self.extra_manifests

    @property
    def blobs(self) -> list[bytes]:
        return [b for image in self.images for b in image.blobs] + self.extra_blobs


def attested_index(entries: list[tuple[Image, tuple[bytes, list[bytes]] | None]]) -> Built:
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
        descriptors.append(attestation_descriptor(manifest, image.manifest))
    return image_index(descriptors), manifests, blobs


def push_raw(registry: Any, repository: str, image: Image, tag: str | None = None) -> str:
    """Push one image through the provider's registry client (blobs, then the manifest)."""
    for blob in image.blobs:
        registry.push_blob(repository, blob, digest=digest(blob))
    return str(registry.put_manifest(repository, tag or digest(image.manifest), image.manifest, OCI_MANIFEST))


def push_index(registry: Any, repository: str, built: Built, tag: str) -> str:
    """Push an index's blobs and manifests by digest, then the index under ``tag``."""
    index, manifests, blobs = built
    for blob in blobs:
        registry.push_blob(repository, blob, digest=digest(blob))
    for manifest in manifests:
        registry.put_manifest(repository, digest(manifest), manifest, OCI_MANIFEST)
    return str(registry.put_manifest(repository, tag, index, OCI_INDEX))


def push_multi(registry: Any, repository: str, multi: MultiPlatform, tag: str) -> str:
    return push_index(registry, repository, (multi.index, multi.manifests, multi.blobs), tag)
