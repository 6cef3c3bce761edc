"""Hub auth: one JWT from ``POST /v2/auth/token``, cached until shortly before ``exp``.

A 401 from a normal endpoint invalidates the JWT and retries once; auth endpoints are never replayed (a 2FA code
must not be sent twice), and a rejected mint is remembered so that no caller re-posts the same bad secret: Docker
Hub locks a username for 10 minutes after repeated failures (docker/hub-feedback#2201). SCIM uses a static bearer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable

import httpx

from ..core.config import ClientConfig
from ..core.errors import AuthenticationError, error_from_response, redacted_path
from ..core.flow import Acquire, Flow, LockTable, now
from ..core.transport import RateLimitTelemetry, RetryPolicy, RetryStats, send_flow
from .tokens import HUB_JWT_DEFAULT_TTL, MintedToken, SecretSink, jwt_claims, no_sink, token_body, token_from

log = logging.getLogger("airflow_provider_dockerhub.client")

HUB_TOKEN_PATH = "/v2/auth/token"  # noqa: S105 - a path, not a secret
# Posting to these twice could replay a password or a one-time 2FA code.
HUB_AUTH_PATHS = frozenset({HUB_TOKEN_PATH, "/v2/users/login", "/v2/users/2fa-login"})
# After the mint rejects the credentials, refuse to post them again for as long as Docker Hub's lockout lasts.
MINT_FAILURE_HOLD = 600.0


class HubTokenSource:
    """The Hub JWT cache. One token per session: the connection has one identity."""

    KEY = "hub-jwt"

    def __init__(self, config: ClientConfig, policy: RetryPolicy, on_secret: SecretSink = no_sink) -> None:
        self.locks = LockTable()
        self._config = config
        self._policy = policy
        self._on_secret = on_secret
        self._token: MintedToken | None = None
        self._failure: tuple[float, Callable[[], AuthenticationError]] | None = None
        self._guard = threading.Lock()
        self.mints = 0

    def cached(self, key: Hashable) -> str | None:
        with self._guard:
            if self._failure is not None:
                failed_at, rejected = self._failure
                if now() - failed_at < MINT_FAILURE_HOLD:
                    # A fresh error each time: re-raising one object would grow its traceback with every call.
                    raise rejected()
                self._failure = None
            token = self._token
        return token.token if token is not None and token.fresh(now()) else None

    def mint_flow(self, key: Hashable) -> Flow[MintedToken]:
        url = httpx.URL(self._config.hub_url + HUB_TOKEN_PATH)
        request = httpx.Request(
            "POST",
            url,
            json={"identifier": self._config.login, "secret": self._config.secret},
            headers={"Accept": "application/json", "User-Agent": self._config.user_agent},
        )
        self.mints += 1
        response = yield from send_flow(request, self._policy)
        if response.status_code in (401, 403):
            error = error_from_response(response)

            def rejected() -> AuthenticationError:
                return AuthenticationError(
                    "POST",
                    redacted_path(url),
                    response.status_code,
                    code=error.code,
                    server_message=error.server_message,
                    hint="Docker Hub rejected the connection's login/secret; not retried, because repeated failures "
                    "lock the username for 10 minutes",
                )

            with self._guard:
                self._failure = (now(), rejected)
            raise rejected()
        if response.status_code != 200:
            raise error_from_response(response)
        token = token_from(token_body(response, "Docker Hub token endpoint"), response, "Docker Hub token endpoint")
        issued = now()
        exp = jwt_claims(token).get("exp")
        expires = float(exp) if isinstance(exp, int | float) and exp > issued else issued + HUB_JWT_DEFAULT_TTL
        return MintedToken(token, expires, issued)

    def store(self, key: Hashable, minted: MintedToken) -> str:
        self._on_secret(minted.token)
        with self._guard:
            self._token = minted
        return minted.token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` unless another caller already replaced it (then that one is newer and fine)."""
        with self._guard:
            if self._token is not None and self._token.token == token:
                self._token = None


class HubAuth:
    """Adds the Hub JWT to Hub (and Scout) requests; retries once on 401; never touches auth endpoints."""

    def __init__(
        self,
        config: ClientConfig,
        tokens: HubTokenSource,
        policy: RetryPolicy,
        telemetry: RateLimitTelemetry | None = None,
        stats: RetryStats | None = None,
    ) -> None:
        self._config = config
        self.tokens = tokens
        self._policy = policy
        self._telemetry = telemetry
        self._stats = stats

    def _send(self, request: httpx.Request, replayable: bool = True) -> Flow[httpx.Response]:
        return send_flow(request, self._policy, replayable=replayable, telemetry=self._telemetry, stats=self._stats)

    def request_flow(self, request: httpx.Request) -> Flow[httpx.Response]:
        if request.url.path in HUB_AUTH_PATHS:
            # Never authenticated, never replayed: a 401 here is an answer about the posted secret, not about us.
            return (yield from self._send(request, replayable=request.url.path == HUB_TOKEN_PATH))
        if self._config.anonymous:
            return (yield from self._send(request))
        token = yield Acquire(self.tokens, HubTokenSource.KEY)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield from self._send(request)
        if response.status_code != 401:
            return response
        log.info("Docker Hub answered 401 for %s; minting a new token once", redacted_path(request.url))
        self.tokens.invalidate(token)
        token = yield Acquire(self.tokens, HubTokenSource.KEY)
        request.headers["Authorization"] = f"Bearer {token}"
        return (yield from self._send(request))


class StaticBearerAuth:
    """A fixed bearer (the SCIM token): nothing to refresh, so a 401 is final."""

    def __init__(self, token: str | None, policy: RetryPolicy, telemetry: RateLimitTelemetry | None = None) -> None:
        self._token = token
        self._policy = policy
        self._telemetry = telemetry

    def request_flow(self, request: httpx.Request) -> Flow[httpx.Response]:
        if self._token:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return (yield from send_flow(request, self._policy, telemetry=self._telemetry))
