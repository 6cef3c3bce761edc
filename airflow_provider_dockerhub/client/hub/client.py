"""The Hub API v2 (``hub.docker.com``): every operation of the official spec, written once as a flow on
``HubOperations`` and exposed by two fronts of one line per method, ``HubClient`` (``hook.hub``) and
``AsyncHubClient`` (async tasks, triggers). Listings are iterators (async iterators) over every page, whatever the
paging style; their arguments are checked when the listing is asked for, before any request.
"""

from __future__ import annotations

from ..core.front import AsyncFront, SyncFront, async_call, async_pages, sync_call, sync_pages
from .access_tokens import AccessTokenFlows
from .audit import AuditFlows
from .orgs import OrgFlows
from .repositories import RepositoryFlows
from .requests import HubRequests
from .teams import TeamFlows


class HubOperations(RepositoryFlows, AccessTokenFlows, OrgFlows, TeamFlows, AuditFlows, HubRequests):
    """Every Hub endpoint as a flow, with the request plumbing they share (see ``HubRequests``)."""


class HubClient(SyncFront[HubOperations]):
    """Synchronous Hub client (``hook.hub``). Lists are iterators over every page."""

    # -- auth --------------------------------------------------------------------------------------------------

    authenticate = sync_call(HubOperations.authenticate)
    login = sync_call(HubOperations.login)
    login_2fa = sync_call(HubOperations.login_2fa)
    create_auth_token = sync_call(HubOperations.create_auth_token)

    # -- repositories ------------------------------------------------------------------------------------------

    list_repositories = sync_pages(HubOperations.list_repositories)
    get_repository = sync_call(HubOperations.get_repository)
    repository_exists = sync_call(HubOperations.repository_exists)
    create_repository = sync_call(HubOperations.create_repository)
    list_tags = sync_pages(HubOperations.list_tags)
    get_tag = sync_call(HubOperations.get_tag)
    has_tags = sync_call(HubOperations.has_tags)
    tag_exists = sync_call(HubOperations.tag_exists)
    update_immutable_tags = sync_call(HubOperations.update_immutable_tags)
    verify_immutable_tags = sync_call(HubOperations.verify_immutable_tags)
    grant_repository_group = sync_call(HubOperations.grant_repository_group)

    # -- personal access tokens --------------------------------------------------------------------------------

    list_access_tokens = sync_pages(HubOperations.list_access_tokens)
    create_access_token = sync_call(HubOperations.create_access_token)
    get_access_token = sync_call(HubOperations.get_access_token)
    update_access_token = sync_call(HubOperations.update_access_token)
    delete_access_token = sync_call(HubOperations.delete_access_token)

    # -- organization access tokens ----------------------------------------------------------------------------

    list_org_access_tokens = sync_pages(HubOperations.list_org_access_tokens)
    create_org_access_token = sync_call(HubOperations.create_org_access_token)
    get_org_access_token = sync_call(HubOperations.get_org_access_token)
    update_org_access_token = sync_call(HubOperations.update_org_access_token)
    delete_org_access_token = sync_call(HubOperations.delete_org_access_token)

    # -- organization settings, members and invites ------------------------------------------------------------

    get_org_settings = sync_call(HubOperations.get_org_settings)
    update_org_settings = sync_call(HubOperations.update_org_settings)
    list_members = sync_pages(HubOperations.list_members)
    export_members_csv = sync_call(HubOperations.export_members_csv)
    update_member_role = sync_call(HubOperations.update_member_role)
    remove_member = sync_call(HubOperations.remove_member)
    list_invites = sync_call(HubOperations.list_invites)
    delete_invite = sync_call(HubOperations.delete_invite)
    resend_invite = sync_call(HubOperations.resend_invite)
    bulk_invite = sync_call(HubOperations.bulk_invite)

    # -- groups (teams) ----------------------------------------------------------------------------------------

    list_groups = sync_pages(HubOperations.list_groups)
    create_group = sync_call(HubOperations.create_group)
    get_group = sync_call(HubOperations.get_group)
    update_group = sync_call(HubOperations.update_group)
    delete_group = sync_call(HubOperations.delete_group)
    list_group_members = sync_pages(HubOperations.list_group_members)
    add_group_member = sync_call(HubOperations.add_group_member)
    remove_group_member = sync_call(HubOperations.remove_group_member)

    # -- audit logs --------------------------------------------------------------------------------------------

    list_audit_actions = sync_call(HubOperations.list_audit_actions)
    audit_logs = sync_pages(HubOperations.audit_logs)


class AsyncHubClient(AsyncFront[HubOperations]):
    """The async twin of :class:`HubClient`: the same flows on the event loop; lists are async iterators."""

    # -- auth --------------------------------------------------------------------------------------------------

    authenticate = async_call(HubOperations.authenticate)
    login = async_call(HubOperations.login)
    login_2fa = async_call(HubOperations.login_2fa)
    create_auth_token = async_call(HubOperations.create_auth_token)

    # -- repositories ------------------------------------------------------------------------------------------

    list_repositories = async_pages(HubOperations.list_repositories)
    get_repository = async_call(HubOperations.get_repository)
    repository_exists = async_call(HubOperations.repository_exists)
    create_repository = async_call(HubOperations.create_repository)
    list_tags = async_pages(HubOperations.list_tags)
    get_tag = async_call(HubOperations.get_tag)
    has_tags = async_call(HubOperations.has_tags)
    tag_exists = async_call(HubOperations.tag_exists)
    update_immutable_tags = async_call(HubOperations.update_immutable_tags)
    verify_immutable_tags = async_call(HubOperations.verify_immutable_tags)
    grant_repository_group = async_call(HubOperations.grant_repository_group)

    # -- personal access tokens --------------------------------------------------------------------------------

    list_access_tokens = async_pages(HubOperations.list_access_tokens)
    create_access_token = async_call(HubOperations.create_access_token)
    get_access_token = async_call(HubOperations.get_access_token)
    update_access_token = async_call(HubOperations.update_access_token)
    delete_access_token = async_call(HubOperations.delete_access_token)

    # -- organization access tokens ----------------------------------------------------------------------------

    list_org_access_tokens = async_pages(HubOperations.list_org_access_tokens)
    create_org_access_token = async_call(HubOperations.create_org_access_token)
    get_org_access_token = async_call(HubOperations.get_org_access_token)
    update_org_access_token = async_call(HubOperations.update_org_access_token)
    delete_org_access_token = async_call(HubOperations.delete_org_access_token)

    # -- organization settings, members and invites ------------------------------------------------------------

    get_org_settings = async_call(HubOperations.get_org_settings)
    update_org_settings = async_call(HubOperations.update_org_settings)
    list_members = async_pages(HubOperations.list_members)
    export_members_csv = async_call(HubOperations.export_members_csv)
    update_member_role = async_call(HubOperations.update_member_role)
    remove_member = async_call(HubOperations.remove_member)
    list_invites = async_call(HubOperations.list_invites)
    delete_invite = async_call(HubOperations.delete_invite)
    resend_invite = async_call(HubOperations.resend_invite)
    bulk_invite = async_call(HubOperations.bulk_invite)

    # -- groups (teams) ----------------------------------------------------------------------------------------

    list_groups = async_pages(HubOperations.list_groups)
    create_group = async_call(HubOperations.create_group)
    get_group = async_call(HubOperations.get_group)
    update_group = async_call(HubOperations.update_group)
    delete_group = async_call(HubOperations.delete_group)
    list_group_members = async_pages(HubOperations.list_group_members)
    add_group_member = async_call(HubOperations.add_group_member)
    remove_group_member = async_call(HubOperations.remove_group_member)

    # -- audit logs --------------------------------------------------------------------------------------------

    list_audit_actions = async_call(HubOperations.list_audit_actions)
    audit_logs = async_pages(HubOperations.audit_logs)
