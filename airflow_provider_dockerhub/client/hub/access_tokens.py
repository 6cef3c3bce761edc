"""Tokens, as flows: the auth endpoints (JWT for another identity, the deprecated login), personal access tokens
and organization access tokens. Every token value the API returns is masked before it can reach a log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..core.errors import InvalidInputError, ProtocolError
from ..core.flow import Flow
from ..core.pagination import Pages
from .models import AccessToken, OrgAccessToken
from .requests import DELETED, HUB_PAGE_SIZE, HubRequests, iso

PAT_SCOPES = frozenset({"repo:admin", "repo:write", "repo:read", "repo:public_read"})


class AccessTokenFlows(HubRequests):
    # -- auth endpoints -----------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> Flow[dict[str, Any]]:
        """**Deprecated** by Docker (``PostUsersLogin``): use the connection's token instead. Never retried.

        With 2FA enabled this raises :class:`TwoFactorRequired` carrying the ``login_2fa_token`` for
        :meth:`login_2fa`."""
        body = {"username": username, "password": password}
        data: dict[str, Any] = yield from self.call_unauthenticated("POST", self.url("users", "login"), body)
        return data

    def login_2fa(self, login_2fa_token: str, code: str) -> Flow[dict[str, Any]]:
        """**Deprecated** flow's second step; the code is sent exactly once."""
        body = {"login_2fa_token": login_2fa_token, "code": code}
        data: dict[str, Any] = yield from self.call_unauthenticated("POST", self.url("users", "2fa-login"), body)
        return data

    def create_auth_token(self, identifier: str, secret: str) -> Flow[str]:
        """``POST /v2/auth/token`` for another identity; the session's own token is managed automatically."""
        body = {"identifier": identifier, "secret": secret}
        data = yield from self.call_unauthenticated("POST", self.url("auth", "token"), body)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise ProtocolError("POST", "/v2/auth/token", "answer without access_token")
        return str(token)

    # -- personal access tokens ---------------------------------------------------------------------------

    def list_access_tokens(self, *, page_size: int = HUB_PAGE_SIZE) -> Pages[AccessToken]:
        return self.listing(AccessToken, ("access-tokens",), {"page": 1, "page_size": page_size})

    def create_access_token(
        self, label: str, scopes: Sequence[str], *, expires_at: datetime | str | None = None
    ) -> Flow[AccessToken]:
        """The returned ``token`` is the secret, shown once; it is masked in task logs."""
        if not scopes or not set(scopes) <= PAT_SCOPES:
            raise InvalidInputError(f"scopes must be a non-empty subset of {sorted(PAT_SCOPES)}, got {scopes!r}")
        if not 1 <= len(label) <= 100:
            raise InvalidInputError("token label must be 1-100 characters")
        body = {"token_label": label, "scopes": list(scopes), "expires_at": iso(expires_at)}
        data = yield from self.call("POST", self.url("access-tokens"), expected=(200, 201), json_data=body)
        return self.secret(AccessToken.model_validate(data))

    def get_access_token(self, uuid: str) -> Flow[AccessToken]:
        data = yield from self.call("GET", self.url("access-tokens", uuid))
        return AccessToken.model_validate(data)

    def update_access_token(
        self, uuid: str, *, label: str | None = None, is_active: bool | None = None
    ) -> Flow[AccessToken]:
        body = {"token_label": label, "is_active": is_active}
        if all(v is None for v in body.values()):
            raise InvalidInputError("update_access_token needs a label or is_active")
        data = yield from self.call("PATCH", self.url("access-tokens", uuid), json_data=body)
        return AccessToken.model_validate(data)

    def delete_access_token(self, uuid: str) -> Flow[None]:
        yield from self.call("DELETE", self.url("access-tokens", uuid), expected=DELETED)

    # -- organization access tokens -----------------------------------------------------------------------

    def list_org_access_tokens(self, org: str, *, page_size: int = HUB_PAGE_SIZE) -> Pages[OrgAccessToken]:
        return self.listing(OrgAccessToken, ("orgs", org, "access-tokens"), {"page": 1, "page_size": page_size})

    def create_org_access_token(
        self,
        org: str,
        label: str,
        *,
        description: str | None = None,
        resources: Sequence[Mapping[str, Any]] = (),
        expires_at: datetime | str | None = None,
    ) -> Flow[OrgAccessToken]:
        for resource in resources:
            if resource.get("type") not in ("TYPE_REPO", "TYPE_ORG"):
                raise InvalidInputError(f"resource type must be TYPE_REPO or TYPE_ORG, got {resource.get('type')!r}")
        body = {
            "label": label,
            "description": description,
            "resources": [dict(r) for r in resources],
            "expires_at": iso(expires_at),
        }
        data = yield from self.call("POST", self.url("orgs", org, "access-tokens"), expected=(200, 201), json_data=body)
        return self.secret(OrgAccessToken.model_validate(data))

    def get_org_access_token(self, org: str, token_id: str) -> Flow[OrgAccessToken]:
        data = yield from self.call("GET", self.url("orgs", org, "access-tokens", token_id))
        return OrgAccessToken.model_validate(data)

    def update_org_access_token(
        self,
        org: str,
        token_id: str,
        *,
        label: str | None = None,
        description: str | None = None,
        resources: Sequence[Mapping[str, Any]] | None = None,
        is_active: bool | None = None,
    ) -> Flow[OrgAccessToken]:
        body = {
            "label": label,
            "description": description,
            "is_active": is_active,
            "resources": [dict(r) for r in resources] if resources is not None else None,
        }
        if all(v is None for v in body.values()):
            raise InvalidInputError("update_org_access_token needs at least one field")
        data = yield from self.call("PATCH", self.url("orgs", org, "access-tokens", token_id), json_data=body)
        return OrgAccessToken.model_validate(data)

    def delete_org_access_token(self, org: str, token_id: str) -> Flow[None]:
        yield from self.call("DELETE", self.url("orgs", org, "access-tokens", token_id), expected=DELETED)
