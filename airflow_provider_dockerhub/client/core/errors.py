"""The one error tree of the client core, and the one function that maps an HTTP answer onto it.

Callers decide on attributes (``status``, ``code``), never on ``str(exc)``. Every message says what failed:
method, path (never the query, which can carry upload state), status, and the server's own code and message.
"""

from __future__ import annotations

import json
from collections.abc import Container
from typing import Any

import httpx

# Error bodies are read for diagnostics only; a hostile or broken server must not make us buffer megabytes.
MAX_ERROR_BODY = 64 * 1024


class DockerHubError(Exception):
    """Base class of every error this provider raises on purpose."""


class ConfigurationError(DockerHubError, ValueError):
    """The connection or client settings are invalid (bad URL, missing CA bundle, negative timeout...)."""


class InvalidInputError(DockerHubError, ValueError):
    """An argument is invalid on its face (name, tag, digest, path parameter); no request was sent."""


class DestructiveOperationRefused(DockerHubError, PermissionError):
    """A write or delete was attempted without the connection's ``allow_destructive`` (and, for deletes, the
    operator's own confirmation)."""


class UntrustedRealmError(DockerHubError):
    """A registry asked us to send credentials to a token realm we do not trust."""


class DigestMismatchError(DockerHubError):
    """Content did not hash to the digest it was served or pushed under."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"{what}: digest mismatch, expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class TransportError(DockerHubError):
    """The request could not be completed at the network level, after the retries the policy allows."""

    def __init__(self, method: str, path: str, cause: BaseException, attempts: int = 1) -> None:
        kind = type(cause).__name__
        super().__init__(f"{method} {path}: {kind} after {attempts} attempt(s): {cause}")
        self.method = method
        self.path = path
        self.attempts = attempts


class CertificateVerificationError(TransportError):
    """A server's TLS certificate did not verify: final, and not transient (the next try meets the same
    certificate); the message names the extra that would make the server trusted."""


class ApiError(DockerHubError):
    """An HTTP answer that the operation did not expect.

    :ivar status: HTTP status code.
    :ivar code: the server's error code (registry ``errors[0].code``, SCIM ``scimType``...), if any.
    :ivar server_message: the server's own message (registry ``message``, Hub ``detail``/``message``).
    :ivar codes: every registry error code in the body.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: str | None = None,
        server_message: str | None = None,
        codes: tuple[str, ...] = (),
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.server_message = server_message
        self.codes = codes or ((code,) if code else ())
        self.retry_after = retry_after
        parts = [f"{method} {path} -> HTTP {status}"]
        if code:
            parts.append(code)
        if server_message:
            parts.append(server_message)
        message = ": ".join(parts)
        if hint:
            message = f"{message} ({hint})"
        super().__init__(message)


class BadRequestError(ApiError):
    """HTTP 400/422: the server rejected the request's content."""


class AuthenticationError(ApiError):
    """HTTP 401: credentials missing, wrong or expired (after the one refresh the auth policy allows)."""


class PermissionDeniedError(ApiError):
    """HTTP 403: authenticated, but not allowed."""


class NotFoundError(ApiError):
    """HTTP 404: the resource does not exist (or is hidden from this identity)."""


class ConflictError(ApiError):
    """HTTP 409: the resource exists already or is in a conflicting state."""


class UnsupportedOperationError(ApiError):
    """HTTP 405: the server does not support the operation (e.g. a registry with deletes disabled)."""


class RateLimitedError(ApiError):
    """HTTP 429 after the retries and total wait the policy allows."""


class ServerError(ApiError):
    """HTTP 5xx after the retries the policy allows."""


class ProtocolError(DockerHubError):
    """The server answered, but not in the shape the protocol promises (bad JSON, missing header or token)."""

    def __init__(self, method: str, path: str, problem: str) -> None:
        super().__init__(f"{method} {path}: {problem}")
        self.method = method
        self.path = path


_STATUS_CLASSES: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: UnsupportedOperationError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitedError,
}

# Why a 401 happened is known only to the auth flow that saw the challenge; it says so with ``refuse()``. The
# password hint is given only where the credentials themselves were refused (a token service, a Basic registry).
PASSWORD_HINT = "check the connection's login and password or access token"  # noqa: S105 - advice, not a secret
_REFUSAL = "dockerhub_refusal"

_HINTS: dict[int, str] = {
    401: "the server did not accept this request's authorization",
    403: "the identity lacks permission for this resource",
    405: "the server does not support this operation",
}


def error_class_for(status: int) -> type[ApiError]:
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    return ServerError if status >= 500 else ApiError


def describe_server_error(body: bytes) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Extract ``(code, message, all codes)`` from any of the error shapes the three APIs use.

    Registry: ``{"errors": [{"code", "message", "detail"}]}``. Hub: ``{"detail", "message", "errinfo"}`` or
    ``{"fields", "text"}``. SCIM: ``{"status", "scimType", "detail"}``. GraphQL: ``{"errors": [{"message"}]}``.
    """
    try:
        data: Any = json.loads(body[:MAX_ERROR_BODY])
    except (ValueError, UnicodeDecodeError):
        text = body[:300].decode("utf-8", "replace").strip()
        return None, (text or None), ()
    if not isinstance(data, dict):
        return None, None, ()
    errors = data.get("errors")
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        codes = tuple(str(e["code"]) for e in errors if e.get("code"))
        messages = [str(e.get("message")) for e in errors if e.get("message")]
        return (codes[0] if codes else None), ("; ".join(messages) or None), codes
    code = data.get("scimType") or data.get("code")
    message = data.get("detail") or data.get("message") or data.get("text") or data.get("error_description")
    if isinstance(message, dict | list):
        message = json.dumps(message)
    if message is None and isinstance(data.get("fields"), dict):
        message = json.dumps(data["fields"])
    return (str(code) if code is not None else None), (str(message) if message else None), ()


def redacted_path(url: httpx.URL) -> str:
    """The part of a URL that is safe in logs and messages: host and path, never the query or userinfo."""
    return f"{url.host}{':' + str(url.port) if url.port else ''}{url.path}"


def refuse(response: httpx.Response, cls: type[ApiError], hint: str) -> None:
    """Record on ``response`` what an auth flow learned about its refusal (the error class and the hint a user
    needs), for :func:`error_from_response` to use whoever raises it."""
    response.extensions[_REFUSAL] = (cls, hint)


def error_from_response(response: httpx.Response, *, retry_after: float | None = None) -> ApiError:
    request = response.request
    try:
        body = response.content
    except httpx.ResponseNotRead:  # a streamed answer nobody read: we do not read it now either
        body = b""
    code, message, codes = describe_server_error(body) if request.method != "HEAD" else (None, None, ())
    if request.method == "HEAD" and not message:
        message = "(a HEAD answer has no body)"
    cls, hint = response.extensions.get(_REFUSAL) or (error_class_for(response.status_code), None)
    return cls(
        request.method,
        redacted_path(request.url),
        response.status_code,
        code=code,
        server_message=message,
        codes=codes,
        retry_after=retry_after,
        hint=hint or _HINTS.get(response.status_code),
    )


# The answers after which the same request may succeed later: rate limited, or the server (or a proxy) failing.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_transient(error: BaseException | httpx.Response) -> bool:
    """Whether trying again later may succeed: the one answer to that question in the provider.

    Network failures (ours or httpx's), HTTP 429 and the 5xx statuses above are transient; everything else
    (4xx, bad input, refused credentials, protocol violations, digest mismatches) is permanent.
    """
    if isinstance(error, httpx.Response):
        return error.status_code in TRANSIENT_STATUSES
    if isinstance(error, CertificateVerificationError):
        return False
    if isinstance(error, TransportError | httpx.TransportError | RateLimitedError):
        return True
    return isinstance(error, ApiError) and error.status in TRANSIENT_STATUSES


def json_body(response: httpx.Response) -> Any:
    """The response's JSON; a typed ``ProtocolError`` (not a bare ``ValueError``) when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        request = response.request
        raise ProtocolError(request.method, redacted_path(request.url), "answer is not valid JSON") from exc


def raise_for_response(response: httpx.Response, expected: Container[int] = range(200, 300)) -> None:
    """Raise the typed error for ``response`` unless its status is one the caller expects."""
    if response.status_code not in expected:
        raise error_from_response(response)
