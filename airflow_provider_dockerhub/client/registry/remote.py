"""A blob of another registry as a push source: the source's GET piped into the destination's upload.

No temporary file and no chunk held in memory: the destination's PATCH body reads 1 MiB pieces from the source's
streamed response as it writes them, and the push engine hashes them in that same pass and checks the digest
before the commit (a mismatch deletes the upload session and raises ``DigestMismatchError``). Memory per blob in
flight is a piece or two, whatever the chunk size.

A source that drops the connection (or stalls past the read timeout) is asked again from the byte reached,
``Range: bytes=<offset>-``, inside the same destination chunk: the destination never sees the hiccup, which
matters because distribution drops an upload session whose chunk was cut mid-body. A server that ignores
``Range`` (200 with the whole blob) is read up to the offset and the rest used. After ``max_reopens`` failed
reads the copy fails with :class:`SourceReadError` (its session deleted), never a half-written blob.

The source's requests run on the source registry's own front (its credentials, token cache, trust and retries),
from the destination request's body iterator, where a file source would read its file: no flow runs a driver.
Resuming a destination chunk after a destination failure re-reads from the chunk's start with a new ``Range``
GET, so a copy is re-readable like a file (``seekable``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import httpx

from ..core.errors import DockerHubError, ProtocolError, RateLimitedError, TransportError
from ..core.flow import Flow
from ..core.transport import RetryPolicy
from .api import RegistryOperations
from .blobs import PIECE_SIZE

log = logging.getLogger("airflow_provider_dockerhub.client.registry.copy")

MAX_REOPENS = 5


class SourceReadError(DockerHubError):
    """The source registry kept failing while a blob was piped from it (after ``MAX_REOPENS`` Range GETs)."""


class RegistryBlobSource:
    """``digest`` of ``repository`` on the source registry, read with ``run`` (the source front's driver)."""

    def __init__(
        self,
        run: Callable[[Flow[Any]], Any],
        ops: RegistryOperations,
        repository: str,
        digest: str,
        size: int,
        *,
        max_reopens: int = MAX_REOPENS,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._run = run
        self._ops = ops
        self.repository = repository
        self.digest = digest
        self.size: int | None = size
        self.max_reopens = max_reopens
        self._policy = policy or ops.state.policy
        self._sleep = sleep
        self._response: httpx.Response | None = None
        self._pieces: Iterator[bytes] | None = None
        self._position = 0  # the source offset the next byte of the open response is at
        self._pending = b""
        self._lock = threading.Lock()
        self.reopens = 0  # Range GETs after a drop (tests and benchmarks read it)
        self.requests = 0

    @property
    def seekable(self) -> bool:
        return True  # re-readable from any offset with a Range GET

    def open_at(self, offset: int) -> IO[bytes]:
        """A reader from ``offset``; no request until its first ``read`` (then one GET, or none when the open
        response is already there: consecutive chunks read one response)."""
        return _Window(self, offset)  # type: ignore[return-value]

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset``. Runs inside the destination request's body: a failure of the
        source must not look like one of the destination (its engine would resume a chunk the source broke),
        so the source's transport and rate-limit errors arrive as :class:`SourceReadError`."""
        with self._lock:
            try:
                return self._read(offset, size)
            except (TransportError, RateLimitedError) as exc:
                self.close()
                raise SourceReadError(f"reading {self.repository}@{self.digest} from the source: {exc}") from exc

    def _read(self, offset: int, size: int) -> bytes:
        if self._response is None or offset != self._position - len(self._pending):
            self._open(offset)
        failures = 0
        while not self._pending:
            if self._position >= (self.size or 0):
                return b""
            try:
                assert self._pieces is not None
                piece = next(self._pieces, b"")
            except httpx.TransportError as exc:
                piece, failures = b"", failures + 1
                self._dropped(exc, failures)
                continue
            if not piece:  # ended early: a clean close before Content-Length is a drop too
                failures += 1
                self._dropped(None, failures)
                continue
            self._pending = piece
            self._position += len(piece)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def _dropped(self, exc: BaseException | None, failures: int) -> None:
        offset = self._position
        self.reopens += 1
        if failures > self.max_reopens:
            self.close()
            raise SourceReadError(
                f"the source {self.repository}@{self.digest} failed {failures} times at offset {offset}: {exc}"
            )
        wait = self._policy.backoff(failures)
        log.info("source %s dropped at offset %d (%s); Range GET in %.1fs", self.digest, offset, exc, wait)
        self._sleep(wait)
        self._open(offset)

    def _open(self, offset: int) -> None:
        self.close()
        self.requests += 1
        response: httpx.Response = self._run(self._ops.open_blob(self.repository, self.digest, offset))
        self._response = response
        self._pieces = response.iter_raw()  # as received: a stall after a partial piece loses nothing
        self._pending, self._position = b"", offset
        if response.status_code == 206:
            start = response.headers.get("Content-Range", "").removeprefix("bytes ").partition("-")[0]
            if start != str(offset):
                self.close()
                raise ProtocolError("GET", f"/v2/{self.repository}/blobs/{self.digest}", "Content-Range mismatch")
            return
        self._position = 0  # 200: the server ignored Range; skip to the offset
        skip = offset
        while skip > 0:
            piece = next(self._pieces, b"")
            if not piece:
                raise SourceReadError(f"the source {self.digest} ended before offset {offset}")
            self._position += len(piece)
            if len(piece) > skip:
                self._pending = piece[skip:]
            skip -= min(skip, len(piece))

    def close(self) -> None:
        response, self._response, self._pieces = self._response, None, None
        self._pending = b""
        if response is not None:
            response.close()


class _Window:
    """What ``open_at`` returns: reads go to the source at this window's own offset; ``close`` leaves the
    source's response open for the next chunk (the engine closes the source when the blob is done)."""

    def __init__(self, source: RegistryBlobSource, offset: int) -> None:
        self._source = source
        self._offset = offset

    def read(self, size: int = PIECE_SIZE) -> bytes:
        data = self._source.read_at(self._offset, size)
        self._offset += len(data)
        return data

    def close(self) -> None:
        return None

    def __enter__(self) -> _Window:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
