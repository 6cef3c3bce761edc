"""Docker Scout client: GraphQL at ``POST {scout_url}/v1/graphql`` with the Hub JWT (as Docker's hub-mcp does).

The organization goes in the ``context`` variable. A 200 answer carrying ``errors[]`` is a failure, never a
success. Queries are reads, so they are retried like GETs. The documents below are validated against Scout's
schema in the test suite (``shared/specs/docker-scout-schema.graphql``); nothing here needs the schema at run time.
Image coordinates use ``hostName: "hub.docker.com"`` for Docker Hub repositories, as Docker's own clients do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from ..core.errors import DockerHubError, ProtocolError, raise_for_response, redacted_path
from ..core.flow import Flow
from ..core.reference import is_docker_hub_registry, validate_digest
from ..hub.api import json_body
from ..state import SessionState

T = TypeVar("T")
GRAPHQL_PATH = "/v1/graphql"
DOCKER_HUB_SCOUT_HOST = "hub.docker.com"

IMAGE_PACKAGES_QUERY = """
query ProviderImagePackages($context: Context!, $query: IpImagePackagesForImageCoordsQuery!) {
  imagePackagesForImageCoords(context: $context, query: $query) {
    digest
    hostName
    repoName
    sbomState
    imagePackages {
      packages {
        package {
          purl
          type
          name
          version
          licenses
          vulnerabilities {
            sourceId
            source
            cvss { severity score }
            fixedBy
            publishedAt
            cisaExploited
            isExcepted
            url
          }
        }
      }
    }
  }
}
"""

IMAGE_SUMMARIES_QUERY = """
query ProviderImageSummaries($context: Context!, $digests: [String!]!, $repository: ScRepositoryInput) {
  imageSummariesByDigest(context: $context, digests: $digests, repository: $repository) {
    digest
    sbomState
    vulnerabilityReport { critical high medium low unspecified total }
  }
}
"""

BASE_IMAGE_QUERY = """
query ProviderBaseImage($context: Context!, $digest: String!, $platform: ImagePlatform!, $repository: String) {
  imageDetailsByDigest(context: $context, digest: $digest, platform: $platform, repository: $repository) {
    digest
    sbomState
    baseImage {
      digest
      repository { hostName repoName }
      tags { name current }
      vulnerabilityReport { critical high medium low }
    }
    baseImageTag { name current }
  }
}
"""

ORGANIZATION_STATUS_QUERY = """
query ProviderOrganizationStatus($context: Context!) {
  organizationStatus(context: $context) {
    hasImageAnalysisEnabled
    hasAnalyzedImages
  }
}
"""

DOCUMENTS = {
    "ProviderImagePackages": IMAGE_PACKAGES_QUERY,
    "ProviderImageSummaries": IMAGE_SUMMARIES_QUERY,
    "ProviderBaseImage": BASE_IMAGE_QUERY,
    "ProviderOrganizationStatus": ORGANIZATION_STATUS_QUERY,
}

# Scout's SBOM indexing states (enum SBOMState).
INDEXED = "INDEXED"
INDEX_PENDING = frozenset({"INDEXING", "NONE"})
INDEX_FAILED = frozenset({"INDEXING_FAILED", "INDEXING_UNAVAILABLE"})


class ScoutGraphQLError(DockerHubError):
    """Scout answered with GraphQL ``errors``; ``codes`` holds their ``extensions.code`` values."""

    def __init__(self, operation: str | None, errors: list[dict[str, Any]]) -> None:
        messages = "; ".join(str(e.get("message", e)) for e in errors[:5])
        hint = ""
        if "entitled" in messages.lower():
            hint = " (the organization or identity is not entitled to Docker Scout: enable Scout for it)"
        super().__init__(f"Scout GraphQL {operation or 'query'} failed: {messages}{hint}")
        self.errors = errors
        self.codes = tuple(
            str(e["extensions"]["code"])
            for e in errors
            if isinstance(e.get("extensions"), dict) and "code" in e["extensions"]
        )

    @property
    def not_entitled(self) -> bool:
        return any("entitled" in str(e.get("message", "")).lower() for e in self.errors)


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


@dataclass
class ScoutImage:
    """What Scout knows of an image: indexing state, packages (with licences) and their vulnerabilities."""

    digest: str
    sbom_state: str
    packages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def indexed(self) -> bool:
        return self.sbom_state == INDEXED


class ScoutOperations:
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
            raise ScoutGraphQLError(operation_name, [e if isinstance(e, dict) else {"message": e} for e in errors])
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
        packages = [
            p["package"]
            for p in (found.get("imagePackages") or {}).get("packages") or []
            if isinstance(p, dict) and isinstance(p.get("package"), dict)
        ]
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


def index_state_flow(
    ops: ScoutOperations, organization: str | None, coords: ImageCoordinates
) -> Flow[tuple[bool, str]]:
    """The Scout-indexing predicate shared by the sensor's poke() and its trigger: (done, state).

    Failed indexing is an error, not a reason to wait forever.
    """
    state = yield from ops.index_state(organization, coords)
    if state in INDEX_FAILED:
        raise ScoutIndexingFailed(f"Scout could not index {coords.repository}@{coords.digest}: {state}")
    return state == INDEXED, state


class ScoutIndexingFailed(DockerHubError):
    """Scout reports that it cannot index the image (``INDEXING_FAILED`` / ``INDEXING_UNAVAILABLE``)."""


class ScoutClient:
    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Any]) -> None:
        self.ops = ScoutOperations(state)
        self._run = run

    def run(self, flow: Flow[T]) -> T:
        result: T = self._run(flow)
        return result

    def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
    ) -> dict[str, Any]:
        return self.run(self.ops.graphql(query, variables, operation_name))

    def image(self, organization: str | None, coords: ImageCoordinates) -> ScoutImage | None:
        return self.run(self.ops.image(organization, coords))

    def index_state(self, organization: str | None, coords: ImageCoordinates) -> str:
        return self.run(self.ops.index_state(organization, coords))

    def base_image(self, organization: str | None, coords: ImageCoordinates, platform: str) -> dict[str, Any]:
        return self.run(self.ops.base_image(organization, coords, platform))

    def organization_status(self, organization: str) -> dict[str, Any]:
        return self.run(self.ops.organization_status(organization))


class AsyncScoutClient:
    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Awaitable[Any]]) -> None:
        self.ops = ScoutOperations(state)
        self._run = run

    async def run(self, flow: Flow[T]) -> T:
        result: T = await self._run(flow)
        return result

    async def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
    ) -> dict[str, Any]:
        return await self.run(self.ops.graphql(query, variables, operation_name))
