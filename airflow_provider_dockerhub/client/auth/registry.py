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
from ..core.errors import (
    PASSWORD_HINT,
    AuthenticationError,
    PermissionDeniedError,
    ProtocolError,
    error_from_response,
    redacted_path,
    refuse,
)
from ..core.flow import Acquire, CloseBody, Flow, LockTable, now
from ..core.reference import Scope, merge_scopes
from ..core.transport import RateLimitTelemetry, RetryPolicy, RetryStats, send_flow
from .challenge import Challenge, parse_www_authenticate, pick_challenge
from .tokens import (
    MintedToken,
    SecretSink,
    basic_authorization,
    jwt_claims,
    lifetime_from,
    no_sink,
    token_body,
    token_from,
)
from .trust import Credential, CredentialPolicy

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
        credentials: CredentialPolicy,
        on_secret: SecretSink = no_sink,
        telemetry: RateLimitTelemetry | None = None,
    ) -> None:
        self.locks = LockTable()
        self._config = config
        self._policy = policy
        self._credentials = credentials
        self._on_secret = on_secret
        self._telemetry = telemetry
        self._tokens: dict[RegistryTokenKey, MintedToken] = {}
        self._proven: set[str] = set()  # tokens the registry accepted at least once
        self._guard = threading.Lock()
        self.mints = 0

    def cached(self, key: Hashable) -> str | None:
        with self._guard:
            token = self._tokens.get(key)  # type: ignore[call-overload]
        return token.token if token is not None and token.fresh(now()) else None

    def mint_flow(self, key: Hashable) -> Flow[MintedToken]:
        assert isinstance(key, RegistryTokenKey)
        with_credentials = not self._config.anonymous
        realm = self._credentials.realms.check(key.realm, with_credentials=with_credentials)
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
            self._credentials.attach(request, Credential.REALM_BASIC, basic_authorization(self._config))
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
                hint=f"the registry's token service rejected the connection's credentials; {PASSWORD_HINT}",
            )
        if response.status_code != 200:
            raise error_from_response(response)
        data = token_body(response, "registry token service")
        token = token_from(data, response, "registry token service")
        start, expires = lifetime_from(data, now())
        exp = jwt_claims(token).get("exp")
        return MintedToken(token, expires, start, float(exp) if isinstance(exp, int | float) else None)

    def store(self, key: Hashable, minted: MintedToken) -> str:
        assert isinstance(key, RegistryTokenKey)
        self._on_secret(minted.token)
        with self._guard:
            self._tokens[key] = minted
            # Drop expired entries so a long-lived hook touching many repositories does not grow without bound.
            if len(self._tokens) > 256:
                at = now()
                for stale in [k for k, t in self._tokens.items() if not t.fresh(at)]:
                    self._proven.discard(self._tokens.pop(stale).token)
        return minted.token

    def accepted(self, token: str) -> None:
        """``token`` got an answer other than 401: a later 401 on it means expiry or revocation."""
        with self._guard:
            self._proven.add(token)

    def proven(self, token: str) -> bool:
        with self._guard:
            return token in self._proven

    def minted(self, key: RegistryTokenKey, token: str) -> MintedToken | None:
        """The record of ``token`` if it is still the one cached for ``key``."""
        with self._guard:
            current = self._tokens.get(key)
        return current if current is not None and current.token == token else None

    def invalidate(self, key: RegistryTokenKey, token: str) -> None:
        with self._guard:
            current = self._tokens.get(key)
            if current is not None and current.token == token:
                del self._tokens[key]
            self._proven.discard(token)


def _resendable(request: httpx.Request, replayable: bool) -> bool:
    """After a 401 the server did not act on the request, so it may go again if its body can be sent again: no
    body (a DELETE) or bytes in memory. A streamed body (an upload chunk) was consumed: its caller resumes."""
    return replayable or isinstance(request.stream, httpx.ByteStream)


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


class RegistryAuth:
    """Challenge-driven auth for one registry: Bearer tokens by scope, or Basic.

    The first 401 of an origin names its scheme (and, for Bearer, realm, service and scope); it is remembered
    per origin, so later requests are authorized up front. What a final 401 means is decided here, where the
    challenge is seen, and recorded on the response (``refuse``) for whoever raises it:

    * ``error="insufficient_scope"``: the identity may not do this (a pull-only identity pushing, an anonymous
      pull of a private repository): a permission error naming the repository and the actions. A token for
      narrower scopes is still valid for them and is kept.
    * ``error="invalid_token"`` on a token seconds old: the registry does not accept what its token service
      issues (clock skew, signing keys): said so, without the password hint.
    * Basic credentials refused, or the token service refusing them: the password hint.
    """

    def __init__(
        self,
        config: ClientConfig,
        tokens: RegistryTokenSource,
        policy: RetryPolicy,
        credentials: CredentialPolicy,
        *,
        telemetry: RateLimitTelemetry | None = None,
        stats: RetryStats | None = None,
    ) -> None:
        self._config = config
        self.tokens = tokens
        self._policy = policy
        self._credentials = credentials
        self._telemetry = telemetry
        self._stats = stats
        self._challenges: dict[str, Challenge] = {}

    def _authorize(
        self, request: httpx.Request, challenge: Challenge, scopes: tuple[Scope, ...]
    ) -> Flow[tuple[RegistryTokenKey, str] | None]:
        if challenge.scheme == "basic":
            if not self._config.anonymous:
                self._credentials.attach(request, Credential.REGISTRY_BASIC, basic_authorization(self._config))
            return None
        if not challenge.realm:
            raise ProtocolError(request.method, redacted_path(request.url), "Bearer challenge without a realm")
        # Checked before the mint too: a token for a request that may not carry it would be minted for nothing.
        self._credentials.check(Credential.REGISTRY_BEARER, request.url)
        key = RegistryTokenKey(
            realm=challenge.realm,
            service=challenge.service,
            scopes=tuple(str(s) for s in scopes),
            account=None if self._config.anonymous else self._config.login,
        )
        token = yield Acquire(self.tokens, key)
        self._credentials.attach(request, Credential.REGISTRY_BEARER, f"Bearer {token}")
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
        origin = _origin(request.url)

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

        known = self._challenges.get(origin)
        sent = (yield from self._authorize(request, known, scopes)) if known else None
        response = yield from send()
        if response.status_code != 401:
            if sent is not None:
                self.tokens.accepted(sent[1])
            return response
        if _origin(response.request.url) != origin:
            # The 401 came from a redirect target (a blob CDN): it says nothing about the registry, and learning
            # it would send the registry's credentials where that server asks. Final.
            return response
        fresh = pick_challenge(parse_www_authenticate(response.headers.get_list("www-authenticate")))
        if fresh is None:
            return response
        self._challenges[origin] = fresh
        wanted = merge_scopes(scopes, fresh.scopes) if fresh.scheme == "bearer" else scopes
        if not self._curable(fresh, known, sent, scopes, wanted):
            self._explain(response, fresh, sent, wanted)
            return response
        if sent is not None and fresh.error != "insufficient_scope":
            self.tokens.invalidate(*sent)  # expired or revoked; a narrower token stays valid for what it covers
        if not _resendable(request, replayable):
            return response
        if stream:
            yield CloseBody(response)
        log.debug("registry challenge for %s: %s %s", redacted_path(request.url), fresh.scheme, fresh.error or "")
        resent = yield from self._authorize(request, fresh, wanted)
        response = yield from send()
        if response.status_code != 401:
            if resent is not None:
                self.tokens.accepted(resent[1])
        elif _origin(response.request.url) == origin:
            retried = pick_challenge(parse_www_authenticate(response.headers.get_list("www-authenticate")))
            self._explain(response, retried or fresh, resent, wanted)
        return response

    def _curable(
        self,
        challenge: Challenge,
        previous: Challenge | None,
        sent: tuple[RegistryTokenKey, str] | None,
        scopes: tuple[Scope, ...],
        wanted: tuple[Scope, ...],
    ) -> bool:
        """Whether authorizing again can change the answer to this 401."""
        if challenge.scheme == "basic":
            # Credentials not sent yet: send them. Sent (or none to send): asking again repeats the answer.
            return not self._config.anonymous and (previous is None or previous.scheme != "basic")
        if sent is None:
            return True
        if challenge.error == "insufficient_scope":
            return not set(wanted) <= set(scopes)  # only when the server names scopes our token lacked
        token = self.tokens.minted(*sent)
        return token is None or not token.recent(now()) or self.tokens.proven(sent[1])

    def _explain(
        self,
        response: httpx.Response,
        challenge: Challenge,
        sent: tuple[RegistryTokenKey, str] | None,
        wanted: tuple[Scope, ...],
    ) -> None:
        """Record on a final 401 what a user must change (``refuse``), never the password hint unless the
        credentials themselves were refused."""
        who = "anonymous access" if self._config.anonymous else f"identity {self._config.login!r}"
        if challenge.scheme == "basic":
            if self._config.anonymous:
                refuse(response, AuthenticationError, "the registry needs credentials: set the connection's login")
            else:
                refuse(response, AuthenticationError, f"the registry refused the Basic credentials; {PASSWORD_HINT}")
            return
        if challenge.error == "insufficient_scope" or (self._config.anonymous and sent is not None):
            refuse(response, PermissionDeniedError, f"{who} may not {_describe(wanted)}")
            return
        token = self.tokens.minted(*sent) if sent is not None else None
        if token is not None and token.jwt_exp is not None and token.jwt_exp <= now():
            refuse(
                response,
                AuthenticationError,
                "the registry's token service issued a token already expired by its own exp claim: check the "
                "token service's clock",
            )
        elif token is not None and token.recent(now()):
            refuse(
                response,
                AuthenticationError,
                "the registry refused a token its token service issued seconds ago: check the clocks of this "
                "machine and the registry, and that the registry trusts its token service's signing key",
            )


def _describe(scopes: tuple[Scope, ...]) -> str:
    return "; ".join(f"{','.join(s.actions)} {s.type} {s.name}" for s in scopes) or "access the registry"
