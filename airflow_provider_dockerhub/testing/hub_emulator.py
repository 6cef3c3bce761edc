"""An in-memory Docker Hub management API v2 + SCIM 2.0 emulator for tests and demos. Not for production.

:class:`HubEmulator` serves all 54 operations of Docker's OpenAPI document (``docker-hub-api.yaml``) from a
Starlette app, in the spec's shapes and paging styles, with Hub-style auth (``POST /v2/auth/token`` JWTs,
PATs, OATs, a separate SCIM token, the deprecated login + 2FA pair) and audit events for every mutation.

Given ``spec_path``, every request is validated against the spec (parameters and bodies, via openapi-core,
after the in-memory repairs listed in :data:`SPEC_WORKAROUNDS`); a violation answers 400 with a body naming it
and is appended to :attr:`HubEmulator.violations`, so a test can assert its client speaks the contract. The spec
file is never needed at run time: without it there is no validation, and openapi-core is not imported.

Knobs for negative tests: :meth:`~HubEmulator.expire_tokens`, :meth:`~HubEmulator.rate_limit`,
:meth:`~HubEmulator.fail`; seeders make large data sets cheaply (``seed_audit_events(…, 100_000)``).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import json
import math
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.datastructures import URL, Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .hub_state import (
    REPO_ORDERINGS,
    SCIM_ERROR_SCHEMA,
    SCIM_LIST_SCHEMA,
    SCIM_RESOURCE_TYPES,
    SCIM_SCHEMAS,
    SCIM_SERVICE_PROVIDER_CONFIG,
    HubError,
    HubState,
    Principal,
    ScimStore,
    parse_time,
)

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "SPEC_WORKAROUNDS",
    "HubEmulator",
    "HubRequest",
    "Injection",
    "LoggedRequest",
    "SpecChecker",
    "Violation",
    "find_hub_spec",
    "load_hub_spec",
    "sanitize_spec",
]

JSON = dict[str, Any]
AuthKind = Literal["none", "optional", "bearer", "scim"]
Family = Literal["json", "login", "audit", "scim"]
SCIM_MEDIA_TYPE = "application/scim+json"
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# gRPC codes for the audit-log endpoints, whose undeclared errors fall under ``default: rpcStatus``.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 501: 12, 503: 14, 504: 4}


# -- the spec, repaired in memory ----------------------------------------------------------------------------

SPEC_WORKAROUNDS: tuple[str, ...] = (
    "Response status keys are a mix of strings and YAML integers (200:); all are turned into strings.",
    "GetRepository and CheckRepository 200 responses lack the required `description`; an empty one is added.",
    "AuthCreateAccessToken's 401 has `description` next to `$ref`; the sibling is dropped.",
    "CreateRepository's security names `BearerAuth`, an undefined scheme; it is read as `bearerAuth`.",
    "`/v2/orgs/{name}/access-tokens` does not declare its `name` path parameter; it is added.",
    "orgAccessTokenResource (`type`, `path`, `scopes`) and createOrgAccessTokenRequest.label use property-level "
    "`required: true` (invalid in OpenAPI 3.0); they become the objects' `required` lists.",
    "`team_repo` has `allOf: [$ref: '#/components/responses/team_repo']`, a dangling reference to a response; "
    "the allOf is dropped.",
    "`error.errinfo` and `ValueError.fields` are `type: object` with `items`; the `items` are dropped.",
    "The `search` query parameter of GET /v2/orgs/{org_name}/members is typed integer; it is a string.",
    "immutable_tags_verify_request.regex carries a repository-name pattern with doubled backslashes that rejects "
    "the spec's own example `v.*` (and any rule using regex syntax); the pattern is dropped (the emulator checks "
    "that the regex compiles instead).",
    "scim_user_schemas puts `minItems: 1` on the string items instead of the array; it is moved to the array.",
    "GET /v2/orgs/{org_name}/members declares its 200 as an array of page objects; it is one page object.",
    "`tag.images` is typed as one `image` object (the live Hub sends a list); either is accepted.",
    "`next`/`previous` of the PAT, OAT, group, group-member and org-member pages are non-nullable strings, yet "
    "the last page has no next page (the PAT and group examples even show null); they are made nullable.",
    "`accessToken.expires_at` is non-nullable although a PAT without expiry has none; it is made nullable.",
    "PUT /v2/orgs/{org_name}/members/{username} accepts `editor`, but `org_member.role` lacks `Editor` (added "
    "upstream on 2026-09-01); it is added.",
    "CheckRepository (HEAD) declares a response body; HEAD responses are not body-validated.",
    "GET /v2/orgs/{org_name}/members/export declares a JSON Schema array under text/csv; only the media type of "
    "that response is checked. Its `required` list names a `Role` column where its properties say `Permission`; "
    "the CSV has `Permission`.",
    "The tag endpoints declare no 401 and the audit-log endpoints no 401/403/404 (only `default: rpcStatus`); "
    "the emulator still answers them, audit errors carrying the rpcStatus fields `code`/`message`/`details`.",
)


def find_hub_spec() -> str | None:
    """``<repo>/../shared/specs/docker-hub-api.yaml`` if it exists (a source checkout next to the shared specs)."""
    repo = Path(__file__).resolve().parents[2]
    candidate = repo.parent / "shared" / "specs" / "docker-hub-api.yaml"
    return str(candidate) if candidate.is_file() else None


def load_hub_spec(path: str | Path) -> JSON:
    """The spec parsed from YAML, with the repairs of :data:`SPEC_WORKAROUNDS` applied (a private copy)."""
    return copy.deepcopy(_cached_spec(str(Path(path).resolve())))


@functools.lru_cache(maxsize=4)
def _cached_spec(path: str) -> JSON:
    # Parsing the 4,000-line YAML costs ~0.4 s; emulators built from the same file share one read-only copy.
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader, picked at run time
    return sanitize_spec(raw)


def _nullable(schema: JSON, *names: str) -> None:
    for name in names:
        if name in schema.get("properties", {}):
            schema["properties"][name]["nullable"] = True


def sanitize_spec(raw: Mapping[str, Any]) -> JSON:
    """A repaired deep copy of the parsed spec: see :data:`SPEC_WORKAROUNDS` for each change and why."""
    spec: JSON = copy.deepcopy(dict(raw))
    for item in spec["paths"].values():
        for method, op in item.items():
            if method not in ("get", "head", "post", "put", "patch", "delete") or not isinstance(op, dict):
                continue
            responses = {str(k): v for k, v in op.get("responses", {}).items()}
            for status, resp in responses.items():
                if "$ref" in resp:
                    responses[status] = {"$ref": resp["$ref"]}
                else:
                    resp.setdefault("description", "")
            op["responses"] = responses
            if "security" in op:
                op["security"] = [
                    {("bearerAuth" if k == "BearerAuth" else k): v for k, v in req.items()} for req in op["security"]
                ]
    spec["paths"]["/v2/orgs/{name}/access-tokens"].setdefault(
        "parameters", [{"in": "path", "name": "name", "required": True, "schema": {"type": "string"}}]
    )
    schemas = spec["components"]["schemas"]
    for name in ("orgAccessTokenResource", "createOrgAccessTokenRequest"):
        schema = schemas[name]
        lifted = [k for k, v in schema["properties"].items() if v.pop("required", None) is True]
        schema["required"] = sorted(set(schema.get("required", [])) | set(lifted))
    schemas["team_repo"].pop("allOf", None)
    schemas["error"]["properties"]["errinfo"].pop("items", None)
    schemas["ValueError"]["properties"]["fields"].pop("items", None)
    spec["components"]["parameters"]["search"]["schema"] = {"type": "string"}
    schemas["immutable_tags_verify_request"]["properties"]["regex"].pop("pattern", None)
    schemas["scim_user_schemas"]["items"].pop("minItems", None)
    schemas["scim_user_schemas"]["minItems"] = 1
    members = spec["paths"]["/v2/orgs/{org_name}/members"]["get"]["responses"]["200"]["content"]["application/json"]
    members["schema"] = {"$ref": "#/components/schemas/org_member_paginated"}
    image_ref = schemas["tag"]["properties"]["images"]
    schemas["tag"]["properties"]["images"] = {
        "anyOf": [{"$ref": image_ref["$ref"]}, {"type": "array", "items": {"$ref": image_ref["$ref"]}}]
    }
    for name in ("getAccessTokensResponse", "getOrgAccessTokensResponse", "org_member_paginated"):
        _nullable(schemas[name], "next", "previous")
    for path in ("/v2/orgs/{org_name}/groups", "/v2/orgs/{org_name}/groups/{group_name}/members"):
        _nullable(
            spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"], "next", "previous"
        )
    _nullable(schemas["accessToken"], "expires_at")
    role = schemas["org_member"]["properties"]["role"]
    role["enum"] = [*role["enum"], "Editor"]
    return spec


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


# -- spec validation (openapi-core, imported only when a spec is given) ---------------------------------------


@dataclass
class _OARequest:
    host_url: str
    path: str
    method: str
    parameters: Any
    content_type: str
    body: bytes | None


@dataclass
class _OAResponse:
    status_code: int
    content_type: str
    headers: Mapping[str, str]
    data: bytes | None


_REQUIRED_RE = re.compile(r"^'(.+)' is a required property$")


def _describe(exc: BaseException) -> list[tuple[str, str]]:
    """(field, message) pairs for one openapi-core error, naming the parameter or the body location."""
    name = getattr(exc, "name", None)
    location = getattr(exc, "location", None)
    cause = exc.__cause__
    schema_errors = list(getattr(cause, "schema_errors", None) or [])
    prefix = f"{location} parameter {name!r}" if name and location else "request body"
    if not schema_errors:
        detail = f"{exc}: {cause}" if cause is not None and str(cause) not in str(exc) else str(exc)
        return [(str(name) if name else "non_field_errors", detail)]
    found = []
    for err in schema_errors:
        where = "/".join(str(p) for p in getattr(err, "absolute_path", ()))
        message = str(getattr(err, "message", err))
        missing = _REQUIRED_RE.match(message)
        key = name or (f"{where}/{missing.group(1)}".lstrip("/") if missing else where) or "non_field_errors"
        found.append((str(key), f"{prefix}{' at /' + where if where else ''}: {message}"))
    return found


class SpecChecker:
    """Request (and optionally response) validation against a repaired spec, tolerant of the listed defects."""

    def __init__(self, spec: JSON, *, strict_query: bool = True) -> None:
        from jsonschema_path import SchemaPath
        from openapi_core.deserializing.media_types.util import json_loads
        from openapi_core.validation.request.validators import V30RequestBodyValidator, V30RequestParametersValidator
        from openapi_core.validation.response.validators import V30ResponseValidator

        self.spec = spec
        self.strict_query = strict_query
        self.server = str(spec["servers"][0]["url"]).rstrip("/")
        path = SchemaPath.from_dict(spec)
        extra: Any = {SCIM_MEDIA_TYPE: json_loads}
        self._params = V30RequestParametersValidator(path, extra_media_type_deserializers=extra)
        self._body = V30RequestBodyValidator(path, extra_media_type_deserializers=extra)
        self._response = V30ResponseValidator(path, extra_media_type_deserializers=extra)
        self.query_names: dict[tuple[str, str], frozenset[str]] = {}
        for template, item in spec["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method in ("get", "head", "post", "put", "patch", "delete"):
                    params = [self._resolve(p) for p in [*shared, *op.get("parameters", [])]]
                    names = frozenset(p["name"] for p in params if p.get("in") == "query")
                    self.query_names[(method.upper(), template)] = names

    def _resolve(self, node: JSON) -> JSON:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def operations(self) -> set[tuple[str, str]]:
        return set(self.query_names)

    def _request(self, request: HubRequest) -> _OARequest:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers as WHeaders
        from werkzeug.datastructures import ImmutableMultiDict

        parameters = RequestParameters(
            query=ImmutableMultiDict(request.query.multi_items()),
            header=WHeaders(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )
        content_type = request.headers.get("content-type", "").lower()
        return _OARequest(
            self.server, request.raw_path, request.method.lower(), parameters, content_type, request.body or None
        )

    def request_errors(self, template: str, request: HubRequest) -> list[tuple[str, str]]:
        """(field, message) for every way ``request`` departs from the operation ``template`` of the spec."""
        oa_request = self._request(request)
        found: list[tuple[str, str]] = []
        for exc in [*self._params.iter_errors(oa_request), *self._body.iter_errors(oa_request)]:
            for pair in _describe(exc):
                if pair not in found:
                    found.append(pair)
        if self.strict_query:
            declared = self.query_names.get((request.method, template), frozenset())
            for name in dict.fromkeys(request.query.keys()):
                if name not in declared:
                    found.append((name, f"query parameter {name!r} is not declared by the spec for this operation"))
        return found

    def response_errors(self, request: HubRequest, response: Response) -> list[str]:
        from openapi_core.templating.responses.exceptions import ResponseNotFound

        content_type = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        if request.method == "HEAD" or content_type == "text/csv":
            return []  # see SPEC_WORKAROUNDS: HEAD bodies and the CSV export are not body-validated
        oa_response = _OAResponse(
            response.status_code, content_type, dict(response.headers), bytes(response.body) or None
        )
        errors = []
        for exc in self._response.iter_errors(self._request(request), oa_response):
            if isinstance(exc, ResponseNotFound):
                continue  # an undeclared status (e.g. 401 on the tag endpoints) has no schema to check
            cause = exc.__cause__
            details = [str(getattr(e, "message", e)) for e in getattr(cause, "schema_errors", None) or []]
            errors.append(f"{exc}: {'; '.join(details) or cause}")
        return errors


# -- routing -------------------------------------------------------------------------------------------------


@dataclass
class _Call:
    request: HubRequest
    params: dict[str, str]
    body: Any
    principal: Principal | None = None

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


Handler = Callable[[_Call], Response]


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    auth: AuthKind
    oat: bool  # usable with an OAT-derived JWT
    family: Family
    handler: Handler

    @property
    def segments(self) -> list[str]:
        return self.template.strip("/").split("/")


def _json(data: Any, status: int = 200, *, media_type: str = "application/json") -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status_code=status, media_type=media_type)


def _scim(data: Any, status: int = 200) -> Response:
    return _json(data, status, media_type=SCIM_MEDIA_TYPE)


def _obj(call: _Call) -> JSON:
    if not isinstance(call.body, dict):
        raise HubError(400, "a JSON object body is required", fields={"non_field_errors": ["JSON object expected"]})
    return call.body


def _int(call: _Call, name: str, default: int, *, low: int = 1, high: int | None = None, clamp: bool = False) -> int:
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


def _page(
    call: _Call,
    items: Sequence[Any],
    render: Callable[[Any], JSON],
    *,
    count_key: str = "count",
    strict: bool = False,
    max_size: int = 100,
) -> JSON:
    """A ``{count|total, next, previous, results}`` page; ``next``/``previous`` are absolute URLs or null."""
    page = _int(call, "page", 1)
    size = _int(call, "page_size", 10, high=max_size, clamp=True)
    start = (page - 1) * size
    if strict and page > 1 and start >= len(items):
        raise HubError(404, "Invalid page.")
    following = str(call.url.include_query_params(page=page + 1)) if start + size < len(items) else None
    previous = str(call.url.include_query_params(page=page - 1)) if page > 1 else None
    results = [render(item) for item in items[start : start + size]]
    return {count_key: len(items), "next": following, "previous": previous, "results": results}


def _bool_query(call: _Call, name: str) -> bool:
    return (call.query.get(name) or "").lower() in ("true", "1", "yes")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- the emulator --------------------------------------------------------------------------------------------


class HubEmulator:
    """Docker Hub API v2 + SCIM on 127.0.0.1 (``start()``/``stop()`` or ``with``), or as an ASGI ``app``.

    ``users`` maps usernames to passwords; the first user owns every organization of ``orgs`` and the others are
    members. The SCIM endpoints belong to the first organization and accept only ``Bearer <scim_token>``.

    What tests read: ``requests`` (:class:`LoggedRequest` per request), ``violations`` (requests that broke the
    spec; each also answered 400), ``response_violations`` (with ``validate_responses=True``: answers that broke
    it), ``auth_failures`` (failed logins per identifier), ``tokens_issued``, and ``state``/``scim`` for direct
    inspection. ``two_factor_users``, ``jwt_ttl`` and ``ratelimit_limit`` may be changed while running.
    """

    def __init__(
        self,
        spec_path: str | Path | None = None,
        users: Mapping[str, str] | None = None,
        orgs: Sequence[str] = ("acme",),
        scim_token: str = "scim-token",  # noqa: S107 - a fixture value, like the default users' passwords
        jwt_ttl: int = 600,
        *,
        two_factor_users: Collection[str] = (),
        totp_code: str = "123456",
        ratelimit_limit: int = 180,
        enforce_ratelimit: bool = False,
        validate_responses: bool = False,
        strict_query: bool = True,
        tag_images: Literal["list", "object"] = "list",
        clock: Callable[[], float] = time.time,
        scout_schema_path: str | Path | None = None,
    ) -> None:
        self.clock = clock
        self.scim_token = scim_token
        self.jwt_ttl = jwt_ttl
        self.two_factor_users = set(two_factor_users)
        self.totp_code = totp_code
        self.ratelimit_limit = ratelimit_limit
        self.enforce_ratelimit = enforce_ratelimit
        self.validate_responses = validate_responses
        self._users = dict({"alice": "alice-pat"} if users is None else users)
        self._orgs = tuple(orgs)
        self._tag_images: Literal["list", "object"] = tag_images
        self.scim_org = self._orgs[0] if self._orgs else None  # the organization the SCIM token provisions
        self.checker = (
            SpecChecker(_cached_spec(str(Path(spec_path).resolve())), strict_query=strict_query) if spec_path else None
        )
        self._key = secrets.token_bytes(32)
        self._generation = 0
        self._init_state()
        self._lock = threading.RLock()
        self.routes = self._routes()
        from airflow_provider_dockerhub.testing.scout_emulator import ScoutEmulator

        # Scout's GraphQL endpoint lives on the same server, so one emulator can back hub_url and scout_url; it
        # accepts the Hub JWTs this emulator issues, as Scout accepts Docker Hub's.
        self.scout = ScoutEmulator(
            schema_sdl=Path(scout_schema_path).read_text() if scout_schema_path else None,
            token_valid=lambda token: principal.name if (principal := self._verify(token)) else None,
            entitled_orgs=set(self._orgs),
        )
        self.app = Starlette(
            routes=[
                Route("/v1/graphql", self._graphql, methods=["POST"]),
                Route("/{path:path}", self._endpoint, methods=_METHODS),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the emulator is not running; call start() or use it as a context manager")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> HubEmulator:
        import uvicorn

        if self._server is not None:
            return self
        # Bind first and hand the socket to uvicorn: no window in which another process can take the port.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="hub-emulator", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError("the Hub emulator did not start")
            time.sleep(0.005)
        self._server, self._thread, self._port = server, thread, sock.getsockname()[1]
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=5)
        self._port = None

    def __enter__(self) -> HubEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _init_state(self) -> None:
        self.state = HubState(self.clock, self._tag_images)
        self.scim = ScimStore(self.clock)
        for username, secret in self._users.items():
            self.state.add_user(username, secret)
        owner = next(iter(self._users), None)
        for org in self._orgs:
            self.state.add_org(org, owner)
            for username in list(self._users)[1:]:
                self.state.add_member(org, username)
        self.requests: list[LoggedRequest] = []
        self.violations: list[Violation] = []
        self.response_violations: list[Violation] = []
        self.auth_failures: Counter[str] = Counter()
        self.tokens_issued = 0
        self.issued_tokens: list[str] = []
        self.injections: list[Injection] = []
        self._pending_2fa: dict[str, tuple[str, float]] = {}
        self._rl_reset = 0.0
        self._rl_used = 0

    def reset(self) -> None:
        """Back to the constructor's users and organizations, with empty logs and knobs, keeping the server.

        Tokens issued before stop working. Lets a module-scoped running emulator serve independent tests.
        """
        with self._lock:
            self._generation += 1
            self._init_state()

    # -- knobs -----------------------------------------------------------------------------------------------

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def expire_tokens(self) -> None:
        """Every JWT issued so far answers 401 from now on (new ones from ``/v2/auth/token`` work)."""
        with self._lock:
            self._generation += 1

    def rate_limit(self, path_regex: str, times: int = 1, retry_after: str = "2", *, method: str = "*") -> Injection:
        """The next ``times`` matching requests answer 429 with ``Retry-After`` and the audit-log 429 body."""
        rule = Injection(
            re.compile(path_regex),
            method.upper(),
            429,
            times,
            retry_after=retry_after,
            body={"detail": "Rate limit exceeded", "error": False},
        )
        with self._lock:
            self.injections.append(rule)
        return rule

    def fail(
        self,
        path_regex: str,
        status: int,
        times: int = 1,
        *,
        method: str = "*",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Injection:
        """The next ``times`` matching requests answer ``status`` (body: ``body`` or the endpoint's error shape)."""
        rule = Injection(re.compile(path_regex), method.upper(), status, times, body=body, headers=dict(headers or {}))
        with self._lock:
            self.injections.append(rule)
        return rule

    # -- seeding ---------------------------------------------------------------------------------------------

    def add_user(
        self, username: str, secret: str, *, orgs: Iterable[str] = (), role: str = "member", email: str | None = None
    ) -> None:
        with self._lock:
            self.state.add_user(username, secret, email=email)
            for org in orgs:
                self.state.add_member(org, username, role)

    def seed_audit_events(
        self,
        account: str,
        n: int,
        start: datetime | str | float | None = None,
        step_seconds: float = 1.0,
        *,
        action: str = "repo.tag.push",
        actor: str | None = None,
        name: str | None = None,
    ) -> None:
        """``n`` events ``step_seconds`` apart from ``start`` (default: ending now); 100,000 take well under 1 s."""
        first = parse_time(start) if start is not None else self.clock() - n * step_seconds
        with self._lock:
            self.state.seed_audit(
                account,
                n,
                start=first,
                step=step_seconds,
                action=action,
                actor=actor or next(iter(self.state.users), account),
                name=name,
            )

    def seed_scim_users(self, n: int, *, domain: str = "example.com", active: bool = True) -> list[str]:
        with self._lock:
            return self.scim.seed(n, domain, active)

    def seed_repositories(self, namespace: str, n: int, *, prefix: str = "repo", private: bool = False) -> list[str]:
        with self._lock:
            if not self.state.namespace_exists(namespace):
                raise ValueError(f"unknown namespace {namespace!r}")
            return self.state.seed_repos(namespace, n, prefix, private)

    def seed_tags(
        self,
        namespace: str,
        repository: str,
        tags: int | Sequence[str] = 10,
        *,
        start: datetime | str | float | None = None,
        step_seconds: float = 60.0,
        pusher: str | None = None,
        audit: bool = True,
    ) -> list[str]:
        """Push tags (the repository is created if missing); each push is a ``repo.tag.push`` audit event."""
        names = [f"v{i}" for i in range(tags)] if isinstance(tags, int) else list(tags)
        first = parse_time(start) if start is not None else self.clock() - len(names) * step_seconds
        with self._lock:
            repo = self.state.repos.get((namespace, repository))
            if repo is None:
                if not self.state.namespace_exists(namespace):
                    raise ValueError(f"unknown namespace {namespace!r}")
                owner = Principal("user", namespace, "password") if namespace in self.state.users else None
                principal = owner or Principal("org", namespace, "oat")
                repo = self.state.create_repo(principal, namespace, name=repository, body_namespace=namespace)
            who = pusher or next(iter(self.state.users), namespace)
            for i, tag in enumerate(names):
                self.state.push_tag(repo, tag, first + i * step_seconds, who, audit=audit)
        return names

    # -- request pipeline ------------------------------------------------------------------------------------

    async def _graphql(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _json({"errors": [{"message": "body is not JSON"}]}, 400)
        if not isinstance(body, dict):
            return _json({"errors": [{"message": "body must be a JSON object"}]}, 400)
        status, payload = self.scout.execute(body, request.headers.get("authorization"))
        return _json(payload, status)

    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1").split("?")[0]
        incoming = HubRequest(
            method=request.method,
            raw_path=raw_path,
            query=request.query_params,
            headers=request.headers,
            body=body,
            url=request.url,
            base_url=str(request.base_url).rstrip("/"),
            client_host=request.client.host if request.client else "127.0.0.1",
        )
        # Handlers are synchronous and short; one lock keeps them atomic against knobs called from test threads.
        with self._lock:
            return self._dispatch(incoming)

    def _match(self, method: str, raw_path: str) -> tuple[_Route | None, dict[str, str], bool]:
        segments = [unquote(s) for s in raw_path.strip("/").split("/")]
        best: tuple[int, _Route, dict[str, str]] | None = None
        path_known = False
        for route in self.routes:
            pattern = route.segments
            if len(pattern) != len(segments):
                continue
            params: dict[str, str] = {}
            literal = 0
            for want, have in zip(pattern, segments, strict=True):
                if want.startswith("{"):
                    if not have:
                        break
                    params[want[1:-1]] = have
                elif want == have:
                    literal += 1
                else:
                    break
            else:
                path_known = True
                if route.method == method and (best is None or literal > best[0]):
                    best = (literal, route, params)
        return (best[1], best[2], path_known) if best else (None, {}, path_known)

    def _dispatch(self, request: HubRequest) -> Response:
        method, raw_path = request.method, request.raw_path
        parsed: Any = None
        malformed = False
        if request.body:
            try:
                parsed = json.loads(request.body)
            except ValueError:
                malformed = True
        route, params, path_known = self._match(method, raw_path)
        family: Family = route.family if route else "json"
        operation = f"{route.method} {route.template}" if route else None
        self._count_request()
        violation: list[tuple[str, str]] = []
        if self.checker is not None:
            if route is None:
                violation = [("non_field_errors", f"{method} {raw_path} is not an operation of the spec")]
            else:
                violation = self.checker.request_errors(route.template, request)
        if violation:
            self.violations.append(Violation(method, raw_path, operation, tuple(m for _, m in violation)))
            # Always 400, even for an operation the spec lacks (a legacy path): a 404 could pass for "absent".
            response = self._violation_response(family, 400, operation or f"{method} {raw_path}", violation)
        elif route is None:
            response = self._error(family, HubError(405 if path_known else 404, "Not Found"))
        elif malformed:
            response = self._error(family, HubError(400, "malformed JSON body"))
        else:
            injected = self._injected(family, method, unquote(raw_path))
            response = injected or self._run(route, _Call(request, params, parsed))
        response.headers.update(self._rate_headers())
        if response.status_code == 429:
            response.headers["X-RateLimit-Remaining"] = "0"
        if self.checker is not None and self.validate_responses and route is not None and not violation:
            errors = self.checker.response_errors(request, response)
            if errors:
                self.response_violations.append(Violation(method, raw_path, operation, tuple(errors)))
        self.requests.append(
            LoggedRequest(method, unquote(raw_path), dict(request.query.items()), parsed, response.status_code)
        )
        return response

    def _run(self, route: _Route, call: _Call) -> Response:
        try:
            if self.enforce_ratelimit and self._rl_used > self.ratelimit_limit:
                return self._too_many("1")
            call.principal = self._authenticate(route, call.headers)
            return route.handler(call)
        except HubError as err:
            return self._error(route.family, err)

    def _count_request(self) -> None:
        now = self.clock()
        if now >= self._rl_reset:
            self._rl_reset, self._rl_used = math.floor(now) + 60.0, 0
        self._rl_used += 1

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.ratelimit_limit),
            "X-RateLimit-Remaining": str(max(0, self.ratelimit_limit - self._rl_used)),
            "X-RateLimit-Reset": str(int(self._rl_reset)),
        }

    def _too_many(self, retry_after: str) -> Response:
        response = _json({"detail": "Rate limit exceeded", "error": False}, 429)
        response.headers["Retry-After"] = retry_after
        return response

    def _injected(self, family: Family, method: str, path: str) -> Response | None:
        for rule in self.injections:
            if rule.remaining > 0 and rule.method in ("*", method) and rule.path_re.search(path):
                rule.remaining -= 1
                rule.hits += 1
                if rule.status == 429:
                    response = self._too_many(rule.retry_after or "1")
                elif rule.body is not None:
                    response = _json(rule.body, rule.status)
                else:
                    response = self._error(family, HubError(rule.status, f"injected failure ({rule.status})"))
                response.headers.update(rule.headers)
                return response
        return None

    def _error(self, family: Family, err: HubError) -> Response:
        if family == "scim":
            body: JSON = {"schemas": [SCIM_ERROR_SCHEMA], "status": str(err.status), "detail": err.detail}
            if err.scim_type:
                body["scimType"] = err.scim_type
            return _scim(body, err.status)
        if family == "login":
            return _json({"detail": err.detail}, err.status)
        # One body that satisfies the spec's error shapes at once: ``Error``/``error`` (detail, message,
        # errinfo), ``ValueError`` (fields, text) and, on the audit endpoints, ``rpcStatus`` (code, details).
        body = {"detail": err.detail, "message": err.detail, "errinfo": {}}
        if err.fields:
            body.update(fields=err.fields, text=err.detail)
        if family == "audit":
            body.update(code=_GRPC_CODES.get(err.status, 2), details=[])
        return _json(body, err.status)

    def _violation_response(
        self, family: Family, status: int, operation: str, errors: list[tuple[str, str]]
    ) -> Response:
        messages = [m for _, m in errors]
        detail = f"Request violates the Docker Hub OpenAPI spec ({operation}): " + "; ".join(messages)
        if family == "scim":
            return self._error(family, HubError(status, detail, scim_type="invalidSyntax"))
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
        return _json(body, status)

    # -- auth ------------------------------------------------------------------------------------------------

    def _issue(self, principal: Principal) -> str:
        now = self.clock()
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {
            "iss": "hub-emulator",
            "sub": principal.name,
            "iat": int(now),
            "exp": int(now + self.jwt_ttl),
            "jti": uuid.uuid4().hex,
            "kind": principal.kind,
            "via": principal.via,
            "scopes": list(principal.scopes),
            "gen": self._generation,
        }
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        self.tokens_issued += 1
        token = signing_input + "." + _b64(signature)
        self.issued_tokens.append(token)  # secret scans look for these in logs and XCom
        return token

    def _verify(self, token: str) -> Principal | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                return None
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        if claims.get("gen") != self._generation or float(claims.get("exp", 0)) <= self.clock():
            return None
        return Principal(claims["kind"], claims["sub"], claims["via"], tuple(claims.get("scopes", ())))

    def _authenticate(self, route: _Route, headers: Headers) -> Principal | None:
        if route.auth == "none":
            return None
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if route.auth == "scim":
            if not token or not hmac.compare_digest(token.encode(), self.scim_token.encode()):
                raise HubError(401, "Invalid or missing SCIM bearer token")
            return None
        if not token:
            if route.auth == "optional":
                return None
            raise HubError(401, "Authentication credentials were not provided.")
        principal = self._verify(token)
        if principal is None:
            raise HubError(401, "Token is invalid or expired.")
        if principal.kind == "org" and not route.oat:
            raise HubError(403, "organization access tokens cannot be used with this endpoint")
        return principal

    # -- handlers: authentication ----------------------------------------------------------------------------

    def _auth_token(self, call: _Call) -> Response:
        body = _obj(call)
        identifier, secret = body.get("identifier"), body.get("secret")
        if not isinstance(identifier, str) or not isinstance(secret, str):
            raise HubError(400, "identifier and secret are required", fields={"identifier": ["required"]})
        principal = self.state.check_secret(identifier, secret)
        if principal is None:
            self.auth_failures[identifier] += 1
            raise HubError(401, "Incorrect authentication credentials")
        return _json({"access_token": self._issue(principal)})

    def _login(self, call: _Call) -> Response:
        body = _obj(call)
        username, password = body.get("username"), body.get("password")
        principal = None
        if isinstance(username, str) and isinstance(password, str):
            principal = self.state.check_secret(username, password)
        if principal is None or principal.kind != "user":
            self.auth_failures[str(username)] += 1
            raise HubError(401, "Incorrect authentication credentials")
        if principal.name in self.two_factor_users:
            pending = secrets.token_urlsafe(24)
            self._pending_2fa[pending] = (principal.name, self.clock() + 300)
            return _json({"detail": "Two-factor authentication required", "login_2fa_token": pending}, 401)
        return _json({"token": self._issue(principal)})

    def _login_2fa(self, call: _Call) -> Response:
        body = _obj(call)
        pending = self._pending_2fa.get(str(body.get("login_2fa_token")))
        if pending is None or pending[1] <= self.clock():
            raise HubError(401, "Incorrect authentication credentials")
        if str(body.get("code")) != self.totp_code:
            self.auth_failures[pending[0]] += 1
            raise HubError(401, "Incorrect authentication credentials")
        del self._pending_2fa[str(body["login_2fa_token"])]
        return _json({"token": self._issue(Principal("user", pending[0], "password"))})

    # -- handlers: personal access tokens --------------------------------------------------------------------

    def _pat_create(self, call: _Call) -> Response:
        body = _obj(call)
        pat = self.state.create_pat(
            call.user,
            body.get("token_label"),
            body.get("scopes"),
            body.get("expires_at"),
            ip=call.request.client_host,
            user_agent=call.headers.get("user-agent", ""),
        )
        return _json(self.state.pat_json(pat, reveal=True), 201)

    def _pat_list(self, call: _Call) -> Response:
        pats = self.state.list_pats(call.user)
        page = _page(call, pats, self.state.pat_json)
        page["active_count"] = sum(p.is_active for p in pats)
        return _json(page)

    def _pat_get(self, call: _Call) -> Response:
        return _json(self.state.pat_json(self.state.get_pat(call.user, call.params["uuid"])))

    def _pat_patch(self, call: _Call) -> Response:
        pat = self.state.get_pat(call.user, call.params["uuid"])
        body = _obj(call)
        if "token_label" in body:
            label = body["token_label"]
            if not isinstance(label, str) or not 1 <= len(label) <= 100:
                raise HubError(400, "Invalid token label", fields={"token_label": ["must be 1-100 characters"]})
            pat.label = label
        if "is_active" in body:
            if not isinstance(body["is_active"], bool):
                raise HubError(400, "Invalid is_active", fields={"is_active": ["must be a boolean"]})
            pat.is_active = body["is_active"]
        return _json(self.state.pat_json(pat))

    def _pat_delete(self, call: _Call) -> Response:
        pat = self.state.get_pat(call.user, call.params["uuid"])
        del self.state.pats[pat.uuid]
        return Response(status_code=204)

    # -- handlers: audit logs --------------------------------------------------------------------------------

    def _audit_account(self, call: _Call) -> str:
        account = call.params["account"]
        if account in self.state.orgs:
            self.state.require_org(call.principal, account, owner=True)
        elif account in self.state.users:
            if call.user.kind != "user" or call.user.name != account:
                raise HubError(403, f"no access to the audit logs of {account!r}")
        else:
            raise HubError(404, f"account {account!r} not found")
        return account

    def _audit_actions(self, call: _Call) -> Response:
        self._audit_account(call)
        return _json(self.state.audit_actions_json())

    def _audit_logs(self, call: _Call) -> Response:
        account = self._audit_account(call)
        bounds: dict[str, float | None] = {}
        for name in ("from", "to"):
            raw = call.query.get(name)
            try:
                bounds[name] = parse_time(raw) if raw else None
            except ValueError:
                raise HubError(400, f"Invalid {name}", fields={name: ["an RFC 3339 date-time is required"]}) from None
        events = self.state.query_audit(
            account,
            action=call.query.get("action") or None,
            actor=call.query.get("actor") or None,
            name=call.query.get("name") or None,
            frm=bounds["from"],
            to=bounds["to"],
            page=_int(call, "page", 1),
            page_size=_int(call, "page_size", 25),
        )
        return _json({"logs": [self.state.audit_json(e) for e in events]})

    # -- handlers: organization settings and access tokens ---------------------------------------------------

    def _settings_get(self, call: _Call) -> Response:
        return _json(self.state.require_org(call.principal, call.params["name"]).settings)

    def _settings_put(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["name"], owner=True)
        restricted = _obj(call).get("restricted_images")
        if not isinstance(restricted, dict):
            raise HubError(400, "restricted_images is required", fields={"restricted_images": ["required"]})
        return _json(self.state.update_settings(org, restricted, call.user.name))

    def _oat_create(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["name"], owner=True)
        oat = self.state.create_oat(call.user, org, _obj(call))
        return _json(self.state.oat_json(oat, reveal=True), 201)

    def _oat_list(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["name"], owner=True)
        oats = sorted(org.oats.values(), key=lambda o: o.created_at, reverse=True)
        return _json(_page(call, oats, lambda o: self.state.oat_json(o, resources=False), count_key="total"))

    def _oat_item(self, call: _Call) -> tuple[Any, Any]:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        return org, self.state.get_oat(org, call.params["access_token_id"])

    def _oat_get(self, call: _Call) -> Response:
        _, oat = self._oat_item(call)
        return _json(self.state.oat_json(oat))

    def _oat_patch(self, call: _Call) -> Response:
        org, oat = self._oat_item(call)
        return _json(self.state.oat_json(self.state.update_oat(call.user, org, oat, _obj(call))))

    def _oat_delete(self, call: _Call) -> Response:
        org, oat = self._oat_item(call)
        self.state.delete_oat(call.user, org, oat)
        return Response(status_code=204)

    # -- handlers: repositories and tags ---------------------------------------------------------------------

    def _repo(self, call: _Call, *, write: bool = False) -> Any:
        return self.state.find_repo(call.principal, call.params["namespace"], call.params["repository"], write=write)

    def _repo_list(self, call: _Call) -> Response:
        ordering = call.query.get("ordering") or "name"
        if ordering not in REPO_ORDERINGS:
            raise HubError(
                400,
                "Invalid ordering value",
                fields={"ordering": ["Invalid ordering value. Must be one of: " + ", ".join(REPO_ORDERINGS)]},
            )
        repos = self.state.list_repos(call.principal, call.params["namespace"], call.query.get("name"), ordering)
        return _json(_page(call, repos, self.state.repo_list_json, strict=True))

    def _repo_create(self, call: _Call) -> Response:
        body = _obj(call)
        repo = self.state.create_repo(
            call.user,
            call.params["namespace"],
            name=body.get("name"),
            body_namespace=body.get("namespace"),
            description=body.get("description"),
            full_description=body.get("full_description"),
            registry=body.get("registry"),
            is_private=body.get("is_private", False),
        )
        return _json(self.state.repo_info_json(repo, call.principal), 201)

    def _repo_get(self, call: _Call) -> Response:
        return _json(self.state.repo_info_json(self._repo(call), call.principal))

    def _repo_head(self, call: _Call) -> Response:
        self._repo(call)
        return Response(status_code=200)

    def _tags_list(self, call: _Call) -> Response:
        repo = self._repo(call)
        tags = self.state.sorted_tags(repo)
        return _json(_page(call, tags, lambda t: self.state.tag_json(repo, t), strict=True))

    def _tags_head(self, call: _Call) -> Response:
        if not self._repo(call).tags:
            raise HubError(404, "repository has no tags")
        return Response(status_code=200)

    def _tag(self, call: _Call) -> tuple[Any, Any]:
        repo = self._repo(call)
        tag = repo.tags.get(call.params["tag"])
        if tag is None:
            raise HubError(404, f"tag {call.params['tag']!r} not found")
        return repo, tag

    def _tag_get(self, call: _Call) -> Response:
        repo, tag = self._tag(call)
        return _json(self.state.tag_json(repo, tag))

    def _tag_head(self, call: _Call) -> Response:
        self._tag(call)
        return Response(status_code=200)

    def _immutable_patch(self, call: _Call) -> Response:
        repo = self._repo(call, write=True)
        body = _obj(call)
        self.state.set_immutable(call.user, repo, body.get("immutable_tags"), body.get("immutable_tags_rules"))
        return _json(self.state.repo_info_json(repo, call.principal))

    def _immutable_verify(self, call: _Call) -> Response:
        repo = self._repo(call, write=True)
        return _json({"tags": self.state.verify_immutable(repo, _obj(call).get("regex"))})

    def _repo_group(self, call: _Call) -> Response:
        repo = self._repo(call, write=True)
        body = _obj(call)
        return _json(self.state.grant_group(repo, body.get("group_id"), body.get("permission")))

    # -- handlers: members and invites -----------------------------------------------------------------------

    def _members_list(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"])
        member_type, role = call.query.get("type") or None, call.query.get("role") or None
        if member_type not in (None, "all", "invitee", "member"):
            raise HubError(400, "Invalid type", fields={"type": ["must be all, invitee or member"]})
        if role not in (None, "owner", "editor", "member"):
            raise HubError(400, "Invalid role", fields={"role": ["must be owner, editor or member"]})
        rows = self.state.list_members(
            org, search=call.query.get("search"), invites=_bool_query(call, "invites"), type_=member_type, role=role
        )
        # One page object, not the array of pages the spec declares (see SPEC_WORKAROUNDS).
        return _json(_page(call, rows, lambda row: row))

    def _members_export(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"])
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y%m%d%H%M%S")
        response = Response(self.state.export_members_csv(org), media_type="text/csv")
        response.headers["Content-Disposition"] = f'attachment;filename="{org.name}-members-{stamp}.csv"'
        return response

    def _member_put(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        role = _obj(call).get("role")
        return _json(self.state.set_member_role(org, call.params["username"], str(role), call.user.name))

    def _member_delete(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        self.state.remove_member(org, call.params["username"], call.user.name)
        return Response(status_code=204)

    def _invites_list(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        invites = sorted(self.state.pending_invites(org), key=lambda i: i.created_at)
        return _json({"data": [self.state.invite_json(i) for i in invites]})

    def _invite_delete(self, call: _Call) -> Response:
        self.state.get_invite(call.principal, call.params["id"]).status = "cancelled"
        return Response(status_code=204)

    def _invite_resend(self, call: _Call) -> Response:
        self.state.get_invite(call.principal, call.params["id"]).sent += 1
        return Response(status_code=204)

    def _invite_bulk(self, call: _Call) -> Response:
        body = _obj(call)
        invitees = body.get("invitees")
        if not isinstance(invitees, list) or not invitees or not all(isinstance(i, str) for i in invitees):
            raise HubError(400, "invitees is required", fields={"invitees": ["a non-empty list of strings"]})
        if not isinstance(body.get("org"), str):
            raise HubError(400, "org is required", fields={"org": ["the organization name is required"]})
        org = self.state.require_org(call.principal, body["org"], owner=True)
        team = body.get("team")
        entries = self.state.bulk_invite(
            call.user,
            org,
            team=team if isinstance(team, str) and team else None,
            role=str(body.get("role") or "member"),
            invitees=invitees,
            dry_run=body.get("dry_run") is True,
        )
        return _json({"invitees": {"invitees": entries}}, 202)  # the spec's nesting, verbatim

    # -- handlers: groups ------------------------------------------------------------------------------------

    def _group(self, call: _Call, *, owner: bool = False) -> tuple[Any, Any]:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=owner)
        return org, self.state.get_group(org, call.params["group_name"])

    def _groups_list(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"])
        username, search = call.query.get("username"), call.query.get("search")
        groups = [
            g
            for g in sorted(org.groups.values(), key=lambda g: g.name)
            if (not username or username in g.members) and (not search or search.lower() in g.name.lower())
        ]
        return _json(_page(call, groups, self.state.group_json))

    def _group_create(self, call: _Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        body = _obj(call)
        group = self.state.create_group(org, body.get("name"), body.get("description"), call.user.name)
        return _json(self.state.group_json(group), 201)

    def _group_get(self, call: _Call) -> Response:
        return _json(self.state.group_json(self._group(call)[1]))

    def _group_update(self, call: _Call) -> Response:
        org, group = self._group(call, owner=True)
        replace = call.method == "PUT"
        group = self.state.update_group(org, group, _obj(call), call.user.name, replace=replace)
        return _json(self.state.group_json(group))

    def _group_delete(self, call: _Call) -> Response:
        org, group = self._group(call, owner=True)
        self.state.delete_group(org, group, call.user.name)
        return Response(status_code=204)

    def _group_members(self, call: _Call) -> Response:
        org, group = self._group(call)
        rows = self.state.group_members(org, group, call.query.get("search"))
        return _json(_page(call, rows, lambda row: row))

    def _group_member_add(self, call: _Call) -> Response:
        org, group = self._group(call, owner=True)
        self.state.add_group_member(org, group, _obj(call).get("member"), call.user.name)
        return Response(status_code=200)

    def _group_member_delete(self, call: _Call) -> Response:
        org, group = self._group(call, owner=True)
        self.state.remove_group_member(org, group, call.params["username"], call.user.name)
        return Response(status_code=204)

    # -- handlers: SCIM --------------------------------------------------------------------------------------

    def _scim_config(self, call: _Call) -> Response:
        return _scim(SCIM_SERVICE_PROVIDER_CONFIG)

    def _scim_resource_types(self, call: _Call) -> Response:
        return _scim({"schemas": [SCIM_LIST_SCHEMA], "totalResults": 1, "resources": SCIM_RESOURCE_TYPES})

    def _scim_resource_type(self, call: _Call) -> Response:
        for resource in SCIM_RESOURCE_TYPES:
            if call.params["name"] in (resource["id"], resource["name"]):
                return _scim(resource)
        raise HubError(404, f"Resource type {call.params['name']} not found")

    def _scim_schemas(self, call: _Call) -> Response:
        return _scim({"schemas": [SCIM_LIST_SCHEMA], "totalResults": len(SCIM_SCHEMAS), "resources": SCIM_SCHEMAS})

    def _scim_schema(self, call: _Call) -> Response:
        for schema in SCIM_SCHEMAS:
            if schema["id"] == call.params["id"]:
                return _scim(schema)
        raise HubError(404, f"Schema {call.params['id']} not found")

    def _scim_users(self, call: _Call) -> Response:
        try:
            start = _int(call, "startIndex", 1)
            count = _int(call, "count", 10, high=200, clamp=True)
        except HubError as err:
            raise HubError(400, err.detail, scim_type="invalidValue") from None
        users = self.scim.list(call.query.get("filter"), call.query.get("sortBy"), call.query.get("sortOrder"))
        attributes = [a.strip() for a in (call.query.get("attributes") or "").split(",") if a.strip()]
        chunk = users[start - 1 : start - 1 + count]
        return _scim(
            {
                "schemas": [SCIM_LIST_SCHEMA],
                "totalResults": len(users),
                "startIndex": start,
                "itemsPerPage": len(chunk),
                "resources": [self.scim.user_json(u, call.base_url, attributes) for u in chunk],
            }
        )

    @staticmethod
    def _scim_body(call: _Call) -> JSON:
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("schemas"), list) or not body["schemas"]:
            raise HubError(400, "schemas is required", scim_type="invalidSyntax")
        return body

    def _scim_user_create(self, call: _Call) -> Response:
        body = self._scim_body(call)
        user = self.scim.create(body.get("userName"), body.get("name"))
        response = _scim(self.scim.user_json(user, call.base_url), 201)
        response.headers["Location"] = f"{call.base_url}/v2/scim/2.0/Users/{user.id}"
        return response

    def _scim_user_get(self, call: _Call) -> Response:
        return _scim(self.scim.user_json(self.scim.get(call.params["id"]), call.base_url))

    def _scim_user_put(self, call: _Call) -> Response:
        body = self._scim_body(call)
        user = self.scim.replace(call.params["id"], body.get("name"), body.get("enabled", False))
        return _scim(self.scim.user_json(user, call.base_url))

    # -- the route table: every operation of the spec, with its security and OAT label --------------------------

    def _routes(self) -> list[_Route]:
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
        return [_Route(*row) for row in table]
