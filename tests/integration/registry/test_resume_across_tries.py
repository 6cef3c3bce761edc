"""Resume across task retries, for real: a process pushing to a real registry is SIGKILLed at 50 %, and a second
process (the task's next try) continues from the registry's upload session, reading the resume state the first
one left in a directory store (what ``ObjectStoragePath("file:///shared/...")`` gives the operators).

The kill lands at an exact point thanks to the shaping proxy's hold rules: before the 50 % chunk's request
reaches the registry (distribution keeps the session: the next try re-sends nothing the registry has), or half
a chunk into its body (distribution drops a session whose chunk was cut: the next try starts again from zero
and still ends verified).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.registry.resume import PathResumeStore
from airflow_provider_dockerhub.testing.oci import digest
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.shaping_proxy import ShapingProxy

pytestmark = pytest.mark.registry

MIB = 1024 * 1024
CHUNK = 2 * MIB
SIZE = 16 * CHUNK + 12345
PATCH = r"^/v2/.+/blobs/uploads/.+"

# One try of the task: push the blob with the directory resume store, print the result as JSON.
CHILD = """
import json, sys
from pathlib import Path
from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.registry.resume import PathResumeStore
url, repository, blob, expected, store, chunk = sys.argv[1:7]
config = ClientConfig.from_fields(None, None, {"registry_url": url, "allow_destructive": True})
with DockerHubSession(config) as session:
    result = session.registry.push_blob(
        repository, blob, digest=expected, chunk_size=int(chunk), resume=PathResumeStore(Path(store))
    )
print(json.dumps(result.as_xcom() | {"bytes_sent": result.bytes_sent}))
"""


@pytest.fixture
def proxy(open_registry: LocalRegistry) -> Iterator[ShapingProxy]:
    with ShapingProxy(open_registry.host) as shaping:
        yield shaping


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "blob"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return path, digest(data)


def start_try(proxy: ShapingProxy, repository: str, blob: tuple[Path, str], store: Path) -> subprocess.Popen[str]:
    args = [proxy.url, repository, str(blob[0]), blob[1], str(store), str(CHUNK)]
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def killed_at_half(proxy: ShapingProxy, repository: str, blob: tuple[Path, str], store: Path, body: int | None) -> int:
    """Run the first try until the 50 % chunk is held (before its head, or ``body`` bytes in), SIGKILL it, cut
    the held request; returns the bytes the proxy had forwarded."""
    hold = proxy.hold("PATCH", PATCH, n=SIZE // CHUNK // 2 + 1, body_bytes=body)
    first = start_try(proxy, repository, blob, store)
    try:
        assert hold.reached.wait(60), first.stderr.read() if first.poll() is not None and first.stderr else ""
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)  # reaps it and closes its pipes
    hold.cut()
    assert first.returncode == -signal.SIGKILL
    return proxy.bytes_upstream


def second_try(proxy: ShapingProxy, repository: str, blob: tuple[Path, str], store: Path) -> dict[str, int | str]:
    second = start_try(proxy, repository, blob, store)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err[-3000:]
    result: dict[str, int | str] = json.loads(out.strip().splitlines()[-1])
    return result


def stored(open_registry: LocalRegistry, repository: str, blob_digest: str, tmp_path: Path) -> bytes:
    config = ClientConfig.from_fields(None, None, {"registry_url": open_registry.url})
    with DockerHubSession(config) as session:
        session.registry.download_blob(repository, blob_digest, tmp_path / "pulled")  # digest verified on read
    return (tmp_path / "pulled").read_bytes()


def test_a_retry_resumes_the_killed_push_from_the_registry_session(
    proxy: ShapingProxy, open_registry: LocalRegistry, blob: tuple[Path, str], tmp_path: Path
) -> None:
    store = tmp_path / "resume-store"
    forwarded = killed_at_half(proxy, "retry/kept", blob, store, body=None)
    assert len(list(store.glob("*.json"))) == 1  # the first try left its state after its last acknowledged chunk
    result = second_try(proxy, "retry/kept", blob, store)
    held = SIZE // CHUNK // 2 * CHUNK
    assert result["resumed_from"] == held and result["digest"] == blob[1] and result["size"] == SIZE
    # What reached the registry in both tries, beyond the blob itself (request heads included): under one chunk.
    resent = proxy.bytes_upstream - SIZE
    assert 0 <= resent < CHUNK, resent
    assert forwarded >= held
    assert not list(store.glob("*.json"))  # committed: the state is gone
    assert stored(open_registry, "retry/kept", blob[1], tmp_path) == blob[0].read_bytes()


def test_a_retry_restarts_cleanly_when_the_registry_dropped_the_session(
    proxy: ShapingProxy, open_registry: LocalRegistry, blob: tuple[Path, str], tmp_path: Path
) -> None:
    store = tmp_path / "resume-store"
    killed_at_half(proxy, "retry/dropped", blob, store, body=CHUNK // 2)
    result = second_try(proxy, "retry/dropped", blob, store)
    assert result["resumed_from"] == 0 and result["digest"] == blob[1] and result["bytes_sent"] == SIZE
    assert not list(store.glob("*.json"))
    assert stored(open_registry, "retry/dropped", blob[1], tmp_path) == blob[0].read_bytes()


def test_a_changed_source_is_not_resumed(
    proxy: ShapingProxy, open_registry: LocalRegistry, blob: tuple[Path, str], tmp_path: Path
) -> None:
    """The prefix is re-read and checked against the state's digest: a file rewritten between the tries (same
    size) is sent again from zero, and the push fails on its digest instead of committing a mixture."""
    store = tmp_path / "resume-store"
    killed_at_half(proxy, "retry/changed", blob, store, body=None)
    path, _ = blob
    path.write_bytes(os.urandom(SIZE))
    changed = PathResumeStore(store)
    assert len(list(store.glob("*.json"))) == 1 and changed.load(next(store.glob("*.json")).stem) is not None
    second = start_try(proxy, "retry/changed", blob, store)
    _, err = second.communicate(timeout=120)
    assert second.returncode != 0 and "DigestMismatchError" in err
    assert "changed since the previous try" in err
