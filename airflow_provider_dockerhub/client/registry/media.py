"""What the registry serves, as values: manifest media types, ``Manifest``/``ManifestHead``, platforms, and the
descriptor helpers that read an index or an image manifest. Pure: no requests.

Multi-platform images are an index of per-platform manifests; BuildKit adds attestation manifests to the index
with the platform ``unknown/unknown`` (annotation ``vnd.docker.reference.type: attestation-manifest``). Those are
not platforms: they are left out of platform listings unless asked for, and never picked as "the" image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core.errors import InvalidInputError, ProtocolError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
# Manifests are small JSON documents; distribution 2.8 refuses those over 4 MiB.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"


@dataclass(frozen=True)
class ManifestHead:
    digest: str
    media_type: str | None
    size: int | None


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as served: ``raw`` bytes (what the digest covers), media type and digest."""

    raw: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        """The parsed manifest; a ``ProtocolError`` when the bytes served are not a JSON object (an HTML page
        from a captive portal, say)."""
        try:
            data = json.loads(self.raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError("GET", f"manifest {self.digest}", f"not JSON ({self.media_type or 'no type'})") from exc
        if not isinstance(data, dict):
            raise ProtocolError("GET", f"manifest {self.digest}", "not a JSON object")
        return data


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/") if isinstance(text, str) else []
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidInputError(f"invalid platform {text!r}: expected 'os/architecture[/variant]'")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def of(cls, descriptor: dict[str, Any]) -> Platform | None:
        platform = descriptor.get("platform")
        if not isinstance(platform, dict) or not platform.get("os") or not platform.get("architecture"):
            return None
        return cls(str(platform["os"]), str(platform["architecture"]), platform.get("variant") or None)

    @classmethod
    def of_config(cls, config: dict[str, Any]) -> Platform:
        """The platform an image config declares (``os``/``architecture``/``variant``; empty when absent)."""
        return cls(str(config.get("os", "")), str(config.get("architecture", "")), config.get("variant"))

    def matches(self, other: Platform) -> bool:
        """``linux/arm64`` matches ``linux/arm64/v8``; a variant given must match exactly."""
        same = (self.os, self.architecture) == (other.os, other.architecture)
        return same and (self.variant is None or self.variant == other.variant)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def is_attestation(descriptor: dict[str, Any]) -> bool:
    annotations = descriptor.get("annotations")
    if isinstance(annotations, dict) and annotations.get(ATTESTATION_ANNOTATION) == "attestation-manifest":
        return True
    platform = Platform.of(descriptor)
    return platform is not None and (platform.os, platform.architecture) == ("unknown", "unknown")


def media_type_of(manifest: Manifest) -> str:
    """The manifest's media type: as served, else as declared inside, else told apart by shape (OCI allows an
    index or manifest without ``mediaType``)."""
    if manifest.media_type in MANIFEST_MEDIA_TYPES:
        return manifest.media_type
    declared = manifest.json().get("mediaType")
    if declared in MANIFEST_MEDIA_TYPES:
        return str(declared)
    return OCI_INDEX if "manifests" in manifest.json() else OCI_MANIFEST


def is_index(manifest: Manifest) -> bool:
    return media_type_of(manifest) in INDEX_TYPES


def child_descriptors(manifest: Manifest) -> list[dict[str, Any]]:
    return [d for d in manifest.json().get("manifests") or [] if isinstance(d, dict)]


def blob_descriptors(manifest: Manifest) -> list[dict[str, Any]]:
    """Config first, then layers: the blobs an image manifest references."""
    data = manifest.json()
    blobs = [data["config"]] if isinstance(data.get("config"), dict) else []
    blobs.extend(d for d in data.get("layers") or [] if isinstance(d, dict))
    return blobs


def select_platform(index: Manifest, platform: str | None, where: str) -> dict[str, Any]:
    """The index entry for ``platform``, which is required when the index holds more than one real platform
    (no silent ``linux/amd64`` default); attestation entries are never candidates."""
    candidates = [d for d in child_descriptors(index) if not is_attestation(d)]
    if platform is not None:
        wanted = Platform.parse(platform)
        candidates = [d for d in candidates if (p := Platform.of(d)) is not None and wanted.matches(p)]
    if len(candidates) != 1:
        offered = sorted(str(Platform.of(d)) for d in child_descriptors(index) if not is_attestation(d))
        problem = "no manifest for" if not candidates else "several manifests match"
        raise InvalidInputError(f"{where}: {problem} platform {platform or '(none given)'}; available: {offered}")
    return candidates[0]
