"""Registry auth: challenge-driven Bearer tokens (the distribution token spec) or Basic.

Tokens are cached by (realm, service, scopes, account), honour ``expires_in``/``issued_at``, and go only to
trusted realms.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass

import httpx

from ..core.config import ClientConfig
from ..core.errors import AuthenticationError, ProtocolError, UntrustedRealmError, error_from_response, redacted_path
from ..core.flow import Acquire, CloseBody, Flow, LockTable, now
from ..core.reference import Scope, merge_scopes
from ..core.transport import RateLimitTelemetry, RetryPolicy, RetryStats, send_flow
from .challenge import Challenge, parse_www_authenticate, pick_challenge
from .tokens import (
    REGISTRY_TOKEN_DEFAULT_TTL,
    MintedToken,
    SecretSink,
    basic_authorization,
    no_sink,
    parse_rfc3339,
    token_body,
    token_from,
)
from .trust import RealmPolicy, is_loopback

log = logging.getLogger("airflow_provider_dockerhub.client")


@dataclass(frozen=True)
class RegistryTokenKey:
    realm: str
    service: str | None
    scopes: tuple[str, ...]
    account: str | None


class RegistryTokenSource:
    """Registry bearer tokens by (realm, service, scopes, account)."""

    def __init__(
        self,
        config: ClientConfig,
        policy: RetryPolicy,
        realms: RealmPolicy,
        on_secret: SecretSink = no_sink,
        telemetry: RateLimitTelemetry | None = None,
    ) -> None:
        self.locks = LockTable()
        self._config = config
        self._policy = policy
        self._realms = realms
        self._on_secret = on_secret
        self._telemetry = telemetry
        self._tokens: dict[RegistryTokenKey, MintedToken] = {}
        self._guard = threading.Lock()
        self.mints = 0

    def cached(self, key: Hashable) -> str | None:
        with self._guard:
            token = self._tokens.get(key)  # type: ignore[call-overload]
        return token.token if token is not None and token.fresh(now()) else None

    def mint_flow(self, key: Hashable) -> Flow[MintedToken]:
        assert isinstance(key, RegistryTokenKey)
        with_credentials = not self._config.anonymous
        realm = self._realms.check(key.realm, with_credentials=with_credentials)
        params: list[tuple[str, str | int | float | bool | None]] = []
        if key.service:
            params.append(("service", key.service))
        params.extend(("scope", scope) for scope in key.scopes)
        if key.account:
            params.append(("account", key.account))
        request = httpx.Request(
            "GET",
            realm.copy_merge_params(params),
            headers={"Accept": "application/json", "User-Agent": self._config.user_agent},
        )
        if with_credentials:
            request.headers["Authorization"] = basic_authorization(self._config)
        self.mints += 1
        response = yield from send_flow(request, self._policy, telemetry=self._telemetry)
        if response.status_code in (401, 403):
            error = error_from_response(response)
            raise AuthenticationError(
                "GET",
                redacted_path(realm),
                response.status_code,
                code=error.code,
                server_message=error.server_message,
                hint="the registry's token service rejected the connection's credentials",
            )
        if response.status_code != 200:
            raise error_from_response(response)
        data = token_body(response, "registry token service")
        token = token_from(data, response, "registry token service")
        received = now()
        issued = parse_rfc3339(data.get("issued_at"))
        # A server clock ahead of ours must not stretch the lifetime; one behind shortens it (conservative).
        start = min(received, issued) if issued is not None else received
        expires_in = data.get("expires_in")
        ttl = (
            float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else REGISTRY_TOKEN_DEFAULT_TTL
        )
        return MintedToken(token, start + ttl, start)

    def store(self, key: Hashable, minted: MintedToken) -> str:
        assert isinstance(key, RegistryTokenKey)
        self._on_secret(minted.token)
        with self._guard:
            self._tokens[key] = minted
            # Drop expired entries so a long-lived hook touching many repositories does not grow without bound.
            if len(self._tokens) > 256:
                at = now()
                for stale in [k for k, t in self._tokens.items() if not t.fresh(at)]:
                    del self._tokens[stale]
        return minted.token

    def invalidate(self, key: RegistryTokenKey, token: str) -> None:
        with self._guard:
            current = self._tokens.get(key)
            if current is not None and current.token == token:
                del self._tokens[key]


class RegistryAuth:
    """Challenge-driven auth for one registry: Bearer tokens by scope, or Basic."""

    def __init__(
        self,
        config: ClientConfig,
        tokens: RegistryTokenSource,
        policy: RetryPolicy,
        realms: RealmPolicy,
        *,
        telemetry: RateLimitTelemetry | None = None,
        stats: RetryStats | None = None,
    ) -> None:
        self._config = config
        self.tokens = tokens
        self._policy = policy
        self._realms = realms
        self._telemetry = telemetry
        self._stats = stats
        self._challenges: dict[str, Challenge] = {}

    def _authorize(
        self, request: httpx.Request, challenge: Challenge, scopes: tuple[Scope, ...]
    ) -> Flow[tuple[RegistryTokenKey, str] | None]:
        if challenge.scheme == "basic":
            if self._config.anonymous:
                return None
            scheme_ok = request.url.scheme == "https" or is_loopback(request.url.host)
            if not scheme_ok:
                raise UntrustedRealmError(f"refusing to send Basic credentials over plain http to {request.url.host}")
            request.headers["Authorization"] = basic_authorization(self._config)
            return None
        if not challenge.realm:
            raise ProtocolError(request.method, redacted_path(request.url), "Bearer challenge without a realm")
        key = RegistryTokenKey(
            realm=challenge.realm,
            service=challenge.service,
            scopes=tuple(str(s) for s in scopes),
            account=None if self._config.anonymous else self._config.login,
        )
        token = yield Acquire(self.tokens, key)
        request.headers["Authorization"] = f"Bearer {token}"
        return key, token

    def request_flow(
        self,
        request: httpx.Request,
        scopes: tuple[Scope, ...],
        *,
        replayable: bool = True,
        stream: bool = False,
        follow_redirects: bool = False,
    ) -> Flow[httpx.Response]:
        """Send with the right credentials; on a 401 challenge, (re)authorize once and resend once."""
        origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"

        def send() -> Flow[httpx.Response]:
            return send_flow(
                request,
                self._policy,
                replayable=replayable,
                stream=stream,
                follow_redirects=follow_redirects,
                telemetry=self._telemetry,
                stats=self._stats,
            )

        challenge = self._challenges.get(origin)
        sent = (yield from self._authorize(request, challenge, scopes)) if challenge else None
        response = yield from send()
        if response.status_code != 401:
            return response
        fresh = pick_challenge(parse_www_authenticate(response.headers.get_list("www-authenticate")))
        if fresh is None:
            return response
        self._challenges[origin] = fresh
        if sent is not None:
            self.tokens.invalidate(*sent)
        if not replayable or (fresh.scheme == "basic" and (self._config.anonymous or challenge is not None)):
            return response
        if stream:
            yield CloseBody(response)
        # insufficient_scope names what the server wants; ask for ours and its together in one token.
        wanted = merge_scopes(scopes, fresh.scopes) if fresh.scheme == "bearer" else scopes
        log.debug("registry challenge for %s: %s %s", redacted_path(request.url), fresh.scheme, fresh.error or "")
        yield from self._authorize(request, fresh, wanted)
        return (yield from send())
