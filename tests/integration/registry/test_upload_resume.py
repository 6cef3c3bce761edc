"""The push engine under cut connections, against a real registry behind a fault-injecting proxy.

distribution 2.8 keeps an upload session when no byte of the failed chunk reached it (the engine resumes from
its ``Range``: less than one chunk re-sent) and invalidates it when part of the chunk did (the engine opens a
new session and sends again from zero). Either way the push completes with the digest verified, bounded.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.registry.upload import UploadFailedError
from airflow_provider_dockerhub.testing.fault_proxy import FaultProxy
from airflow_provider_dockerhub.testing.oci import digest
from airflow_provider_dockerhub.testing.registry import LocalRegistry

pytestmark = pytest.mark.registry

CHUNK = 1024 * 1024
PATCH = r"/v2/.+/blobs/uploads/.+"


@pytest.fixture
def open_proxy(open_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(open_registry.host) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def proxied_session(open_proxy: FaultProxy) -> Iterator[DockerHubSession]:
    config = ClientConfig.from_fields(
        None, None, {"registry_url": open_proxy.url, "allow_destructive": True, "max_retry_wait": 5}
    )
    with DockerHubSession(config, sleep=lambda _: None) as s:
        yield s


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(5 * CHUNK + 1234)
    path = tmp_path / "blob"
    path.write_bytes(data)
    return path, data


def pulled(proxied_session: DockerHubSession, repository: str, blob_digest: str, tmp_path: Path) -> bytes:
    target = tmp_path / "pulled"
    proxied_session.registry.download_blob(repository, blob_digest, target)
    return target.read_bytes()


def test_cut_before_the_body_resumes_with_less_than_one_chunk_resent(
    proxied_session: DockerHubSession, open_proxy: FaultProxy, blob: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, data = blob
    open_proxy.cut_before_body("PATCH", PATCH, n=3)
    result = proxied_session.registry.push_blob("resume/before", path, chunk_size=CHUNK)
    assert open_proxy.faults_injected == 1
    assert (result.resumes, result.restarts) == (1, 0)
    # The client re-sends at most the one failed chunk; the registry receives no byte twice.
    assert result.bytes_resent <= CHUNK
    assert open_proxy.bytes_upstream - len(data) < CHUNK
    assert result.digest == digest(data) and result.size == len(data)
    assert pulled(proxied_session, "resume/before", result.digest, tmp_path) == data


def test_cut_mid_body_restarts_cleanly(
    proxied_session: DockerHubSession, open_proxy: FaultProxy, blob: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, data = blob
    open_proxy.cut_after_body_bytes("PATCH", PATCH, CHUNK // 2, n=3)
    result = proxied_session.registry.push_blob("resume/mid", path, chunk_size=CHUNK)
    assert open_proxy.faults_injected == 1
    assert (result.resumes, result.restarts) == (0, 1)
    # Everything sent before the restart counts as re-sent: two whole chunks and the half chunk of the cut.
    assert 2 * CHUNK <= result.bytes_resent <= 3 * CHUNK
    assert open_proxy.bytes_upstream - len(data) == 2 * CHUNK + CHUNK // 2  # the restart's cost, at the registry
    assert result.digest == digest(data)
    assert pulled(proxied_session, "resume/mid", result.digest, tmp_path) == data


def test_server_error_on_a_chunk_resumes(
    proxied_session: DockerHubSession, open_proxy: FaultProxy, blob: tuple[Path, bytes]
) -> None:
    path, data = blob
    open_proxy.respond("PATCH", PATCH, 503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}', n=2)
    result = proxied_session.registry.push_blob("resume/503", path, chunk_size=CHUNK)
    assert result.digest == digest(data)
    assert result.resumes == 1 and result.restarts == 0 and result.bytes_resent <= CHUNK


def test_lost_reply_completes(
    proxied_session: DockerHubSession, open_proxy: FaultProxy, blob: tuple[Path, bytes]
) -> None:
    path, data = blob
    open_proxy.cut_response("PATCH", PATCH, n=2)
    result = proxied_session.registry.push_blob("resume/lost", path, chunk_size=CHUNK)
    assert result.digest == digest(data)
    assert result.resumes + result.restarts == 1


def test_restarts_are_bounded(
    proxied_session: DockerHubSession, open_proxy: FaultProxy, blob: tuple[Path, bytes]
) -> None:
    path, _ = blob
    open_proxy.cut_after_body_bytes("PATCH", PATCH, CHUNK // 2, times=10)
    with pytest.raises(UploadFailedError, match="too many restarts"):
        proxied_session.registry.push_blob("resume/bounded", path, chunk_size=CHUNK)
    assert open_proxy.faults_injected == 3  # the first try and two restarts, then it gives up


def test_a_stream_that_cannot_restart_fails_clearly(proxied_session: DockerHubSession, open_proxy: FaultProxy) -> None:
    open_proxy.cut_after_body_bytes("PATCH", PATCH, CHUNK // 2, n=2)
    with pytest.raises(UploadFailedError, match="cannot be re-read"):
        proxied_session.registry.push_blob("resume/stream", io.BytesIO(os.urandom(3 * CHUNK)), chunk_size=CHUNK)


def test_a_stream_resumes_from_its_buffered_chunk(proxied_session: DockerHubSession, open_proxy: FaultProxy) -> None:
    data = os.urandom(3 * CHUNK + 7)
    open_proxy.cut_before_body("PATCH", PATCH, n=2)
    result = proxied_session.registry.push_blob("resume/stream-ok", io.BytesIO(data), chunk_size=CHUNK)
    assert result.digest == digest(data) and result.resumes == 1


def test_rate_limited_chunk_resumes_after_retry_after(open_proxy: FaultProxy, blob: tuple[Path, bytes]) -> None:
    path, data = blob
    slept: list[float] = []
    config = ClientConfig.from_fields(None, None, {"registry_url": open_proxy.url, "allow_destructive": True})
    open_proxy.respond(
        "PATCH",
        PATCH,
        429,
        b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
        headers={"Retry-After": "7"},
        n=2,
    )
    with DockerHubSession(config, sleep=slept.append) as proxied_session:
        result = proxied_session.registry.push_blob("resume/429", path, chunk_size=CHUNK)
    # A chunk body cannot be replayed by the transport: the engine resumes it, after the server's Retry-After.
    assert result.digest == digest(data) and result.resumes == 1
    assert 7.0 in slept
