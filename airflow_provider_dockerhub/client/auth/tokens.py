"""What every token source shares: the minted-token record, its freshness rule, and token-answer parsing."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ..core.config import ClientConfig
from ..core.errors import ProtocolError, redacted_path

HUB_JWT_DEFAULT_TTL = 600.0  # "expires in 10 minutes" (AuthCreateTokenResponse in the Hub API spec)
REGISTRY_TOKEN_DEFAULT_TTL = 60.0  # token spec: "if omitted, the default is 60 seconds"
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


def token_from(data: dict[str, Any], response: httpx.Response, what: str) -> str:
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        request = response.request
        raise ProtocolError(request.method, redacted_path(request.url), f"{what} answered without a token")
    return token


def basic_authorization(config: ClientConfig) -> str:
    """The connection's credentials as an HTTP Basic header value (for token realms and Basic registries)."""
    userpass = f"{config.login}:{config.secret}".encode()
    return "Basic " + base64.b64encode(userpass).decode("ascii")
