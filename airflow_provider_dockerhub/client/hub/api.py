"""Docker Hub management API v2 client (``hub.docker.com``): every operation of the official spec.

Paths are built from escaped segments only (``path_segment``), so a parameter like ``../settings`` can never turn
into another endpoint (the reference package's W11). Every write needs the connection's ``allow_destructive``,
checked before the request. List operations return iterators over every page, whatever the paging style.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from ..core.errors import AuthenticationError, InvalidInputError, ProtocolError, raise_for_response, redacted_path
from ..core.flow import Acquire, Flow
from ..core.pagination import Pages, Params, iterate_pages, next_by_link, next_by_short_page
from ..core.reference import path_segment
from ..state import SessionState
from .models import (
    AccessToken,
    AuditLog,
    BulkInviteEntry,
    Group,
    Invite,
    OrgAccessToken,
    OrgMember,
    OrgSettings,
    Repository,
    RepositoryGroup,
    Tag,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

PAT_SCOPES = frozenset({"repo:admin", "repo:write", "repo:read", "repo:public_read"})
REPOSITORY_ORDERINGS = frozenset({"name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count"})
MEMBER_ROLES = frozenset({"owner", "editor", "member"})
REPOSITORY_PERMISSIONS = frozenset({"read", "write", "admin"})
HUB_PAGE_SIZE = 100  # the API's maximum: fewer requests against the per-minute rate limit
AUDIT_PAGE_SIZE = 100  # also the most we ask for: paging stops at a short page, so a server cap must not cut it


class TwoFactorRequired(AuthenticationError):
    """The deprecated login answered "second factor required": pass ``login_2fa_token`` to ``login_2fa``."""

    def __init__(self, login_2fa_token: str, detail: str = "") -> None:
        super().__init__("POST", "/v2/users/login", 401, server_message=detail or "two-factor code required")
        self.login_2fa_token = login_2fa_token


def json_body(response: httpx.Response) -> Any:
    """The response's JSON; a typed ``ProtocolError`` (not a bare ``ValueError``) when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        request = response.request
        raise ProtocolError(request.method, redacted_path(request.url), "answer is not valid JSON") from exc


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat().replace("+00:00", "Z")


def _without_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def _choice(name: str, value: str | None, allowed: frozenset[str]) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidInputError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


class HubOperations:
    """Request plumbing shared by the sync and async fronts: URL building, auth, error mapping."""

    def __init__(self, state: SessionState) -> None:
        state.check_hub_url()
        self.state = state
        self.base = httpx.URL(state.config.hub_url)

    def url(self, *segments: str) -> httpx.URL:
        return self.base.copy_with(path="/v2" + "".join("/" + path_segment(s) for s in segments))

    def request(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json_data: Any = None,
        accept: str = "application/json",
    ) -> Flow[httpx.Response]:
        clean = _without_none(params or {})
        # Optional body fields are left out rather than sent as null: the API reads null as a value for some.
        body = _without_none(json_data) if isinstance(json_data, dict) else json_data
        request = httpx.Request(method, url, params=clean or None, json=body, headers={"Accept": accept})
        return self.state.hub_auth.request_flow(request)

    def call(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json_data: Any = None,
        expected: tuple[int, ...] = (200,),
    ) -> Flow[Any]:
        if method not in ("GET", "HEAD"):
            self.state.require_destructive(f"{method} {url.path}")
        response = yield from self.request(method, url, params=params, json_data=json_data)
        raise_for_response(response, expected)
        if response.status_code == 204 or not response.content or method == "HEAD":
            return None
        return json_body(response)

    def call_unauthenticated(self, method: str, url: httpx.URL, json_data: Any) -> Flow[Any]:
        """The auth endpoints: sent without a token and never replayed (see ``HubAuth``). Tokens in the answer
        (``token``, ``access_token``, ``login_2fa_token``) are masked before anyone can log them."""
        response = yield from self.request(method, url, json_data=json_data)
        body = json_body(response) if response.content else None
        for key in ("token", "access_token", "refresh_token", "login_2fa_token"):
            if isinstance(body, dict) and isinstance(body.get(key), str) and body[key]:
                self.state.on_secret(body[key])
        if response.status_code == 401 and isinstance(body, dict) and body.get("login_2fa_token"):
            raise TwoFactorRequired(str(body["login_2fa_token"]), str(body.get("detail") or ""))
        raise_for_response(response, (200, 201))
        return body

    def exists(self, url: httpx.URL) -> Flow[bool]:
        """HEAD: ``True``/``False`` for 200/404; anything else (401, 403, 5xx) is an error, never "absent"."""
        response = yield from self.request("HEAD", url)
        if response.status_code == 404:
            return False
        raise_for_response(response, (200,))
        return True

    def page(
        self, url: httpx.URL, key: str, params: Params, style: str = "link"
    ) -> Flow[tuple[list[Any], Params | None]]:
        """One page of a list; returns its items and the next page's parameters."""
        response = yield from self.request("GET", url, params=params)
        raise_for_response(response, (200,))
        body = json_body(response)
        if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
            body = body[0]  # the spec types the members page as an array of pages; accept both
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ProtocolError("GET", redacted_path(url), f"list answer without {key!r}")
        following = next_by_short_page(items, params) if style == "short" else next_by_link(body, params)
        return items, following

    def authenticate(self) -> Flow[None]:
        """Mint (or reuse) the Hub JWT: proves the credentials with one call and no side effect."""
        from ..auth.hub import HubTokenSource

        yield Acquire(self.state.hub_tokens, HubTokenSource.KEY)


class HubClient:
    """Synchronous Hub client (``hook.hub``). Lists are iterators over every page."""

    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Any]) -> None:
        self.ops = HubOperations(state)
        self._run = run

    def run(self, flow: Flow[T]) -> T:
        result: T = self._run(flow)
        return result

    def _call(self, method: str, *segments: str, expected: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        return self.run(self.ops.call(method, self.ops.url(*segments), expected=expected, **kwargs))

    def _list(
        self, model: type[M], segments: Sequence[str], params: Params, key: str = "results", style: str = "link"
    ) -> Iterator[M]:
        url = self.ops.url(*segments)
        first = _without_none(params)
        if type(first.get("page_size")) is not int or first["page_size"] < 1:  # refused before any request
            raise InvalidInputError(f"page_size must be a positive integer, got {first.get('page_size')!r}")
        yield from iterate_pages(
            self.run, Pages(first, lambda p: self.ops.page(url, key, p, style), model.model_validate)
        )

    def _secret(self, model: M) -> M:
        """A token value the API returns once (PAT/OAT creation) is masked like every derived secret."""
        token = getattr(model, "token", None)
        if token:
            self.ops.state.on_secret(token)
        return model

    # -- auth ---------------------------------------------------------------------------------------------

    def authenticate(self) -> None:
        self.run(self.ops.authenticate())

    def login(self, username: str, password: str) -> dict[str, Any]:
        """**Deprecated** by Docker (``PostUsersLogin``): use the connection's token instead. Never retried.

        With 2FA enabled this raises :class:`TwoFactorRequired` carrying the ``login_2fa_token`` for
        :meth:`login_2fa`."""
        data: dict[str, Any] = self.run(
            self.ops.call_unauthenticated(
                "POST", self.ops.url("users", "login"), {"username": username, "password": password}
            )
        )
        return data

    def login_2fa(self, login_2fa_token: str, code: str) -> dict[str, Any]:
        """**Deprecated** flow's second step; the code is sent exactly once."""
        data: dict[str, Any] = self.run(
            self.ops.call_unauthenticated(
                "POST", self.ops.url("users", "2fa-login"), {"login_2fa_token": login_2fa_token, "code": code}
            )
        )
        return data

    def create_auth_token(self, identifier: str, secret: str) -> str:
        """``POST /v2/auth/token`` for another identity; the session's own token is managed automatically."""
        data = self.run(
            self.ops.call_unauthenticated(
                "POST", self.ops.url("auth", "token"), {"identifier": identifier, "secret": secret}
            )
        )
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise ProtocolError("POST", "/v2/auth/token", "answer without access_token")
        return str(token)

    # -- repositories -------------------------------------------------------------------------------------

    def list_repositories(
        self, namespace: str, *, name: str | None = None, ordering: str | None = None, page_size: int = HUB_PAGE_SIZE
    ) -> Iterator[Repository]:
        _choice("ordering", ordering, REPOSITORY_ORDERINGS)
        return self._list(
            Repository,
            ("namespaces", namespace, "repositories"),
            {"page": 1, "page_size": page_size, "name": name, "ordering": ordering},
        )

    def get_repository(self, namespace: str, repository: str) -> Repository:
        return Repository.model_validate(self._call("GET", "namespaces", namespace, "repositories", repository))

    def repository_exists(self, namespace: str, repository: str) -> bool:
        return self.run(self.ops.exists(self.ops.url("namespaces", namespace, "repositories", repository)))

    def create_repository(
        self,
        namespace: str,
        name: str,
        *,
        description: str | None = None,
        full_description: str | None = None,
        is_private: bool = False,
        registry: str | None = None,
    ) -> Repository:
        from ..core.reference import validate_repository_name

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
        data = self._call(
            "POST",
            "namespaces",
            namespace,
            "repositories",
            expected=(200, 201),
            json_data=body,
        )
        return Repository.model_validate(data)

    def list_tags(self, namespace: str, repository: str, *, page_size: int = HUB_PAGE_SIZE) -> Iterator[Tag]:
        return self._list(
            Tag, ("namespaces", namespace, "repositories", repository, "tags"), {"page": 1, "page_size": page_size}
        )

    def get_tag(self, namespace: str, repository: str, tag: str) -> Tag:
        return Tag.model_validate(self._call("GET", "namespaces", namespace, "repositories", repository, "tags", tag))

    def has_tags(self, namespace: str, repository: str) -> bool:
        return self.run(self.ops.exists(self.ops.url("namespaces", namespace, "repositories", repository, "tags")))

    def tag_exists(self, namespace: str, repository: str, tag: str) -> bool:
        url = self.ops.url("namespaces", namespace, "repositories", repository, "tags", tag)
        return self.run(self.ops.exists(url))

    def update_immutable_tags(
        self, namespace: str, repository: str, *, enabled: bool, rules: Sequence[str] = ()
    ) -> Repository:
        """Set immutable tags with the spec's body ``{immutable_tags, immutable_tags_rules}`` (both required)."""
        data = self._call(
            "PATCH",
            "namespaces",
            namespace,
            "repositories",
            repository,
            "immutabletags",
            json_data={"immutable_tags": enabled, "immutable_tags_rules": list(rules)},
        )
        return Repository.model_validate(data)

    def verify_immutable_tags(self, namespace: str, repository: str, regex: str) -> list[str]:
        """Which existing tags ``regex`` would make immutable (spec body ``{regex}`` -> ``{tags}``); read-only."""
        url = self.ops.url("namespaces", namespace, "repositories", repository, "immutabletags", "verify")
        response = self.run(self.ops.request("POST", url, json_data={"regex": regex}))
        raise_for_response(response, (200,))
        body = json_body(response)
        return [str(t) for t in (body.get("tags") or [])] if isinstance(body, dict) else []

    def grant_repository_group(
        self, namespace: str, repository: str, group_id: int, permission: str
    ) -> RepositoryGroup:
        _choice("permission", permission, REPOSITORY_PERMISSIONS)
        data = self._call(
            "POST",
            "repositories",
            namespace,
            repository,
            "groups",
            expected=(200, 201),
            json_data={"group_id": group_id, "permission": permission},
        )
        return RepositoryGroup.model_validate(data)

    # -- personal access tokens ---------------------------------------------------------------------------

    def list_access_tokens(self, *, page_size: int = HUB_PAGE_SIZE) -> Iterator[AccessToken]:
        return self._list(AccessToken, ("access-tokens",), {"page": 1, "page_size": page_size})

    def create_access_token(
        self, label: str, scopes: Sequence[str], *, expires_at: datetime | str | None = None
    ) -> AccessToken:
        """The returned ``token`` is the secret, shown once; it is masked in task logs."""
        if not scopes or not set(scopes) <= PAT_SCOPES:
            raise InvalidInputError(f"scopes must be a non-empty subset of {sorted(PAT_SCOPES)}, got {scopes!r}")
        if not 1 <= len(label) <= 100:
            raise InvalidInputError("token label must be 1-100 characters")
        body = {"token_label": label, "scopes": list(scopes), "expires_at": _iso(expires_at)}
        data = self._call("POST", "access-tokens", expected=(200, 201), json_data=body)
        return self._secret(AccessToken.model_validate(data))

    def get_access_token(self, uuid: str) -> AccessToken:
        return AccessToken.model_validate(self._call("GET", "access-tokens", uuid))

    def update_access_token(self, uuid: str, *, label: str | None = None, is_active: bool | None = None) -> AccessToken:
        body = {"token_label": label, "is_active": is_active}
        if all(v is None for v in body.values()):
            raise InvalidInputError("update_access_token needs a label or is_active")
        data = self._call("PATCH", "access-tokens", uuid, json_data=body)
        return AccessToken.model_validate(data)

    def delete_access_token(self, uuid: str) -> None:
        self._call("DELETE", "access-tokens", uuid, expected=(200, 202, 204))

    # -- organization access tokens -----------------------------------------------------------------------

    def list_org_access_tokens(self, org: str, *, page_size: int = HUB_PAGE_SIZE) -> Iterator[OrgAccessToken]:
        return self._list(OrgAccessToken, ("orgs", org, "access-tokens"), {"page": 1, "page_size": page_size})

    def create_org_access_token(
        self,
        org: str,
        label: str,
        *,
        description: str | None = None,
        resources: Sequence[Mapping[str, Any]] = (),
        expires_at: datetime | str | None = None,
    ) -> OrgAccessToken:
        for resource in resources:
            if resource.get("type") not in ("TYPE_REPO", "TYPE_ORG"):
                raise InvalidInputError(f"resource type must be TYPE_REPO or TYPE_ORG, got {resource.get('type')!r}")
        body = {
            "label": label,
            "description": description,
            "resources": [dict(r) for r in resources],
            "expires_at": _iso(expires_at),
        }
        data = self._call(
            "POST",
            "orgs",
            org,
            "access-tokens",
            expected=(200, 201),
            json_data=body,
        )
        return self._secret(OrgAccessToken.model_validate(data))

    def get_org_access_token(self, org: str, token_id: str) -> OrgAccessToken:
        return OrgAccessToken.model_validate(self._call("GET", "orgs", org, "access-tokens", token_id))

    def update_org_access_token(
        self,
        org: str,
        token_id: str,
        *,
        label: str | None = None,
        description: str | None = None,
        resources: Sequence[Mapping[str, Any]] | None = None,
        is_active: bool | None = None,
    ) -> OrgAccessToken:
        body = {
            "label": label,
            "description": description,
            "is_active": is_active,
            "resources": [dict(r) for r in resources] if resources is not None else None,
        }
        if all(v is None for v in body.values()):
            raise InvalidInputError("update_org_access_token needs at least one field")
        data = self._call("PATCH", "orgs", org, "access-tokens", token_id, json_data=body)
        return OrgAccessToken.model_validate(data)

    def delete_org_access_token(self, org: str, token_id: str) -> None:
        self._call("DELETE", "orgs", org, "access-tokens", token_id, expected=(200, 202, 204))

    # -- organization settings and members ----------------------------------------------------------------

    def get_org_settings(self, org: str) -> OrgSettings:
        return OrgSettings.model_validate(self._call("GET", "orgs", org, "settings"))

    def update_org_settings(
        self,
        org: str,
        *,
        restricted_images_enabled: bool,
        allow_official_images: bool = True,
        allow_verified_publishers: bool = True,
    ) -> OrgSettings:
        body = {
            "restricted_images": {
                "enabled": restricted_images_enabled,
                "allow_official_images": allow_official_images,
                "allow_verified_publishers": allow_verified_publishers,
            }
        }
        return OrgSettings.model_validate(self._call("PUT", "orgs", org, "settings", json_data=body))

    def list_members(
        self,
        org: str,
        *,
        search: str | None = None,
        role: str | None = None,
        member_type: str | None = None,
        page_size: int = HUB_PAGE_SIZE,
    ) -> Iterator[OrgMember]:
        _choice("role", role, MEMBER_ROLES)
        _choice("member_type", member_type, frozenset({"all", "invitee", "member"}))
        return self._list(
            OrgMember,
            ("orgs", org, "members"),
            {"page": 1, "page_size": page_size, "search": search, "role": role, "type": member_type},
        )

    def export_members_csv(self, org: str) -> str:
        response = self.run(self.ops.request("GET", self.ops.url("orgs", org, "members", "export"), accept="text/csv"))
        raise_for_response(response, (200,))
        return response.text

    def update_member_role(self, org: str, username: str, role: str) -> OrgMember:
        """A role change (``owner``/``editor``/``member``, or a custom role name): destructive, gated."""
        if not role:
            raise InvalidInputError("role must be given")
        return OrgMember.model_validate(self._call("PUT", "orgs", org, "members", username, json_data={"role": role}))

    def remove_member(self, org: str, username: str) -> None:
        self._call("DELETE", "orgs", org, "members", username, expected=(200, 202, 204))

    # -- invites ------------------------------------------------------------------------------------------

    def list_invites(self, org: str) -> list[Invite]:
        data = self._call("GET", "orgs", org, "invites")
        items = data.get("data") if isinstance(data, dict) else data
        return [Invite.model_validate(i) for i in items or []]

    def delete_invite(self, invite_id: str) -> None:
        self._call("DELETE", "invites", invite_id, expected=(200, 202, 204))

    def resend_invite(self, invite_id: str) -> None:
        self._call("PATCH", "invites", invite_id, "resend", expected=(200, 202, 204))

    def bulk_invite(
        self, org: str, invitees: Sequence[str], *, team: str | None = None, role: str = "member", dry_run: bool = False
    ) -> list[BulkInviteEntry]:
        """Invite by email or Docker ID. ``dry_run=True`` validates without inviting (and is not gated)."""
        if not invitees:
            raise InvalidInputError("bulk_invite needs at least one invitee")
        _choice("role", role, MEMBER_ROLES)
        body = {"org": org, "invitees": list(invitees), "role": role, "dry_run": dry_run, "team": team}
        url = self.ops.url("invites", "bulk")
        if dry_run:
            response = self.run(self.ops.request("POST", url, json_data=body))
            raise_for_response(response, (200, 202))
            data = json_body(response)
        else:
            data = self.run(self.ops.call("POST", url, json_data=body, expected=(200, 202)))
        # The 202 body nests the list: {"invitees": {"invitees": [...]}}.
        inner = data.get("invitees") if isinstance(data, dict) else None
        entries = inner.get("invitees") if isinstance(inner, dict) else inner
        return [BulkInviteEntry.model_validate(e) for e in entries or []]

    # -- groups (teams) -----------------------------------------------------------------------------------

    def list_groups(
        self, org: str, *, search: str | None = None, username: str | None = None, page_size: int = HUB_PAGE_SIZE
    ) -> Iterator[Group]:
        return self._list(
            Group, ("orgs", org, "groups"), {"page": 1, "page_size": page_size, "search": search, "username": username}
        )

    def create_group(self, org: str, name: str, description: str | None = None) -> Group:
        body = {"name": name, "description": description}
        data = self._call(
            "POST",
            "orgs",
            org,
            "groups",
            expected=(200, 201),
            json_data=body,
        )
        return Group.model_validate(data)

    def get_group(self, org: str, group: str) -> Group:
        return Group.model_validate(self._call("GET", "orgs", org, "groups", group))

    def update_group(
        self, org: str, group: str, *, name: str | None = None, description: str | None = None, replace: bool = False
    ) -> Group:
        """PATCH the given fields, or PUT (``replace=True``: ``name`` required, omitted fields reset)."""
        body = _without_none({"name": name, "description": description})
        if not body or (replace and name is None):
            raise InvalidInputError("update_group needs a name (and for replace=True, always the name)")
        return Group.model_validate(
            self._call("PUT" if replace else "PATCH", "orgs", org, "groups", group, json_data=body)
        )

    def delete_group(self, org: str, group: str) -> None:
        self._call("DELETE", "orgs", org, "groups", group, expected=(200, 202, 204))

    def list_group_members(
        self, org: str, group: str, *, search: str | None = None, page_size: int = HUB_PAGE_SIZE
    ) -> Iterator[OrgMember]:
        return self._list(
            OrgMember, ("orgs", org, "groups", group, "members"), {"page": 1, "page_size": page_size, "search": search}
        )

    def add_group_member(self, org: str, group: str, username: str) -> None:
        self._call(
            "POST", "orgs", org, "groups", group, "members", expected=(200, 201, 204), json_data={"member": username}
        )

    def remove_group_member(self, org: str, group: str, username: str) -> None:
        self._call("DELETE", "orgs", org, "groups", group, "members", username, expected=(200, 202, 204))

    # -- audit logs ---------------------------------------------------------------------------------------

    def list_audit_actions(self, account: str) -> dict[str, Any]:
        data = self._call("GET", "auditlogs", account, "actions")
        actions = data.get("actions") if isinstance(data, dict) else None
        return actions if isinstance(actions, dict) else {}

    def audit_logs(
        self,
        account: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        action: str | None = None,
        actor: str | None = None,
        name: str | None = None,
        page_size: int = AUDIT_PAGE_SIZE,
    ) -> Iterator[AuditLog]:
        """Every event, page by page (the endpoint gives no count: paging stops at the first short page).
        ``start``/``end`` go to the API's ``from``/``to``; 429s are honoured by the transport's retry policy."""
        params = {
            "page": 1,
            "page_size": page_size,
            "from": _iso(start),
            "to": _iso(end),
            "action": action,
            "actor": actor,
            "name": name,
        }
        return self._list(AuditLog, ("auditlogs", account), params, key="logs", style="short")


class AsyncHubClient:
    """The async front: what async tasks and triggers need (authentication and the raw request plumbing)."""

    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Awaitable[Any]]) -> None:
        self.ops = HubOperations(state)
        self._run = run

    async def run(self, flow: Flow[T]) -> T:
        result: T = await self._run(flow)
        return result

    async def authenticate(self) -> None:
        await self.run(self.ops.authenticate())
