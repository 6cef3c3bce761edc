"""In-memory state behind :mod:`airflow_provider_dockerhub.testing.hub`: records, domain rules and JSON renderings.

Not for production. Everything here is plain Python (no HTTP, no spec): the emulator turns requests into calls on
:class:`HubState` and :class:`ScimStore`, which raise :class:`HubError` for every refusal the API documents.
Callers hold the emulator's lock; nothing here is thread-safe on its own.

:class:`HubState` is composed one resource per module, each part building on the ones below it: the collections
(``base``), audit logs, organizations (users, members, settings, invites), groups, repositories and tags, and
tokens (PATs, OATs, secret checks).
"""

from __future__ import annotations

from .audit import AUDIT_ACTIONS
from .records import PAT_SCOPES, REPO_ORDERINGS, AuditEvent, HubError, Principal, parse_time, rfc3339
from .scim import (
    SCIM_ERROR_SCHEMA,
    SCIM_LIST_SCHEMA,
    SCIM_RESOURCE_TYPES,
    SCIM_SCHEMAS,
    SCIM_SERVICE_PROVIDER_CONFIG,
    ScimStore,
    ScimUser,
)
from .tokens import TokenState

__all__ = [
    "AUDIT_ACTIONS",
    "PAT_SCOPES",
    "REPO_ORDERINGS",
    "SCIM_ERROR_SCHEMA",
    "SCIM_LIST_SCHEMA",
    "SCIM_RESOURCE_TYPES",
    "SCIM_SCHEMAS",
    "SCIM_SERVICE_PROVIDER_CONFIG",
    "AuditEvent",
    "HubError",
    "HubState",
    "Principal",
    "ScimStore",
    "ScimUser",
    "parse_time",
    "rfc3339",
]


class HubState(TokenState):
    """Users, organizations, repositories, tokens and audit logs of one emulated Hub."""
