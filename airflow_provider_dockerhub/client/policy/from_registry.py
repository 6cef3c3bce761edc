"""Supply-chain evidence from a registry alone: image config, attestations, SBOM packages. No Scout needed.

Attestations are found two ways: BuildKit's attestation manifests inside the image index (linked to the image
by ``vnd.docker.reference.digest``), and OCI referrers of the image (or its index), whose tag-schema fallback the
registry client reads on registries without the referrers API. Everything read is size-capped and digest-verified
by the client. A malformed or unreadable attestation never raises: it turns the affected facts into "unknown"
(``None``) with the reason in ``ImageEvidence.sources``, so a gate can refuse to pass on it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.errors import DockerHubError, InvalidInputError
from ..core.flow import Flow
from ..core.front import SyncFront
from ..core.reference import is_digest, is_docker_hub_registry, validate_digest
from ..registry.api import RegistryOperations
from ..registry.media import Manifest, Platform, blob_descriptors, child_descriptors, is_index, select_platform
from .evidence import BaseImage, ImageEvidence, Package, Suppression, purl_type
from .provenance import ImageMaterial, image_materials, provenance_mode
from .vex import OPENVEX_MEDIA_TYPES, is_openvex, vex_suppressions

log = logging.getLogger("airflow_provider_dockerhub.client.policy.from_registry")

# SBOMs of large images run to tens of MiB; beyond this, reading one into memory is not worth the risk.
MAX_ATTESTATION_SIZE = 64 * 1024 * 1024
# Attestation manifests and referrers examined, and attestation blobs read, per image: bounds the requests
# (and memory churn) a hostile index or referrers list can cause.
MAX_DOCUMENTS = 32
MAX_BLOBS = 64
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
PREDICATE_ANNOTATION = "in-toto.io/predicate-type"
SPDX_TYPES = frozenset({"application/spdx+json", "text/spdx+json"})
CYCLONEDX_TYPES = frozenset({"application/vnd.cyclonedx+json"})
IN_TOTO_TYPES = frozenset({"application/vnd.in-toto+json"})
DSSE_TYPES = frozenset({"application/vnd.dsse.envelope.v1+json"})
# Referrers of other kinds (signatures, ...) are skipped without being fetched.
FOLLOWED_ARTIFACTS = SPDX_TYPES | CYCLONEDX_TYPES | IN_TOTO_TYPES | DSSE_TYPES | OPENVEX_MEDIA_TYPES
_NO_LICENSE = frozenset({"", "NOASSERTION", "NONE"})


def predicate_kind(predicate_type: str | None) -> str | None:
    """``spdx``, ``cyclonedx``, ``provenance`` or ``vex`` for an in-toto predicate type; ``None`` for any other.

    Prefix matches, because the in-toto attestation spec lets producers add a version (``.../Document/v2.3``).
    """
    text = str(predicate_type or "")
    if text.startswith("https://spdx.dev/Document"):
        return "spdx"
    if text.startswith("https://cyclonedx.org/bom"):
        return "cyclonedx"
    if text.startswith("https://slsa.dev/provenance/"):
        return "provenance"
    if is_openvex(text):
        return "vex"
    return None


def _attestation(kind: str | None) -> tuple[str, ...]:
    """Which facts a document of ``kind`` can prove; an unidentified one could be either."""
    return ("provenance",) if kind == "provenance" else ("sbom",) if kind else ("sbom", "provenance")


def spdx_packages(document: Any) -> list[Package]:
    """Packages of an SPDX 2.x JSON document, with the purl from ``externalRefs`` and both license fields."""
    if not isinstance(document, dict) or not str(document.get("spdxVersion", "")).startswith("SPDX-2"):
        raise ValueError("not an SPDX 2.x JSON document")
    packages = document.get("packages", [])
    if not isinstance(packages, list):
        raise ValueError("SPDX 'packages' is not a list")
    result = []
    for entry in packages:
        if not isinstance(entry, dict):
            continue
        refs = [r for r in entry.get("externalRefs") or [] if isinstance(r, dict)]
        purl = next((str(r.get("referenceLocator") or "") for r in refs if r.get("referenceType") == "purl"), "")
        licenses = [entry.get("licenseConcluded"), entry.get("licenseDeclared")]
        result.append(_package(purl, entry.get("name"), entry.get("versionInfo"), licenses))
    return result


def cyclonedx_packages(document: Any) -> list[Package]:
    """Components of a CycloneDX JSON BOM (nested ones too) with ``licenses[].license.id|name|expression``."""
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise ValueError("not a CycloneDX JSON document")
    queue = [c for c in document.get("components") or [] if isinstance(c, dict)]
    result = []
    while queue:
        component = queue.pop(0)
        queue.extend(c for c in component.get("components") or [] if isinstance(c, dict))
        licenses: list[Any] = []
        for choice in component.get("licenses") or []:
            if isinstance(choice, dict):
                inner = choice.get("license")
                inner = inner if isinstance(inner, dict) else {}
                licenses.append(choice.get("expression") or inner.get("id") or inner.get("name"))
        result.append(_package(component.get("purl"), component.get("name"), component.get("version"), licenses))
    return result


def _package(purl: Any, name: Any, version: Any, licenses: list[Any]) -> Package:
    kept = (str(x).strip() for x in licenses if x is not None)
    unique = tuple(dict.fromkeys(x for x in kept if x.upper() not in _NO_LICENSE))
    purl = str(purl or "")
    return Package(purl, str(name or ""), str(version or ""), purl_type(purl), unique)


@dataclass
class _Findings:
    """What the attestations proved, what they left in doubt, and the SBOM packages collected so far."""

    found: dict[str, list[str]] = field(default_factory=lambda: {"sbom": [], "provenance": []})
    doubts: dict[str, list[str]] = field(default_factory=lambda: {"sbom": [], "provenance": []})
    packages: dict[tuple[str, str, str], Package] = field(default_factory=dict)
    sbom_sources: list[str] = field(default_factory=list)
    broken_sboms: list[str] = field(default_factory=list)  # documents that were, or might have been, SBOMs
    provenance: list[Any] = field(default_factory=list)  # the readable provenance predicates
    vex: list[Suppression] = field(default_factory=list)
    vex_sources: list[str] = field(default_factory=list)

    def doubt(self, kinds: tuple[str, ...], reason: str) -> None:
        log.warning("supply-chain evidence: %s", reason)
        for kind in kinds:
            self.doubts[kind].append(reason)
        if "sbom" in kinds:
            self.broken_sboms.append(reason)

    def add_packages(self, packages: list[Package]) -> None:
        for new in packages:
            key = (new.purl, new.name, new.version)
            before = self.packages.get(key)
            # Two SBOMs (e.g. one per build stage) may list it: keep every license seen.
            licenses = before.licenses + new.licenses if before else new.licenses
            self.packages[key] = Package(*key, new.type, tuple(dict.fromkeys(licenses)))


class _Gatherer:
    def __init__(self, ops: RegistryOperations, repository: str) -> None:
        self.ops = ops
        self.repository = repository
        self.findings = _Findings()
        self.seen: set[str] = set()
        self.reads = 0

    def manifest(self, digest: Any, origin: str, subjects: set[str], subject: str | None = None) -> Flow[None]:
        """Read one attestation manifest (index entry or referrer) and each of its attestation layers."""
        label = f"{origin} {str(digest)[:19]}"
        if str(digest) in self.seen:
            return
        if len(self.seen) >= MAX_DOCUMENTS:
            self.findings.doubt(("sbom", "provenance"), f"{label} not read: more than {MAX_DOCUMENTS} documents")
            return
        self.seen.add(str(digest))
        try:
            data = (yield from self.ops.get_manifest(self.repository, validate_digest(str(digest)))).json()
            layers = [d for d in data.get("layers") or [] if isinstance(d, dict)]
            declared = (data.get("subject") or {}).get("digest") if subject else None
        except (DockerHubError, ValueError, TypeError, AttributeError) as exc:
            self.findings.doubt(("sbom", "provenance"), f"{label} unreadable: {exc}")
            return
        if subject is not None and declared != subject:
            # A stale or forged fallback-tag entry: it does not attest this image, so it cannot count.
            self.findings.doubt(("sbom", "provenance"), f"{label} has subject {declared}, not {subject}")
            return
        config = data.get("config")
        config = config if isinstance(config, dict) else {}
        artifact_type = str(data.get("artifactType") or config.get("mediaType") or "")
        for number, layer in enumerate(layers):
            yield from self.layer(layer, f"{label} layer {number}", artifact_type, subjects)

    def layer(self, layer: dict[str, Any], label: str, artifact_type: str, subjects: set[str]) -> Flow[None]:
        media_type = str(layer.get("mediaType") or "")
        if media_type in IN_TOTO_TYPES | DSSE_TYPES:
            annotations = layer.get("annotations")
            predicate = annotations.get(PREDICATE_ANNOTATION) if isinstance(annotations, dict) else None
            kind = predicate_kind(predicate)
            if predicate and kind is None:
                return  # an attestation of another kind (vulnerability scan...): nothing to learn here
        elif media_type in OPENVEX_MEDIA_TYPES or (
            artifact_type in OPENVEX_MEDIA_TYPES and media_type.endswith("json")
        ):
            kind = "vex"
        elif media_type in SPDX_TYPES or (artifact_type in SPDX_TYPES and media_type.endswith("json")):
            kind = "spdx"
        elif media_type in CYCLONEDX_TYPES or (artifact_type in CYCLONEDX_TYPES and media_type.endswith("json")):
            kind = "cyclonedx"
        else:
            return  # an empty config, a signature, a layer of an unrelated artifact
        try:
            document = yield from self.read(layer)
            if media_type in IN_TOTO_TYPES | DSSE_TYPES:
                kind, document = self.statement(document, kind, subjects)
                if kind is None:
                    return  # read to learn its predicate type: neither an SBOM nor provenance
            if kind == "vex":
                found = vex_suppressions(document, label)
                self.findings.vex += found
                self.findings.vex_sources.append(f"{label} ({len(found)} suppressing statements)")
                return
            if kind == "provenance":
                if document is not None and not isinstance(document, dict):
                    raise ValueError("provenance predicate is not an object")
                self.findings.provenance.append(document)
                self.findings.found["provenance"].append(f"{label} ({provenance_mode(document)} mode)")
                return
            packages = spdx_packages(document) if kind == "spdx" else cyclonedx_packages(document)
        except (DockerHubError, ValueError, TypeError, KeyError, AttributeError) as exc:
            if kind == "vex":  # an unreadable VEX suppresses nothing: the vulnerabilities it names still count
                self.findings.vex_sources.append(f"{label} unreadable (suppresses nothing): {exc}")
                return
            self.findings.doubt(_attestation(kind), f"{label} unreadable: {exc}")
            return
        self.findings.add_packages(packages)
        self.findings.found["sbom"].append(label)
        self.findings.sbom_sources.append(f"{label} ({kind}, {len(packages)} packages)")

    def read(self, layer: dict[str, Any]) -> Flow[Any]:
        self.reads += 1
        if self.reads > MAX_BLOBS:
            raise ValueError(f"not read: more than {MAX_BLOBS} attestation blobs")
        size = layer.get("size")
        if isinstance(size, int) and size > MAX_ATTESTATION_SIZE:
            raise ValueError(f"{size} bytes is over the {MAX_ATTESTATION_SIZE}-byte cap")
        digest = validate_digest(str(layer.get("digest")))
        return json.loads((yield from self.ops.get_blob(self.repository, digest, max_size=MAX_ATTESTATION_SIZE)))

    @staticmethod
    def statement(document: Any, annotated: str | None, subjects: set[str]) -> tuple[str | None, Any]:
        """The kind and predicate of an in-toto statement (bare, or in a DSSE envelope), checked against the
        layer's predicate-type annotation and the image it claims to describe."""
        if isinstance(document, dict) and "payload" in document and "payloadType" in document:
            try:
                document = json.loads(base64.b64decode(str(document["payload"]), validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"DSSE payload is not base64 JSON: {exc}") from exc
        if not isinstance(document, dict) or not str(document.get("_type", "")).startswith("https://in-toto.io/"):
            raise ValueError("not an in-toto statement")
        kind = predicate_kind(document.get("predicateType"))
        if annotated is not None and kind != annotated:
            raise ValueError(f"predicateType {document.get('predicateType')!r} contradicts the layer annotation")
        named = {
            f"sha256:{s['digest']['sha256']}"
            for s in document.get("subject") or []
            if isinstance(s, dict) and isinstance(s.get("digest"), dict) and s["digest"].get("sha256")
        }
        if named and not named & subjects:
            raise ValueError("the statement's subject is another image")
        if kind is None:
            return None, None
        return kind, document.get("predicate")


def _blob_digests(image: Manifest) -> set[str]:
    try:
        return {str(d.get("digest")) for d in blob_descriptors(image)}
    except ValueError:
        return set()


def gather_registry_evidence(
    registry: SyncFront[RegistryOperations], repository: str, reference: str, platform: str | None = None
) -> ImageEvidence:
    """:func:`registry_evidence` run by a sync registry front."""
    return registry.run(registry_evidence(registry.ops, repository, reference, platform))


def registry_evidence(
    ops: RegistryOperations, repository: str, reference: str, platform: str | None = None
) -> Flow[ImageEvidence]:
    """Evidence about one platform image from the registry alone (no vulnerability data: that needs a scanner).

    ``platform`` (``os/arch[/variant]``) is required when ``reference`` is an index of several platforms. Only
    the image itself must be readable; missing, malformed or unreachable attestations become unknowns.
    """
    where = f"{repository}{'@' if is_digest(reference) else ':'}{reference}"
    if platform is not None:
        Platform.parse(platform)  # a malformed platform is refused before any request
    top = yield from ops.get_manifest(repository, reference)
    index = top if is_index(top) else None
    image, chosen = top, None
    if index is not None:
        entry = select_platform(index, platform, where)
        chosen = Platform.of(entry)
        image = yield from ops.get_manifest(repository, validate_digest(str(entry.get("digest"))))
    sources = {"image": f"index {index.digest} → manifest {image.digest}" if index else f"manifest {image.digest}"}

    user, config_known, config_platform = yield from _read_config(ops, repository, image, sources)
    wanted = Platform.parse(platform) if platform is not None and index is None else None
    if wanted is not None and config_platform is not None and not wanted.matches(config_platform):
        raise InvalidInputError(f"{where} is a {config_platform} image, not {platform}")

    gatherer = _Gatherer(ops, repository)
    # BuildKit's attestation-storage doc: a statement's subject is "the target manifest ... or some object
    # within"; a subject that is none of these is a statement about another image.
    subjects = {image.digest} | ({index.digest} if index else set()) | _blob_digests(image)
    for entry in child_descriptors(index) if index else []:
        annotations = entry.get("annotations")
        if isinstance(annotations, dict) and (
            annotations.get(REFERENCE_TYPE) == "attestation-manifest"
            and annotations.get(REFERENCE_DIGEST) == image.digest
        ):
            yield from gatherer.manifest(entry.get("digest"), "attestation-manifest", subjects)
    for subject in [image.digest] + ([index.digest] if index else []):
        try:
            referrers = yield from ops.referrers(repository, subject)
        except DockerHubError as exc:
            gatherer.findings.doubt(("sbom", "provenance"), f"referrers of {subject[:19]} unavailable: {exc}")
            continue
        for descriptor in referrers:
            artifact_type = descriptor.get("artifactType")
            if artifact_type is None or artifact_type in FOLLOWED_ARTIFACTS:
                yield from gatherer.manifest(descriptor.get("digest"), "referrer", subjects, subject=subject)

    findings = gatherer.findings
    verdicts, packages = _conclude(findings, sources)
    sources["vulnerabilities"] = "unknown: a registry holds no vulnerability data"
    shown = chosen or config_platform
    modes = [provenance_mode(p) for p in findings.provenance]
    mode = next((m for m in ("max", "min", "other", "empty") if m in modes), None)
    layers = [str(d.get("digest")) for d in image.json().get("layers") or [] if isinstance(d, dict)]
    shown_platform = str(shown) if shown else platform
    base_images = yield from _base_images(ops, findings.provenance, shown_platform, layers, sources)
    if findings.vex_sources:
        sources["vex"] = "; ".join(findings.vex_sources)
    return ImageEvidence(
        reference=where,
        digest=image.digest,
        platform=str(shown) if shown and shown.os else None,
        vulnerabilities=None,
        packages=packages,
        sbom=verdicts["sbom"],
        provenance=verdicts["provenance"],
        user=user,
        config_known=config_known,
        sources=sources,
        sbom_packages=sum(1 for p in packages if p.purl) if packages is not None else None,
        provenance_mode=mode,
        base_images=base_images,
        vex=findings.vex,
        distro=_distro(packages),
    )


def _conclude(findings: _Findings, sources: dict[str, str]) -> tuple[dict[str, bool | None], list[Package] | None]:
    """Per attestation kind: proven present, in doubt, or proven absent; and the package list if every SBOM read."""
    verdicts: dict[str, bool | None] = {}
    for kind in ("sbom", "provenance"):
        if findings.found[kind]:
            verdicts[kind], sources[kind] = True, "; ".join(findings.found[kind])
        elif findings.doubts[kind]:
            verdicts[kind], sources[kind] = None, "unknown: " + "; ".join(findings.doubts[kind])
        else:
            verdicts[kind], sources[kind] = False, "none: no attestation manifest or referrer"
    packages: list[Package] | None = None
    if findings.broken_sboms:
        # A partial package list could hide exactly the package a license policy is looking for.
        sources["packages"] = "unknown: " + "; ".join(findings.broken_sboms)
    elif findings.found["sbom"]:
        packages = list(findings.packages.values())
        origin = (
            "sbom-attestation" if any(s.startswith("attestation") for s in findings.sbom_sources) else "sbom-referrer"
        )
        sources["packages"] = f"{origin}: " + "; ".join(findings.sbom_sources)
    else:
        sources["packages"] = "unknown: no SBOM attestation"
    return verdicts, packages


def _distro(packages: list[Package] | None) -> str | None:
    """The OS distribution the SBOM's packages name (syft writes ``distro=debian-12`` into OS package purls);
    ``None`` when none does, or when they disagree."""
    found = set()
    for pkg in packages or []:
        query = pkg.purl.partition("?")[2]
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            if key == "distro" and value:
                found.add(value)
    return found.pop() if len(found) == 1 else None


def _base_images(
    ops: RegistryOperations, predicates: list[Any], platform: str | None, layers: list[str], sources: dict[str, str]
) -> Flow[list[BaseImage] | None]:
    """The base images named by the provenance materials, each looked up: does its tag still point to the digest
    the build used? Images on another registry than the connection's are not looked up (unknown).

    A multi-stage build names every stage's image. Docker's policies are about the runtime stage's base: the one
    whose layers start the image's. When that can be read (the base on the connection's registry), only it is
    kept; otherwise every stage's image is checked, the failing side."""
    materials = next((m for m in (image_materials(p) for p in predicates) if m is not None), None)
    if materials is None:
        sources["base_images"] = "unknown: no provenance materials (no provenance attestation, or it lists none)"
        return None
    found = []
    for material in materials:
        found.append((yield from _lookup(ops, material, platform)))
    how = "provenance"
    if len(found) > 1:
        runtime = []
        for base in found:
            if (yield from _starts(ops, base, platform, layers)):
                runtime.append(base)
        if runtime:
            found, how = runtime, "provenance, runtime stage by its layers"
    sources["base_images"] = f"{how}: " + (", ".join(b.reference for b in found) or "none (FROM scratch)")
    return found


def _starts(ops: RegistryOperations, base: BaseImage, platform: str | None, layers: list[str]) -> Flow[bool]:
    """Whether the image's layers begin with ``base``'s (read at the digest the build used, on our registry)."""
    registry, _, repository = base.name.partition("/")
    host = ops.state.config.registry_host
    if base.digest is None or not (registry == host or (registry == "docker.io" and is_docker_hub_registry(host))):
        return False
    try:
        manifest = yield from ops.get_manifest(repository, base.digest)
        if is_index(manifest):
            entry = select_platform(manifest, platform, base.reference)
            manifest = yield from ops.get_manifest(repository, validate_digest(str(entry.get("digest"))))
        own = [str(d.get("digest")) for d in manifest.json().get("layers") or [] if isinstance(d, dict)]
    except (DockerHubError, ValueError, TypeError, AttributeError):
        return False
    return bool(own) and layers[: len(own)] == own


def _lookup(ops: RegistryOperations, material: ImageMaterial, platform: str | None) -> Flow[BaseImage]:
    base = BaseImage(material.name, material.tag, material.digest, source="provenance")
    if material.tag is None or material.digest is None:
        return replace(base, why="pinned by digest: no tag to compare with")
    host = ops.state.config.registry_host
    registry, _, repository = material.name.partition("/")
    ours = registry == host or (registry == "docker.io" and is_docker_hub_registry(host))
    if not ours:
        return replace(base, why=f"on {registry}, not the connection's registry {host}")
    try:
        top = yield from ops.get_manifest(repository, material.tag)
    except DockerHubError as exc:
        return replace(base, why=f"tag lookup failed: {exc}")
    digests = {top.digest}
    text = material.platform or platform
    wanted = Platform.parse(text) if text else None
    if is_index(top):
        for entry in child_descriptors(top):
            entry_platform = Platform.of(entry)
            if wanted is None or (entry_platform is not None and wanted.matches(entry_platform)):
                digests.add(str(entry.get("digest")))
    current = material.digest in digests
    now = top.digest if not current else None
    return BaseImage(material.name, material.tag, material.digest, current, now, "provenance", "")


def _read_config(
    ops: RegistryOperations, repository: str, image: Manifest, sources: dict[str, str]
) -> Flow[tuple[str | None, bool, Platform | None]]:
    """``(User, known, platform)`` from the image config; an unreadable config is "unknown", not "root"."""
    try:
        descriptor = image.json()["config"]
        digest = validate_digest(str(descriptor["digest"]))
        config = json.loads((yield from ops.get_blob(repository, digest)))
        if not isinstance(config, dict):
            raise ValueError("config is not a JSON object")
        settings = config.get("config") or {}
        user = str(settings.get("User") or "") if isinstance(settings, dict) else ""
    except (DockerHubError, ValueError, TypeError, KeyError, AttributeError) as exc:
        sources["config"] = f"unknown: image config unreadable: {exc}"
        return None, False, None
    sources["config"] = f"registry: image config {digest}"
    arch = str(config.get("architecture") or "")
    platform = Platform(str(config.get("os") or ""), arch, config.get("variant") or None) if arch else None
    return user, True, platform
