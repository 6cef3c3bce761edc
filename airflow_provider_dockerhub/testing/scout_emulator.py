"""An in-memory emulator of the Docker Scout GraphQL endpoint, for tests and demos (a subset, not Scout).

Queries are *executed* by graphql-core against Scout's schema (the full one when its path is given, else the
subset the provider uses), so every answer is shaped by the schema, never invented: a field the schema does not
have, or a non-null field left empty, is an error here exactly as it would be at Scout.

State: images by (host, repository, digest) with their SBOM state and packages (licences, vulnerabilities),
organizations and whether they are entitled to Scout. ``polls_until_indexed`` makes a newly added image report
``INDEXING`` for that many polls before ``INDEXED``, to exercise the indexing sensor.

As strict as Scout's schema lets it be (an emulator is an adversary):

- ``includeExcepted``: excepted vulnerabilities are left out unless the query asks for them (the schema's
  "defaults to false").
- Organization visibility: an image belongs to an organization (default: its repository's namespace). A query
  without ``context.organization`` runs "against public data" (the schema's ``Context`` doc), so a private image is
  invisible to it; a query with an organization sees that organization's images, and public images only with
  ``includePublic``.
- Entitlement: a query naming an organization that is not entitled to Scout gets the GraphQL error Scout gives
  (``extensions.status`` 402, ``PAYMENT_REQUIRED``), never an empty or ``false`` answer; an identity that is not a
  member of the organization (``members``) gets ``FORBIDDEN`` (403).
- Repositories can be disabled for Scout (``disable_repository``): ``repoFeatures`` says so and their images are
  never indexed (``NONE``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dockerhub.testing.scout_schema import SCOUT_SDL_SUBSET


@dataclass
class EmulatedImage:
    host: str
    repository: str
    digest: str
    packages: list[dict[str, Any]] = field(default_factory=list)
    sbom_state: str = "INDEXED"
    polls_until_indexed: int = 0
    platform: str = "linux/amd64"
    base_image: dict[str, Any] | None = None
    organization: str | None = None  # the owning organization; None: the repository's namespace
    private: bool = True

    @property
    def owner(self) -> str:
        return self.organization or self.repository.split("/", 1)[0]


def vulnerability(
    cve: str,
    severity: str,
    *,
    fixed_by: str | None = None,
    score: float | None = None,
    published_at: str | None = "2024-01-01T00:00:00Z",
    cisa_exploited: bool = False,
    excepted: bool = False,
    exceptions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``VpVulnerability`` as Scout returns it (the fields the provider selects); ``exceptions`` are its
    ``PkVulnerabilityException`` records (``excepted`` is set when there are any)."""
    return {
        "sourceId": cve,
        "source": "NIST",
        "cvss": {"severity": severity, "score": score},
        "fixedBy": fixed_by,
        "publishedAt": published_at,
        "cisaExploited": cisa_exploited,
        "isExcepted": excepted or bool(exceptions),
        "url": f"https://scout.docker.com/v/{cve}",
        "vulnerabilityExceptions": list(exceptions or []),
    }


def package(
    purl: str, *, licenses: list[str] | None = None, vulnerabilities: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A ``Package`` from a purl such as ``pkg:deb/debian/openssl@3.0.11``."""
    kind = purl.split(":", 1)[1].split("/", 1)[0]
    name, _, version = purl.rsplit("/", 1)[-1].partition("@")
    return {
        "purl": purl,
        "type": kind,
        "name": name,
        "version": version or "0",
        "licenses": licenses or [],
        "vulnerabilities": vulnerabilities or [],
    }


class ScoutEmulator:
    """The GraphQL side of the emulator; mount ``handle`` at ``/v1/graphql`` (the Hub emulator does)."""

    def __init__(
        self,
        *,
        schema_sdl: str | None = None,
        token_valid: Callable[[str], str | None] | None = None,
        entitled_orgs: set[str] | None = None,
        resolver: Callable[[str, str, str], EmulatedImage | None] | None = None,
        members: Callable[[str, str], bool] | None = None,
    ) -> None:
        from graphql import build_schema

        self.schema = build_schema(schema_sdl or SCOUT_SDL_SUBSET)
        self._token_valid = token_valid  # bearer -> identity, or None when invalid
        self.entitled_orgs = set(entitled_orgs or ())
        # (identity, organization) -> member? None: every authenticated identity is a member of every org.
        self.members = members
        self.disabled_repositories: set[tuple[str, str]] = set()
        # Called for an image the emulator does not know yet, as Scout would index a newly pushed one (the demo
        # reads the image's SBOM from the local registry here).
        self.resolver = resolver
        self.images: dict[tuple[str, str, str], EmulatedImage] = {}
        self.queries: list[tuple[str | None, dict[str, Any]]] = []
        self._lock = threading.Lock()

    # -- state ------------------------------------------------------------------------------------------------

    def add_image(self, image: EmulatedImage) -> EmulatedImage:
        with self._lock:
            if image.polls_until_indexed > 0:
                image.sbom_state = "INDEXING"
            self.images[(image.host, image.repository, image.digest)] = image
        return image

    def disable_repository(self, host: str, repository: str) -> None:
        """Turn Scout's image analysis off for a repository (its images are never indexed)."""
        with self._lock:
            self.disabled_repositories.add((host, repository))

    def repository_enabled(self, host: str, repository: str) -> bool:
        with self._lock:
            return (host, repository) not in self.disabled_repositories

    def _find(self, digest: str, host: str | None = None, repository: str | None = None) -> EmulatedImage | None:
        with self._lock:
            for (h, r, d), image in self.images.items():
                if d == digest and host in (None, h) and repository in (None, r):
                    return image
        if self.resolver is not None and host is not None and repository is not None:
            if not self.repository_enabled(host, repository):
                return None  # Scout does not analyse what is pushed to a disabled repository
            found = self.resolver(host, repository, digest)
            if found is not None:
                return self.add_image(found)
        return None

    @staticmethod
    def visible(image: EmulatedImage, context: dict[str, Any], include_public: bool = False) -> bool:
        """Scout's visibility: the organization's own images with an organization, else public data only."""
        org = context.get("organization")
        if org:
            return image.owner == org or (include_public and not image.private)
        return not image.private

    def _poll(self, image: EmulatedImage) -> str:
        with self._lock:
            if image.sbom_state == "INDEXING":
                if image.polls_until_indexed <= 0:
                    image.sbom_state = "INDEXED"
                else:
                    image.polls_until_indexed -= 1
            return image.sbom_state

    # -- resolvers (graphql-core calls them with the field's arguments) ---------------------------------------

    def _check_org(self, context: dict[str, Any], identity: str | None) -> None:
        from graphql import GraphQLError

        org = context.get("organization")
        if not org:
            return
        if org not in self.entitled_orgs:
            raise GraphQLError(
                f"user {identity or 'anonymous'} not entitled to use Docker Scout for {org}",
                extensions={"code": "PAYMENT_REQUIRED", "status": 402},
            )
        if self.members is not None and not self.members(identity or "", org):
            raise GraphQLError(
                f"user {identity or 'anonymous'} may not read organization {org}",
                extensions={"code": "FORBIDDEN", "status": "FORBIDDEN"},
            )

    def root(self, identity: str | None) -> dict[str, Any]:
        def image_packages(_info: Any, context: dict[str, Any], query: dict[str, Any]) -> dict[str, Any] | None:
            self._check_org(context, identity)
            image = self._find(query["digest"], query["hostName"], query["repoName"])
            if image is None or not self.visible(image, context, bool(query.get("includePublic"))):
                return None
            state = self._poll(image)
            packages = image.packages if state == "INDEXED" else []
            if not query.get("includeExcepted"):  # the schema: "defaults to false"
                packages = [
                    {**p, "vulnerabilities": [v for v in p["vulnerabilities"] if not v.get("isExcepted")]}
                    for p in packages
                ]
            return {
                "digest": image.digest,
                "hostName": image.host,
                "repoName": image.repository,
                "sbomState": state,
                "imagePackages": {"packages": [{"package": p} for p in packages]},
            }

        def summaries(
            _info: Any, context: dict[str, Any], digests: list[str], repository: dict[str, Any] | None = None
        ) -> list[dict[str, Any]]:
            self._check_org(context, identity)
            found = []
            for digest in digests:
                image = self._find(digest, (repository or {}).get("hostName"), (repository or {}).get("repoName"))
                if image is None or not self.visible(image, context):
                    continue
                state = self._poll(image)
                counts = dict.fromkeys(("critical", "high", "medium", "low", "unspecified"), 0)
                for pkg in image.packages:
                    for vuln in pkg["vulnerabilities"]:
                        key = str(vuln["cvss"]["severity"] or "UNSPECIFIED").lower()
                        counts[key] = counts.get(key, 0) + 1
                report = {**counts, "total": sum(counts.values())} if state == "INDEXED" else None
                found.append({"digest": digest, "sbomState": state, "vulnerabilityReport": report})
            return found

        def base_image(
            _info: Any, context: dict[str, Any], digest: str, platform: dict[str, Any], repository: str | None = None
        ) -> dict[str, Any] | None:
            self._check_org(context, identity)
            image = self._find(digest, None, repository)
            if image is None or not self.visible(image, context):
                return None
            base = image.base_image
            return {
                "digest": image.digest,
                "sbomState": self._poll(image),
                "baseImage": base,
                "baseImageTag": (base or {}).get("tags", [None])[0] if base else None,
            }

        def organization_status(_info: Any, context: dict[str, Any]) -> dict[str, Any]:
            self._check_org(context, identity)  # a not-entitled organization is an error, not "false"
            org = context.get("organization")
            analysed = any(i.owner == org for i in self.images.values()) if org else False
            return {"hasImageAnalysisEnabled": bool(org), "hasAnalyzedImages": analysed}

        def repo_features(
            _info: Any,
            context: dict[str, Any],
            repoName: str,
            hostName: str | None = None,
        ) -> dict[str, Any]:
            self._check_org(context, identity)
            enabled = self.repository_enabled(hostName or "hub.docker.com", repoName)
            return {"vulnerabilityReporting": {"enabled": enabled}}

        return {
            "imagePackagesForImageCoords": image_packages,
            "imageSummariesByDigest": summaries,
            "imageDetailsByDigest": base_image,
            "organizationStatus": organization_status,
            "repoFeatures": repo_features,
        }

    def execute(self, body: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one GraphQL POST."""
        from graphql import graphql_sync

        token = (authorization or "").removeprefix("Bearer ").strip()
        identity = self._token_valid(token) if self._token_valid else "anonymous"
        if not token or identity is None:
            return 401, {"errors": [{"message": "unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}]}
        query = body.get("query")
        variables = body.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            return 400, {"errors": [{"message": "query must be a string and variables an object"}]}
        self.queries.append((body.get("operationName"), variables))
        result = graphql_sync(
            self.schema,
            query,
            root_value=self.root(identity),
            variable_values=variables,
            operation_name=body.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        return 200, payload
