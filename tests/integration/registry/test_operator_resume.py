"""Resume across task retries through the operators: ``resume_store`` on the push and copy operators, ``on_kill``
keeping the upload sessions (and their state) for the next try, and the next try resuming them.

The kill is Airflow's: ``on_kill`` called from another thread while the push is in flight (the task runner calls
it from its SIGTERM handler). A SIGKILL of the task process is covered in ``test_resume_across_tries.py``.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.registry.upload import UploadCancelled
from airflow_provider_dockerhub.operators.registry import DockerHubCopyImageOperator, DockerHubPushImageOperator
from airflow_provider_dockerhub.testing.oci import OCI_MANIFEST, canonical, digest, write_layout
from airflow_provider_dockerhub.testing.oci.documents import image_manifest
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.shaping_proxy import ShapingProxy

pytestmark = pytest.mark.registry

KIB = 1024
CHUNK = 64 * KIB


def context(try_number: int) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="release", run_id="scheduled__2026-12-02", task_id="push", map_index=-1)
    ti.try_number = try_number
    return {"ti": ti, "outlet_events": defaultdict(lambda: SimpleNamespace(extra=None))}


def one_layer_layout(tmp: Path) -> tuple[Path, bytes, bytes]:
    layer = os.urandom(16 * CHUNK + 77)
    config = canonical({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}})
    manifest = image_manifest(config, [layer])
    return write_layout(tmp / "layout", manifest, OCI_MANIFEST, [], [config, layer]), manifest, layer


def killed_then_retried(
    proxy: ShapingProxy, make: Callable[[], Any], store: Path, *, expect_states: int
) -> tuple[dict[str, Any], int]:
    """Try 1: ``on_kill`` while the 50 % chunk is held before its head; try 2: a new operator instance."""
    hold = proxy.hold("PATCH", r"/blobs/uploads/", n=9)
    first = make()

    def kill() -> None:
        assert hold.reached.wait(60)
        first.on_kill()
        hold.release()  # the chunk in flight lands; the operator then stops on its boundary

    killer = threading.Thread(target=kill)
    killer.start()
    with pytest.raises(UploadCancelled, match="kept for the next try"):
        first.execute(context(1))
    killer.join()
    assert len(list(store.rglob("*.json"))) == expect_states
    forwarded = proxy.bytes_upstream
    result = make().execute(context(2))
    assert not list(store.rglob("*.json"))  # committed: no state left
    return result, proxy.bytes_upstream - forwarded


def test_push_image_operator_resumes_after_on_kill(
    open_registry: LocalRegistry, airflow_conn: Callable[..., str], tmp_path: Path
) -> None:
    layout, manifest, layer = one_layer_layout(tmp_path)
    store = tmp_path / "resume"
    with ShapingProxy(open_registry.host) as proxy:
        conn = airflow_conn("dh_resume", registry_url=proxy.url, allow_destructive=True)

        def make() -> DockerHubPushImageOperator:
            return DockerHubPushImageOperator(
                task_id="push",
                layout_path=str(layout),
                repository="resume/op",
                tags=["v1"],
                chunk_size=CHUNK,
                dockerhub_conn_id=conn,
                registry=proxy.host,
                resume_store=f"file://{store}",
            )

        result, retry_bytes = killed_then_retried(proxy, make, store, expect_states=1)
    assert result["digest"] == digest(manifest)
    # The retry sent the half the first try had not (plus the config blob and request heads), not the whole layer.
    assert retry_bytes < len(layer) // 2 + 2 * CHUNK
    assert (store / "release" / "scheduled__2026-12-02" / "push").is_dir()
    config = ClientConfig.from_fields(None, None, {"registry_url": open_registry.url})
    with DockerHubSession(config) as session:
        assert session.registry.get_blob("resume/op", digest(layer), max_size=len(layer)) == layer


def test_copy_operator_resumes_after_on_kill(
    open_registry: LocalRegistry, airflow_conn: Callable[..., str], tmp_path: Path
) -> None:
    layout, manifest, layer = one_layer_layout(tmp_path)
    store = tmp_path / "resume"
    direct = ClientConfig.from_fields(None, None, {"registry_url": open_registry.url, "allow_destructive": True})
    with DockerHubSession(direct) as session:
        from airflow_provider_dockerhub.client.registry.layout import push_layout

        push_layout(session.registry, layout, "resume/src", ["v1"])
    with ShapingProxy(open_registry.host) as proxy:
        source = airflow_conn("dh_src", registry_url=open_registry.url)
        destination = airflow_conn("dh_dst", registry_url=proxy.url, allow_destructive=True)

        def make() -> DockerHubCopyImageOperator:
            return DockerHubCopyImageOperator(
                task_id="copy",
                source="resume/src:v1",
                destination="resume/dst:v1",
                dockerhub_conn_id=source,
                destination_conn_id=destination,
                registry=proxy.host,
                resume_store=f"file://{store}",
                chunk_size=CHUNK,
            )

        result, retry_bytes = killed_then_retried(proxy, make, store, expect_states=1)
    assert result["digest"] == digest(manifest)
    assert retry_bytes < len(layer) // 2 + 2 * CHUNK  # the retry streamed the second half, not the whole layer
    with DockerHubSession(direct) as session:
        assert session.registry.get_blob("resume/dst", digest(layer), max_size=len(layer)) == layer
