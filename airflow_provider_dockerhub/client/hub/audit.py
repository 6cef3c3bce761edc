"""Audit logs, as flows: the actions an account can log, and its events page by page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core.flow import Flow
from ..core.pagination import Pages
from .models import AuditLog
from .requests import HubRequests, iso

AUDIT_PAGE_SIZE = 100  # also the most we ask for: paging stops at a short page, so a server cap must not cut it


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
    ) -> Pages[AuditLog]:
        """Every event, page by page (the endpoint gives no count: paging stops at the first short page).
        ``start``/``end`` go to the API's ``from``/``to``; 429s are honoured by the transport's retry policy."""
        params = {
            "page": 1,
            "page_size": page_size,
            "from": iso(start),
            "to": iso(end),
            "action": action,
            "actor": actor,
            "name": name,
        }
        return self.listing(AuditLog, ("auditlogs", account), params, key="logs", style="short")
