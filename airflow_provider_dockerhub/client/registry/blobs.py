"""What a blob push reads from and what pushes report: the sources (a file, a pathlib-like path, bytes, a
forward-only stream; ``remote.py`` adds another registry's blob), the blob push result, and the one result
shape of an image push and a copy. No requests here; ``upload.py`` is the engine that sends them."""

from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from ..core.errors import DockerHubError, InvalidInputError

PIECE_SIZE = 1024 * 1024

log = logging.getLogger("airflow_provider_dockerhub.client.registry.upload")  # the engine's logger, as before


class UploadFailedError(DockerHubError):
    """The push could not complete within its bounded resumes, restarts and ``max_retry_wait``.

    When failed chunks ended it, ``last_error`` is the last one's public error (also the ``__cause__``) and
    ``method``, ``path``, ``status`` (``None`` for a network failure), ``code`` and ``server_message`` repeat it,
    so callers decide on attributes, never on the message.
    """

    def __init__(self, message: str, *, last_error: DockerHubError | None = None) -> None:
        super().__init__(message)
        self.last_error = last_error
        self.method: str | None = getattr(last_error, "method", None)
        self.path: str | None = getattr(last_error, "path", None)
        self.status: int | None = getattr(last_error, "status", None)
        self.code: str | None = getattr(last_error, "code", None)
        self.server_message: str | None = getattr(last_error, "server_message", None)


class BlobSource(Protocol):
    """Bytes to push. ``open_at`` is called again after a failure, so a source can be re-read from an offset."""

    size: int | None

    def open_at(self, offset: int) -> IO[bytes]: ...

    @property
    def seekable(self) -> bool: ...


@dataclass
class FileSource:
    path: str | os.PathLike[str]
    size: int | None = None

    def __post_init__(self) -> None:
        if not os.path.isfile(self.path):
            raise InvalidInputError(f"blob source {os.fspath(self.path)!r} is not a file")
        self.size = os.path.getsize(self.path)

    @property
    def seekable(self) -> bool:
        return True

    def open_at(self, offset: int) -> IO[bytes]:
        handle = open(self.path, "rb")  # noqa: SIM115 - the engine closes it
        handle.seek(offset)
        return handle


class PathSource:
    """A file behind any pathlib-like object (``pathlib.Path``, ``airflow.sdk.ObjectStoragePath``): opened with
    ``open("rb")`` and ``seek``; ``size`` comes from the manifest that names the blob (checked by the layout)."""

    def __init__(self, path: Any, size: int) -> None:
        self.path = path
        self.size: int | None = size

    @property
    def seekable(self) -> bool:
        return True

    def open_at(self, offset: int) -> IO[bytes]:
        handle: IO[bytes] = self.path.open("rb")
        if offset:
            handle.seek(offset)
        return handle


@dataclass
class BytesSource:
    data: bytes
    size: int | None = None

    def __post_init__(self) -> None:
        self.size = len(self.data)

    @property
    def seekable(self) -> bool:
        return True

    def open_at(self, offset: int) -> IO[bytes]:
        stream = io.BytesIO(self.data)
        stream.seek(offset)
        return stream


class StreamSource:
    """A forward-only stream (a pipe, an HTTP download). The current chunk stays in memory, bounded by the
    chunk size, so a failed chunk can be resent from the registry's offset; a restart from zero is impossible
    and ends the push with a clear error."""

    def __init__(self, stream: IO[bytes], size: int | None = None) -> None:
        self.stream = stream
        self.size = size
        self.eof = False
        self._buffer = b""
        self._buffer_start = 0

    @property
    def seekable(self) -> bool:
        return False

    def open_at(self, offset: int) -> IO[bytes]:
        raise UploadFailedError("a forward-only stream cannot be reopened; push from a file to allow restarts")

    def take(self, offset: int, length: int) -> bytes:
        """The bytes from ``offset``: the rest of the buffered chunk, or the next ``length`` bytes."""
        buffer_end = self._buffer_start + len(self._buffer)
        if self._buffer_start <= offset < buffer_end:
            return self._buffer[offset - self._buffer_start :]
        if offset != buffer_end:
            raise UploadFailedError(f"cannot re-read a forward-only stream at {offset} (buffered up to {buffer_end})")
        parts: list[bytes] = []
        wanted = length
        while wanted > 0:
            piece = self.stream.read(min(wanted, PIECE_SIZE))
            if not piece:
                self.eof = True
                break
            parts.append(piece)
            wanted -= len(piece)
        self._buffer, self._buffer_start = b"".join(parts), offset
        return self._buffer

    def at_end(self, offset: int) -> bool:
        return self.eof and offset >= self._buffer_start + len(self._buffer)


class ProgressSink(Protocol):
    """Where a pusher reports the bytes it has sent of its blob (its own :class:`Progress`, or one blob's share
    of a transfer's aggregate, ``transfer.TransferProgress``)."""

    def update(self, done: int, final: bool = False) -> None: ...


@dataclass
class Progress:
    """Logs bytes, percent and MB/s at most every ``interval`` seconds (and at the end)."""

    total: int | None
    label: str
    interval: float = 10.0
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed / 1e6
        percent = f" ({100 * done / self.total:.0f} %)" if self.total else ""
        log.info("%s: %d bytes%s, %.1f MB/s", self.label, done, percent, rate)


@dataclass
class PushResult:
    digest: str
    size: int
    skipped: bool = False
    mounted: bool = False
    resumes: int = 0
    restarts: int = 0
    bytes_sent: int = 0
    bytes_resent: int = 0
    seconds: float = 0.0
    resumed_from: int = 0  # the offset a previous try's session was continued from (0: not resumed)

    def as_xcom(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "size": self.size,
            "skipped": self.skipped,
            "mounted": self.mounted,
            "resumes": self.resumes,
            "restarts": self.restarts,
            "bytes_resent": self.bytes_resent,
            "resumed_from": self.resumed_from,
        }


@dataclass
class BlobCounts:
    """How the blobs of an image push or copy got there, each digest counted once however many manifests share
    it (a base layer shared by two platforms is one blob)."""

    blobs_uploaded: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    bytes_uploaded: int = 0
    counted: set[str] = field(default_factory=set, repr=False, compare=False)

    def add(self, pushed: PushResult) -> None:
        if pushed.digest in self.counted:
            return
        self.counted.add(pushed.digest)
        if pushed.skipped:
            self.blobs_skipped += 1
        elif pushed.mounted:
            self.blobs_mounted += 1
        else:
            self.blobs_uploaded += 1
            self.bytes_uploaded += pushed.size


@dataclass
class TransferResult(BlobCounts):
    """What an image push (OCI layout) and a copy report, in one shape (``as_xcom``: the README's table).

    ``manifests`` lists the digests of the child manifests of an index that are now at the destination (written
    or found there), depth first, each once; it is empty for a single image and for a tag move within one
    repository, which copies nothing.
    """

    digest: str = ""
    registry: str = ""
    repository: str = ""
    tags: list[str] = field(default_factory=list)
    media_type: str = ""
    manifests: list[str] = field(default_factory=list)

    def add_manifest(self, digest: str) -> None:
        if digest not in self.manifests:
            self.manifests.append(digest)

    def as_xcom(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "registry": self.registry,
            "repository": self.repository,
            "tags": list(self.tags),
            "media_type": self.media_type,
            "manifests": list(self.manifests),
            "blobs_uploaded": self.blobs_uploaded,
            "blobs_mounted": self.blobs_mounted,
            "blobs_skipped": self.blobs_skipped,
            "bytes_uploaded": self.bytes_uploaded,
        }


def as_source(source: Any) -> BlobSource:
    """Accept a path, ``bytes``, a binary stream, or a ready ``BlobSource``."""
    if isinstance(source, FileSource | BytesSource | StreamSource) or hasattr(source, "open_at"):
        return source  # type: ignore[no-any-return]
    if isinstance(source, bytes | bytearray | memoryview):
        return BytesSource(bytes(source))
    if isinstance(source, str | os.PathLike):
        return FileSource(source)
    if hasattr(source, "read"):
        return StreamSource(source)
    raise InvalidInputError(f"cannot push a {type(source).__name__}: give a path, bytes or a binary stream")
