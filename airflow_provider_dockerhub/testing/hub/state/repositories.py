"""Repositories, their tags, tag immutability and group permissions. Not for production."""

from __future__ import annotations

import re
from typing import Any

from .audit_log import AuditLog
from .groups import GroupState
from .records import (
    ACTIVE_WINDOW,
    JSON,
    REPO_NAME_RE,
    REPO_PERMISSIONS,
    AuditEvent,
    HubError,
    Principal,
    Repo,
    Tag,
    bad_request,
    fake_digest,
    opt_rfc3339,
    rfc3339,
)


class RepositoryState(GroupState):
    """Repositories of users and organizations, with access levels derived from roles and PAT scopes."""

    def namespace_exists(self, namespace: str) -> bool:
        return namespace in self.users or namespace in self.orgs

    def access(self, principal: Principal | None, namespace: str) -> int:
        """0 none, 1 read, 2 write/admin on every repository of ``namespace``."""
        if principal is None:
            return 0
        if principal.kind == "org":
            level = 2 if principal.name == namespace else 0
        elif principal.name == namespace:
            level = 2
        elif namespace in self.orgs:
            role = self.orgs[namespace].members.get(principal.name)
            level = 0 if role is None else (2 if role in ("owner", "editor") else 1)
        else:
            level = 0
        if principal.via == "pat" and not {"repo:admin", "repo:write"} & set(principal.scopes):
            level = min(level, 1)  # a read-only PAT never writes, whatever its owner may do
        return level

    def find_repo(self, principal: Principal | None, namespace: str, name: str, *, write: bool = False) -> Repo:
        repo = self.repos.get((namespace, name))
        level = self.access(principal, namespace)
        if repo is None or (repo.is_private and level == 0):
            # Private repositories one cannot see are indistinguishable from absent ones.
            raise HubError(404, f"repository {namespace}/{name} not found")
        if write and level < 2:
            raise HubError(403, f"no write access to {namespace}/{name}")
        return repo

    def list_repos(self, principal: Principal | None, namespace: str, name: str | None, ordering: str) -> list[Repo]:
        if not self.namespace_exists(namespace):
            raise HubError(404, f"namespace {namespace!r} not found")
        level = self.access(principal, namespace)
        repos = [
            r
            for (ns, _), r in self.repos.items()
            if ns == namespace and (level > 0 or not r.is_private) and (not name or name.lower() in r.name)
        ]
        key = ordering.lstrip("-")
        repos.sort(key=lambda r: (getattr(r, key), r.name), reverse=ordering.startswith("-"))
        return repos

    def create_repo(
        self,
        principal: Principal,
        namespace: str,
        *,
        name: Any,
        body_namespace: Any,
        description: Any = None,
        full_description: Any = None,
        registry: Any = None,
        is_private: Any = False,
    ) -> Repo:
        if not self.namespace_exists(namespace):
            raise HubError(404, f"namespace {namespace!r} not found")
        if body_namespace is not None and body_namespace != namespace:
            raise bad_request("namespace in the body must match the path", "namespace")
        if not isinstance(name, str) or not 2 <= len(name) <= 255 or not REPO_NAME_RE.match(name):
            raise bad_request(
                "name must be 2-255 lowercase letters, digits and single separators (._-) between them", "name"
            )
        if description is not None and (not isinstance(description, str) or len(description) > 100):
            raise bad_request("description is limited to 100 characters", "description")
        if full_description is not None and (not isinstance(full_description, str) or len(full_description) > 25000):
            raise bad_request("full_description is limited to 25000 characters", "full_description")
        if self.access(principal, namespace) < 2:
            raise HubError(403, f"no permission to create repositories in {namespace!r}")
        if (namespace, name) in self.repos:
            raise bad_request(f"repository {namespace}/{name} already exists", "name")
        now = self.clock()
        repo = Repo(
            id=self.next_id(),
            namespace=namespace,
            name=name,
            description=description or "",
            full_description=full_description,
            is_private=bool(is_private),
            registry=registry if isinstance(registry, str) else "docker.io",
            date_registered=now,
            last_updated=now,
        )
        self.repos[(namespace, name)] = repo
        self.record(
            namespace,
            "repo.create",
            principal.name,
            f"{namespace}/{name}",
            {"is_private": str(repo.is_private).lower()},
        )
        return repo

    def seed_repos(self, namespace: str, n: int, prefix: str, private: bool) -> list[str]:
        now = self.clock()
        names = []
        for i in range(n):
            name = f"{prefix}-{i:05d}"
            self.repos[(namespace, name)] = Repo(
                id=self.next_id(),
                namespace=namespace,
                name=name,
                description=f"seeded repository {i}",
                full_description=None,
                is_private=private,
                registry="docker.io",
                date_registered=now - 86400.0 * (n - i),
                last_updated=now - 3600.0 * ((i * 7919) % n),  # a deterministic shuffle for ordering tests
                pull_count=(i * 104729) % 100000,
            )
            names.append(name)
        return names

    def push_tag(self, repo: Repo, name: str, ts: float, pusher: str, *, audit: bool) -> Tag:
        digest = fake_digest(repo.namespace, repo.name, name, ts)
        tag = repo.tags.get(name)
        if tag is None:
            tag = repo.tags[name] = Tag(
                self.next_id(), name, digest, 2_000_000 + len(repo.tags) * 1000, ts, None, pusher
            )
        else:
            tag.digest, tag.pushed_at, tag.pusher = digest, ts, pusher
        repo.last_updated = max(repo.last_updated, ts)
        if audit:
            event = AuditEvent(
                ts,
                next(self._seq),
                repo.namespace,
                "repo.tag.push",
                f"{repo.namespace}/{repo.name}",
                pusher,
                {"digest": digest, "tag": name},
            )
            self.audit.setdefault(repo.namespace, AuditLog()).add([event])
        return tag

    def repo_info_json(self, repo: Repo, principal: Principal | None) -> JSON:
        level = self.access(principal, repo.namespace)
        return {
            "user": repo.namespace,
            "name": repo.name,
            "namespace": repo.namespace,
            "repository_type": "image",
            "status": 1,
            "status_description": "active",
            "description": repo.description,
            "is_private": repo.is_private,
            "is_automated": False,
            "star_count": repo.star_count,
            "pull_count": repo.pull_count,
            "last_updated": rfc3339(repo.last_updated),
            "last_modified": rfc3339(repo.last_updated),
            "date_registered": rfc3339(repo.date_registered),
            "collaborator_count": 0,
            "affiliation": None,
            "hub_user": repo.namespace,
            "has_starred": False,
            "full_description": repo.full_description,
            "permissions": {"read": level >= 1 or not repo.is_private, "write": level >= 2, "admin": level >= 2},
            "media_types": ["application/vnd.oci.image.index.v1+json"] if repo.tags else [],
            "content_types": ["image"] if repo.tags else [],
            "categories": [],
            "immutable_tags_settings": {"enabled": repo.immutable_enabled, "rules": list(repo.immutable_rules)},
            "storage_size": sum(t.size for t in repo.tags.values()),
            "source": None,
        }

    @staticmethod
    def repo_list_json(repo: Repo) -> JSON:
        return {
            "name": repo.name,
            "namespace": repo.namespace,
            "repository_type": "image",
            "status": 1,
            "status_description": "active",
            "description": repo.description,
            "is_private": repo.is_private,
            "star_count": repo.star_count,
            "pull_count": repo.pull_count,
            "last_updated": rfc3339(repo.last_updated),
            "last_modified": rfc3339(repo.last_updated),
            "date_registered": rfc3339(repo.date_registered),
            "affiliation": "",
            "media_types": ["application/vnd.oci.image.index.v1+json"] if repo.tags else [],
            "content_types": ["image"] if repo.tags else [],
            "categories": [],
            "storage_size": sum(t.size for t in repo.tags.values()),
        }

    @staticmethod
    def sorted_tags(repo: Repo) -> list[Tag]:
        return sorted(repo.tags.values(), key=lambda t: (-t.pushed_at, t.name))  # the Hub's -last_updated

    def tag_json(self, repo: Repo, tag: Tag) -> JSON:
        now = self.clock()
        recent = max(tag.pushed_at, tag.pulled_at or 0.0) >= now - ACTIVE_WINDOW
        status = "active" if recent else "inactive"
        image = {
            "architecture": "amd64",
            "features": "",
            "variant": "",
            "digest": fake_digest(tag.digest, "linux/amd64"),
            "layers": [{"digest": fake_digest(tag.digest, "layer0"), "size": tag.size, "instruction": "ADD rootfs /"}],
            "os": "linux",
            "os_features": "",
            "os_version": "",
            "size": tag.size,
            "status": status,
            "last_pulled": opt_rfc3339(tag.pulled_at),
            "last_pushed": rfc3339(tag.pushed_at),
        }
        pusher = self.users.get(tag.pusher)
        return {
            "id": tag.id,
            # The spec types ``images`` as one object; the live Hub answers a list (``tag_images`` picks).
            "images": [image] if self.tag_images == "list" else image,
            "creator": 1,
            "last_updated": rfc3339(tag.pushed_at),
            "last_updater": 1,
            "last_updater_username": pusher.username if pusher else tag.pusher,
            "name": tag.name,
            "repository": repo.id,
            "full_size": tag.size,
            "v2": "true",
            "status": status,
            "tag_last_pulled": opt_rfc3339(tag.pulled_at),
            "tag_last_pushed": rfc3339(tag.pushed_at),
            # Not in the spec, but the live Hub sends them and clients want the digest.
            "media_type": "application/vnd.oci.image.index.v1+json",
            "content_type": "image",
            "digest": tag.digest,
        }

    def set_immutable(self, principal: Principal, repo: Repo, enabled: Any, rules: Any) -> None:
        if not isinstance(enabled, bool):
            raise bad_request("immutable_tags must be a boolean", "immutable_tags")
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise bad_request("immutable_tags_rules must be a list of strings", "immutable_tags_rules")
        for rule in rules:
            try:
                re.compile(rule)
            except re.error as exc:
                raise bad_request(f"invalid rule {rule!r}: {exc}", "immutable_tags_rules") from None
        repo.immutable_enabled, repo.immutable_rules = enabled, list(rules)
        self.record(
            repo.namespace,
            "repo.immutable.tags.updated",
            principal.name,
            f"{repo.namespace}/{repo.name}",
            {"enabled": str(enabled).lower(), "rules": ",".join(rules)},
        )

    @staticmethod
    def verify_immutable(repo: Repo, regex: Any) -> list[str]:
        if not isinstance(regex, str) or not regex:
            raise bad_request("regex is required", "regex")
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise bad_request(f"invalid regex: {exc}", "regex") from None
        return sorted(t for t in repo.tags if pattern.fullmatch(t))

    def grant_group(self, repo: Repo, group_id: Any, permission: Any) -> JSON:
        org = self.orgs.get(repo.namespace)
        if org is None:
            raise bad_request("team permissions exist only on organization repositories")
        if permission not in REPO_PERMISSIONS:
            raise bad_request(f"permission must be one of {', '.join(REPO_PERMISSIONS)}", "permission")
        group = next((g for g in org.groups.values() if g.id == group_id), None)
        if group is None:
            raise HubError(404, f"group {group_id!r} not found in {org.name!r}")
        repo.group_perms[group.id] = permission
        return {"group_name": group.name, "permission": permission, "group_id": group.id}
