"""What a SLSA provenance predicate written by BuildKit says, as the policies need it: its mode (docker/docs
``build/metadata/attestations/slsa-definitions``: ``buildConfig`` is "Only included with ``mode=max``"), and the
images the build used (v0.2 ``materials``, v1 ``buildDefinition.resolvedDependencies``; "Docker image URLs are
in the Package URL format"). Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

BUILDKIT_BUILD_TYPES = frozenset(
    {
        "https://mobyproject.org/buildkit@v1",  # SLSA v0.2 (and BuildKit's v1 before it had its own page)
        "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",  # SLSA v1
    }
)


def provenance_mode(predicate: Any) -> str:
    """``max`` or ``min`` for BuildKit provenance, ``empty`` for ``{}``/null, ``other`` for a predicate that is
    not BuildKit's (another builder's provenance has no BuildKit mode, so it is not max mode)."""
    if not isinstance(predicate, dict) or not predicate:
        return "empty"
    definition = predicate.get("buildDefinition")
    v1 = isinstance(definition, dict)
    build_type = (definition or {}).get("buildType") if v1 else predicate.get("buildType")
    if build_type not in BUILDKIT_BUILD_TYPES:
        return "other"
    if v1:
        internal = (definition or {}).get("internalParameters")
        config = internal.get("buildConfig") if isinstance(internal, dict) else None
    else:
        config = predicate.get("buildConfig")
    steps = config.get("llbDefinition") if isinstance(config, dict) else None
    return "max" if isinstance(steps, list) and steps else "min"


@dataclass(frozen=True)
class ImageMaterial:
    """An image the build pulled: ``name`` canonical (``docker.io/library/alpine``), ``tag`` (``None`` when
    pinned by digest), ``digest`` as resolved at build time, ``platform`` (the purl qualifier)."""

    name: str
    tag: str | None
    digest: str | None
    platform: str | None


def canonical_name(name: str) -> str:
    """``alpine`` -> ``docker.io/library/alpine``; ``acme/app`` -> ``docker.io/acme/app``; a first part with a dot
    or a port (or ``localhost``) is a registry host, as the Docker CLI reads references."""
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host = "docker.io" if first in ("index.docker.io", "registry-1.docker.io") else first
        return f"{host}/{'library/' + rest if host == 'docker.io' and '/' not in rest else rest}"
    return f"docker.io/{name}" if rest else f"docker.io/library/{name}"


def image_materials(predicate: Any) -> list[ImageMaterial] | None:
    """The images a build used (the platform-qualified ``pkg:docker`` materials: the Dockerfile frontend image is
    recorded without a platform and is not a base image). ``None`` when the predicate lists no materials at all
    (not "no base image": it cannot tell)."""
    if not isinstance(predicate, dict):
        return None
    definition = predicate.get("buildDefinition")
    materials = definition.get("resolvedDependencies") if isinstance(definition, dict) else predicate.get("materials")
    if not isinstance(materials, list):
        return None
    found = []
    for material in materials:
        uri = str(material.get("uri") or "") if isinstance(material, dict) else ""
        if not uri.startswith("pkg:docker/"):
            continue
        path, _, query = uri[len("pkg:docker/") :].partition("?")
        qualifiers = parse_qs(query)
        platform = qualifiers.get("platform", [None])[0]
        if not platform:
            continue
        name, _, version = unquote(path).rpartition("@")
        if not name:
            name, version = version, ""
        sha = (material.get("digest") or {}).get("sha256") if isinstance(material.get("digest"), dict) else None
        pinned = version.startswith("sha256:")
        found.append(
            ImageMaterial(
                canonical_name(name),
                None if pinned or not version else version,
                f"sha256:{sha}" if sha else (version if pinned else None),
                platform,
            )
        )
    return found
