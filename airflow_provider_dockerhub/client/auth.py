"""The auth lifecycle of the three surfaces, as sans-IO flows over ``send_flow``.

* Hub: one JWT from ``POST /v2/auth/token``, cached until shortly before ``exp``; a 401 from a normal endpoint
  invalidates it and retries once; auth endpoints are never replayed (a 2FA code must not be sent twice), and a
  rejected mint is remembered so that no caller re-posts the same bad secret: Docker Hub locks a username for
  10 minutes after repeated failures (docker/hub-feedback#2201).
* Registry: challenge-driven token auth (distribution token spec) or Basic. Tokens are cached by
  (realm, service, scopes, account), honour ``expires_in``/``issued_at``, and go only to trusted realms.
* SCIM: a static bearer, the connection's SCIM token.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from .challenge import Challenge, parse_www_authenticate, pick_challenge
from .config import ClientConfig
from .errors import AuthenticationError, ProtocolError, UntrustedRealmError, error_from_response, redacted_path
from .flow import Acquire, Flow, LockTable, now
from .reference import Scope, is_docker_hub_registry, merge_scopes
from .transport import RateLimitTelemetry, RetryPolicy, RetryStats, send_flow

log = logging.getLogger("airflow_provider_dockerhub.client")

HUB_TOKEN_PATH = "/v2/auth/token"  # noqa: S105 - a path, not a secret
# Posting to these twice could replay a password or a one-time 2FA code.
HUB_AUTH_PATHS = frozenset({HUB_TOKEN_PATH, "/v2/users/login", "/v2/users/2fa-login"})
HUB_JWT_DEFAULT_TTL = 600.0  # "expires in 10 minutes" (AuthCreateTokenResponse in the Hub API spec)
REGISTRY_TOKEN_DEFAULT_TTL = 60.0  # token spec: "if omitted, the default is 60 seconds"
REFRESH_SKEW_MAX = 60.0
REFRESH_SKEW_FRACTION = 0.2
# After the mint rejects the credentials, refuse to post them again for as long as Docker Hub's lockout lasts.
MINT_FAILURE_HOLD = 600.0
DOCKER_AUTH_HOSTS = frozenset({"auth.docker.io"})
DOCKER_SCOUT_SUFFIX = ".docker.com"
MAX_TOKEN_BODY = 64 * 1024

SecretSink = Callable[[str], None]


def _no_sink(_: str) -> None:
    return None


@dataclass(frozen=True)
class MintedToken:
    token: str
    expires_at: float
    issued_at: float

    def fresh(self, at: float) -> bool:
        lifetime = self.expires_at - self.issued_at
        skew = min(REFRESH_SKEW_MAX, max(0.0, lifetime) * REFRESH_SKEW_FRACTION)
        return at < self.expires_at - skew


def jwt_claims(token: str) -> dict[str, Any]:
    """The unverified claims of a JWT; ``{}`` when it is not one. Used only to time refreshes, never to trust."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def parse_rfc3339(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo else None


def _json_body(response: httpx.Response, what: str) -> dict[str, Any]:
    request = response.request
    body = response.content[:MAX_TOKEN_BODY]
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(request.method, redacted_path(request.url), f"{what} answered with non-JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(request.method, redacted_path(request.url), f"{what} answered with a non-object")
    return data


def _token_from(data: dict[str, Any], response: httpx.Response, what: str) -> str:
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        request = response.request
        raise ProtocolError(request.method, redacted_path(request.url), f"{what} answered without a token")
    return token


def basic_authorization(config: ClientConfig) -> str:
    """The connection's credentials as an HTTP Basic header value (for token realms and Basic registries)."""
    userpass = f"{config.login}:{config.secret}".encode()
    return "Basic " + base64.b64encode(userpass).decode("ascii")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HubTokenSource:
    """The Hub JWT cache. One token per session: the connection has one identity."""

    KEY = "hub-jwt"

    def __init__(self, config: ClientConfig, policy: RetryPolicy, on_secret: SecretSink = _no_sink) -> None:
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
        token = _token_from(_json_body(response, "Docker Hub token endpoint"), response, "Docker Hub token endpoint")
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


@dataclass(frozen=True)
class RegistryTokenKey:
    realm: str
    service: str | None
    scopes: tuple[str, ...]
    account: str | None


class RealmPolicy:
    """Which token realms may receive the connection's credentials (GGCR ``validateRealmURL``, done stricter).

    https realms on the registry's own host, Docker's auth host for Docker Hub, or listed in the connection's
    ``trusted_realms``; plain http only between loopback addresses.
    """

    def __init__(self, config: ClientConfig) -> None:
        self._registry = httpx.URL(config.registry_url)
        self._trusted = config.trusted_realms

    def check(self, realm: str, *, with_credentials: bool) -> httpx.URL:
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL as exc:
            raise UntrustedRealmError(f"token realm {realm!r} is not a valid URL") from exc
        host = url.host.lower()
        registry_host = self._registry.host.lower()
        listed = host in self._trusted or str(url.copy_with(query=None)) in self._trusted
        if url.scheme == "http":
            if is_loopback(host) and (is_loopback(registry_host) or listed):
                return url
            raise UntrustedRealmError(
                f"refusing token realm {realm!r}: plain http is allowed only on loopback (use https)"
            )
        if url.scheme != "https" or not host:
            raise UntrustedRealmError(f"refusing token realm {realm!r}: not an https URL")
        if not with_credentials or listed or host == registry_host:
            return url
        if is_docker_hub_registry(registry_host) and host in DOCKER_AUTH_HOSTS:
            return url
        raise UntrustedRealmError(
            f"refusing to send credentials to token realm {realm!r}: its host is neither the registry's "
            f"({registry_host}) nor listed in the connection's 'trusted_realms'"
        )


class RegistryTokenSource:
    """Registry bearer tokens by (realm, service, scopes, account)."""

    def __init__(
        self,
        config: ClientConfig,
        policy: RetryPolicy,
        realms: RealmPolicy,
        on_secret: SecretSink = _no_sink,
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
        data = _json_body(response, "registry token service")
        token = _token_from(data, response, "registry token service")
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

    def known_challenge(self, origin: str) -> Challenge | None:
        return self._challenges.get(origin)

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
            response.close()
        # insufficient_scope names what the server wants; ask for ours and its together in one token.
        wanted = merge_scopes(scopes, fresh.scopes) if fresh.scheme == "bearer" else scopes
        log.debug("registry challenge for %s: %s %s", redacted_path(request.url), fresh.scheme, fresh.error or "")
        yield from self._authorize(request, fresh, wanted)
        return (yield from send())
