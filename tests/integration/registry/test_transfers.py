"""Concurrent image transfers against real registries: blobs in parallel with one token per registry, a failure
that cancels the others and leaves no upload session behind, the streaming cross-registry copy (digest checked
before the commit, a dropped source resumed with a Range GET), and layouts read through ``ObjectStoragePath``."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from airflow_provider_dockerhub.client import (
    ApiError,
    ClientConfig,
    DigestMismatchError,
    DockerHubSession,
    InvalidInputError,
)
from airflow_provider_dockerhub.client.registry.layout import push_layout
from airflow_provider_dockerhub.client.registry.transfer import TransferEngine
from airflow_provider_dockerhub.client.registry.upload import UploadCancelled
from airflow_provider_dockerhub.testing.fault_proxy import FaultProxy
from airflow_provider_dockerhub.testing.oci import OCI_INDEX, OCI_MANIFEST, canonical, descriptor, digest, write_layout
from airflow_provider_dockerhub.testing.oci.documents import image_index, image_manifest
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.shaping_proxy import ShapingProxy
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

pytestmark = pytest.mark.registry

KIB = 1024


def multi_layer_index(platforms: int, layers: int, size: int) -> tuple[bytes, list[bytes], list[bytes]]:
    """An index of ``platforms`` images of ``layers`` random layers each plus one base layer they share."""
    base = os.urandom(size)
    manifests: list[bytes] = []
    blobs: list[bytes] = [base]
    entries = []
    for p in range(platforms):
        own = [os.urandom(size + p * KIB + i) for i in range(layers)]
        config = canonical({"architecture": f"arch{p}", "os": "linux", "rootfs": {"type": "layers"}})
        manifest = image_manifest(config, [base, *own])
        manifests.append(manifest)
        blobs.extend([config, *own])
        entries.append(descriptor(OCI_MANIFEST, manifest, platform={"os": "linux", "architecture": f"arch{p}"}))
    return image_index(entries), manifests, blobs


def uploads_left(registry: LocalRegistry, repository: str) -> list[str]:
    """Upload sessions distribution still holds for ``repository``: a live one has its ``startedat`` and ``data``
    files; a DELETE removes them (2.8 leaves an empty ``hashstates`` tree behind, and answers 404 for it)."""
    uploads = registry.storage_dir / "docker/registry/v2/repositories" / repository / "_uploads"
    if not uploads.is_dir():
        return []
    return sorted(
        f"{p.name}: {sorted(str(f.relative_to(p)) for f in p.rglob('*'))}"
        for p in uploads.iterdir()
        if (p / "startedat").exists() or (p / "data").exists()
    )


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, bytes, list[bytes]]:
    index, manifests, blobs = multi_layer_index(3, 3, 96 * KIB)
    return write_layout(tmp_path / "layout", index, OCI_INDEX, manifests, blobs), index, blobs


def test_layout_push_runs_blobs_in_parallel_with_one_token(
    token_registry: LocalRegistry, token_issuer: TokenIssuer, layout: tuple[Path, bytes, list[bytes]]
) -> None:
    path, index, blobs = layout
    with ShapingProxy(token_registry.host, rtt=0.02) as proxy:
        config = ClientConfig.from_fields(
            "alice", "alice-secret", {"registry_url": proxy.url, "allow_destructive": True}
        )
        token_issuer.reset()
        with DockerHubSession(config) as session:
            result = push_layout(session.registry, path, "xfer/parallel", ["v1"], max_concurrent_blobs=4)
            minted = token_issuer.count
            assert session.registry.resolve_digest("xfer/parallel", "v1") == digest(index)
    assert result.blobs_uploaded == len(set(blobs)) == 1 + 3 * 4  # the shared base layer once
    assert len(result.manifests) == 3
    assert minted == 1  # one scope set, one mint, however many threads asked at once
    assert proxy.connections >= 4  # the blobs went over parallel connections


def test_a_failed_blob_cancels_the_others_and_deletes_their_sessions(
    open_registry: LocalRegistry, layout: tuple[Path, bytes, list[bytes]]
) -> None:
    path, _index, _blobs = layout
    with FaultProxy(open_registry.host) as proxy:
        # Refused for good (400 is not resumable): the other blobs in flight must stop and clean up.
        proxy.respond("PATCH", r"/blobs/uploads/", 400, b'{"errors":[{"code":"BLOB_UPLOAD_INVALID"}]}', n=3)
        config = ClientConfig.from_fields(None, None, {"registry_url": proxy.url, "allow_destructive": True})
        with DockerHubSession(config) as session, pytest.raises(ApiError) as failure:
            push_layout(session.registry, path, "xfer/cancel", ["v1"], chunk_size=16 * KIB, max_concurrent_blobs=4)
        assert "400" in str(failure.value) and "cancelled" not in str(failure.value)
    assert uploads_left(open_registry, "xfer/cancel") == []


def test_cross_registry_copy_streams_with_one_token_per_registry(
    token_registry: LocalRegistry,
    token_issuer: TokenIssuer,
    open_registry: LocalRegistry,
    layout: tuple[Path, bytes, list[bytes]],
) -> None:
    path, index, blobs = layout
    source_config = ClientConfig.from_fields(
        "alice", "alice-secret", {"registry_url": token_registry.url, "allow_destructive": True}
    )
    destination_config = ClientConfig.from_fields(
        None, None, {"registry_url": open_registry.url, "allow_destructive": True}
    )
    with DockerHubSession(source_config) as source, DockerHubSession(destination_config) as destination:
        push_layout(source.registry, path, "xfer/src", ["v1"])
        token_issuer.reset()
        result = source.registry.copy_image(
            "xfer/src", "v1", "mirror/copy", ["v1", "stable"], destination=destination.registry, chunk_size=64 * KIB
        )
        assert destination.registry.resolve_digest("mirror/copy", "stable") == digest(index)
        again = source.registry.copy_image("xfer/src", "v1", "mirror/copy", ["v1"], destination=destination.registry)
    assert result.blobs_uploaded == len(set(blobs)) and result.bytes_uploaded == sum(len(b) for b in set(blobs))
    assert token_issuer.count == 1  # the source's one pull token (the destination is open)
    assert again.blobs_uploaded == 0 and again.manifests == result.manifests  # children present: HEADs only


def test_copy_verifies_the_digest_before_commit_and_deletes_the_session(
    open_registry: LocalRegistry, tmp_path: Path
) -> None:
    layer = os.urandom(300 * KIB)
    config_blob = canonical({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}})
    manifest = image_manifest(config_blob, [layer])
    path = write_layout(tmp_path / "one", manifest, OCI_MANIFEST, [], [config_blob, layer])
    direct = ClientConfig.from_fields(None, None, {"registry_url": open_registry.url, "allow_destructive": True})
    with FaultProxy(open_registry.host) as proxy:
        source_config = ClientConfig.from_fields(None, None, {"registry_url": proxy.url})
        with DockerHubSession(direct) as dst, DockerHubSession(source_config) as src:
            push_layout(dst.registry, path, "xfer/bad-src", ["v1"])
            # The source serves other bytes of the right length for the layer.
            proxy.respond("GET", rf"/blobs/{digest(layer)}$", 200, os.urandom(len(layer)))
            with pytest.raises(DigestMismatchError):
                src.registry.copy_image("xfer/bad-src", "v1", "xfer/bad-dst", ["v1"], destination=dst.registry)
            assert not dst.registry.blob_exists("xfer/bad-dst", digest(layer))
    assert uploads_left(open_registry, "xfer/bad-dst") == []


def test_a_source_that_drops_mid_blob_is_resumed_with_a_range_get(open_registry: LocalRegistry, tmp_path: Path) -> None:
    layer = os.urandom(512 * KIB)
    config_blob = canonical({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}})
    manifest = image_manifest(config_blob, [layer])
    path = write_layout(tmp_path / "drop", manifest, OCI_MANIFEST, [], [config_blob, layer])
    direct = ClientConfig.from_fields(None, None, {"registry_url": open_registry.url, "allow_destructive": True})
    with FaultProxy(open_registry.host) as proxy:
        # The first GET of the layer sends 200 KiB of the real bytes under the full Content-Length, then stalls:
        # the source read times out and the copy asks for the rest (Range) inside the same destination chunk.
        source_config = ClientConfig.from_fields(None, None, {"registry_url": proxy.url, "timeout": 1})
        with DockerHubSession(direct) as dst, DockerHubSession(source_config) as src:
            push_layout(dst.registry, path, "xfer/drop-src", ["v1"])
            proxy.respond(
                "GET",
                rf"/blobs/{digest(layer)}$",
                200,
                layer[: 200 * KIB],
                headers={"Content-Length": str(len(layer)), "Content-Type": "application/octet-stream"},
            )
            result = src.registry.copy_image("xfer/drop-src", "v1", "xfer/drop-dst", ["v1"], destination=dst.registry)
            assert dst.registry.get_blob("xfer/drop-dst", digest(layer), max_size=len(layer)) == layer
        gets = [r for r in proxy.requests if r.method == "GET" and r.path.endswith(digest(layer))]
    assert result.blobs_uploaded == 2 and len(gets) == 2 and gets[1].outcome == 206


def test_layout_through_object_storage_path(
    open_registry: LocalRegistry, layout: tuple[Path, bytes, list[bytes]]
) -> None:
    from airflow.sdk import ObjectStoragePath

    path, index, _blobs = layout
    config = ClientConfig.from_fields(None, None, {"registry_url": open_registry.url, "allow_destructive": True})
    with DockerHubSession(config) as session:
        result = push_layout(session.registry, ObjectStoragePath(f"file://{path}"), "xfer/osp", ["v1"])
        assert result.digest == digest(index)
        with pytest.raises(InvalidInputError, match="not found"):
            push_layout(session.registry, ObjectStoragePath(f"file://{path}-missing"), "xfer/osp", ["v1"])
        with pytest.raises(InvalidInputError, match="not found"):
            push_layout(session.registry, str(path) + "-missing", "xfer/osp", ["v1"])


def test_an_engine_cancelled_from_another_thread_stops_the_transfer(
    open_registry: LocalRegistry, layout: tuple[Path, bytes, list[bytes]]
) -> None:
    path, _index, _blobs = layout
    with ShapingProxy(open_registry.host, rate=256 * KIB) as proxy:  # slow enough to cancel mid-transfer
        config = ClientConfig.from_fields(None, None, {"registry_url": proxy.url, "allow_destructive": True})
        engine = TransferEngine(4)
        hold = proxy.hold("PATCH", r"/blobs/uploads/", n=2, body_bytes=8 * KIB)
        with DockerHubSession(config) as session:

            def cancel_when_held() -> None:
                hold.reached.wait(30)
                engine.cancel()
                hold.release()

            threading.Thread(target=cancel_when_held, daemon=True).start()
            with pytest.raises(UploadCancelled):
                push_layout(session.registry, path, "xfer/killed", ["v1"], chunk_size=16 * KIB, engine=engine)
    assert uploads_left(open_registry, "xfer/killed") == []
