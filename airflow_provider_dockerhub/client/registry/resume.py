"""Resume state of blob uploads, kept where the task's next try can read it: the registry's upload session
(``Location``), the offset it acknowledged, and the digest of the bytes before that offset.

A push whose process dies (SIGKILL, an evicted worker) leaves its upload session on the registry. The next try
finds the state here, asks the registry what it holds (``GET <Location>`` -> ``Range``), and continues from there
when that is the offset recorded; the hash state is rebuilt by re-reading the prefix from the source (a local
file; for a copy, the source registry) and checked against ``prefix_digest``, so a file changed between the tries
is never committed under a stale hash. Anything else (no session, another offset, another prefix) discards the
state and the blob is sent again from zero.

The store is a protocol so the client core stays free of Airflow: :class:`PathResumeStore` takes any pathlib-like
directory (``pathlib.Path``; the operators give it an ``airflow.sdk.ObjectStoragePath``, so ``s3://``, ``gs://``
or ``file://`` on a shared volume work alike) and writes one small JSON document per blob in flight. The upload
``Location`` is not a credential (every request to it still needs the registry's token), but it is not logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger("airflow_provider_dockerhub.client.registry.upload")

STATE_VERSION = 1


@dataclass(frozen=True)
class ResumeState:
    """What the next try needs to continue one blob's upload."""

    registry: str
    repository: str
    blob: str  # the blob's digest, or ``file:<path>:<size>`` for a push with no digest given
    size: int
    location: str
    offset: int
    algorithm: str
    prefix_digest: str  # hexdigest of the first ``offset`` bytes (the hash state cannot be serialized)
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ResumeState | None:
        """The state, or ``None`` for anything this version cannot use (then the upload starts afresh)."""
        try:
            data = json.loads(text)
            state = cls(**data)
        except (ValueError, TypeError):
            return None
        if state.version != STATE_VERSION or state.offset < 0 or state.offset > state.size:
            return None
        return state


@runtime_checkable
class ResumeStore(Protocol):
    """Where resume states live between tries; keys are short hex strings (:func:`resume_key`)."""

    def load(self, key: str) -> ResumeState | None: ...

    def save(self, key: str, state: ResumeState) -> None: ...

    def discard(self, key: str) -> None: ...


def resume_key(registry: str, repository: str, blob: str) -> str:
    """One key per (registry, repository, blob): the same blob pushed to two repositories resumes separately."""
    return hashlib.sha256(f"{registry}\0{repository}\0{blob}".encode()).hexdigest()[:40]


class PathResumeStore:
    """Resume states as ``<root>/<key>.json`` under any pathlib-like directory.

    Only ``/``, ``open``, ``exists`` and ``unlink`` are used (``pathlib.Path`` and ``ObjectStoragePath`` both
    have them). A state that cannot be written is logged and the push goes on: resuming is an optimisation, a
    failed write must not fail the push it would have saved.
    """

    def __init__(self, root: Any) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._made = False

    def _path(self, key: str) -> Any:
        return self.root / f"{key}.json"

    def load(self, key: str) -> ResumeState | None:
        path = self._path(key)
        try:
            if not path.exists():
                return None
            with path.open("rb") as handle:
                text = handle.read(64 * 1024).decode("utf-8", "replace")
        except OSError as exc:
            log.warning("could not read the resume state %s: %s", key, exc)
            return None
        return ResumeState.from_json(text)

    def save(self, key: str, state: ResumeState) -> None:
        try:
            with self._lock:
                if not self._made:
                    mkdir = getattr(self.root, "mkdir", None)
                    if mkdir is not None:
                        mkdir(parents=True, exist_ok=True)
                    self._made = True
            with self._path(key).open("wb") as handle:
                handle.write(state.to_json().encode())
        except OSError as exc:
            log.warning("could not save the resume state %s (the push goes on, unresumable): %s", key, exc)

    def discard(self, key: str) -> None:
        path = self._path(key)
        try:
            if path.exists():
                path.unlink()
        except OSError as exc:
            log.debug("could not remove the resume state %s: %s", key, exc)


class MemoryResumeStore:
    """States in a dict: for tests and for resuming within one process."""

    def __init__(self) -> None:
        self.states: dict[str, ResumeState] = {}
        self.saves = 0
        self._lock = threading.Lock()

    def load(self, key: str) -> ResumeState | None:
        with self._lock:
            return self.states.get(key)

    def save(self, key: str, state: ResumeState) -> None:
        with self._lock:
            self.states[key] = state
            self.saves += 1

    def discard(self, key: str) -> None:
        with self._lock:
            self.states.pop(key, None)
