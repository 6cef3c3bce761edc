"""What the emulator's pipeline and handlers share: request records, routes, responses, paging and error bodies.

Not for production. Errors render in the body shape of the endpoint's family (JSON, login, audit, SCIM).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from starlette.datastructures import URL, Headers, QueryParams
from starlette.responses import Response

from .adversary import Adversary
from .state import REPO_ORDERINGS, SCIM_ERROR_SCHEMA, HubError, Principal

JSON = dict[str, Any]
AuthKind = Literal["none", "optional", "bearer", "scim"]
Family = Literal["json", "login", "audit", "scim"]
SCIM_MEDIA_TYPE = "application/scim+json"
# gRPC codes for the audit-log endpoints, whose undeclared errors fall under ``default: rpcStatus``.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 501: 12, 503: 14, 504: 4}


# -- records exposed to tests --------------------------------------------------------------------------------


class LoggedRequest(NamedTuple):
    """One request as the emulator saw it; ``body`` is the parsed JSON (``None`` if none or not JSON)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


class Violation(NamedTuple):
    """A request (or, with ``validate_responses``, a response) that does not match the spec."""

    method: str
    path: str
    operation: str | None
    errors: tuple[str, ...]


@dataclass
class Injection:
    """A fault rule from :meth:`HubEmulator.fail` / :meth:`HubEmulator.rate_limit`; ``hits`` counts firings."""

    path_re: re.Pattern[str]
    method: str
    status: int
    remaining: int
    retry_after: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0


@dataclass(frozen=True)
class HubRequest:
    """What the pipeline needs of one HTTP request (``raw_path`` is still percent-encoded)."""

    method: str
    raw_path: str
    query: QueryParams
    headers: Headers
    body: bytes
    url: URL
    base_url: str
    client_host: str


# -- routing -------------------------------------------------------------------------------------------------


@dataclass
class Call:
    request: HubRequest
    params: dict[str, str]
    body: Any
    principal: Principal | None = None
    adversary: Adversary = field(default_factory=Adversary)

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def query(self) -> QueryParams:
        return self.request.query

    @property
    def headers(self) -> Headers:
        return self.request.headers

    @property
    def url(self) -> URL:
        return self.request.url

    @property
    def base_url(self) -> str:
        return self.request.base_url

    @property
    def user(self) -> Principal:
        assert self.principal is not None  # guaranteed by the route's auth kind
        return self.principal


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class HubRoute:
    method: str
    template: str
    auth: AuthKind
    oat: bool  # usable with an OAT-derived JWT
    family: Family
    handler: Handler

    @property
    def segments(self) -> list[str]:
        return self.template.strip("/").split("/")


def json_response(data: Any, status: int = 200, *, media_type: str = "application/json") -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status_code=status, media_type=media_type)


def scim_response(data: Any, status: int = 200) -> Response:
    return json_response(data, status, media_type=SCIM_MEDIA_TYPE)


def json_object(call: Call) -> JSON:
    if not isinstance(call.body, dict):
        raise HubError(400, "a JSON object body is required", fields={"non_field_errors": ["JSON object expected"]})
    return call.body


def int_query(
    call: Call, name: str, default: int, *, low: int = 1, high: int | None = None, clamp: bool = False
) -> int:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)  # PAT/OAT ``page`` params are typed ``number``: accept "2.0"
        if not number.is_integer():
            raise ValueError(raw)
        value = int(number)
    except ValueError:
        raise HubError(400, f"Invalid {name}", fields={name: ["a whole number is required"]}) from None
    if value < low:
        raise HubError(400, f"Invalid {name}", fields={name: [f"must be at least {low}"]})
    if high is not None and value > high:
        if not clamp:
            raise HubError(400, f"Invalid {name}", fields={name: [f"must be at most {high}"]})
        value = high
    return value


def page_of(
    call: Call,
    items: Sequence[Any],
    render: Callable[[Any], JSON],
    *,
    count_key: str = "count",
    strict: bool = False,
    max_size: int = 100,
    insert: Callable[[], Sequence[Any]] | None = None,
) -> JSON:
    """A ``{count|total, next, previous, results}`` page; ``next``/``previous`` are absolute URLs or null.

    The emulator's adversary modes apply here, for every listing of this shape: the page and page size actually
    served, the advertised count (``next`` is derived from it, as a Django REST paginator does), and, given
    ``insert`` (which adds a record that sorts first and returns the listing again), an insertion between pages.
    """
    asked = int_query(call, "page", 1)
    adversary = call.adversary
    if insert is not None and adversary.insert_now(call.request.raw_path, asked == 1):
        items = insert()
    page = adversary.page(asked)
    size = adversary.page_size(int_query(call, "page_size", 10, high=max_size, clamp=True))
    start = (page - 1) * size
    if strict and page > 1 and start >= len(items):
        raise HubError(404, "Invalid page.")
    count = adversary.total(len(items), asked == 1)
    following = str(call.url.include_query_params(page=page + 1)) if start + size < count else None
    previous = str(call.url.include_query_params(page=page - 1)) if page > 1 else None
    results = [render(item) for item in items[start : start + size]]
    return {count_key: count, "next": following, "previous": previous, "results": results}


def bool_query(call: Call, name: str) -> bool:
    return (call.query.get(name) or "").lower() in ("true", "1", "yes")


def too_many_requests(retry_after: str) -> Response:
    response = json_response({"detail": "Rate limit exceeded", "error": False}, 429)
    response.headers["Retry-After"] = retry_after
    return response


def error_response(family: Family, err: HubError) -> Response:
    if family == "scim":
        body: JSON = {"schemas": [SCIM_ERROR_SCHEMA], "status": str(err.status), "detail": err.detail}
        if err.scim_type:
            body["scimType"] = err.scim_type
        return scim_response(body, err.status)
    if family == "login":
        return json_response({"detail": err.detail}, err.status)
    # One body that satisfies the spec's error shapes at once: ``Error``/``error`` (detail, message,
    # errinfo), ``ValueError`` (fields, text) and, on the audit endpoints, ``rpcStatus`` (code, details).
    body = {"detail": err.detail, "message": err.detail, "errinfo": {}}
    if err.fields:
        body.update(fields=err.fields, text=err.detail)
    if family == "audit":
        body.update(code=_GRPC_CODES.get(err.status, 2), details=[])
    return json_response(body, err.status)


def violation_response(family: Family, status: int, operation: str, errors: list[tuple[str, str]]) -> Response:
    messages = [m for _, m in errors]
    detail = f"Request violates the Docker Hub OpenAPI spec ({operation}): " + "; ".join(messages)
    if family == "scim":
        return error_response(family, HubError(status, detail, scim_type="invalidSyntax"))
    fields: dict[str, list[str]] = {}
    for key, message in errors:
        fields.setdefault(key, []).append(message)
    text = detail
    if "ordering" in fields:
        # The spec's own example body for an invalid ``ordering``, plus what the validator said.
        fields["ordering"].insert(0, "Invalid ordering value. Must be one of: " + ", ".join(REPO_ORDERINGS))
        text = "Invalid ordering value"
    body: JSON = {"detail": detail, "message": detail, "errinfo": {"violations": messages}}
    body.update(fields=fields, text=text)
    if family == "audit":
        body.update(code=_GRPC_CODES.get(status, 2), details=[])
    return json_response(body, status)
