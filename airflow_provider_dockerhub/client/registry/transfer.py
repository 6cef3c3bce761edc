"""Concurrent blob transfers for an image push, a layout push and a copy: the blobs in parallel, bounded.

Why threads driving the sync flows, not an async driver: a push streams each chunk from a sync iterator (a file,
or the source registry's response for a copy), which httpx's ``AsyncClient`` refuses, and hashing a blob is CPU
work that would block an event loop. The pieces are thread-safe already: ``SyncDriver`` shares only the token
sources, whose ``LockTable`` lets one thread mint per key while the others wait for its token (concurrent first
requests share one mint: no mint storm), the per-origin ``httpx.Client`` pools are thread-safe, and sha256 and
socket I/O release the GIL, so the threads overlap where it matters.

``max_concurrent_blobs`` (default :data:`DEFAULT_MAX_CONCURRENT_BLOBS`) bounds the blobs in flight; each holds a
connection per registry and a piece or two of memory. The largest blobs start first, across all platforms of
an index at once, so one big layer does not run alone at the end. Manifests go after their blobs: the callers
PUT platform manifests (in parallel, :meth:`TransferEngine.map`) before the index, and the tags last.

A failure cancels the other blobs: each stops between 1 MiB pieces and deletes its upload session, then the
first failure is raised (not the ``UploadCancelled`` of the others). :meth:`TransferEngine.cancel` stops a
transfer from another thread (a task's ``on_kill``); with ``keep_sessions`` each blob finishes its chunk in
flight and keeps its session and resume state for the next try.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..core.errors import InvalidInputError
from .blobs import PushResult
from .upload_session import UploadCancelled

log = logging.getLogger("airflow_provider_dockerhub.client.registry.transfer")

# skopeo copies up to 6 layers at once, crane 4; 6 fills a per-connection-limited WAN link without making the
# registry juggle many half-written sessions. Each blob in flight costs a connection and ~2 MiB of memory.
DEFAULT_MAX_CONCURRENT_BLOBS = 6
MAX_CONCURRENT_BLOBS = 32
PROGRESS_INTERVAL = 10.0  # seconds between aggregate progress lines (and at each 10 % step)

T = TypeVar("T")
R = TypeVar("R")


class BlobTask(Protocol):
    """One blob to transfer: ``run`` pushes it (reporting to ``progress``), ``cancel`` stops it from another
    thread."""

    digest: str
    size: int

    def run(self, progress: BlobProgress) -> PushResult: ...

    def cancel(self, keep_session: bool) -> None: ...


class _Pusher(Protocol):
    def push(self) -> Any: ...

    def cancel(self, keep_session: bool = False) -> None: ...


class PushTask:
    """A :class:`BlobTask` made of a pusher factory and the front that runs its flow (``run_flow``)."""

    def __init__(
        self,
        digest: str,
        size: int,
        run_flow: Callable[[Any], Any],
        make_pusher: Callable[[BlobProgress], _Pusher],
        *,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.digest = digest
        self.size = size
        self._run_flow = run_flow
        self._make_pusher = make_pusher
        self._close = close
        self._pusher: _Pusher | None = None
        self._cancel: bool | None = None  # cancel(keep) asked before the pusher existed
        self._lock = threading.RLock()

    def run(self, progress: BlobProgress) -> PushResult:
        pusher = self._make_pusher(progress)
        with self._lock:
            self._pusher = pusher
            if self._cancel is not None:
                pusher.cancel(self._cancel)
        try:
            result: PushResult = self._run_flow(pusher.push())
            return result
        finally:
            if self._close is not None:
                self._close()

    def cancel(self, keep_session: bool) -> None:
        with self._lock:
            self._cancel = keep_session
            pusher = self._pusher
        if pusher is not None:
            pusher.cancel(keep_session)


def check_concurrency(value: int | None) -> int:
    if value is None:
        return DEFAULT_MAX_CONCURRENT_BLOBS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENT_BLOBS:
        raise InvalidInputError(f"max_concurrent_blobs must be an integer from 1 to {MAX_CONCURRENT_BLOBS}")
    return value


@dataclass
class TransferProgress:
    """Bytes, percent, MB/s and blobs done of a whole transfer, logged every ``interval`` seconds or 10 % step,
    and one line per blob done."""

    label: str
    total_bytes: int
    total_blobs: int
    interval: float = PROGRESS_INTERVAL
    started: float = field(default_factory=time.monotonic)
    _done: dict[str, int] = field(default_factory=dict)
    _finished: int = 0
    _last_log: float = field(default_factory=time.monotonic)
    _last_step: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blob(self, digest: str, size: int) -> BlobProgress:
        return BlobProgress(self, digest, size)

    def sent(self) -> int:
        with self._lock:
            return sum(self._done.values())

    def _update(self, digest: str, done: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._done[digest] = done
            total = sum(self._done.values())
            step = int(10 * total / self.total_bytes) if self.total_bytes else 0
            due = now - self._last_log >= self.interval or step > self._last_step
            if due:
                self._last_log, self._last_step = now, max(step, self._last_step)
            finished = self._finished
        if due:
            self._log(total, finished, now)

    def _blob_done(self, digest: str, size: int, how: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._done[digest] = size
            self._finished += 1
            finished, total = self._finished, sum(self._done.values())
        log.info(
            "%s: blob %s %s (%d bytes), %d/%d blobs done", self.label, digest, how, size, finished, self.total_blobs
        )
        if finished == self.total_blobs:
            self._log(total, finished, now)

    def _log(self, total: int, finished: int, now: float) -> None:
        elapsed = max(now - self.started, 1e-6)
        percent = 100 * total / self.total_bytes if self.total_bytes else 100.0
        log.info(
            "%s: %d of %d bytes (%.0f %%), %.1f MB/s, %d/%d blobs done",
            self.label,
            total,
            self.total_bytes,
            percent,
            total / elapsed / 1e6,
            finished,
            self.total_blobs,
        )


@dataclass
class BlobProgress:
    """One blob's share of a :class:`TransferProgress` (the pusher's ``progress`` sink)."""

    transfer: TransferProgress
    digest: str
    size: int

    def update(self, done: int, final: bool = False) -> None:
        self.transfer._update(self.digest, done)

    def finished(self, result: PushResult) -> None:
        how = "skipped" if result.skipped else "mounted" if result.mounted else f"uploaded in {result.seconds:.1f}s"
        self.transfer._blob_done(self.digest, self.size, how)


class TransferEngine:
    """Runs blob tasks ``max_concurrent_blobs`` at a time; one engine per transfer (``cancel`` is for it)."""

    def __init__(
        self,
        max_concurrent_blobs: int | None = None,
        *,
        progress_interval: float = PROGRESS_INTERVAL,
        keep_sessions_on_interrupt: bool = False,
    ) -> None:
        """``keep_sessions_on_interrupt``: when the waiting thread is interrupted (Airflow's
        ``execution_timeout`` raises in it before calling ``on_kill``), keep the sessions for the next try, as
        ``cancel(keep_sessions=True)`` does; the operators set it when a resume store is configured."""
        self.max_concurrent_blobs = check_concurrency(max_concurrent_blobs)
        self.progress_interval = progress_interval
        self.keep_sessions_on_interrupt = keep_sessions_on_interrupt
        self._cancelled = threading.Event()
        self._keep_sessions = False
        self._running: set[BlobTask] = set()
        self._lock = threading.RLock()  # on_kill runs in a signal handler, maybe while this thread holds it

    def cancel(self, keep_sessions: bool = False) -> None:
        """Stop the transfer (thread-safe): blobs not started never start, running ones stop (see the module)."""
        with self._lock:
            self._keep_sessions = self._keep_sessions or keep_sessions
            self._cancelled.set()
            running = list(self._running)
        for task in running:
            task.cancel(self._keep_sessions)

    def transfer(self, tasks: Sequence[BlobTask], label: str) -> list[PushResult]:
        """Every task's result, in the order given; the first failure raised after the others stopped."""
        if not tasks:
            return []
        progress = TransferProgress(label, sum(t.size for t in tasks), len(tasks), self.progress_interval)
        order = sorted(range(len(tasks)), key=lambda i: -tasks[i].size)  # largest first: no lone tail
        results: list[PushResult | None] = [None] * len(tasks)

        def one(index: int) -> None:
            task = tasks[index]
            with self._lock:
                if self._cancelled.is_set():
                    raise UploadCancelled(f"{label}: blob {task.digest} not started, the transfer was cancelled")
                self._running.add(task)
            try:
                sink = progress.blob(task.digest, task.size)
                results[index] = pushed = task.run(sink)
                sink.finished(pushed)
            finally:
                with self._lock:
                    self._running.discard(task)

        self._run_all(one, order)
        return [r for r in results if r is not None]

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``function`` over ``items`` with the same bound (manifest HEADs, GETs and PUTs), results in order."""
        values = list(items)
        results: list[Any] = [None] * len(values)

        def one(index: int) -> None:
            if self._cancelled.is_set():
                raise UploadCancelled("the transfer was cancelled")
            results[index] = function(values[index])

        self._run_all(one, range(len(values)))
        return results

    def _run_all(self, one: Callable[[int], None], indexes: Iterable[int]) -> None:
        indexes = list(indexes)
        if not indexes:
            return
        workers = min(self.max_concurrent_blobs, len(indexes))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dockerhub-transfer") as pool:
            futures: list[Future[None]] = [pool.submit(one, i) for i in indexes]
            try:
                done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
                if any(f.exception() is not None for f in done):
                    self._stop_others()
            except BaseException:
                # The waiting thread was interrupted (a task timeout raised in it, KeyboardInterrupt): stop the
                # blobs before the pool's exit waits for them, keeping sessions only if asked to.
                self.cancel(self._keep_sessions or self.keep_sessions_on_interrupt)
                raise
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            first = next((e for e in errors if not isinstance(e, UploadCancelled)), errors[0])
            raise first  # type: ignore[misc]

    def _stop_others(self) -> None:
        """A blob failed: the others stop and delete their sessions (unless a kill asked to keep them)."""
        with self._lock:
            self._cancelled.set()
            running, keep = list(self._running), self._keep_sessions
        for task in running:
            task.cancel(keep)
