"""An in-memory Docker Hub management API v2 + SCIM 2.0 emulator for tests and demos. Not for production.

:class:`HubEmulator` serves all 54 operations of Docker's OpenAPI document (``docker-hub-api.yaml``) from a
Starlette app, in the spec's shapes and paging styles, with Hub-style auth (``POST /v2/auth/token`` JWTs,
PATs, OATs, a separate SCIM token, the deprecated login + 2FA pair) and audit events for every mutation.

Given ``spec_path``, every request is validated against the spec (see :mod:`.spec`), request-body fields the spec
does not declare included (``strict_body``); a violation answers 400 with a body naming it and is appended to
:attr:`HubEmulator.violations`, so a test can assert its client speaks the contract. Responses are validated too
unless ``validate_responses=False`` (:attr:`HubEmulator.response_violations`).

``adversary`` turns on paging adversary modes (:data:`~.adversary.ADVERSARY_MODES`: capped or ignored page sizes,
drifting totals, inserts between pages, late audit ingestion, an ignored ``page``) for every listing.

Knobs for negative tests: :meth:`~HubEmulator.expire_tokens`, :meth:`~HubEmulator.rate_limit`,
:meth:`~HubEmulator.fail`; seeders make large data sets cheaply (``seed_audit_events(…, 100_000)``). The handlers
live one resource per module in :mod:`.handlers`, their route table in :mod:`.routes`.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .adversary import Adversary
from .http import (
    Call,
    Family,
    HubRequest,
    HubRoute,
    Injection,
    LoggedRequest,
    Violation,
    error_response,
    json_response,
    too_many_requests,
    violation_response,
)
from .routes import HubOperations
from .spec import SpecChecker, cached_spec
from .state import HubError, HubState, Principal, ScimStore, parse_time

if TYPE_CHECKING:
    import uvicorn

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class HubEmulator(HubOperations):
    """Docker Hub API v2 + SCIM on 127.0.0.1 (``start()``/``stop()`` or ``with``), or as an ASGI ``app``.

    ``users`` maps usernames to passwords; the first user owns every organization of ``orgs`` and the others are
    members. The SCIM endpoints belong to the first organization and accept only ``Bearer <scim_token>``.

    What tests read: ``requests`` (:class:`LoggedRequest` per request), ``violations`` (requests that broke the
    spec; each also answered 400), ``response_violations`` (unless ``validate_responses=False``: answers that
    broke it), ``auth_failures`` (failed logins per identifier), ``tokens_issued``, and ``state``/``scim`` for direct
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
        validate_responses: bool = True,
        strict_query: bool = True,
        strict_body: bool = True,
        adversary: Collection[str] = (),
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
        self.adversary = Adversary.of(adversary)
        self._users = dict({"alice": "alice-pat"} if users is None else users)
        self._orgs = tuple(orgs)
        self._tag_images: Literal["list", "object"] = tag_images
        self.scim_org = self._orgs[0] if self._orgs else None  # the organization the SCIM token provisions
        self.checker = (
            SpecChecker(cached_spec(str(Path(spec_path).resolve())), strict_query=strict_query, strict_body=strict_body)
            if spec_path
            else None
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
        self.adversary = Adversary.of(self.adversary.modes)  # same modes, fresh per-listing state
        self.state = HubState(self.clock, self._tag_images, late_events="ingest_late" in self.adversary)
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
            return json_response({"errors": [{"message": "body is not JSON"}]}, 400)
        if not isinstance(body, dict):
            return json_response({"errors": [{"message": "body must be a JSON object"}]}, 400)
        status, payload = self.scout.execute(body, request.headers.get("authorization"))
        return json_response(payload, status)

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

    def _match(self, method: str, raw_path: str) -> tuple[HubRoute | None, dict[str, str], bool]:
        segments = [unquote(s) for s in raw_path.strip("/").split("/")]
        best: tuple[int, HubRoute, dict[str, str]] | None = None
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
            response = violation_response(family, 400, operation or f"{method} {raw_path}", violation)
        elif route is None:
            response = error_response(family, HubError(405 if path_known else 404, "Not Found"))
        elif malformed:
            response = error_response(family, HubError(400, "malformed JSON body"))
        else:
            injected = self._injected(family, method, unquote(raw_path))
            response = injected or self._run(route, Call(request, params, parsed, adversary=self.adversary))
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

    def _run(self, route: HubRoute, call: Call) -> Response:
        try:
            if self.enforce_ratelimit and self._rl_used > self.ratelimit_limit:
                return too_many_requests("1")
            call.principal = self._authenticate(route, call.headers)
            return route.handler(call)
        except HubError as err:
            return error_response(route.family, err)

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

    def _injected(self, family: Family, method: str, path: str) -> Response | None:
        for rule in self.injections:
            if rule.remaining > 0 and rule.method in ("*", method) and rule.path_re.search(path):
                rule.remaining -= 1
                rule.hits += 1
                if rule.status == 429:
                    response = too_many_requests(rule.retry_after or "1")
                elif rule.body is not None:
                    response = json_response(rule.body, rule.status)
                else:
                    response = error_response(family, HubError(rule.status, f"injected failure ({rule.status})"))
                response.headers.update(rule.headers)
                return response
        return None
