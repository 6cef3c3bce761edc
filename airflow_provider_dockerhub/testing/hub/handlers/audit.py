"""Audit logs of users and organizations. Not for production."""

from __future__ import annotations

from starlette.responses import Response

from ..adversary import DEFAULT_PAGE_SIZE
from ..http import Call, int_query, json_response
from ..state import HubError, parse_time
from .base import HandlerBase


class AuditHandlers(HandlerBase):
    """``/v2/auditlogs/{account}``: owners of an organization, or the user themself."""

    def _audit_account(self, call: Call) -> str:
        account = call.params["account"]
        if account in self.state.orgs:
            self.state.require_org(call.principal, account, owner=True)
        elif account in self.state.users:
            if call.user.kind != "user" or call.user.name != account:
                raise HubError(403, f"no access to the audit logs of {account!r}")
        else:
            raise HubError(404, f"account {account!r} not found")
        return account

    def _audit_actions(self, call: Call) -> Response:
        self._audit_account(call)
        return json_response(self.state.audit_actions_json())

    def _audit_logs(self, call: Call) -> Response:
        account = self._audit_account(call)
        bounds: dict[str, float | None] = {}
        for name in ("from", "to"):
            raw = call.query.get(name)
            try:
                bounds[name] = parse_time(raw) if raw else None
            except ValueError:
                raise HubError(400, f"Invalid {name}", fields={name: ["an RFC 3339 date-time is required"]}) from None
        asked = int_query(call, "page", 1)
        if asked == 1:
            self.state.begin_audit_listing(account)
        if call.adversary.insert_now(call.request.raw_path, asked == 1):
            self.state.insert_audit_event(account, bounds["from"], bounds["to"])
        events = self.state.query_audit(
            account,
            action=call.query.get("action") or None,
            actor=call.query.get("actor") or None,
            name=call.query.get("name") or None,
            frm=bounds["from"],
            to=bounds["to"],
            page=call.adversary.page(asked),
            page_size=call.adversary.page_size(int_query(call, "page_size", DEFAULT_PAGE_SIZE)),
        )
        return json_response({"logs": [self.state.audit_json(e) for e in events]})
