"""Repositories and their tags, immutable-tag rules and team permissions, as flows."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import InvalidInputError
from ..core.flow import Flow
from ..core.pagination import Pages
from ..core.reference import validate_repository_name
from .models import Repository, RepositoryGroup, Tag
from .requests import HUB_PAGE_SIZE, HubRequests, choice

REPOSITORY_ORDERINGS = frozenset({"name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count"})
REPOSITORY_PERMISSIONS = frozenset({"read", "write", "admin"})


class RepositoryFlows(HubRequests):
    def list_repositories(
        self, namespace: str, *, name: str | None = None, ordering: str | None = None, page_size: int = HUB_PAGE_SIZE
    ) -> Pages[Repository]:
        choice("ordering", ordering, REPOSITORY_ORDERINGS)
        return self.listing(
            Repository,
            ("namespaces", namespace, "repositories"),
            {"page": 1, "page_size": page_size, "name": name, "ordering": ordering},
        )

    def get_repository(self, namespace: str, repository: str) -> Flow[Repository]:
        data = yield from self.call("GET", self.url("namespaces", namespace, "repositories", repository))
        return Repository.model_validate(data)

    def repository_exists(self, namespace: str, repository: str) -> Flow[bool]:
        return self.exists(self.url("namespaces", namespace, "repositories", repository))

    def create_repository(
        self,
        namespace: str,
        name: str,
        *,
        description: str | None = None,
        full_description: str | None = None,
        is_private: bool = False,
        registry: str | None = None,
    ) -> Flow[Repository]:
        if "/" in name:
            raise InvalidInputError(f"repository name {name!r} must be one segment (the namespace is separate)")
        validate_repository_name(name)
        if description is not None and len(description) > 100:
            raise InvalidInputError("description is limited to 100 characters")
        body = {
            "name": name,
            "namespace": namespace,
            "is_private": is_private,
            "description": description,
            "full_description": full_description,
            "registry": registry,
        }
        url = self.url("namespaces", namespace, "repositories")
        data = yield from self.call("POST", url, expected=(200, 201), json_data=body)
        return Repository.model_validate(data)

    def list_tags(self, namespace: str, repository: str, *, page_size: int = HUB_PAGE_SIZE) -> Pages[Tag]:
        return self.listing(
            Tag, ("namespaces", namespace, "repositories", repository, "tags"), {"page": 1, "page_size": page_size}
        )

    def get_tag(self, namespace: str, repository: str, tag: str) -> Flow[Tag]:
        data = yield from self.call("GET", self.url("namespaces", namespace, "repositories", repository, "tags", tag))
        return Tag.model_validate(data)

    def has_tags(self, namespace: str, repository: str) -> Flow[bool]:
        return self.exists(self.url("namespaces", namespace, "repositories", repository, "tags"))

    def tag_exists(self, namespace: str, repository: str, tag: str) -> Flow[bool]:
        return self.exists(self.url("namespaces", namespace, "repositories", repository, "tags", tag))

    def update_immutable_tags(
        self, namespace: str, repository: str, *, enabled: bool, rules: Sequence[str] = ()
    ) -> Flow[Repository]:
        """Set immutable tags with the spec's body ``{immutable_tags, immutable_tags_rules}`` (both required)."""
        url = self.url("namespaces", namespace, "repositories", repository, "immutabletags")
        body = {"immutable_tags": enabled, "immutable_tags_rules": list(rules)}
        data = yield from self.call("PATCH", url, json_data=body)
        return Repository.model_validate(data)

    def verify_immutable_tags(self, namespace: str, repository: str, regex: str) -> Flow[list[str]]:
        """Which existing tags ``regex`` would make immutable (spec body ``{regex}`` -> ``{tags}``); read-only."""
        url = self.url("namespaces", namespace, "repositories", repository, "immutabletags", "verify")
        body = yield from self.read_only_post(url, {"regex": regex})
        return [str(t) for t in (body.get("tags") or [])] if isinstance(body, dict) else []

    def grant_repository_group(
        self, namespace: str, repository: str, group_id: int, permission: str
    ) -> Flow[RepositoryGroup]:
        choice("permission", permission, REPOSITORY_PERMISSIONS)
        url = self.url("repositories", namespace, repository, "groups")
        body = {"group_id": group_id, "permission": permission}
        data = yield from self.call("POST", url, expected=(200, 201), json_data=body)
        return RepositoryGroup.model_validate(data)
