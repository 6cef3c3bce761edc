"""A Docker-registry token server (distribution token-auth spec) for tests and demos. Not for production.

It signs ES256 JWTs that Debian's ``docker-registry`` 2.8 accepts when the certificate written by
:meth:`TokenIssuer.bundle_path` is its ``auth.token.rootcertbundle``. Knobs (``ttl``, ``exp_offset``,
:meth:`TokenIssuer.fail_next`, ...) may be changed while the server runs, for negative tests. With ``tls=`` (a
:class:`~airflow_provider_dockerhub.testing.tls.TlsFiles`) the realm is served over HTTPS.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

    from airflow_provider_dockerhub.testing.tls import TlsFiles

__all__ = ["KeyIdMode", "TokenIssuer", "TokenRequest", "libtrust_key_id", "parse_scope"]

KeyIdMode = Literal["kid", "x5c"]
Access = dict[str, Any]


@dataclass(frozen=True)
class TokenRequest:
    """One request seen by the token endpoint, whatever its outcome."""

    account: str | None
    user: str | None
    scopes: tuple[str, ...]
    granted: tuple[Access, ...]
    authorization_present: bool
    query: dict[str, list[str]]
    status: int = 200
    user_agent: str | None = None


@dataclass
class _Injected:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    omit_token: bool = False


def libtrust_key_id(public_key_der: bytes) -> str:
    """The libtrust KeyID of a DER SubjectPublicKeyInfo: what registry 2.8 matches a JWT ``kid`` against."""
    import hashlib

    digest = hashlib.sha256(public_key_der).digest()[:30]
    encoded = base64.b32encode(digest).decode("ascii").rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def parse_scope(scope: str) -> tuple[str, str, tuple[str, ...]] | None:
    """Split ``type[(class)]:name:actions`` into its parts; ``None`` if malformed.

    The name is everything between the first and the last colon because a repository name may carry a registry
    host with a port (``repository:localhost:5000/app:pull``).
    """
    head, sep, actions = scope.rpartition(":")
    rtype, sep2, name = head.partition(":")
    if not sep or not sep2 or not rtype or not name:
        return None
    return rtype.split("(", 1)[0], name, tuple(a for a in actions.split(",") if a)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    issuer: TokenIssuer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that refuses our certificate (the point of some tests) aborts the handshake: not news."""
        import sys

        if not isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive, like real token servers, so clients that reuse connections are exercised.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.issuer._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: pytest output should show test failures, not request lines."""


class TokenIssuer:
    """Token endpoint at ``GET /token`` on 127.0.0.1, served from a background thread."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        *,
        service: str = "registry.local",
        issuer: str = "test-token-issuer",
        ttl: int = 300,
        anonymous_actions: tuple[str, ...] = ("pull",),
        public_repositories: frozenset[str] | None = None,
        key_id_mode: KeyIdMode = "kid",
        include_expires_in: bool = True,
        include_issued_at: bool = True,
        tls: TlsFiles | None = None,
        public_host: str = "127.0.0.1",
    ) -> None:
        if key_id_mode not in ("kid", "x5c"):
            raise ValueError(f"key_id_mode must be 'kid' or 'x5c', not {key_id_mode!r}")
        self.users: dict[str, str] = dict(users or {})
        self.service = service
        self.issuer = issuer
        self.ttl = ttl
        # Added to ``exp``: registry 2.8 allows 60 s of clock skew, so an expiry test needs e.g. -(ttl + 120).
        self.exp_offset = 0
        self.anonymous_actions = anonymous_actions
        self.public_repositories = public_repositories
        self.key_id_mode: KeyIdMode = key_id_mode
        self.include_expires_in = include_expires_in
        self.include_issued_at = include_issued_at
        self.tls = tls
        # The host written into ``origin``/``realm``; the server listens on 127.0.0.1 whatever it is, so
        # "localhost" gives a realm on another host than a registry on 127.0.0.1 (a trust-rule test needs one).
        self.public_host = public_host
        self._lock = threading.Lock()
        self._requests: list[TokenRequest] = []
        self.issued_tokens: list[str] = []
        self._injected: deque[_Injected] = deque()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._key, self._cert_der, self._cert_pem = _make_key_and_certificate(issuer)
        self.key_id = libtrust_key_id(_public_key_der(self._key))

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> TokenIssuer:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.issuer = self
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.certificate, self.tls.key)
            # The handshake runs on the handler's thread (first read), not in accept(): a client that connects
            # and stalls, or fails the handshake, must not block the serving loop for everyone else.
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="token-issuer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> TokenIssuer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("TokenIssuer is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{self.public_host}:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.origin}/token"

    @property
    def certificate_pem(self) -> bytes:
        return self._cert_pem

    def bundle_path(self, directory: str | os.PathLike[str]) -> Path:
        """Write the PEM bundle for the registry's ``auth.token.rootcertbundle``; return its path."""
        path = Path(directory) / "token-issuer-bundle.crt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self._cert_pem)
        return path

    # -- request log and fault injection ---------------------------------------------------------------------

    @property
    def requests(self) -> list[TokenRequest]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._requests)

    def reset(self) -> None:
        """Clear the request log."""
        with self._lock:
            self._requests.clear()

    def clear_faults(self) -> None:
        """Drop pending :meth:`fail_next`/:meth:`omit_token_next` answers and set ``exp_offset`` back to 0."""
        with self._lock:
            self._injected.clear()
        self.exp_offset = 0

    def fail_next(self, status: int, body: bytes = b"", times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` requests with ``status``/``body`` (e.g. 503, or 429 + Retry-After)."""
        with self._lock:
            for _ in range(times):
                self._injected.append(_Injected(status, body, dict(headers or {})))

    def omit_token_next(self) -> None:
        """Answer the next request with 200 ``{}``: a token response without a token."""
        with self._lock:
            self._injected.append(_Injected(200, b"{}", omit_token=True))

    # -- tokens ----------------------------------------------------------------------------------------------

    def make_token(self, access: list[Access], subject: str = "") -> str:
        """Sign a token for ``access`` with the current ``ttl`` and ``exp_offset`` (tests may call it)."""
        import jwt

        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            # Registry 2.8.2 rejects a JSON list ("cannot unmarshal array ... ClaimSet.aud of type string").
            "aud": self.service,
            "exp": now + self.ttl + self.exp_offset,
            "nbf": now,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        headers: dict[str, Any] = {"typ": "JWT"}
        if self.key_id_mode == "x5c":
            # Standard (not URL-safe) base64: RFC 7515 section 4.1.6, and what the registry decodes.
            headers["x5c"] = [base64.b64encode(self._cert_der).decode("ascii")]
        else:
            headers["kid"] = self.key_id
        return jwt.encode(claims, self._key, algorithm="ES256", headers=headers)

    def grant(self, user: str | None, scopes: tuple[str, ...]) -> list[Access]:
        """Access entries for ``user`` (``None`` = anonymous), merged per resource in request order."""
        merged: dict[tuple[str, str], list[str]] = {}
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            rtype, name, actions = parsed
            if user is None:
                if rtype != "repository" or not self._is_public(name):
                    continue
                actions = tuple(a for a in actions if a in self.anonymous_actions)
            bucket = merged.setdefault((rtype, name), [])
            bucket.extend(a for a in actions if a not in bucket)
        return [{"type": t, "name": n, "actions": a} for (t, n), a in merged.items() if a]

    def _is_public(self, repository: str) -> bool:
        return self.public_repositories is None or repository in self.public_repositories

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        if url.path != "/token":
            _reply(handler, 404, _error_body("NOT_FOUND", "unknown path"))
            return
        query = parse_qs(url.query, keep_blank_values=True)
        # Clients either repeat ``scope`` (docker, GGCR) or join scopes with spaces (the spec allows both).
        scopes = tuple(s for raw in query.get("scope", []) for s in raw.split())
        account = query.get("account", [None])[0]
        authorization = handler.headers.get("Authorization")
        user_agent = handler.headers.get("User-Agent")
        with self._lock:
            injected = self._injected.popleft() if self._injected else None

        def record(user: str | None, granted: list[Access], status: int) -> None:
            present = authorization is not None
            entry = TokenRequest(account, user, scopes, tuple(granted), present, query, status, user_agent)
            with self._lock:
                self._requests.append(entry)

        if injected is not None and not injected.omit_token:
            record(None, [], injected.status)
            _reply(handler, injected.status, injected.body, injected.headers)
            return
        user, ok = self._authenticate(authorization)
        if not ok:
            record(None, [], 401)
            _reply(handler, 401, _error_body("UNAUTHORIZED", "incorrect username or password"))
            return
        granted = self.grant(user, scopes)
        if injected is not None:  # omit_token_next(): checked after auth so bad credentials still get a 401
            record(user, [], injected.status)
            _reply(handler, injected.status, injected.body, injected.headers)
            return
        token = self.make_token(granted, subject=user or "")
        with self._lock:
            self.issued_tokens.append(token)  # secret scans look for these in logs and XCom
        body: dict[str, Any] = {"token": token, "access_token": token}
        if self.include_expires_in:
            body["expires_in"] = self.ttl
        if self.include_issued_at:
            body["issued_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record(user, granted, 200)
        _reply(handler, 200, json.dumps(body).encode())

    def _authenticate(self, authorization: str | None) -> tuple[str | None, bool]:
        """``(user, ok)``: no header means anonymous; a header that does not authenticate is a failure."""
        if authorization is None:
            return None, True
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        user, sep, password = decoded.partition(":")
        expected = self.users.get(user)
        if not sep or expected is None:
            return None, False
        if not secrets.compare_digest(expected.encode("utf-8"), password.encode("utf-8")):
            return None, False
        return user, True


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


def _reply(handler: _Handler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def _public_key_der(key: EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _make_key_and_certificate(common_name: str) -> tuple[EllipticCurvePrivateKey, bytes, bytes]:
    """A P-256 key and a self-signed CA certificate, usable by registry 2.8 as trusted key and as root."""
    from cryptography.hazmat.primitives import serialization

    from .tls import self_signed_ca

    key, cert = self_signed_ca(common_name, days=3650, path_length=None, key_usage=False)
    return key, cert.public_bytes(serialization.Encoding.DER), cert.public_bytes(serialization.Encoding.PEM)
