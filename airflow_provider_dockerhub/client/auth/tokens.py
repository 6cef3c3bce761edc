"""What every token source shares: the minted-token record, its freshness rule, and token-answer parsing."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..core.config import ClientConfig
from ..core.errors import ProtocolError, redacted_path
from ..core.timeparse import parse_epoch

HUB_JWT_DEFAULT_TTL = 600.0  # "expires in 10 minutes" (AuthCreateTokenResponse in the Hub API spec)
REGISTRY_TOKEN_DEFAULT_TTL = 60.0  # token spec: "if omitted, the default is 60 seconds", and the least it may be
ISSUED_AT_TOLERANCE = 10.0  # how far a server's issued_at may precede our receipt and still be believed
# A 401 on a token younger than this is an answer about the identity, not about expiry: minting again will not help.
FRESH_TOKEN_AGE = 30.0
REFRESH_SKEW_MAX = 60.0
REFRESH_SKEW_FRACTION = 0.2
MAX_TOKEN_BODY = 64 * 1024

SecretSink = Callable[[str], None]


def no_sink(_: str) -> None:
    return None


@dataclass(frozen=True)
class MintedToken:
    token: str
    expires_at: float
    issued_at: float
    jwt_exp: float | None = None  # the token's own ``exp`` claim, when it is a JWT (read, never trusted)

    def age(self, at: float) -> float:
        return at - self.issued_at

    def recent(self, at: float) -> bool:
        """Received seconds ago and not expired by its own claim: a 401 on it is about the identity or the
        clocks, not about expiry, so minting again would only repeat the answer."""
        return self.age(at) < FRESH_TOKEN_AGE and (self.jwt_exp is None or self.jwt_exp > at)

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
    """A token answer's ``issued_at`` as POSIX seconds; ``None`` if it is not an RFC 3339 instant."""
    return parse_epoch(text)


def token_body(response: httpx.Response, what: str) -> dict[str, Any]:
    request = response.request
    body = response.content[:MAX_TOKEN_BODY]
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(request.method, redacted_path(request.url), f"{what} answered with non-JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(request.method, redacted_path(request.url), f"{what} answered with a non-object")
    return data


# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def is_bearer_token(value: str) -> bool:
    """Whether ``value`` may stand in an ``Authorization: Bearer`` header (RFC 6750's b64token)."""
    return _B64TOKEN.fullmatch(value) is not None


def token_from(data: dict[str, Any], response: httpx.Response, what: str) -> str:
    """The token of a token answer, checked against RFC 6750 before it goes into any header. A bad one is never
    quoted: it is a secret, and a control character in it would escape the log masker."""
    token = data.get("token") or data.get("access_token")
    request = response.request
    if not isinstance(token, str) or not token:
        raise ProtocolError(request.method, redacted_path(request.url), f"{what} answered without a token")
    if not is_bearer_token(token):
        raise ProtocolError(
            request.method, redacted_path(request.url), f"{what} answered with a token outside RFC 6750's character set"
        )
    return token


def lifetime_from(data: dict[str, Any], received: float) -> tuple[float, float]:
    """``(start, expires_at)`` of a registry token answer, on our clock.

    Measured from receipt. ``issued_at`` is used only when it agrees with our clock to within a few seconds (then
    it is the better start: the token was made before it reached us); a skewed server clock, Go's zero time
    (``0001-01-01T00:00:00Z``) or the token spec's own example date would otherwise expire every token on arrival.
    ``expires_in`` defaults to 60 s and is floored there: "a token should never be returned with less than 60
    seconds to live" (distribution token spec, ``expires_in``).
    """
    issued = parse_rfc3339(data.get("issued_at"))
    start = issued if issued is not None and 0.0 <= received - issued <= ISSUED_AT_TOLERANCE else received
    expires_in = data.get("expires_in")
    ttl = float(expires_in) if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) else 0.0
    return start, start + max(ttl, REGISTRY_TOKEN_DEFAULT_TTL)


def basic_authorization(config: ClientConfig) -> str:
    """The connection's credentials as an HTTP Basic header value (for token realms and Basic registries)."""
    userpass = f"{config.login}:{config.secret}".encode()
    return "Basic " + base64.b64encode(userpass).decode("ascii")
