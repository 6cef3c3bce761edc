"""The registry side of one blob upload: its session (``Location``, offset), status, commit, cancel, and the
resume state a later try continues from (``resume.py``). ``BlobPusher`` (``upload.py``) is the chunk loop on top.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..core.errors import (
    ApiError,
    DigestMismatchError,
    DockerHubError,
    TransportError,
    error_from_response,
    raise_for_response,
)
from ..core.flow import Flow
from ..core.pagination import same_origin
from .api import RegistryOperations
from .blobs import PIECE_SIZE, BlobSource, PushResult, StreamSource, UploadFailedError
from .chunks import held_bytes
from .resume import ResumeState, ResumeStore, resume_key

log = logging.getLogger("airflow_provider_dockerhub.client.registry.upload")

CANCEL_GRACE = 30.0  # seconds a cancelled push may take to finish its chunk in flight


class UploadCancelled(DockerHubError):
    """The push was cancelled (task killed, or another blob of the same transfer failed). The registry's
    session was deleted, unless the push was cancelled with ``keep_session`` (resumable by the next try)."""


@dataclass
class Failure:
    """A chunk that did not land, as a value rather than an exception, so no private exception can end up in
    the ``__context__`` of the error a user sees. ``error`` is the public error for it (the ``ApiError`` subclass
    for the status, ``TransportError``, ``ProtocolError``); ``restart`` is a 416, our offset being wrong."""

    error: DockerHubError
    retry_after: float | None = None
    restart: bool = False


@dataclass
class Counter:
    value: int = 0


@dataclass
class Cursor:
    hasher: Any
    offset: int = 0
    resumes: int = 0
    restarts: int = 0
    failures: int = 0
    waited: float = 0.0


@dataclass
class Session:
    location: httpx.URL
    offset: int = 0


class UploadSession:
    """One blob's upload session on ``repository``; the state its subclass (the pusher) drives."""

    ops: RegistryOperations
    repository: str
    source: BlobSource
    expected: str | None
    algorithm: str
    resume: ResumeStore | None

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._keep_session = False
        self._cancelled_at = 0.0
        self._session: Session | None = None
        self._cursor: Cursor | None = None  # set when a previous try's session is resumed

    @property
    def scopes(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def cancel(self, keep_session: bool = False) -> None:
        """Stop the push (thread-safe) once the chunk in flight has landed (at most ``CANCEL_GRACE`` seconds
        later; then mid-body), then DELETE the session, or with ``keep_session`` (a task killed with a resume
        store configured, so that its next try resumes) keep it and its resume state.

        Why not at once: distribution invalidates a session whose chunk was cut mid-body, and then refuses its
        DELETE too (404), leaving its files to the registry's upload purging; a session whose last chunk landed
        is deleted cleanly, or resumed by the next try."""
        self._keep_session = self._keep_session or keep_session
        if not self._cancel.is_set():
            self._cancelled_at = time.monotonic()
        self._cancel.set()

    @property
    def _stop_now(self) -> bool:
        """Cancelled long enough ago that the chunk in flight is abandoned mid-body."""
        return self._cancel.is_set() and time.monotonic() - self._cancelled_at > CANCEL_GRACE

    def _cancelled(self) -> UploadCancelled:
        if self._keep_session and self._session is not None:
            return UploadCancelled(
                f"push to {self.repository} stopped at offset {self._session.offset}; the upload session is kept "
                "for the next try"
            )
        return UploadCancelled(f"push to {self.repository} cancelled")

    @property
    def _resume_blob(self) -> str | None:
        """What the resume state is keyed by: the digest, or a file's path and size (re-readable sources only)."""
        if not self.source.seekable or self.source.size is None:
            return None
        if self.expected:
            return self.expected
        path = getattr(self.source, "path", None)
        # str(), not os.fspath(): an ObjectStoragePath (s3://, file://) is not os.PathLike; its str is its URL.
        return f"file:{path}:{self.source.size}" if path is not None else None

    @property
    def _resume_key(self) -> str | None:
        blob = self._resume_blob
        return resume_key(str(self.ops.base), self.repository, blob) if blob and self.resume else None

    # -- the plan --------------------------------------------------------------------------------------------

    def _resume_previous(self, result: PushResult) -> Flow[bool]:
        """Continue a previous try's session when the registry still holds exactly what the saved state says
        and the source's prefix still hashes as it did; else discard the state (and a stale session)."""
        key = self._resume_key
        state = self.resume.load(key) if key and self.resume else None
        if key is None or state is None or self.resume is None:
            return False
        location = httpx.URL(state.location)
        usable = (
            (state.registry, state.repository, state.blob) == (str(self.ops.base), self.repository, self._resume_blob)
            and (state.size, state.algorithm) == (self.source.size, self.algorithm)
            and same_origin(location, self.ops.base)  # our registry credentials go to the registry only
        )
        if not usable:
            self.resume.discard(key)
            return False
        self._session = Session(location, state.offset)
        held = yield from self._session_offset()
        if held != state.offset:
            log.info(
                "the registry no longer holds the previous try's upload session at offset %d (%s): starting again",
                state.offset,
                "gone" if held is None else f"it holds {held} bytes",
            )
            if held is None:
                self._session = None
            else:
                yield from self.abandon()
            self.resume.discard(key)
            return False
        hasher = hashlib.new(self.algorithm)
        self._hash_range(hasher, 0, state.offset)  # the hash state is rebuilt from the source, never stored
        if hasher.hexdigest() != state.prefix_digest:
            log.warning("the first %d bytes of the source changed since the previous try: starting again", state.offset)
            yield from self.abandon()
            return False
        self._cursor = Cursor(hasher, offset=state.offset)
        result.resumed_from = result.bytes_sent = state.offset
        log.info("resuming the previous try's upload to %s at offset %d of %d bytes", self.repository, held, state.size)
        return True

    def _save_state(self, offset: int, hasher: Any) -> None:
        key = self._resume_key
        if key is None or self.resume is None or self._session is None:
            return
        state = ResumeState(
            registry=str(self.ops.base),
            repository=self.repository,
            blob=self._resume_blob or "",
            size=self.source.size or 0,
            location=str(self._session.location),
            offset=offset,
            algorithm=self.algorithm,
            prefix_digest=hasher.hexdigest(),
        )
        self.resume.save(key, state)

    def _session_offset(self) -> Flow[int | None]:
        """How many bytes the registry holds for our session, or ``None`` if the session is gone."""
        assert self._session is not None
        try:
            response = yield from self.ops.request("GET", self._session.location, self.scopes)
        except TransportError:
            return None
        if response.status_code in (404, 400):
            return None  # BLOB_UPLOAD_INVALID / BLOB_UPLOAD_UNKNOWN: the session is dead
        if response.status_code != 204:
            raise error_from_response(response)
        if response.headers.get("Location"):
            self._session.location = self.ops.upload_location(response)
        return held_bytes(response.headers.get("Range"), self._session.offset)

    def _hash_range(self, hasher: Any, start: int, end: int) -> None:
        if end <= start:
            return
        if isinstance(self.source, StreamSource):
            hasher.update(self.source.take(start, end - start)[: end - start])
            return
        with self.source.open_at(start) as handle:
            remaining = end - start
            while remaining > 0:
                piece = handle.read(min(PIECE_SIZE, remaining))
                if not piece:
                    raise UploadFailedError(f"the source ended early while re-reading offset {end - remaining}")
                hasher.update(piece)
                remaining -= len(piece)

    def _commit(self, digest: str) -> Flow[None]:
        assert self._session is not None
        url = self._session.location.copy_add_param("digest", digest)
        response = yield from self.ops.request("PUT", url, self.scopes, headers={"Content-Length": "0"})
        if response.status_code == 404 and (yield from self.ops.blob_exists(self.repository, digest)):
            return  # a retried PUT whose first attempt had already committed
        if response.status_code == 400:
            error = error_from_response(response)
            if "DIGEST_INVALID" in error.codes:
                raise DigestMismatchError(f"blob committed to {self.repository}", digest, "registry's digest")
            raise error
        raise_for_response(response, {201, 204})
        served = response.headers.get("Docker-Content-Digest")
        if served and served != digest:
            raise DigestMismatchError(f"blob committed to {self.repository}", digest, served)
        self._session = None
        if self._resume_key:
            self.resume.discard(self._resume_key)  # type: ignore[union-attr]

    def abandon(self) -> Flow[None]:
        """Best-effort DELETE of an open session (OCI end-14); servers also expire abandoned ones."""
        session, self._session = self._session, None
        if self._resume_key:
            self.resume.discard(self._resume_key)  # type: ignore[union-attr]
        if session is None:
            return
        try:
            response = yield from self.ops.request("DELETE", session.location, self.scopes)
            log.debug("cancelled upload session: HTTP %d", response.status_code)
        except (ApiError, TransportError) as exc:
            log.debug("could not cancel upload session: %s", exc)
