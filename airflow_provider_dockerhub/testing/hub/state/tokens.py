"""Credentials: passwords, personal access tokens (PATs) and organization access tokens (OATs). Not for production."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from .records import (
    JSON,
    OAT_RESOURCE_TYPES,
    PAT_SCOPES,
    HubError,
    Oat,
    Org,
    Pat,
    Principal,
    opt_rfc3339,
    parse_time,
    rfc3339,
)
from .repositories import RepositoryState


class TokenState(RepositoryState):
    """PATs and OATs, and the check of a secret that ``POST /v2/auth/token`` exchanges for a JWT."""

    def check_secret(self, identifier: str, secret: str) -> Principal | None:
        """``POST /v2/auth/token``: a password or PAT for a username, or an OAT for an organization name."""
        now = self.clock()
        user = self.users.get(identifier)
        if user is not None:
            if secrets.compare_digest(user.secret, secret):
                return Principal("user", identifier, "password")
            for pat in self.pats.values():
                if pat.owner == identifier and secrets.compare_digest(pat.secret, secret):
                    if not pat.is_active or (pat.expires_at is not None and pat.expires_at <= now):
                        return None
                    pat.last_used = now
                    return Principal("user", identifier, "pat", tuple(pat.scopes))
            return None
        org = self.orgs.get(identifier)
        if org is not None:
            for oat in org.oats.values():
                if secrets.compare_digest(oat.secret, secret):
                    if not oat.is_active or (oat.expires_at is not None and oat.expires_at <= now):
                        return None
                    oat.last_used_at = now
                    return Principal("org", identifier, "oat")
        return None

    def create_pat(
        self, principal: Principal, label: Any, scopes: Any, expires_at: Any, *, ip: str, user_agent: str
    ) -> Pat:
        if not isinstance(label, str) or not 1 <= len(label) <= 100:
            raise HubError(400, "Invalid token label", fields={"token_label": ["must be 1-100 characters"]})
        if not isinstance(scopes, list) or not scopes or not set(scopes) <= PAT_SCOPES:
            raise HubError(
                400, "Invalid scopes", fields={"scopes": [f"must be a non-empty subset of {sorted(PAT_SCOPES)}"]}
            )
        expiry = self._expiry(expires_at, "expires_at")
        pat = Pat(
            uuid=str(uuid.uuid4()),
            owner=principal.name,
            label=label,
            scopes=list(scopes),
            secret="dckr_pat_" + secrets.token_urlsafe(20),
            created_at=self.clock(),
            expires_at=expiry,
            creator_ip=ip,
            creator_ua=user_agent,
        )
        self.pats[pat.uuid] = pat
        return pat

    def _expiry(self, value: Any, name: str) -> float | None:
        if value is None:
            return None
        try:
            expiry = parse_time(value)
        except (TypeError, ValueError):
            raise HubError(400, f"Invalid {name}", fields={name: ["must be an RFC 3339 date-time"]}) from None
        if expiry <= self.clock():
            raise HubError(400, f"Invalid {name}", fields={name: ["must be in the future"]})
        return expiry

    def get_pat(self, principal: Principal, pat_id: str) -> Pat:
        pat = self.pats.get(pat_id)
        if pat is None or pat.owner != principal.name or principal.kind != "user":
            raise HubError(404, "token not found")
        return pat

    def list_pats(self, principal: Principal) -> list[Pat]:
        mine = [p for p in self.pats.values() if p.owner == principal.name and principal.kind == "user"]
        return sorted(mine, key=lambda p: p.created_at, reverse=True)

    @staticmethod
    def pat_json(pat: Pat, *, reveal: bool = False) -> JSON:
        return {
            "uuid": pat.uuid,
            "client_id": "HUB",
            "creator_ip": pat.creator_ip,
            "creator_ua": pat.creator_ua,
            "created_at": rfc3339(pat.created_at),
            "last_used": opt_rfc3339(pat.last_used),
            "generated_by": "manual",
            "is_active": pat.is_active,
            "token": pat.secret if reveal else "",
            "token_label": pat.label,
            "scopes": list(pat.scopes),
            # ``null`` for "never expires"; the spec forgot ``nullable`` on this field (it has it on OATs).
            "expires_at": opt_rfc3339(pat.expires_at),
        }

    # -- organization access tokens --------------------------------------------------------------------------

    @staticmethod
    def _resources(org: Org, value: Any) -> list[JSON]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise HubError(400, "Invalid resources", fields={"resources": ["must be a list"]})
        resources = []
        for i, item in enumerate(value):
            where = f"resources[{i}]"
            if not isinstance(item, dict) or item.get("type") not in OAT_RESOURCE_TYPES:
                raise HubError(400, "Invalid resources", fields={where: [f"type must be one of {OAT_RESOURCE_TYPES}"]})
            path, scopes = item.get("path"), item.get("scopes")
            if not isinstance(path, str) or not path:
                raise HubError(400, "Invalid resources", fields={where: ["path is required"]})
            if item["type"] == "TYPE_REPO" and path != "*/*/public" and not path.startswith(f"{org.name}/"):
                raise HubError(400, "Invalid resources", fields={where: [f"path must be {org.name}/<repo>"]})
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise HubError(400, "Invalid resources", fields={where: ["scopes must be a list of strings"]})
            resources.append({"type": item["type"], "path": path, "scopes": list(scopes)})
        return resources

    def create_oat(self, principal: Principal, org: Org, body: Mapping[str, Any]) -> Oat:
        label = body.get("label")
        if not isinstance(label, str) or not label:
            raise HubError(400, "Invalid label", fields={"label": ["this field is required"]})
        description = body.get("description")
        oat = Oat(
            id=str(uuid.uuid4()),
            org=org.name,
            label=label,
            description=description if isinstance(description, str) else "",
            resources=self._resources(org, body.get("resources")),
            secret="dckr_oat_" + secrets.token_urlsafe(20),
            created_by=principal.name,
            created_at=self.clock(),
            expires_at=self._expiry(body.get("expires_at"), "expires_at"),
        )
        org.oats[oat.id] = oat
        self.record(org.name, "org.access_token.create", principal.name, org.name, {"label": label})
        return oat

    @staticmethod
    def get_oat(org: Org, token_id: str) -> Oat:
        oat = org.oats.get(token_id)
        if oat is None:
            raise HubError(404, "access token not found")
        return oat

    def update_oat(self, principal: Principal, org: Org, oat: Oat, body: Mapping[str, Any]) -> Oat:
        if "label" in body:
            if not isinstance(body["label"], str) or not body["label"]:
                raise HubError(400, "Invalid label", fields={"label": ["must be a non-empty string"]})
            oat.label = body["label"]
        if isinstance(body.get("description"), str):
            oat.description = body["description"]
        if "resources" in body:
            oat.resources = self._resources(org, body["resources"])
        if isinstance(body.get("is_active"), bool):
            oat.is_active = body["is_active"]
        self.record(org.name, "org.access_token.update", principal.name, org.name, {"label": oat.label})
        return oat

    def delete_oat(self, principal: Principal, org: Org, oat: Oat) -> None:
        del org.oats[oat.id]
        self.record(org.name, "org.access_token.delete", principal.name, org.name, {"label": oat.label})

    @staticmethod
    def oat_json(oat: Oat, *, resources: bool = True, reveal: bool = False) -> JSON:
        body: JSON = {
            "id": oat.id,
            "label": oat.label,
            "created_by": oat.created_by,
            "is_active": oat.is_active,
            "created_at": rfc3339(oat.created_at),
            "expires_at": opt_rfc3339(oat.expires_at),
            "last_used_at": opt_rfc3339(oat.last_used_at),
        }
        if resources:
            body["description"] = oat.description
            body["resources"] = [dict(r, scopes=list(r["scopes"])) for r in oat.resources]
        if reveal:
            body["token"] = oat.secret
        return body
