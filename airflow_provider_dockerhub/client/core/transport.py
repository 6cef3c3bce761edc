"""Transport policy, in one place: retries with backoff, ``Retry-After``, rate-limit telemetry, error wrapping.

``send_flow`` is the only code that sends a request. Auth flows sit on top of it and never retry on their own.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .errors import (
    CertificateVerificationError,
    ProtocolError,
    RateLimitedError,
    TransportError,
    error_from_response,
    is_transient,
    redacted_path,
)
from .flow import CloseBody, Flow, ReadBody, Send, Sleep, now

log = logging.getLogger("airflow_provider_dockerhub.client")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# The request never left (or was refused before any byte was processed): safe to resend whatever the method.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded in attempts *and* in total sleep, so an unattended DAG cannot hang on a sick server."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_total_wait: float = 120.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, retry_number: int) -> float:
        """Full-jitter exponential backoff (AWS architecture blog): spreads synchronized clients apart."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** min(retry_number - 1, 32))
        return float(ceiling * (0.5 + 0.5 * self.jitter()))


def parse_retry_after(value: str | None, at: float | None = None) -> float | None:
    """``Retry-After`` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); ``None`` when absent or garbage."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (now() if at is None else at))


def rate_limit_delay(response: httpx.Response) -> float | None:
    """How long the server asks us to wait: ``Retry-After``, then Docker's ``X-Retry-After`` (epoch seconds),
    then ``X-RateLimit-Reset`` (epoch seconds) - in that order, per Docker Hub API docs."""
    delay = parse_retry_after(response.headers.get("Retry-After"))
    if delay is not None:
        return delay
    for header in ("X-Retry-After", "X-RateLimit-Reset"):
        value = response.headers.get(header)
        if value and re.fullmatch(r"\d+(?:\.\d+)?", value.strip()):
            return max(0.0, float(value) - now())
    return None


_RATELIMIT_RE = re.compile(r"\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?")


@dataclass
class RateLimitState:
    """The last rate-limit figures each host reported (Hub ``X-RateLimit-*``, registry ``RateLimit-*``)."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    window: int | None = None
    source: str | None = None


class RateLimitTelemetry:
    """Keeps rate-limit figures per host and warns once per window when a host runs low."""

    LOW_FRACTION = 0.1

    def __init__(self) -> None:
        self._state: dict[str, RateLimitState] = {}
        self._warned: set[tuple[str, int | None, float | None]] = set()
        self._lock = threading.Lock()

    def observe(self, response: httpx.Response) -> None:
        headers = response.headers
        host = response.request.url.host
        limit = headers.get("X-RateLimit-Limit") or headers.get("RateLimit-Limit")
        if limit is None:
            return
        state = RateLimitState(source=headers.get("Docker-RateLimit-Source"))
        lm = _RATELIMIT_RE.match(limit)
        rm = _RATELIMIT_RE.match(headers.get("X-RateLimit-Remaining") or headers.get("RateLimit-Remaining") or "")
        state.limit = int(lm.group(1)) if lm else None
        state.window = int(lm.group(2)) if lm and lm.group(2) else None
        state.remaining = int(rm.group(1)) if rm else None
        reset = headers.get("X-RateLimit-Reset")
        state.reset = float(reset) if reset and reset.strip().isdigit() else None
        with self._lock:
            self._state[host] = state
            low = (
                state.limit
                and state.remaining is not None
                and state.remaining <= max(1, int(state.limit * self.LOW_FRACTION))
            )
            warn_key = (host, state.limit, state.reset)
            should_warn = bool(low) and warn_key not in self._warned
            if should_warn:
                self._warned.add(warn_key)
        if should_warn:
            log.warning(
                "Rate limit on %s is running low: %s of %s left%s",
                host,
                state.remaining,
                state.limit,
                f" (window {state.window}s)" if state.window else "",
            )
        else:
            log.debug("Rate limit on %s: %s/%s remaining", host, state.remaining, state.limit)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {host: dict(vars(state)) for host, state in self._state.items()}


@dataclass
class RetryStats:
    """Counters tests and benchmarks read; cheap enough to keep always."""

    retries: int = 0
    total_wait: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_retry(self, wait: float) -> None:
        with self._lock:
            self.retries += 1
            self.total_wait += wait


def certificate_failure(request: httpx.Request, exc: httpx.TransportError) -> CertificateVerificationError | None:
    """The error for a server certificate that did not verify, or ``None`` for any other transport failure.

    It will not verify on a retry either, so it is final and not transient (a sensor must not poll through a CA
    misconfiguration), and it says which extra would make the server trusted. Nothing was sent: the handshake
    fails before the request.
    """
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    url = request.url
    failure = httpx.ConnectError(
        f"TLS certificate verification failed for {url.scheme}://{url.netloc.decode('ascii')}: {cause}; if it is "
        "signed by a private CA, set the connection extra 'registry_ca_bundle' (the registry and token realms on "
        "its host) or 'verify' (every host) to that CA's PEM file",
        request=request,
    )
    return CertificateVerificationError(request.method, redacted_path(url), failure)


def send_flow(
    request: httpx.Request,
    policy: RetryPolicy,
    *,
    replayable: bool = True,
    stream: bool = False,
    follow_redirects: bool = False,
    telemetry: RateLimitTelemetry | None = None,
    stats: RetryStats | None = None,
) -> Flow[httpx.Response]:
    """Send ``request`` and retry what is safe to retry.

    * 429: any method (the server refused before acting), after ``Retry-After``/``X-RateLimit-Reset``.
    * 5xx, timeouts, dropped connections: idempotent methods only; connect errors: any method.
    * Never a request whose body cannot be replayed (a streamed chunk): the upload engine resumes those itself.
    Returns the final response whatever its status; the caller maps statuses to errors.
    """
    method = request.method
    # A POST that only reads (a GraphQL query) says so with the ``dockerhub_idempotent`` request extension.
    idempotent = method in IDEMPOTENT_METHODS or bool(request.extensions.get("dockerhub_idempotent"))
    waited = 0.0
    retries = 0
    while True:
        delay: float | None = None
        try:
            response: httpx.Response = yield Send(request, stream=stream, follow_redirects=follow_redirects)
        except httpx.LocalProtocolError:
            # We could not even encode the request (a header value HTTP forbids): sending it again changes nothing,
            # and httpx's message quotes the offending value, which may be a secret. Neither retried nor chained.
            raise ProtocolError(
                method, redacted_path(request.url), "the request could not be encoded (a header value HTTP forbids)"
            ) from None
        except httpx.TransportError as exc:
            certificate = certificate_failure(request, exc)
            if certificate is not None:
                raise certificate from exc
            safe = isinstance(exc, _NOT_SENT_ERRORS) or idempotent
            if not (replayable and safe) or retries >= policy.max_retries:
                raise TransportError(method, redacted_path(request.url), exc, retries + 1) from exc
            delay = policy.backoff(retries + 1)
            if waited + delay > policy.max_total_wait:
                raise TransportError(method, redacted_path(request.url), exc, retries + 1) from exc
            log.info(
                "%s %s failed (%s); retry %d in %.1fs", method, redacted_path(request.url), exc, retries + 1, delay
            )
        else:
            if telemetry is not None:
                telemetry.observe(response)
            status = response.status_code
            retryable = is_transient(response) and replayable and (status == 429 or idempotent)
            if not retryable or retries >= policy.max_retries:
                if status == 429:
                    if stream:
                        yield ReadBody(response)
                    raise error_from_response(response, retry_after=rate_limit_delay(response))
                return response
            asked = (
                rate_limit_delay(response) if status == 429 else parse_retry_after(response.headers.get("Retry-After"))
            )
            delay = asked if asked is not None else policy.backoff(retries + 1)
            if waited + delay > policy.max_total_wait:
                if status == 429:
                    if stream:
                        yield ReadBody(response)
                    exc429 = error_from_response(response, retry_after=delay)
                    assert isinstance(exc429, RateLimitedError)
                    raise exc429
                return response
            if stream:
                yield CloseBody(response)
            log.info(
                "%s %s answered %d; retry %d in %.1fs", method, redacted_path(request.url), status, retries + 1, delay
            )
        retries += 1
        waited += delay
        if stats is not None:
            stats.record_retry(delay)
        yield Sleep(delay)
