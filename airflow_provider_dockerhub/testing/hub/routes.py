"""The route table: every operation of the spec, with its security, its OAT label and its handler."""

from __future__ import annotations

from .handlers.access_tokens import AccessTokenHandlers
from .handlers.audit import AuditHandlers
from .handlers.auth import AuthHandlers
from .handlers.groups import GroupHandlers
from .handlers.orgs import OrgHandlers
from .handlers.repositories import RepositoryHandlers
from .handlers.scim import ScimHandlers
from .http import AuthKind, Family, Handler, HubRoute


class HubOperations(
    AuthHandlers, AccessTokenHandlers, AuditHandlers, OrgHandlers, GroupHandlers, RepositoryHandlers, ScimHandlers
):
    """Every handler of the Hub API, and the table that routes requests to them."""

    def _routes(self) -> list[HubRoute]:
        repo = "/v2/namespaces/{namespace}/repositories/{repository}"
        group = "/v2/orgs/{org_name}/groups/{group_name}"
        oat_item = "/v2/orgs/{org_name}/access-tokens/{access_token_id}"
        table: list[tuple[str, str, AuthKind, bool, Family, Handler]] = [
            ("POST", "/v2/users/login", "none", False, "login", self._login),
            ("POST", "/v2/users/2fa-login", "none", False, "login", self._login_2fa),
            ("POST", "/v2/auth/token", "none", False, "json", self._auth_token),
            ("POST", "/v2/access-tokens", "bearer", False, "json", self._pat_create),
            ("GET", "/v2/access-tokens", "bearer", False, "json", self._pat_list),
            ("GET", "/v2/access-tokens/{uuid}", "bearer", False, "json", self._pat_get),
            ("PATCH", "/v2/access-tokens/{uuid}", "bearer", False, "json", self._pat_patch),
            ("DELETE", "/v2/access-tokens/{uuid}", "bearer", False, "json", self._pat_delete),
            ("GET", "/v2/auditlogs/{account}/actions", "bearer", True, "audit", self._audit_actions),
            ("GET", "/v2/auditlogs/{account}", "bearer", True, "audit", self._audit_logs),
            ("GET", "/v2/orgs/{name}/settings", "bearer", False, "json", self._settings_get),
            ("PUT", "/v2/orgs/{name}/settings", "bearer", False, "json", self._settings_put),
            ("POST", "/v2/orgs/{name}/access-tokens", "bearer", False, "json", self._oat_create),
            ("GET", "/v2/orgs/{name}/access-tokens", "bearer", False, "json", self._oat_list),
            ("GET", oat_item, "bearer", False, "json", self._oat_get),
            ("PATCH", oat_item, "bearer", False, "json", self._oat_patch),
            ("DELETE", oat_item, "bearer", False, "json", self._oat_delete),
            # Repository endpoints accept OATs (upstream changelog 2026-08-27), though this spec revision has no label.
            ("GET", "/v2/namespaces/{namespace}/repositories", "optional", True, "json", self._repo_list),
            ("POST", "/v2/namespaces/{namespace}/repositories", "bearer", True, "json", self._repo_create),
            ("GET", repo, "optional", True, "json", self._repo_get),
            ("HEAD", repo, "optional", True, "json", self._repo_head),
            ("GET", repo + "/tags", "bearer", True, "json", self._tags_list),
            ("HEAD", repo + "/tags", "bearer", True, "json", self._tags_head),
            ("GET", repo + "/tags/{tag}", "bearer", True, "json", self._tag_get),
            ("HEAD", repo + "/tags/{tag}", "bearer", True, "json", self._tag_head),
            ("PATCH", repo + "/immutabletags", "bearer", True, "json", self._immutable_patch),
            ("POST", repo + "/immutabletags/verify", "bearer", True, "json", self._immutable_verify),
            ("POST", "/v2/repositories/{namespace}/{repository}/groups", "bearer", True, "json", self._repo_group),
            ("GET", "/v2/orgs/{org_name}/members", "bearer", True, "json", self._members_list),
            ("GET", "/v2/orgs/{org_name}/members/export", "bearer", True, "json", self._members_export),
            ("PUT", "/v2/orgs/{org_name}/members/{username}", "bearer", True, "json", self._member_put),
            ("DELETE", "/v2/orgs/{org_name}/members/{username}", "bearer", True, "json", self._member_delete),
            ("GET", "/v2/orgs/{org_name}/invites", "bearer", True, "json", self._invites_list),
            ("DELETE", "/v2/invites/{id}", "bearer", True, "json", self._invite_delete),
            ("PATCH", "/v2/invites/{id}/resend", "bearer", True, "json", self._invite_resend),
            ("POST", "/v2/invites/bulk", "bearer", True, "json", self._invite_bulk),
            ("GET", "/v2/orgs/{org_name}/groups", "bearer", True, "json", self._groups_list),
            ("POST", "/v2/orgs/{org_name}/groups", "bearer", True, "json", self._group_create),
            ("GET", group, "bearer", True, "json", self._group_get),
            ("PUT", group, "bearer", True, "json", self._group_update),
            ("PATCH", group, "bearer", True, "json", self._group_update),
            ("DELETE", group, "bearer", True, "json", self._group_delete),
            ("GET", group + "/members", "bearer", True, "json", self._group_members),
            ("POST", group + "/members", "bearer", True, "json", self._group_member_add),
            ("DELETE", group + "/members/{username}", "bearer", True, "json", self._group_member_delete),
            ("GET", "/v2/scim/2.0/ServiceProviderConfig", "scim", False, "scim", self._scim_config),
            ("GET", "/v2/scim/2.0/ResourceTypes", "scim", False, "scim", self._scim_resource_types),
            ("GET", "/v2/scim/2.0/ResourceTypes/{name}", "scim", False, "scim", self._scim_resource_type),
            ("GET", "/v2/scim/2.0/Schemas", "scim", False, "scim", self._scim_schemas),
            ("GET", "/v2/scim/2.0/Schemas/{id}", "scim", False, "scim", self._scim_schema),
            ("GET", "/v2/scim/2.0/Users", "scim", False, "scim", self._scim_users),
            ("POST", "/v2/scim/2.0/Users", "scim", False, "scim", self._scim_user_create),
            ("GET", "/v2/scim/2.0/Users/{id}", "scim", False, "scim", self._scim_user_get),
            ("PUT", "/v2/scim/2.0/Users/{id}", "scim", False, "scim", self._scim_user_put),
        ]
        return [HubRoute(*row) for row in table]
