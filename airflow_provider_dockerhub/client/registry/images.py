"""Image-level flows on the registry operations: platforms, the single-platform manifest, config, inspect.

Each is a function of the operations object (``platforms(ops, ...)``), so a front exposes it in one line
(``sync_call(platforms)``) and other flows compose it with ``yield from``.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.errors import InvalidInputError, ProtocolError
from ..core.flow import Flow
from ..core.reference import validate_digest
from .api import RegistryOperations
from .media import INDEX_TYPES, Manifest, Platform, child_descriptors, is_attestation, media_type_of, select_platform


def platforms(
    ops: RegistryOperations, repository: str, reference: str, include_attestations: bool = False
) -> Flow[list[dict[str, Any]]]:
    """The image's platforms; attestation entries (``unknown/unknown``) only when asked for."""
    manifest = yield from ops.get_manifest(repository, reference)
    if media_type_of(manifest) in INDEX_TYPES:
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
    platform = Platform.of_config((yield from config_of(ops, repository, manifest)))
    return [
        {
            "platform": str(platform) if platform.os else None,
            "digest": manifest.digest,
            "mediaType": media_type_of(manifest),
            "size": len(manifest.raw),
            "attestation": False,
        }
    ]


def image_manifest(
    ops: RegistryOperations, repository: str, reference: str, platform: str | None = None
) -> Flow[Manifest]:
    """The single-platform manifest for ``reference``: an index is resolved with ``platform``, which is
    required when the index holds more than one real platform (no silent ``linux/amd64`` default)."""
    if platform is not None:
        Platform.parse(platform)  # a malformed platform is refused before any request
    manifest = yield from ops.get_manifest(repository, reference)
    if media_type_of(manifest) not in INDEX_TYPES:
        if platform is not None:
            have = Platform.of_config((yield from config_of(ops, repository, manifest)))
            if not Platform.parse(platform).matches(have):
                raise InvalidInputError(f"{repository}:{reference} is a {have} image, not {platform}")
        return manifest
    chosen = select_platform(manifest, platform, f"{repository}:{reference}")
    digest = validate_digest(str(chosen.get("digest")))
    return (yield from ops.get_manifest(repository, digest))


def config_of(ops: RegistryOperations, repository: str, manifest: Manifest) -> Flow[dict[str, Any]]:
    """The config blob of an image manifest, parsed (JSON object)."""
    descriptor = manifest.json().get("config")
    if not isinstance(descriptor, dict) or not descriptor.get("digest"):
        raise ProtocolError("GET", f"/v2/{repository}/manifests/{manifest.digest}", "manifest has no config")
    raw = yield from ops.get_blob(repository, validate_digest(str(descriptor["digest"])))
    try:
        config = json.loads(raw)  # whatever Content-Type a CDN served it with
    except ValueError as exc:
        raise ProtocolError("GET", f"/v2/{repository}/blobs/{descriptor['digest']}", "config is not JSON") from exc
    if not isinstance(config, dict):
        raise ProtocolError("GET", f"/v2/{repository}/blobs/{descriptor['digest']}", "config is not an object")
    return config


def get_config(
    ops: RegistryOperations, repository: str, reference: str, platform: str | None = None
) -> Flow[dict[str, Any]]:
    """The image config (JSON); ``platform`` (``os/arch[/variant]``) is required for a multi-platform image."""
    manifest = yield from image_manifest(ops, repository, reference, platform)
    return (yield from config_of(ops, repository, manifest))


def inspect(
    ops: RegistryOperations, repository: str, reference: str, platform: str | None = None
) -> Flow[dict[str, Any]]:
    """Digest, media type and platforms of ``reference``, plus the image's config when one image is meant."""
    if platform is not None:
        Platform.parse(platform)  # a malformed platform is refused before any request
    top = yield from ops.get_manifest(repository, reference)
    found = yield from platforms(ops, repository, top.digest)
    result: dict[str, Any] = {
        "repository": ops.repository(repository),
        "reference": reference,
        "digest": top.digest,
        "media_type": media_type_of(top),
        "platforms": found,
    }
    if platform is not None or media_type_of(top) not in INDEX_TYPES or len(found) == 1:
        image = yield from image_manifest(ops, repository, top.digest, platform)
        result["image_digest"] = image.digest
        result["config"] = yield from config_of(ops, repository, image)
    return result
