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
from ..core.errors import AuthenticationError, ConfigurationError, error_from_response, redacted_path, refuse
from ..core.flow import Acquire, Flow, LockTable, now
from ..core.transport import RateLimitTelemetry, RetryPolicy, RetryStats, send_flow
from .lockout import HOLD_SECONDS, MintRejections
from .tokens import (
    HUB_JWT_DEFAULT_TTL,
    MintedToken,
    SecretSink,
    is_bearer_token,
    jwt_claims,
    no_sink,
    token_body,
    token_from,
)
from .trust import Credential, CredentialPolicy

log = logging.getLogger("airflow_provider_dockerhub.client")

HUB_TOKEN_PATH = "/v2/auth/token"  # noqa: S105 - a path, not a secret
# Posting to these twice could replay a password or a one-time 2FA code.
HUB_AUTH_PATHS = frozenset({HUB_TOKEN_PATH, "/v2/users/login", "/v2/users/2fa-login"})


class MintRejectedError(AuthenticationError):
    """Docker Hub's token endpoint rejected the connection's credentials (now, or within the last 10 minutes
    on this machine): retrying would only bring the account closer to Docker Hub's lockout."""


class HubTokenSource:
    """The Hub JWT cache. One token per session: the connection has one identity."""

    KEY = "hub-jwt"

    def __init__(
        self,
        config: ClientConfig,
        policy: RetryPolicy,
        on_secret: SecretSink = no_sink,
        *,
        credentials: CredentialPolicy,
        rejections: MintRejections | None = None,
    ) -> None:
        self.locks = LockTable()
        self._config = config
        self._credentials = credentials
        self._rejections = rejections or MintRejections(config)
        self._uncured: str | None = None  # a token a 401 was not cured by: a fresh mint would not cure it either
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
                if now() - failed_at < HOLD_SECONDS:  # as long as Docker Hub's lockout lasts
                    raise rejected()
                self._failure = None
            token = self._token
        return token.token if token is not None and token.fresh(now()) else None

    def mint_flow(self, key: Hashable) -> Flow[MintedToken]:
        url = httpx.URL(self._config.hub_url.rstrip("/") + HUB_TOKEN_PATH)
        self._credentials.check(Credential.HUB_SECRET, url)  # the secret is the body: checked before it is built
        remembered = self._rejections.recall()
        if remembered is not None:
            raise self._rejected(url, *remembered)
        request = httpx.Request(
            "POST",
            url,
            json={"identifier": self._config.login, "secret": self._config.secret},
            headers={"Accept": "application/json"},
        )
        self.mints += 1
        response = yield from send_flow(request, self._policy)
        if response.status_code in (401, 403):
            error = error_from_response(response)
            answer = (response.status_code, error.code, error.server_message)
            self._rejections.remember(*answer)
            with self._guard:
                self._failure = (now(), lambda: self._rejected(url, *answer))
            raise self._rejected(url, *answer)
        if response.status_code != 200:
            raise error_from_response(response)
        token = token_from(token_body(response, "Docker Hub token endpoint"), response, "Docker Hub token endpoint")
        issued = now()
        exp = jwt_claims(token).get("exp")
        expires = float(exp) if isinstance(exp, int | float) and exp > issued else issued + HUB_JWT_DEFAULT_TTL
        return MintedToken(token, expires, issued, float(exp) if isinstance(exp, int | float) else None)

    @staticmethod
    def _rejected(url: httpx.URL, status: int, code: str | None, message: str | None) -> AuthenticationError:
        # A fresh error each time: re-raising one object would grow its traceback with every call.
        return MintRejectedError(
            "POST",
            redacted_path(url),
            status,
            code=code,
            server_message=message,
            hint="Docker Hub rejected the connection's login/secret; not posted again for 10 minutes (from any "
            "task on this machine), because repeated failures lock the username",
        )

    def recent(self, token: str) -> bool:
        """Whether a 401 on ``token`` is final: a fresh mint already failed to cure a 401 with it. (A token that
        is merely young is re-minted once: Hub revokes JWTs when a PAT is rotated, and says 401 for both.)"""
        with self._guard:
            return token == self._uncured

    def uncured(self, token: str) -> None:
        with self._guard:
            self._uncured = token

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
        *,
        credentials: CredentialPolicy,
    ) -> None:
        self._config = config
        self.tokens = tokens
        self._policy = policy
        self._telemetry = telemetry
        self._stats = stats
        self._credentials = credentials
        self._base_path = httpx.URL(config.hub_url).path.rstrip("/")

    def _send(self, request: httpx.Request, replayable: bool = True) -> Flow[httpx.Response]:
        return send_flow(request, self._policy, replayable=replayable, telemetry=self._telemetry, stats=self._stats)

    def request_flow(self, request: httpx.Request) -> Flow[httpx.Response]:
        if request.url.path.removeprefix(self._base_path) in HUB_AUTH_PATHS:
            # Never authenticated, never replayed: a 401 here is an answer about the posted secret, not about us.
            replayable = request.url.path.endswith(HUB_TOKEN_PATH)
            return (yield from self._send(request, replayable=replayable))
        if self._config.anonymous:
            return (yield from self._send(request))
        token = yield Acquire(self.tokens, HubTokenSource.KEY)
        self._credentials.attach(request, Credential.HUB_JWT, f"Bearer {token}")
        response = yield from self._send(request)
        if response.status_code != 401:
            return response
        if self.tokens.recent(token):
            refuse(response, AuthenticationError, _REFUSED_FRESH)
            return response
        log.info("Docker Hub answered 401 for %s; minting a new token once", redacted_path(request.url))
        self.tokens.invalidate(token)
        token = yield Acquire(self.tokens, HubTokenSource.KEY)
        self._credentials.attach(request, Credential.HUB_JWT, f"Bearer {token}")
        response = yield from self._send(request)
        if response.status_code == 401:
            self.tokens.uncured(token)  # later calls with it get the 401 at once, not a mint each
            refuse(response, AuthenticationError, _REFUSED_FRESH)
        return response


# The mint accepted the credentials, so they are right: the token's identity lacks access to this endpoint.
_REFUSED_FRESH = (
    "Docker Hub refused a token it issued moments ago: the identity (or the access token's scopes) does not "
    "allow this request"
)


class StaticBearerAuth:
    """A fixed bearer (the SCIM token): nothing to refresh, so a 401 is final."""

    def __init__(
        self,
        token: str | None,
        policy: RetryPolicy,
        telemetry: RateLimitTelemetry | None,
        *,
        credentials: CredentialPolicy,
        credential: Credential = Credential.SCIM_TOKEN,
        rejections: MintRejections | None = None,
    ) -> None:
        self._token = token
        self._policy = policy
        self._telemetry = telemetry
        self._credentials = credentials
        self._credential = credential
        # A refused token is remembered like a rejected Hub secret (on this host, for HOLD_SECONDS), so retries
        # and parallel tasks do not send it again and again: one refusal per host, not one per try.
        self._rejections = rejections
        self._refused: float | None = None

    def request_flow(self, request: httpx.Request) -> Flow[httpx.Response]:
        if self._token:
            if not is_bearer_token(self._token):
                # Never quoted: it is the secret, and the character that makes it invalid may hide it from the
                # masker. Refused before any request, so it never reaches a header encoder either.
                raise ConfigurationError(f"{self._credential.value} has characters a bearer token cannot have")
            self._check_not_refused(request)
            self._credentials.attach(request, self._credential, f"Bearer {self._token}")
        response = yield from send_flow(request, self._policy, telemetry=self._telemetry)
        if response.status_code == 401 and self._token:
            self._refused = now()
            if self._rejections is not None:
                error = error_from_response(response)
                self._rejections.remember(401, error.code, error.server_message)
            refuse(response, AuthenticationError, f"{self._credential.value} was refused; check it in the connection")
        return response

    def _check_not_refused(self, request: httpx.Request) -> None:
        remembered: tuple[int, str | None, str | None] | None = None
        if self._refused is not None and now() - self._refused < HOLD_SECONDS:
            remembered = (401, None, None)
        elif self._rejections is not None:
            remembered = self._rejections.recall()
        if remembered is not None:
            status, code, message = remembered
            raise AuthenticationError(
                request.method,
                redacted_path(request.url),
                status,
                code=code,
                server_message=message,
                hint=f"{self._credential.value} was refused within the last 10 minutes (by any task on this "
                "machine); not sent again until then: check it in the connection",
            )
