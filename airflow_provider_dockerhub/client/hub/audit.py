"""Audit logs, as flows: the actions an account can log, and its events page by page."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ..core.errors import InvalidInputError
from ..core.flow import Flow
from ..core.pagination import Pages
from .models import AuditLog
from .requests import HubRequests, iso

AUDIT_PAGE_SIZE = 100  # the most the API serves; a server that serves fewer is paged on to an empty page
# Duplicates from shifted offsets are adjacent (the log is served newest first), so two pages of keys find them
# while memory stays bounded by a page however long the log is.
AUDIT_KEY_WINDOW = 2


def event_key(raw: Any) -> str:
    """The content key of a raw audit event: the first 128 bits of the SHA-256 of its canonical JSON (plenty to
    tell millions of events apart, half the memory of the whole digest in a watermark's key set). Events carry
    no id; two events equal in every field (account, action, name, actor, data, timestamp) are one event."""
    return key_of_canonical(canonical_event(raw))


def canonical_event(raw: Any) -> str:
    """An event as canonical JSON (sorted keys, no spaces, UTF-8 kept): what the export writes and keys."""
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def key_of_canonical(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class AuditFlows(HubRequests):
    def list_audit_actions(self, account: str) -> Flow[dict[str, Any]]:
        data = yield from self.call("GET", self.url("auditlogs", account, "actions"))
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
        page: int = 1,
    ) -> Pages[AuditLog]:
        """Every event, newest first, page by page. The endpoint gives no count, so paging ends at an empty page
        (never at a short one: servers cap or ignore ``page_size``); repeats from offsets shifted by new events
        are dropped by :func:`event_key`. ``start``/``end`` go to the API's ``from``/``to``; 429s are honoured
        by the transport's retry policy. ``page`` starts the listing further on (a resumed export)."""
        params = {
            "page": page,
            "page_size": page_size,
            "from": iso(start),
            "to": iso(end),
            "action": action,
            "actor": actor,
            "name": name,
        }
        if type(page) is not int or page < 1:
            raise InvalidInputError(f"page must be a positive integer, got {page!r}")
        return self.listing(
            AuditLog, ("auditlogs", account), params, key="logs", item_key=event_key, window=AUDIT_KEY_WINDOW
        )
