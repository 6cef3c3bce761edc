"""The image push and the copy return one XCom shape with unique blob counts, and emit image Asset events only
on the image they wrote (registry included), against real registries.

The image: two platforms sharing one layer (same files), each with a BuildKit-style attestation, built with
``airflow_provider_dockerhub.testing.oci``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.assets import image_asset
from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.operators.registry import DockerHubCopyImageOperator, DockerHubPushImageOperator
from airflow_provider_dockerhub.testing.oci import OCI_INDEX, Image, MultiPlatform, digest, write_layout
from airflow_provider_dockerhub.testing.registry import LocalRegistry

pytestmark = pytest.mark.registry

SHAPE = {
    "digest": str,
    "registry": str,
    "repository": str,
    "tags": list,
    "media_type": str,
    "manifests": list,
    "blobs_uploaded": int,
    "blobs_mounted": int,
    "blobs_skipped": int,
    "bytes_uploaded": int,
}


@pytest.fixture
def conns(airflow_conn: Callable[..., str], token_registry: LocalRegistry, open_registry: LocalRegistry) -> Any:
    token = {"login": "alice", "password": "alice-secret", "registry_url": token_registry.url}
    return SimpleNamespace(
        token=airflow_conn("xfer_token", allow_destructive=True, **token),
        open=airflow_conn("xfer_open", allow_destructive=True, registry_url=open_registry.url),
    )


@pytest.fixture
def shared() -> MultiPlatform:
    multi = MultiPlatform(
        [Image(files={"base": b"shared base"}), Image(architecture="arm64", files={"base": b"shared base"})]
    )
    assert multi.images[0].layer == multi.images[1].layer  # the layer both platforms reference
    return multi


def context() -> dict[str, Any]:
    return {"outlet_events": defaultdict(lambda: SimpleNamespace(extra=None))}


def unique(multi: MultiPlatform) -> dict[str, bytes]:
    return {digest(blob): blob for blob in multi.blobs}


def check_shape(result: dict[str, Any]) -> None:
    assert set(result) == set(SHAPE)
    assert all(isinstance(result[key], kind) for key, kind in SHAPE.items())


def test_push_and_copy_return_one_shape_with_each_blob_once(
    conns: Any, shared: MultiPlatform, tmp_path: Path, token_registry: LocalRegistry, open_registry: LocalRegistry
) -> None:
    blobs = unique(shared)
    assert len(blobs) < len(shared.blobs)  # the shared layer (and the attestations' common config)
    children = [digest(m) for m in shared.manifests]
    layout = write_layout(tmp_path / "layout", shared.index, OCI_INDEX, shared.manifests, shared.blobs)
    host = token_registry.host

    push = DockerHubPushImageOperator(
        task_id="push",
        layout_path=str(layout),
        repository="xfer/app",
        tags=["1.0"],
        registry=host,
        dockerhub_conn_id=conns.token,
    )
    pushed = push.execute(context())
    check_shape(pushed)
    assert pushed == {
        "digest": digest(shared.index),
        "registry": host,
        "repository": "xfer/app",
        "tags": ["1.0"],
        "media_type": OCI_INDEX,
        "manifests": children,
        "blobs_uploaded": len(blobs),
        "blobs_mounted": 0,
        "blobs_skipped": 0,
        "bytes_uploaded": sum(map(len, blobs.values())),
    }

    # Within one registry: every blob mounted once; before, the shared layer came back as one more "skipped".
    within = DockerHubCopyImageOperator(
        task_id="copy", source="xfer/app:1.0", destination="xfer/prod:1.0", registry=host, dockerhub_conn_id=conns.token
    )
    copied = within.execute(context())
    check_shape(copied)
    assert copied == {
        **pushed,
        "repository": "xfer/prod",
        "blobs_uploaded": 0,
        "blobs_mounted": len(blobs),
        "bytes_uploaded": 0,
    }

    # To another registry: every blob uploaded once, the same bytes as the push.
    across = DockerHubCopyImageOperator(
        task_id="mirror",
        source="xfer/app:1.0",
        destination="mirror/app:1.0",
        registry=open_registry.host,
        dockerhub_conn_id=conns.token,
        destination_conn_id=conns.open,
    )
    mirrored = across.execute(context())
    check_shape(mirrored)
    assert mirrored == {**pushed, "registry": open_registry.host, "repository": "mirror/app"}


def test_the_event_names_the_registry_and_no_other_image_gets_the_digest(
    conns: Any, shared: MultiPlatform, tmp_path: Path, token_registry: LocalRegistry
) -> None:
    layout = write_layout(tmp_path / "layout", shared.index, OCI_INDEX, shared.manifests, shared.blobs)
    host = token_registry.host
    ctx = context()
    op = DockerHubPushImageOperator(
        task_id="push",
        layout_path=str(layout),
        repository="xfer/event",
        tags=["v1"],
        registry=host,
        dockerhub_conn_id=conns.token,
    )
    op.execute(ctx)
    assert dict(ctx["outlet_events"]) == {
        image_asset("xfer/event", host): SimpleNamespace(
            extra={"digest": digest(shared.index), "registry": host, "repository": "xfer/event", "tags": ["v1"]}
        )
    }


@pytest.mark.parametrize(
    "declared",
    [
        pytest.param({}, id="the-default-hub-asset"),
        pytest.param({"outlets": [image_asset("xfer/refused")]}, id="a-declared-hub-asset"),
        pytest.param({"registry": "registry.example.com"}, id="another-private-registry"),
    ],
)
def test_an_asset_of_another_registry_fails_the_task_before_any_request(
    conns: Any, shared: MultiPlatform, tmp_path: Path, token_registry: LocalRegistry, declared: dict[str, Any]
) -> None:
    layout = write_layout(tmp_path / "layout", shared.index, OCI_INDEX, shared.manifests, shared.blobs)
    op = DockerHubPushImageOperator(
        task_id="push",
        layout_path=str(layout),
        repository="xfer/refused",
        tags=["v1"],
        dockerhub_conn_id=conns.token,
        **declared,
    )
    ctx = context()
    # Before, the push went ahead and the Hub image's Asset got this private registry's digest.
    with pytest.raises(AirflowFailException, match=f"registry='{token_registry.host}'"):
        op.execute(ctx)
    assert dict(ctx["outlet_events"]) == {}
    config = ClientConfig.from_fields("alice", "alice-secret", {"registry_url": token_registry.url})
    with DockerHubSession(config) as s:
        assert s.registry.head_manifest("xfer/refused", "v1") is None  # nothing was pushed


def test_a_copy_checks_the_destination_connections_registry(
    conns: Any, token_registry: LocalRegistry, open_registry: LocalRegistry
) -> None:
    op = DockerHubCopyImageOperator(
        task_id="mirror",
        source="xfer/app:1.0",
        destination="mirror/checked:1.0",
        registry=token_registry.host,  # the source's registry, not the destination's
        dockerhub_conn_id=conns.token,
        destination_conn_id=conns.open,
    )
    with pytest.raises(AirflowFailException, match=f"writes {open_registry.host}/mirror/checked"):
        op.execute(context())
