"""What a registry's answer to an upload chunk means: resume, restart, or wait. Pure: no requests.

Split from the push engine (``upload.py``) so the engine reads as its plan.
"""

from __future__ import annotations

import httpx

from ..core.errors import is_transient
from ..core.transport import parse_retry_after, rate_limit_delay

# Beyond the transient statuses, a PATCH is resumed after any 5xx (part of the body may have landed), 401 (the
# token expired mid-chunk), 408 (the server timed the body out) and 416 (our offset is wrong: a new session).
CHUNK_RESTART_STATUSES = frozenset({401, 408, 416})


def chunk_failed(response: httpx.Response) -> bool:
    status = response.status_code
    return is_transient(response) or status >= 500 or status in CHUNK_RESTART_STATUSES


def asked_wait(response: httpx.Response) -> float | None:
    """How long the server asked us to wait, whatever the status: ``Retry-After`` (RFC 9110 allows it on any
    answer, and registries send it with 503), plus Docker's rate-limit reset headers on a 429."""
    if response.status_code == 429:
        return rate_limit_delay(response)
    return parse_retry_after(response.headers.get("Retry-After"))


def held_bytes(range_header: str | None, expected: int) -> int | None:
    """``Range: 0-<last>`` -> bytes held. distribution writes ``0-0`` for an empty session too, so ``0-0`` means
    0 unless we had already sent more (then it is ambiguous and treated as a dead session)."""
    if not range_header:
        return None
    start, _, end = range_header.strip().removeprefix("bytes=").partition("-")
    if start != "0" or not (end.isascii() and end.isdigit()):  # int() refuses digits like "²" that isdigit() accepts
        return None
    last = int(end)
    if last == 0:
        return 0 if expected <= 1 else None
    return last + 1
