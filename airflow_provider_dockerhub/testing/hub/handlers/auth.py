"""Hub authentication: JWT issue and verification, ``/v2/auth/token`` and the login + 2FA pair. Not for production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections import Counter

from starlette.datastructures import Headers
from starlette.responses import Response

from ..http import Call, HubRoute, json_object, json_response
from ..state import HubError, Principal
from .base import HandlerBase


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuthHandlers(HandlerBase):
    """JWTs signed with the emulator's key; a reset or :meth:`expire_tokens` invalidates all issued ones."""

    # Set by the emulator; ``two_factor_users``, ``jwt_ttl`` and the SCIM token may change while it runs.
    scim_token: str
    jwt_ttl: int
    two_factor_users: set[str]
    totp_code: str
    auth_failures: Counter[str]
    tokens_issued: int
    issued_tokens: list[str]
    _key: bytes
    _generation: int
    _pending_2fa: dict[str, tuple[str, float]]

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

    def _authenticate(self, route: HubRoute, headers: Headers) -> Principal | None:
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

    def _auth_token(self, call: Call) -> Response:
        body = json_object(call)
        identifier, secret = body.get("identifier"), body.get("secret")
        if not isinstance(identifier, str) or not isinstance(secret, str):
            raise HubError(400, "identifier and secret are required", fields={"identifier": ["required"]})
        principal = self.state.check_secret(identifier, secret)
        if principal is None:
            self.auth_failures[identifier] += 1
            raise HubError(401, "Incorrect authentication credentials")
        return json_response({"access_token": self._issue(principal)})

    def _login(self, call: Call) -> Response:
        body = json_object(call)
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
            return json_response({"detail": "Two-factor authentication required", "login_2fa_token": pending}, 401)
        return json_response({"token": self._issue(principal)})

    def _login_2fa(self, call: Call) -> Response:
        body = json_object(call)
        pending = self._pending_2fa.get(str(body.get("login_2fa_token")))
        if pending is None or pending[1] <= self.clock():
            raise HubError(401, "Incorrect authentication credentials")
        if str(body.get("code")) != self.totp_code:
            self.auth_failures[pending[0]] += 1
            raise HubError(401, "Incorrect authentication credentials")
        del self._pending_2fa[str(body["login_2fa_token"])]
        return json_response({"token": self._issue(Principal("user", pending[0], "password"))})
