"""Docker Scout client: GraphQL at ``POST {scout_url}/v1/graphql`` with the Hub JWT (as Docker's hub-mcp does).

The organization goes in the ``context`` variable. A 200 answer carrying ``errors[]`` is a failure, never a
success. Queries are reads, so they are retried like GETs. The documents are in ``documents.py``. Image
coordinates use ``hostName: "hub.docker.com"`` for Docker Hub repositories, as Docker's own clients do.
Every query is a flow on ``ScoutOperations``; ``ScoutClient`` and ``AsyncScoutClient`` are its two fronts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..core.config import ClientConfig
from ..core.errors import DockerHubError, ProtocolError, json_body, raise_for_response, redacted_path
from ..core.flow import Flow
from ..core.front import AsyncFront, SyncFront, async_call, sync_call
from ..core.reference import is_docker_hub_registry, validate_digest, validate_repository_name
from ..state import SessionState
from .documents import (
    BASE_IMAGE_QUERY,
    IMAGE_EXCEPTIONS_QUERY,
    IMAGE_PACKAGES_QUERY,
    IMAGE_SUMMARIES_QUERY,
    ORGANIZATION_STATUS_QUERY,
    REPOSITORY_FEATURES_QUERY,
)

GRAPHQL_PATH = "/v1/graphql"
DOCKER_HUB_SCOUT_HOST = "hub.docker.com"

# Scout's SBOM indexing states (enum SBOMState).
INDEXED = "INDEXED"
INDEX_PENDING = frozenset({"INDEXING", "NONE"})
INDEX_FAILED = frozenset({"INDEXING_FAILED", "INDEXING_UNAVAILABLE"})


# What to do about Scout's refusals. hub-mcp's client (src/scout/client.ts) reads ``errors[].extensions.status`` as
# the HTTP status, 402 "entitlements exceeded" and 403 "no permission", and elsewhere as a string containing
# FORBIDDEN: both spellings are accepted.
NOT_ENTITLED_HINT = (
    "the organization is not entitled to Docker Scout, or its plan's Scout repository limit is used up: enable "
    "Docker Scout for the organization (scout.docker.com, Settings) or free a repository, and check that "
    "'organization' (or the connection's namespace) names the right one"
)
FORBIDDEN_HINT = (
    "the identity may not read this organization's Scout data: use a personal access token of a member of the "
    "organization (Scout refuses OIDC-exchanged tokens), or name another organization"
)


def _extension_status(error: Mapping[str, Any]) -> str:
    extensions = error.get("extensions")
    if not isinstance(extensions, Mapping):
        return ""
    return f"{extensions.get('status', '')} {extensions.get('code', '')}".upper()


class ScoutGraphQLError(DockerHubError):
    """Scout answered with GraphQL ``errors``; ``codes`` holds their ``extensions.code`` values."""

    def __init__(self, operation: str | None, errors: list[dict[str, Any]]) -> None:
        messages = "; ".join(str(e.get("message", e)) for e in errors[:5])
        self.errors = errors
        hint = ""
        if self.not_entitled:
            hint = f" ({NOT_ENTITLED_HINT})"
        elif self.forbidden:
            hint = f" ({FORBIDDEN_HINT})"
        super().__init__(f"Scout GraphQL {operation or 'query'} failed: {messages}{hint}")
        self.codes = tuple(
            str(e["extensions"]["code"])
            for e in errors
            if isinstance(e.get("extensions"), dict) and "code" in e["extensions"]
        )

    @property
    def not_entitled(self) -> bool:
        return any(
            "entitled" in str(e.get("message", "")).lower()
            or "402" in _extension_status(e)
            or "PAYMENT_REQUIRED" in _extension_status(e)
            for e in self.errors
        )

    @property
    def forbidden(self) -> bool:
        return any("403" in _extension_status(e) or "FORBIDDEN" in _extension_status(e) for e in self.errors)


class ScoutNotEntitled(ScoutGraphQLError):
    """Scout refused the organization: not entitled (HTTP 402 in ``extensions.status``) or not permitted (403,
    ``FORBIDDEN``). Waiting cannot fix it; the message says what to do."""


class ScoutRepositoryNotEnabled(DockerHubError):
    """Scout's image analysis is off for the repository (``repoFeatures.vulnerabilityReporting.enabled``):
    nothing pushed there will ever be indexed until someone enables it."""


class ScoutUnknownDigest(DockerHubError):
    """The digest is not in the registry (never pushed, or deleted): Scout will never index it."""


@dataclass(frozen=True)
class ImageCoordinates:
    """Where Scout knows an image: host (``hub.docker.com`` for Docker Hub), repository and digest."""

    host: str
    repository: str
    digest: str

    @classmethod
    def for_registry(cls, registry_host: str, repository: str, digest: str) -> ImageCoordinates:
        host = DOCKER_HUB_SCOUT_HOST if is_docker_hub_registry(registry_host) else registry_host
        return cls(host, repository, validate_digest(digest))

    @classmethod
    def for_connection(cls, config: ClientConfig, repository: str, digest: str) -> ImageCoordinates:
        """An image of the connection's registry, its name checked and made canonical as the registry client
        does (``library/`` added on Docker Hub), before any request."""
        docker_hub = is_docker_hub_registry(httpx.URL(config.registry_url).host)
        canonical = validate_repository_name(repository, docker_hub=docker_hub)
        return cls.for_registry(config.registry_host, canonical, digest)


@dataclass
class ScoutImage:
    """What Scout knows of an image: indexing state, packages (with licences) and their vulnerabilities."""

    digest: str
    sbom_state: str
    packages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def indexed(self) -> bool:
        return self.sbom_state == INDEXED


class ScoutIndexingFailed(DockerHubError):
    """Scout reports that it cannot index the image (``INDEXING_FAILED`` / ``INDEXING_UNAVAILABLE``)."""


def _packages_of(found: object) -> list[dict[str, Any]]:
    if not isinstance(found, dict):
        return []
    return [
        p["package"]
        for p in (found.get("imagePackages") or {}).get("packages") or []
        if isinstance(p, dict) and isinstance(p.get("package"), dict)
    ]


def _add_exceptions(packages: list[dict[str, Any]], details: list[dict[str, Any]]) -> None:
    """Put each vulnerability's ``vulnerabilityExceptions`` (from the exceptions query) next to it."""
    by_key = {
        (str(p.get("purl")), str(v.get("sourceId"))): v.get("vulnerabilityExceptions") or []
        for p in details
        for v in p.get("vulnerabilities") or []
        if isinstance(v, dict)
    }
    for package in packages:
        for vuln in package.get("vulnerabilities") or []:
            if isinstance(vuln, dict):
                vuln["vulnerabilityExceptions"] = by_key.get((str(package.get("purl")), str(vuln.get("sourceId"))), [])


class ScoutOperations:
    """Every Scout query as a flow, with the GraphQL plumbing they share."""

    def __init__(self, state: SessionState) -> None:
        state.check_scout_url()
        self.state = state
        self.url = httpx.URL(state.config.scout_url + GRAPHQL_PATH)

    def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
    ) -> Flow[dict[str, Any]]:
        payload: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
        if operation_name:
            payload["operationName"] = operation_name
        # A query changes nothing: let the transport retry it on 5xx like a GET.
        request = httpx.Request(
            "POST",
            self.url,
            json=payload,
            headers={"Accept": "application/json"},
            extensions={"dockerhub_idempotent": True},
        )
        response = yield from self.state.hub_auth.request_flow(request)
        raise_for_response(response, {200})
        body = json_body(response)
        if not isinstance(body, dict):
            raise ProtocolError("POST", redacted_path(self.url), "GraphQL answer is not an object")
        errors = body.get("errors")
        if errors:
            error = ScoutGraphQLError(operation_name, [e if isinstance(e, dict) else {"message": e} for e in errors])
            if error.not_entitled or error.forbidden:
                raise ScoutNotEntitled(operation_name, error.errors)
            raise error
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProtocolError("POST", redacted_path(self.url), "GraphQL answer has no data")
        return data

    @staticmethod
    def context(organization: str | None) -> dict[str, Any]:
        return {"organization": organization} if organization else {}

    def image(self, organization: str | None, coords: ImageCoordinates) -> Flow[ScoutImage | None]:
        """Packages and vulnerabilities of one image; ``None`` when Scout does not know the image."""
        variables = {
            "context": self.context(organization),
            "query": {
                "digest": coords.digest,
                "hostName": coords.host,
                "repoName": coords.repository,
                "includeExcepted": True,
            },
        }
        data = yield from self.graphql(IMAGE_PACKAGES_QUERY, variables, "ProviderImagePackages")
        found = data.get("imagePackagesForImageCoords")
        if not isinstance(found, dict):
            return None
        packages = _packages_of(found)
        if any(v.get("isExcepted") for p in packages for v in p.get("vulnerabilities") or [] if isinstance(v, dict)):
            # Why each is excepted is a second query, sent only when Scout excepts something.
            more = yield from self.graphql(IMAGE_EXCEPTIONS_QUERY, variables, "ProviderImageExceptions")
            _add_exceptions(packages, _packages_of(more.get("imagePackagesForImageCoords")))
        return ScoutImage(str(found.get("digest") or coords.digest), str(found.get("sbomState") or "NONE"), packages)

    def index_state(self, organization: str | None, coords: ImageCoordinates) -> Flow[str]:
        """Scout's ``sbomState`` of a digest (``NONE`` when Scout has not seen it yet)."""
        variables = {
            "context": self.context(organization),
            "digests": [coords.digest],
            "repository": {"hostName": coords.host, "repoName": coords.repository},
        }
        data = yield from self.graphql(IMAGE_SUMMARIES_QUERY, variables, "ProviderImageSummaries")
        for summary in data.get("imageSummariesByDigest") or []:
            if isinstance(summary, dict) and summary.get("digest") == coords.digest:
                return str(summary.get("sbomState") or "NONE")
        return "NONE"

    def index_states(
        self, organization: str | None, host: str, repository: str, digests: list[str]
    ) -> Flow[dict[str, str]]:
        """Scout's ``sbomState`` of several digests of one repository in one query (``NONE``: not seen yet)."""
        variables = {
            "context": self.context(organization),
            "digests": [validate_digest(d) for d in digests],
            "repository": {"hostName": host, "repoName": repository},
        }
        data = yield from self.graphql(IMAGE_SUMMARIES_QUERY, variables, "ProviderImageSummaries")
        states = dict.fromkeys(digests, "NONE")
        for summary in data.get("imageSummariesByDigest") or []:
            if isinstance(summary, dict) and summary.get("digest") in states:
                states[str(summary["digest"])] = str(summary.get("sbomState") or "NONE")
        return states

    def indexing_state(
        self, organization: str | None, coords: ImageCoordinates, images: list[str]
    ) -> Flow[tuple[bool, dict[str, Any]]]:
        """The indexing predicate of the Scout sensor's poke() and its trigger: ``(done, payload)``, done when
        every one of ``images`` (the platform images of ``coords``, or ``coords`` itself) is ``INDEXED``.

        A failed indexing, and (while anything is still ``NONE``) a repository with Scout's analysis turned off,
        are errors: waiting would never end. The payload is ``{"digest", "state", "platforms": {digest: state}}``
        with ``state`` the least advanced one.
        """
        where = f"{coords.repository}@{coords.digest}"
        states = yield from self.index_states(organization, coords.host, coords.repository, images or [coords.digest])
        failed = {d: s for d, s in states.items() if s in INDEX_FAILED}
        if failed:
            details = ", ".join(f"{d} {s}" for d, s in failed.items())
            raise ScoutIndexingFailed(f"Scout could not index {where}: {details}")
        if any(s == "NONE" for s in states.values()):
            enabled = yield from self.repository_enabled(organization, coords.host, coords.repository)
            if enabled is False:
                raise ScoutRepositoryNotEnabled(
                    f"Scout's image analysis is off for {coords.host}/{coords.repository}: nothing pushed there is "
                    "indexed; enable the repository in Docker Scout (scout.docker.com, Settings, Repository "
                    f"settings) for organization {organization or '(none)'}"
                )
        order = ("NONE", "INDEXING", INDEXED)
        least = min(states.values(), key=lambda s: order.index(s) if s in order else 0)
        done = all(s == INDEXED for s in states.values())
        return done, {"digest": coords.digest, "state": least, "platforms": states}

    def repository_enabled(self, organization: str | None, host: str, repository: str) -> Flow[bool | None]:
        """Whether Scout analyses images pushed to ``repository`` (``None``: Scout did not say)."""
        variables = {"context": self.context(organization), "repoName": repository, "hostName": host}
        data = yield from self.graphql(REPOSITORY_FEATURES_QUERY, variables, "ProviderRepositoryFeatures")
        features = data.get("repoFeatures")
        reporting = features.get("vulnerabilityReporting") if isinstance(features, dict) else None
        return bool(reporting.get("enabled")) if isinstance(reporting, dict) else None

    def base_image(self, organization: str | None, coords: ImageCoordinates, platform: str) -> Flow[dict[str, Any]]:
        os_name, _, rest = platform.partition("/")
        architecture, _, variant = rest.partition("/")
        variables = {
            "context": self.context(organization),
            "digest": coords.digest,
            "platform": {"os": os_name, "architecture": architecture, **({"variant": variant} if variant else {})},
            "repository": coords.repository,
        }
        data = yield from self.graphql(BASE_IMAGE_QUERY, variables, "ProviderBaseImage")
        details = data.get("imageDetailsByDigest")
        return details if isinstance(details, dict) else {}

    def organization_status(self, organization: str) -> Flow[dict[str, Any]]:
        data = yield from self.graphql(
            ORGANIZATION_STATUS_QUERY, {"context": self.context(organization)}, "ProviderOrganizationStatus"
        )
        status = data.get("organizationStatus")
        return status if isinstance(status, dict) else {}

    def index_state_done(self, organization: str | None, coords: ImageCoordinates) -> Flow[tuple[bool, str]]:
        """The Scout-indexing predicate shared by the sensor's poke() and its trigger: (done, state).

        Failed indexing is an error, not a reason to wait forever.
        """
        state = yield from self.index_state(organization, coords)
        if state in INDEX_FAILED:
            raise ScoutIndexingFailed(f"Scout could not index {coords.repository}@{coords.digest}: {state}")
        return state == INDEXED, state


class ScoutClient(SyncFront[ScoutOperations]):
    """Synchronous Scout client (``hook.scout``)."""

    graphql = sync_call(ScoutOperations.graphql)
    image = sync_call(ScoutOperations.image)
    index_state = sync_call(ScoutOperations.index_state)
    index_state_done = sync_call(ScoutOperations.index_state_done)
    index_states = sync_call(ScoutOperations.index_states)
    repository_enabled = sync_call(ScoutOperations.repository_enabled)
    indexing_state = sync_call(ScoutOperations.indexing_state)
    base_image = sync_call(ScoutOperations.base_image)
    organization_status = sync_call(ScoutOperations.organization_status)


class AsyncScoutClient(AsyncFront[ScoutOperations]):
    """The async twin of :class:`ScoutClient` (the Scout trigger polls with it)."""

    graphql = async_call(ScoutOperations.graphql)
    image = async_call(ScoutOperations.image)
    index_state = async_call(ScoutOperations.index_state)
    index_state_done = async_call(ScoutOperations.index_state_done)
    index_states = async_call(ScoutOperations.index_states)
    repository_enabled = async_call(ScoutOperations.repository_enabled)
    indexing_state = async_call(ScoutOperations.indexing_state)
    base_image = async_call(ScoutOperations.base_image)
    organization_status = async_call(ScoutOperations.organization_status)
