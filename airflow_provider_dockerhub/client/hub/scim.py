"""SCIM 2.0 client (``{hub_url}/v2/scim/2.0``), authenticated with the connection's SCIM token, never the JWT.

Docker Hub's SCIM has no PATCH and no DELETE on Users: deprovisioning is a PUT with ``enabled: false``. The PUT
body says ``enabled`` (defaulting to false!) where the resource says ``active``, so :meth:`ScimClient.replace_user`
always sends ``enabled`` explicitly. Every endpoint is a flow on ``ScimOperations``; ``ScimClient`` and
``AsyncScimClient`` are its two fronts, one line per method.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import httpx

from ..core.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DestructiveOperationRefused,
    DockerHubError,
    InvalidInputError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    TransportError,
    json_body,
    raise_for_response,
    redacted_path,
)
from ..core.flow import Flow
from ..core.front import AsyncFront, SyncFront, async_call, async_pages, sync_call, sync_pages
from ..core.pagination import Page, Pages, Params, collect_pages, start_index_page
from ..core.reference import path_segment
from ..state import SessionState
from .models import ScimUser
from .scim_sync import KINDS, Change, SyncPlan
from .scim_teams import TeamChange
from .teams import TeamFlows

log = logging.getLogger(__name__)

SCIM_PREFIX = "/v2/scim/2.0"
SCIM_MEDIA_TYPE = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_PAGE_SIZE = 200  # the API's maximum ``count``


def _resources(body: Any) -> list[Any]:
    # The spec writes ``resources``; RFC 7644 says ``Resources``. Accept both.
    if not isinstance(body, dict):
        return []
    items = body.get("Resources", body.get("resources"))
    return items if isinstance(items, list) else []


class ScimOperations:
    """Every SCIM endpoint as a flow, with the request plumbing they share."""

    def __init__(self, state: SessionState) -> None:
        state.check_hub_url()
        if not state.config.scim_token:
            raise ConfigurationError("SCIM calls need the connection extra 'scim_token'")
        self.state = state
        self.base = httpx.URL(state.config.hub_url)

    def url(self, *segments: str) -> httpx.URL:
        prefix = self.base.path.rstrip("/")  # a path in hub_url prefixes SCIM too (see HubRequests.url)
        return self.base.copy_with(path=prefix + SCIM_PREFIX + "".join("/" + path_segment(s) for s in segments))

    def call(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: dict[str, Any] | None = None,
        json_data: Any = None,
        expected: tuple[int, ...] = (200,),
    ) -> Flow[Any]:
        if method != "GET":
            self.state.require_destructive(f"SCIM {method} {url.path}")
        headers = {"Accept": SCIM_MEDIA_TYPE}
        content = None
        if json_data is not None:
            content = json.dumps(json_data).encode()
            headers["Content-Type"] = SCIM_MEDIA_TYPE
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        request = httpx.Request(method, url, params=clean or None, content=content, headers=headers)
        response = yield from self.state.scim_auth.request_flow(request)
        raise_for_response(response, expected)
        return json_body(response) if response.content else None

    def users_page(self, params: Params) -> Flow[Page]:
        body = yield from self.call("GET", self.url("Users"), params=params)
        return start_index_page(body, _resources(body), params)

    def _object(self, *segments: str) -> Flow[dict[str, Any]]:
        url = self.url(*segments)
        data = yield from self.call("GET", url)
        if not isinstance(data, dict):
            raise ProtocolError("GET", redacted_path(url), "not a JSON object")
        return data

    def _resource_list(self, *segments: str) -> Flow[list[dict[str, Any]]]:
        data = yield from self.call("GET", self.url(*segments))
        return [r for r in _resources(data) if isinstance(r, dict)]

    # -- discovery ----------------------------------------------------------------------------------------

    def service_provider_config(self) -> Flow[dict[str, Any]]:
        return self._object("ServiceProviderConfig")

    def resource_types(self) -> Flow[list[dict[str, Any]]]:
        return self._resource_list("ResourceTypes")

    def resource_type(self, name: str) -> Flow[dict[str, Any]]:
        return self._object("ResourceTypes", name)

    def schemas(self) -> Flow[list[dict[str, Any]]]:
        return self._resource_list("Schemas")

    def schema(self, schema_id: str) -> Flow[dict[str, Any]]:
        return self._object("Schemas", schema_id)

    # -- users --------------------------------------------------------------------------------------------

    def list_users(
        self,
        *,
        filter: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        attributes: str | None = None,
        page_size: int = SCIM_PAGE_SIZE,
    ) -> Pages[ScimUser]:
        """Every user, walking ``startIndex``/``count`` pages (one listing pass: no GET per user)."""
        if sort_order not in (None, "ascending", "descending"):
            raise InvalidInputError(f"sort_order must be ascending or descending, got {sort_order!r}")
        if not 1 <= page_size <= SCIM_PAGE_SIZE:
            raise InvalidInputError(f"page_size must be 1-{SCIM_PAGE_SIZE}")
        first = {
            "startIndex": 1,
            "count": page_size,
            "filter": filter,
            "sortBy": sort_by,
            "sortOrder": sort_order,
            "attributes": attributes,
        }
        params = {k: v for k, v in first.items() if v is not None}
        return Pages(
            params,
            self.users_page,
            ScimUser.model_validate,
            page_size=page_size,
            path=redacted_path(self.url("Users")),
        )

    def get_user(self, user_id: str) -> Flow[ScimUser]:
        data = yield from self._object("Users", user_id)
        return ScimUser.model_validate(data)

    def create_user(
        self, user_name: str, *, given_name: str | None = None, family_name: str | None = None
    ) -> Flow[ScimUser]:
        if "@" not in user_name:
            raise InvalidInputError(f"SCIM userName must be an email address, got {user_name!r}")
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": user_name}
        name = {k: v for k, v in {"givenName": given_name, "familyName": family_name}.items() if v}
        if name:
            body["name"] = name
        data = yield from self.call("POST", self.url("Users"), json_data=body, expected=(200, 201))
        return ScimUser.model_validate(data)

    def replace_user(
        self, user_id: str, *, active: bool, given_name: str | None = None, family_name: str | None = None
    ) -> Flow[ScimUser]:
        """PUT the user. ``active=False`` deprovisions (a destructive change, gated like every write)."""
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "enabled": active}
        name = {k: v for k, v in {"givenName": given_name, "familyName": family_name}.items() if v is not None}
        if name:
            body["name"] = name
        data = yield from self.call("PUT", self.url("Users", user_id), json_data=body)
        return ScimUser.model_validate(data)

    # -- sync ---------------------------------------------------------------------------------------------

    def find_user(self, user_name: str) -> Flow[ScimUser | None]:
        """The user whose ``userName`` is ``user_name`` (``filter=userName eq "..."``; case-insensitive, as
        userName is ``caseExact: false``), or ``None``."""
        # json.dumps quotes and escapes as RFC 7644 filter strings are written (a JSON string).
        found = yield from collect_pages(self.list_users(filter=f"userName eq {json.dumps(user_name)}"))
        return next((u for u in found if u.user_name.lower() == user_name.lower()), None)

    def apply_plan(
        self,
        plan: SyncPlan,
        *,
        allow_deactivation: bool = False,
        allow_team_removal: bool = False,
        org: str | None = None,
    ) -> Flow[ApplyReport]:
        """One request per change of a :func:`plan_sync` plan, deactivations first, each independent of the
        others: a change that fails is recorded and the rest still run. Raises :class:`ScimSyncError` at the end
        if any failed (its ``report`` lists every user's outcome), so offboarding never waits on an unrelated
        create. A 409 on a create is reconciled: the existing user is looked up and reactivated or renamed.

        Stops early only where going on cannot help: the SCIM token refused (sending it again would only repeat
        the refusal), the rate limit or the network exhausted after the policy's retries. Needs the connection's
        ``allow_destructive`` for any change and ``allow_deactivation`` for deactivations, both checked before
        the first request, so a refused sync changes nothing rather than stopping half-way."""
        if plan.changes:
            self.state.require_destructive("SCIM sync")
        deactivations = len(plan.of("deactivate"))
        if deactivations and not allow_deactivation:
            raise DestructiveOperationRefused(
                f"the SCIM plan deactivates {deactivations} users: deactivation needs allow_deactivation=True "
                "as well as the connection's allow_destructive; nothing was changed"
            )
        removals = sum(1 for t in plan.team_changes if t.kind == "team_remove")
        if removals and not allow_team_removal:
            raise DestructiveOperationRefused(
                f"the SCIM plan removes {removals} team memberships: that needs allow_team_removal=True as well "
                "as the connection's allow_destructive; nothing was changed"
            )
        if plan.team_changes and not (org or self.state.config.namespace):
            raise InvalidInputError("team changes need the organization: pass org= (or the connection's namespace)")
        report = ApplyReport()
        ordered = sorted(plan.changes, key=lambda c: (KINDS.index(c.kind), c.user_name.lower()))
        steps: list[Change | TeamChange] = [*ordered, *plan.team_changes]
        usernames: dict[str, str] = {}  # userName -> Docker ID of the users this run created
        for position, step in enumerate(steps):
            try:
                if isinstance(step, TeamChange):
                    result = yield from self._apply_team(step, org or self.state.config.namespace or "", usernames)
                else:
                    result = yield from self._apply_one(step)
                    if result.username:
                        usernames[step.user_name.lower()] = result.username
            except _FATAL as exc:
                report.results.append(ChangeResult.failed(step, exc))
                report.results.extend(ChangeResult.not_attempted(c, exc) for c in steps[position + 1 :])
                raise ScimSyncError(report, fatal=exc) from exc
            except (ApiError, ProtocolError, InvalidInputError) as exc:
                result = ChangeResult.failed(step, exc)
                log.warning("SCIM %s %s failed: %s", step.kind, step.user_name, exc)
            else:
                log.info("SCIM %s %s: %s", step.kind, step.user_name, result.outcome)
            report.results.append(result)
        if report.failures():
            raise ScimSyncError(report)
        return report

    def _apply_team(self, change: TeamChange, org: str, usernames: dict[str, str]) -> Flow[ChangeResult]:
        username = change.username or usernames.get(change.user_name.lower())
        if not username:
            raise InvalidInputError(f"no Docker ID for {change.user_name}: its create did not succeed")
        teams = TeamFlows(self.state)
        if change.kind == "team_add":
            yield from teams.add_group_member(org, change.team, username)
            return ChangeResult(change.kind, change.user_name, "added", None, "POST", 200, team=change.team)
        try:
            yield from teams.remove_group_member(org, change.team, username)
        except NotFoundError:  # not a member (any more): what the removal wanted, e.g. on a retried apply
            return ChangeResult(change.kind, change.user_name, "already removed", None, "DELETE", 404, team=change.team)
        return ChangeResult(change.kind, change.user_name, "removed", None, "DELETE", 204, team=change.team)

    def _apply_one(self, change: Change) -> Flow[ChangeResult]:
        if change.kind == "create":
            try:
                created = yield from self.create_user(
                    change.user_name, given_name=change.given_name, family_name=change.family_name
                )
            except ConflictError as conflict:
                return (yield from self._reconcile(change, conflict))
            return replace(ChangeResult.done(change, "created", created.id, 201), username=created.display_name)
        if change.user_id is None:
            raise InvalidInputError(f"{change.kind} of {change.user_name!r} needs the user's id")
        yield from self.replace_user(
            change.user_id,
            active=change.kind != "deactivate",
            given_name=change.given_name,
            family_name=change.family_name,
        )
        return ChangeResult.done(change, _DONE[change.kind], change.user_id, 200)

    def _reconcile(self, change: Change, conflict: ConflictError) -> Flow[ChangeResult]:
        """A create answered 409: the user exists (perhaps created by an earlier try, or deactivated and not
        listed by a server that hides them). Make that user what the plan wanted instead."""
        existing = yield from self.find_user(change.user_name)
        if existing is None:
            return ChangeResult.failed(change, conflict, note="and no user with that userName is found by filter")
        names = existing.name
        differs = (change.given_name is not None and change.given_name != (names.given_name if names else None)) or (
            change.family_name is not None and change.family_name != (names.family_name if names else None)
        )
        known = existing.display_name
        if existing.active and not differs:
            return replace(ChangeResult.done(change, "reconciled: already present", existing.id, 409), username=known)
        yield from self.replace_user(
            existing.id, active=True, given_name=change.given_name, family_name=change.family_name
        )
        outcome = "reconciled: reactivated" if not existing.active else "reconciled: updated"
        return replace(ChangeResult.done(change, outcome, existing.id, 409), username=known)


_DONE = {"update": "updated", "reactivate": "reactivated", "deactivate": "deactivated"}
_METHODS = {"create": "POST", "update": "PUT", "reactivate": "PUT", "deactivate": "PUT", "team_add": "POST"}
_METHODS["team_remove"] = "DELETE"


def _user_id(change: Change | TeamChange) -> str | None:
    return change.user_id if isinstance(change, Change) else None


def _team(change: Change | TeamChange) -> str | None:
    return change.team if isinstance(change, TeamChange) else None


# After these, every further request would fail the same way (or make things worse, for a refused token).
_FATAL = (AuthenticationError, RateLimitedError, TransportError, DestructiveOperationRefused, ConfigurationError)


@dataclass(frozen=True)
class ChangeResult:
    """What happened to one planned change (JSON primitives via :meth:`as_dict`)."""

    kind: str  # create | update | reactivate | deactivate | team_add | team_remove
    user_name: str
    outcome: str  # created | updated | reactivated | deactivated | reconciled: ... | added | removed | failed | ...
    user_id: str | None = None
    method: str | None = None
    status: int | None = None
    message: str | None = None
    team: str | None = None
    username: str | None = None  # the Docker ID, where the answer gave it

    @property
    def ok(self) -> bool:
        return self.outcome not in ("failed", "not attempted")

    @classmethod
    def done(cls, change: Change, outcome: str, user_id: str | None, status: int) -> ChangeResult:
        method = "POST" if change.kind == "create" else "PUT"
        return cls(change.kind, change.user_name, outcome, user_id, method, status)

    @classmethod
    def failed(cls, change: Change | TeamChange, error: BaseException, note: str = "") -> ChangeResult:
        status = error.status if isinstance(error, ApiError) else None
        method = error.method if isinstance(error, ApiError) else _METHODS[change.kind]
        text = (error.server_message if isinstance(error, ApiError) else None) or str(error)
        return cls(
            change.kind,
            change.user_name,
            "failed",
            _user_id(change),
            method,
            status,
            f"{text} {note}".strip(),
            _team(change),
        )

    @classmethod
    def not_attempted(cls, change: Change | TeamChange, cause: BaseException) -> ChangeResult:
        return cls(
            change.kind,
            change.user_name,
            "not attempted",
            _user_id(change),
            None,
            None,
            f"stopped: {cause}",
            _team(change),
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class ApplyReport:
    results: list[ChangeResult] = field(default_factory=list)

    def failures(self) -> list[ChangeResult]:
        return [r for r in self.results if not r.ok]

    def counts(self) -> dict[str, int]:
        done = dict.fromkeys(("create", "update", "reactivate", "deactivate"), 0)
        for result in self.results:
            if result.ok:
                done[result.kind] = done.get(result.kind, 0) + 1
        return {**done, "failed": len(self.failures())}


class ScimSyncError(DockerHubError):
    """Some changes of a SCIM sync failed; every other change was still applied. ``report`` has each user's
    outcome; the message lists each failed user with the method, the HTTP status and the server's message."""

    def __init__(self, report: ApplyReport, *, fatal: BaseException | None = None) -> None:
        self.report = report
        self.fatal = fatal
        failures = report.failures()
        lines = [
            f"  {r.kind} {r.user_name}{f' (team {r.team})' if r.team else ''}: {r.outcome}"
            + (f" ({r.method} -> HTTP {r.status})" if r.status else "")
            + (f": {r.message}" if r.message else "")
            for r in failures
        ]
        head = (
            f"SCIM sync stopped early ({type(fatal).__name__}); "
            if fatal is not None
            else "SCIM sync finished with errors; "
        )
        applied = sum(1 for r in report.results if r.ok)
        super().__init__(f"{head}{applied} changes applied, {len(failures)} not:\n" + "\n".join(lines))


class ScimClient(SyncFront[ScimOperations]):
    """Synchronous SCIM client (``hook.scim``). ``list_users`` is an iterator over every page."""

    service_provider_config = sync_call(ScimOperations.service_provider_config)
    resource_types = sync_call(ScimOperations.resource_types)
    resource_type = sync_call(ScimOperations.resource_type)
    schemas = sync_call(ScimOperations.schemas)
    schema = sync_call(ScimOperations.schema)
    list_users = sync_pages(ScimOperations.list_users)
    get_user = sync_call(ScimOperations.get_user)
    create_user = sync_call(ScimOperations.create_user)
    replace_user = sync_call(ScimOperations.replace_user)
    find_user = sync_call(ScimOperations.find_user)
    apply_plan = sync_call(ScimOperations.apply_plan)


class AsyncScimClient(AsyncFront[ScimOperations]):
    """The async twin of :class:`ScimClient`; ``list_users`` is an async iterator."""

    service_provider_config = async_call(ScimOperations.service_provider_config)
    resource_types = async_call(ScimOperations.resource_types)
    resource_type = async_call(ScimOperations.resource_type)
    schemas = async_call(ScimOperations.schemas)
    schema = async_call(ScimOperations.schema)
    list_users = async_pages(ScimOperations.list_users)
    get_user = async_call(ScimOperations.get_user)
    create_user = async_call(ScimOperations.create_user)
    replace_user = async_call(ScimOperations.replace_user)
    find_user = async_call(ScimOperations.find_user)
    apply_plan = async_call(ScimOperations.apply_plan)
