"""Image names, tags, digests and references as values, validated before any request (pure, no I/O).

Grammar: the distribution reference grammar (``distribution/reference``) and OCI distribution spec §"Pulling":
``<name>`` matches ``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*``, a tag matches
``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}``, a digest is ``algorithm:encoded``. Docker Hub maps single-segment names to
``library/`` (the "official images" namespace); no other registry does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from .errors import InvalidInputError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# Registered algorithms and their encoded lengths (OCI image-spec descriptor.md).
DIGEST_ALGORITHMS = {"sha256": 64, "sha512": 128}
DIGEST_RE = re.compile(r"(?P<algorithm>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<encoded>[a-zA-Z0-9=_-]+)")
_HOST_RE = re.compile(
    r"(?:localhost|\[[0-9a-fA-F:.]+\]|(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?"
)
MAX_NAME_LENGTH = 255

DOCKER_HUB_REGISTRY_HOST = "registry-1.docker.io"
# Hostnames that users write for Docker Hub's registry; all of them mean registry-1.docker.io.
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


def is_docker_hub_registry(host: str) -> bool:
    return host.lower() in DOCKER_HUB_ALIASES


def registry_name(registry: str) -> str:
    """The registry as image references and image Assets name it: ``docker.io`` for Docker Hub (any alias it is
    written as), else ``host[:port]`` in lower case. Accepts a URL (``registry_url``) or a bare host. Pure and
    cheap: image Assets call it at DAG parse time."""
    parts = urlsplit(registry if "://" in registry else f"https://{registry}")
    host = (parts.hostname or "").lower()
    default = {"https": 443, "http": 80}.get(parts.scheme)
    netloc = host if parts.port in (None, default) else f"{host}:{parts.port}"
    if ":" in host:  # an IPv6 literal keeps its brackets, as in a URL
        netloc = f"[{host}]" if parts.port in (None, default) else f"[{host}]:{parts.port}"
    return "docker.io" if is_docker_hub_registry(netloc) else netloc


def validate_repository_name(name: str, *, docker_hub: bool = False) -> str:
    """Return the canonical repository name (``library/`` added on Docker Hub) or raise InvalidInputError."""
    if not isinstance(name, str) or not name:
        raise InvalidInputError("repository name must be a non-empty string")
    if not NAME_RE.fullmatch(name):
        hint = " (names are lower case)" if NAME_RE.fullmatch(name.lower()) else ""
        raise InvalidInputError(f"invalid repository name {name!r}{hint}")
    if docker_hub and "/" not in name:
        name = f"library/{name}"
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"repository name longer than {MAX_NAME_LENGTH} characters: {name[:40]}...")
    return name


def validate_tag(tag: str) -> str:
    if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
        shown = tag if not isinstance(tag, str) or len(tag) <= 40 else tag[:40] + "..."
        reason = " (longer than 128 characters)" if isinstance(tag, str) and len(tag) > 128 else ""
        raise InvalidInputError(f"invalid tag {shown!r}{reason}")
    return tag


def validate_digest(digest: str) -> str:
    """Accept only digests we can verify: ``sha256:<64 hex>`` or ``sha512:<128 hex>``, lower case."""
    match = DIGEST_RE.fullmatch(digest) if isinstance(digest, str) else None
    if not match:
        raise InvalidInputError(f"invalid digest {digest!r}: expected 'sha256:<64 hex characters>'")
    algorithm, encoded = match["algorithm"], match["encoded"]
    if algorithm not in DIGEST_ALGORITHMS:
        raise InvalidInputError(f"unsupported digest algorithm {algorithm!r} in {digest!r}")
    if len(encoded) != DIGEST_ALGORITHMS[algorithm] or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise InvalidInputError(
            f"invalid {algorithm} digest {digest!r}: expected {DIGEST_ALGORITHMS[algorithm]} lower-case hex characters"
        )
    return digest


def is_digest(reference: str) -> bool:
    return ":" in reference and DIGEST_RE.fullmatch(reference) is not None


def validate_tag_or_digest(reference: str) -> str:
    return validate_digest(reference) if is_digest(reference) else validate_tag(reference)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def path_segment(value: str, what: str = "path parameter") -> str:
    """Escape one path segment for the Hub/SCIM APIs; refuse dot segments, which httpx would normalise away."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{what} must be a non-empty string")
    if value in {".", ".."} or any(ch in value for ch in "\x00\r\n"):
        raise InvalidInputError(f"invalid {what} {value!r}")
    return quote(value, safe="")


@dataclass(frozen=True)
class Scope:
    """A token-auth resource scope, e.g. ``repository:library/alpine:pull,push``."""

    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"

    @classmethod
    def parse(cls, text: str) -> Scope:
        # The resource name may itself contain ':' (a host:port prefix), so split the type off the left and the
        # actions off the right (token spec, scope.md).
        head, sep, actions = text.rpartition(":")
        rtype, sep2, name = head.partition(":")
        if not sep or not sep2 or not rtype or not name:
            raise InvalidInputError(f"invalid scope {text!r}")
        return cls(rtype, name, tuple(a for a in actions.split(",") if a))


def repository_scope(repository: str, *actions: str) -> Scope:
    return Scope("repository", repository, tuple(actions))


def merge_scopes(*groups: tuple[Scope, ...] | list[Scope]) -> tuple[Scope, ...]:
    """Union of scopes with actions merged per resource, actions in a fixed order (so equal requests make equal
    token cache keys).

    The first resource seen keeps its place in front: some registries only look at the first scope (GGCR
    ``bearer.go``), and for a mount that must be the push target.
    """
    order: list[tuple[str, str]] = []
    actions: dict[tuple[str, str], set[str]] = {}
    for group in groups:
        for scope in group:
            key = (scope.type, scope.name)
            if key not in actions:
                order.append(key)
                actions[key] = set()
            actions[key].update(scope.actions)
    rank = {"pull": 0, "push": 1, "delete": 2, "*": 3}
    return tuple(Scope(t, n, tuple(sorted(actions[(t, n)], key=lambda a: (rank.get(a, 9), a)))) for t, n in order)


@dataclass(frozen=True)
class ImageReference:
    """A parsed ``[host/]name[:tag][@digest]``. ``registry`` is ``None`` when the text named no host."""

    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when known, else the tag (``latest`` by default)."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}" if self.registry else self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str, *, docker_hub: bool | None = None) -> ImageReference:
    """Parse an image reference. A first segment with a dot, a colon or ``localhost`` is a registry host.

    ``docker_hub`` forces the ``library/`` rule on or off; by default it applies when the host is Docker Hub's or
    when no host was written.
    """
    if not isinstance(text, str) or not text or text != text.strip():
        raise InvalidInputError(f"invalid image reference {text!r}")
    remainder, digest = text, None
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        validate_digest(digest)
    registry: str | None = None
    first, slash, rest = remainder.partition("/")
    if slash and (("." in first or ":" in first) or first == "localhost" or first != first.lower()):
        if not _HOST_RE.fullmatch(first):
            raise InvalidInputError(f"invalid registry host {first!r} in {text!r}")
        registry, remainder = first, rest
    name, tag = remainder, None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        name, tag = remainder[:colon], remainder[colon + 1 :]
        validate_tag(tag)
    hub = docker_hub if docker_hub is not None else (registry is None or is_docker_hub_registry(registry))
    repository = validate_repository_name(name, docker_hub=hub)
    return ImageReference(registry, repository, tag, digest)
