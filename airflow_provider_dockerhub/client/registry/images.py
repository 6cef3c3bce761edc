"""Image-level operations built on the registry client: platforms, config, inspect, and copy/promote.

Multi-platform images are an index of per-platform manifests; BuildKit adds attestation manifests to the index
with the platform ``unknown/unknown`` (annotation ``vnd.docker.reference.type: attestation-manifest``). Those are
not platforms: they are left out of platform listings unless asked for, and never picked as "the" image.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from ..core.errors import InvalidInputError, ProtocolError
from ..core.flow import Flow
from ..core.reference import validate_digest
from .api import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    RegistryOperations,
)

log = logging.getLogger("airflow_provider_dockerhub.client.registry.images")

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"


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


def is_index(manifest: Manifest) -> bool:
    return _media_type(manifest) in INDEX_TYPES


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


def _media_type(manifest: Manifest) -> str:
    if manifest.media_type in MANIFEST_MEDIA_TYPES:
        return manifest.media_type
    declared = manifest.json().get("mediaType")
    if declared in MANIFEST_MEDIA_TYPES:
        return str(declared)
    # OCI allows an index/manifest without mediaType; tell them apart by shape.
    return OCI_INDEX if "manifests" in manifest.json() else OCI_MANIFEST


def child_descriptors(manifest: Manifest) -> list[dict[str, Any]]:
    return [d for d in manifest.json().get("manifests") or [] if isinstance(d, dict)]


def blob_descriptors(manifest: Manifest) -> list[dict[str, Any]]:
    """Config first, then layers: the blobs an image manifest references."""
    data = manifest.json()
    blobs = [data["config"]] if isinstance(data.get("config"), dict) else []
    blobs.extend(d for d in data.get("layers") or [] if isinstance(d, dict))
    return blobs


class ImageOperations:
    def __init__(self, registry: RegistryOperations) -> None:
        self.registry = registry

    def platforms(
        self, repository: str, reference: str, include_attestations: bool = False
    ) -> Flow[list[dict[str, Any]]]:
        manifest = yield from self.registry.get_manifest(repository, reference)
        if _media_type(manifest) in INDEX_TYPES:
            return [
                {
                    "platform": str(Platform.of(d)) if Platform.of(d) else None,
                    "digest": d.get("digest"),
                    "mediaType": d.get("mediaType"),
                    "size": d.get("size"),
                    "attestation": is_attestation(d),
                }
                for d in child_descriptors(manifest)
                if include_attestations or not is_attestation(d)
            ]
        config = yield from self._config_of(repository, manifest)
        platform = Platform(str(config.get("os", "")), str(config.get("architecture", "")), config.get("variant"))
        return [
            {
                "platform": str(platform) if platform.os else None,
                "digest": manifest.digest,
                "mediaType": _media_type(manifest),
                "size": len(manifest.raw),
                "attestation": False,
            }
        ]

    def image_manifest(self, repository: str, reference: str, platform: str | None = None) -> Flow[Manifest]:
        """The single-platform manifest for ``reference``: an index is resolved with ``platform``, which is
        required when the index holds more than one real platform (no silent ``linux/amd64`` default)."""
        if platform is not None:
            Platform.parse(platform)  # a malformed platform is refused before any request
        manifest = yield from self.registry.get_manifest(repository, reference)
        if _media_type(manifest) not in INDEX_TYPES:
            if platform is not None:
                config = yield from self._config_of(repository, manifest)
                have = Platform(str(config.get("os", "")), str(config.get("architecture", "")), config.get("variant"))
                if not Platform.parse(platform).matches(have):
                    raise InvalidInputError(f"{repository}:{reference} is a {have} image, not {platform}")
            return manifest
        chosen = select_platform(manifest, platform, f"{repository}:{reference}")
        digest = validate_digest(str(chosen.get("digest")))
        return (yield from self.registry.get_manifest(repository, digest))

    def _config_of(self, repository: str, manifest: Manifest) -> Flow[dict[str, Any]]:
        descriptor = manifest.json().get("config")
        if not isinstance(descriptor, dict) or not descriptor.get("digest"):
            raise ProtocolError("GET", f"/v2/{repository}/manifests/{manifest.digest}", "manifest has no config")
        raw = yield from self.registry.get_blob(repository, validate_digest(str(descriptor["digest"])))
        try:
            config = json.loads(raw)  # whatever Content-Type a CDN served it with (reference package's W5)
        except ValueError as exc:
            raise ProtocolError("GET", f"/v2/{repository}/blobs/{descriptor['digest']}", "config is not JSON") from exc
        if not isinstance(config, dict):
            raise ProtocolError("GET", f"/v2/{repository}/blobs/{descriptor['digest']}", "config is not an object")
        return config

    def config(self, repository: str, reference: str, platform: str | None = None) -> Flow[dict[str, Any]]:
        manifest = yield from self.image_manifest(repository, reference, platform)
        return (yield from self._config_of(repository, manifest))

    def inspect(self, repository: str, reference: str, platform: str | None = None) -> Flow[dict[str, Any]]:
        if platform is not None:
            Platform.parse(platform)  # a malformed platform is refused before any request
        top = yield from self.registry.get_manifest(repository, reference)
        platforms = yield from self.platforms(repository, top.digest)
        result: dict[str, Any] = {
            "repository": self.registry.repository(repository),
            "reference": reference,
            "digest": top.digest,
            "media_type": _media_type(top),
            "platforms": platforms,
        }
        if platform is not None or _media_type(top) not in INDEX_TYPES or len(platforms) == 1:
            image = yield from self.image_manifest(repository, top.digest, platform)
            result["image_digest"] = image.digest
            result["config"] = yield from self._config_of(repository, image)
        return result


class DownloadedBlob:
    """A blob fetched from a source registry into a temporary file when the destination cannot mount it.

    Used as the push source of a copy: bounded memory, digest verified by ``fetch_blob`` before any byte is
    offered to the destination.
    """

    def __init__(self, fetch: Any, repository: str, digest: str, directory: str | None = None) -> None:
        self._fetch = fetch  # (repository, digest, sink) -> size; runs the source registry's fetch_blob
        self._repository = repository
        self._digest = digest
        self._directory = directory
        self._path: str | None = None
        self.size: int | None = None

    @property
    def seekable(self) -> bool:
        return True

    def open_at(self, offset: int) -> IO[bytes]:
        if self._path is None:
            fd, path = tempfile.mkstemp(prefix="dockerhub-copy-", dir=self._directory)
            try:
                with os.fdopen(fd, "wb") as out:
                    self.size = self._fetch(self._repository, self._digest, out.write)
            except BaseException:
                os.unlink(path)
                raise
            self._path = path
        handle = open(self._path, "rb")  # noqa: SIM115 - the push engine closes it
        handle.seek(offset)
        return handle

    def discard(self) -> None:
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            self._path = None
