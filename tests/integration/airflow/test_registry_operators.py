"""The registry operators through real Airflow connections (``AIRFLOW_CONN_*``) and a real registry:
push blob (and its on_kill), push image from an OCI layout, copy/promote, and the delete gate as a matrix."""

from __future__ import annotations

import itertools
import os
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.assets import image_asset, is_image_asset
from airflow_provider_dockerhub.client import DestructiveOperationRefused, InvalidInputError
from airflow_provider_dockerhub.client.registry.upload import UploadCancelled
from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook
from airflow_provider_dockerhub.operators.registry import (
    DockerHubCopyImageOperator,
    DockerHubDeleteManifestOperator,
    DockerHubPushBlobOperator,
    DockerHubPushImageOperator,
)
from airflow_provider_dockerhub.testing.oci import OCI_INDEX, Image, MultiPlatform, digest, push_raw, write_layout
from airflow_provider_dockerhub.testing.registry import LocalRegistry

pytestmark = pytest.mark.registry


@pytest.fixture
def conns(airflow_conn: Callable[..., str], token_registry: LocalRegistry) -> dict[str, str]:
    common = {"login": "alice", "password": "alice-secret", "registry_url": token_registry.url}
    return {
        "write": airflow_conn("dh_write", allow_destructive=True, **common),
        "read": airflow_conn("dh_read", **common),
    }


def context() -> dict[str, Any]:
    return {"outlet_events": defaultdict(lambda: SimpleNamespace(extra=None))}


def test_push_blob_operator(conns: dict[str, str], tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    (tmp_path / "layer").write_bytes(data)
    op = DockerHubPushBlobOperator(
        task_id="push",
        repository="op/blob",
        path=str(tmp_path / "layer"),
        chunk_size=1024 * 1024,
        dockerhub_conn_id=conns["write"],
    )
    result = op.execute(context())
    assert result["digest"] == digest(data) and result["size"] == len(data)
    assert all(isinstance(v, str | int | bool) for v in result.values())  # JSON primitives for XCom
    refused = DockerHubPushBlobOperator(
        task_id="push2", repository="op/blob", path=str(tmp_path / "layer"), dockerhub_conn_id=conns["read"]
    )
    with pytest.raises(DestructiveOperationRefused):
        refused.execute(context())


def test_push_blob_operator_reads_object_storage(conns: dict[str, str], tmp_path: Path) -> None:
    """A file another task wrote to object storage (here ``file://``, as a shared volume) is pushed from there, in
    chunks, and verified; a URL that names nothing fails before any request reaches the registry."""
    data = os.urandom(2 * 1024 * 1024 + 17)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "layer.bin").write_bytes(data)
    op = DockerHubPushBlobOperator(
        task_id="push",
        repository="op/storage",
        path=f"file://{tmp_path}/shared/layer.bin",
        digest=digest(data),
        chunk_size=1024 * 1024,
        dockerhub_conn_id=conns["write"],
    )
    result = op.execute(context())
    assert result["digest"] == digest(data) and result["size"] == len(data)
    reader = DockerHubHook(dockerhub_conn_id=conns["read"])
    try:
        assert reader.registry.get_blob("op/storage", digest(data)) == data  # what the registry now serves
    finally:
        reader.close()
    missing = DockerHubPushBlobOperator(
        task_id="push3",
        repository="op/storage",
        path=f"file://{tmp_path}/shared/nothing.bin",
        dockerhub_conn_id=conns["write"],
    )
    with pytest.raises(InvalidInputError, match="was not found in object storage"):
        missing.execute(context())


def test_push_blob_on_kill_cancels_the_upload(conns: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(os.urandom(64 * 1024 * 1024))
    op = DockerHubPushBlobOperator(
        task_id="push",
        repository="op/killed",
        path=str(tmp_path / "big"),
        chunk_size=1024 * 1024,
        dockerhub_conn_id=conns["write"],
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            op.execute(context())
        except BaseException as exc:  # asserted below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    while op._pusher is None and worker.is_alive():
        pass
    op.on_kill()
    worker.join(30)
    assert len(errors) == 1 and isinstance(errors[0], UploadCancelled)


def test_push_image_operator_emits_the_image_asset(
    conns: dict[str, str], tmp_path: Path, token_session: Any, token_registry: LocalRegistry
) -> None:
    multi = MultiPlatform([Image(files={"o": b"op-amd64"}), Image(architecture="arm64", files={"o": b"op-arm"})])
    layout = write_layout(tmp_path / "layout", multi.index, OCI_INDEX, multi.manifests, multi.blobs)
    op = DockerHubPushImageOperator(
        task_id="push",
        layout_path=str(layout),
        repository="op/image",
        tags=["1.0", "latest"],
        registry=token_registry.host,
        dockerhub_conn_id=conns["write"],
    )
    assert [o.uri for o in op.outlets if is_image_asset(o)] == [f"docker-image://{token_registry.host}/op/image"]
    ctx = context()
    result = op.execute(ctx)
    assert result["digest"] == digest(multi.index) == token_session.registry.resolve_digest("op/image", "latest")
    assert ctx["outlet_events"][image_asset("op/image", token_registry.host)].extra == {
        "digest": result["digest"],
        "registry": token_registry.host,
        "repository": "op/image",
        "tags": ["1.0", "latest"],
    }


def test_templated_repository_gets_no_automatic_asset() -> None:
    op = DockerHubPushImageOperator(task_id="push", layout_path="/x", repository="{{ params.repo }}", tags=["v"])
    assert not any(is_image_asset(o) for o in op.outlets)


def test_copy_operator_promotes(conns: dict[str, str], token_session: Any, token_registry: LocalRegistry) -> None:
    source = push_raw(token_session.registry, "op/copy", Image(files={"c": b"copy"}), "rc1")
    op = DockerHubCopyImageOperator(
        task_id="promote",
        source="op/copy:rc1",
        destination="op/copy-prod:release",
        extra_tags=["1.2.3"],
        registry=token_registry.host,
        dockerhub_conn_id=conns["write"],
    )
    ctx = context()
    result = op.execute(ctx)
    assert result["digest"] == source
    assert token_session.registry.resolve_digest("op/copy-prod", "release") == source
    assert token_session.registry.resolve_digest("op/copy-prod", "1.2.3") == source
    assert ctx["outlet_events"][image_asset("op/copy-prod", token_registry.host)].extra["digest"] == source


@pytest.mark.parametrize(("allow", "confirm", "dry_run"), list(itertools.product([True, False], repeat=3)))
def test_delete_gate_matrix(
    conns: dict[str, str], token_session: Any, allow: bool, confirm: bool, dry_run: bool
) -> None:
    tag = f"gate-{allow}-{confirm}-{dry_run}".lower()
    pushed = push_raw(token_session.registry, "op/gate", Image(files={"g": tag.encode()}), tag)
    op = DockerHubDeleteManifestOperator(
        task_id="delete",
        repository="op/gate",
        reference=tag,
        confirm_delete=confirm,
        dry_run=dry_run,
        dockerhub_conn_id=conns["write" if allow else "read"],
    )
    should_delete = allow and confirm and not dry_run
    if dry_run:
        report = op.execute(context())
        assert report == {
            "repository": "op/gate",
            "reference": tag,
            "dry_run": True,
            "digest": pushed,
            "deleted": False,
        }
    elif not confirm:
        with pytest.raises(AirflowFailException, match="confirm_delete"):
            op.execute(context())
    elif not allow:
        with pytest.raises(DestructiveOperationRefused):
            op.execute(context())
    else:
        assert op.execute(context())["deleted"] is True
    still_there = token_session.registry.head_manifest("op/gate", pushed) is not None
    assert still_there is not should_delete
