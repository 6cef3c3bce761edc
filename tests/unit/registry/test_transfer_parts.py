"""The pieces of concurrent, resumable transfers without a registry: the resume store (pathlib and
ObjectStoragePath), the operators' per-task-instance store location, the engine's cancellation and error
choice, and the aggregated progress lines."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_dockerhub.client import InvalidInputError
from airflow_provider_dockerhub.client.registry.blobs import PushResult
from airflow_provider_dockerhub.client.registry.resume import (
    MemoryResumeStore,
    PathResumeStore,
    ResumeState,
    resume_key,
)
from airflow_provider_dockerhub.client.registry.transfer import (
    BlobProgress,
    TransferEngine,
    TransferProgress,
    check_concurrency,
)
from airflow_provider_dockerhub.client.registry.upload import UploadCancelled

STATE = ResumeState(
    registry="http://127.0.0.1:5000",
    repository="acme/app",
    blob="sha256:" + "a" * 64,
    size=100,
    location="http://127.0.0.1:5000/v2/acme/app/blobs/uploads/u?_state=x",
    offset=64,
    algorithm="sha256",
    prefix_digest="b" * 64,
)


@pytest.mark.parametrize("kind", ["pathlib", "object-storage"])
def test_path_store_round_trip(tmp_path: Path, kind: str) -> None:
    if kind == "pathlib":
        root: Any = tmp_path / "store"
    else:
        from airflow.sdk import ObjectStoragePath

        root = ObjectStoragePath(f"file://{tmp_path}/store")
    store = PathResumeStore(root)
    key = resume_key(STATE.registry, STATE.repository, STATE.blob)
    assert store.load(key) is None
    store.save(key, STATE)
    assert PathResumeStore(root).load(key) == STATE  # another process (the next try) reads what this one saved
    store.discard(key)
    assert store.load(key) is None and not (tmp_path / "store" / f"{key}.json").exists()


def test_unusable_states_are_ignored(tmp_path: Path) -> None:
    store = PathResumeStore(tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "old.json").write_text(STATE.to_json().replace('"version": 1', '"version": 99'))
    (tmp_path / "past.json").write_text(STATE.to_json().replace('"offset": 64', '"offset": 101'))
    assert store.load("bad") is None and store.load("old") is None and store.load("past") is None


def test_keys_separate_registries_repositories_and_blobs() -> None:
    keys = {
        resume_key("r1", "a", "sha256:1"),
        resume_key("r2", "a", "sha256:1"),
        resume_key("r1", "b", "sha256:1"),
        resume_key("r1", "a", "sha256:2"),
    }
    assert len(keys) == 4


def test_operator_store_is_per_task_instance(tmp_path: Path) -> None:
    from airflow_provider_dockerhub.operators.registry import resume_store_for

    ti = SimpleNamespace(dag_id="release", run_id="manual__2026-12-02T04:00:00+00:00", task_id="push", map_index=-1)
    store = resume_store_for(f"file://{tmp_path}", {"ti": ti})  # type: ignore[arg-type]
    assert isinstance(store, PathResumeStore)
    store.save("k", STATE)
    assert (tmp_path / "release" / "manual__2026-12-02T04_00_00_00_00" / "push" / "k.json").exists()
    mapped = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=3)
    assert str(resume_store_for("file:///shared", {"ti": mapped}).root).endswith("/d/r/t/3")  # type: ignore[arg-type,union-attr]
    assert resume_store_for(None, {"ti": ti}) is None  # type: ignore[arg-type]


class FakeTask:
    def __init__(self, digest: str, size: int, *, fail: Exception | None = None, seconds: float = 0.0) -> None:
        self.digest, self.size, self.fail, self.seconds = digest, size, fail, seconds
        self.cancelled: bool | None = None
        self.started = threading.Event()
        self._stop = threading.Event()

    def run(self, progress: BlobProgress) -> PushResult:
        self.started.set()
        progress.update(self.size // 2)
        if self.fail is not None:
            raise self.fail
        if self._stop.wait(self.seconds):
            raise UploadCancelled(f"{self.digest} cancelled")
        progress.update(self.size)
        return PushResult(self.digest, self.size)

    def cancel(self, keep_session: bool) -> None:
        self.cancelled = keep_session
        self._stop.set()


def test_a_failure_cancels_the_running_tasks_and_is_the_error_raised() -> None:
    slow = [FakeTask(f"sha256:{i}", 100, seconds=30) for i in range(3)]
    failing = FakeTask("sha256:f", 10, fail=ValueError("refused"))
    started = time.monotonic()
    with pytest.raises(ValueError, match="refused"):
        TransferEngine(4).transfer([*slow, failing], "test")
    assert time.monotonic() - started < 10
    assert all(task.cancelled is False for task in slow)  # stopped, sessions to be deleted (not kept)


def test_cancel_with_keep_sessions_from_another_thread() -> None:
    tasks = [FakeTask(f"sha256:{i}", 100, seconds=30) for i in range(3)]
    engine = TransferEngine(2)
    pending = FakeTask("sha256:late", 1)

    def kill() -> None:
        tasks[0].started.wait(5)
        engine.cancel(keep_sessions=True)

    threading.Thread(target=kill).start()
    with pytest.raises(UploadCancelled):
        engine.transfer([*tasks, pending], "test")
    assert {t.cancelled for t in tasks if t.started.is_set()} == {True}
    assert not pending.started.is_set()  # not started after the cancel


def test_results_keep_the_order_given_though_the_largest_start_first() -> None:
    tasks = [FakeTask("sha256:small", 1), FakeTask("sha256:big", 1000), FakeTask("sha256:mid", 50)]
    results = TransferEngine(1).transfer(tasks, "test")
    assert [r.digest for r in results] == ["sha256:small", "sha256:big", "sha256:mid"]


@pytest.mark.parametrize("value", [0, 33, -1, True, 2.5, "4"])
def test_concurrency_bounds(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        check_concurrency(value)
    assert check_concurrency(None) == 6 and check_concurrency(1) == 1


def test_progress_lines_every_ten_percent_and_per_blob(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "airflow_provider_dockerhub.client.registry.transfer")
    progress = TransferProgress("push acme/app", total_bytes=1000, total_blobs=2, interval=3600)
    first, second = progress.blob("sha256:1", 500), progress.blob("sha256:2", 500)
    for done in range(0, 501, 10):
        first.update(done)
        second.update(done)
    first.finished(PushResult("sha256:1", 500, seconds=1.0))
    second.finished(PushResult("sha256:2", 500, skipped=True))
    lines = [r.getMessage() for r in caplog.records]
    steps = [line for line in lines if "bytes (" in line]
    assert 9 <= len(steps) <= 12  # one per 10 % step (and the final one), not one per update
    assert "1000 of 1000 bytes (100 %)" in steps[-1] and "2/2 blobs done" in steps[-1]
    assert any("blob sha256:1 uploaded in 1.0s (500 bytes), 1/2 blobs done" in line for line in lines)
    assert any("blob sha256:2 skipped" in line for line in lines)
    assert "MB/s" in steps[0]


def test_memory_store_counts_saves() -> None:
    store = MemoryResumeStore()
    store.save("k", STATE)
    store.save("k", STATE)
    assert store.saves == 2 and store.load("k") == STATE


class _TaskTimeout(Exception):
    """What Airflow's ``execution_timeout`` raises in the task's main thread (from a SIGALRM handler)."""


@pytest.mark.parametrize("keep", [True, False])
def test_an_interrupted_transfer_keeps_sessions_only_when_resumable(keep: bool) -> None:
    import signal

    def alarm(_signum: int, _frame: Any) -> None:
        raise _TaskTimeout

    tasks = [FakeTask(f"sha256:{i}", 100, seconds=30) for i in range(2)]
    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(_TaskTimeout):
            TransferEngine(2, keep_sessions_on_interrupt=keep).transfer(tasks, "test")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert [t.cancelled for t in tasks] == [keep, keep]
