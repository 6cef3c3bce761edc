"""The registry client in full, against a real ``docker-registry`` with token auth: blobs, manifests, deletes,
referrers (with the tag-schema fallback 2.8 needs), platforms/config/inspect, copy/promote, OCI layout push."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dockerhub.client import (
    ClientConfig,
    DestructiveOperationRefused,
    DigestMismatchError,
    DockerHubSession,
    InvalidInputError,
    NotFoundError,
    UnsupportedOperationError,
)
from airflow_provider_dockerhub.client.registry.layout import push_layout
from airflow_provider_dockerhub.testing.oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    MultiPlatform,
    canonical,
    descriptor,
    digest,
    push_multi,
    push_raw,
    write_layout,
)
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

pytestmark = pytest.mark.registry


@pytest.fixture
def readonly(token_registry: LocalRegistry) -> Iterator[DockerHubSession]:
    config = ClientConfig.from_fields("alice", "alice-secret", {"registry_url": token_registry.url})
    with DockerHubSession(config) as s:
        yield s


def test_push_and_pull_round_trip_with_digest_checks(token_session: DockerHubSession, tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)
    source = tmp_path / "blob"
    source.write_bytes(data)
    result = token_session.registry.push_blob("ops/blobs", source, chunk_size=1024 * 1024)
    assert result.digest == digest(data) and result.size == len(data)
    assert not result.skipped and not result.mounted and result.bytes_resent == 0
    target = tmp_path / "pulled"
    assert token_session.registry.download_blob("ops/blobs", result.digest, target) == len(data)
    assert target.read_bytes() == data
    small = b'{"small": true}'
    small_digest = token_session.registry.push_blob("ops/blobs", small).digest
    assert token_session.registry.get_blob("ops/blobs", small_digest) == small


def test_stream_source_pushes_in_chunks(token_session: DockerHubSession) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    result = token_session.registry.push_blob("ops/stream", io.BytesIO(data), chunk_size=1024 * 1024)
    assert result.digest == digest(data) and result.size == len(data)
    assert token_session.registry.blob_exists("ops/stream", result.digest)


def test_skip_when_the_blob_exists(token_session: DockerHubSession) -> None:
    data = os.urandom(1024)
    first = token_session.registry.push_blob("ops/skip", data)
    again = token_session.registry.push_blob("ops/skip", data, digest=first.digest)
    assert again.skipped and again.bytes_sent == 0


def test_expected_digest_mismatch_never_commits(token_session: DockerHubSession) -> None:
    data = os.urandom(2048)
    wrong = digest(b"something else")
    with pytest.raises(DigestMismatchError):
        token_session.registry.push_blob("ops/mismatch", data, digest=wrong)
    assert not token_session.registry.blob_exists("ops/mismatch", digest(data))
    assert not token_session.registry.blob_exists("ops/mismatch", wrong)


def test_mount_asks_for_both_scopes_in_one_token(token_session: DockerHubSession, token_issuer: TokenIssuer) -> None:
    data = os.urandom(4096)
    pushed = token_session.registry.push_blob("ops/mount-src", data)
    token_issuer.reset()
    mounted = token_session.registry.push_blob("ops/mount-dst", data, digest=pushed.digest, mount_from="ops/mount-src")
    assert mounted.mounted and mounted.bytes_sent == 0
    assert token_session.registry.blob_exists("ops/mount-dst", pushed.digest)
    assert any(
        set(r.scopes) == {"repository:ops/mount-dst:pull,push", "repository:ops/mount-src:pull"}
        for r in token_issuer.requests
    )


def test_declined_mount_falls_back_to_upload(token_session: DockerHubSession) -> None:
    data = os.urandom(4096)
    result = token_session.registry.push_blob("ops/mount-dst2", data, digest=digest(data), mount_from="ops/empty-src")
    assert not result.mounted and not result.skipped
    assert token_session.registry.blob_exists("ops/mount-dst2", digest(data))


def test_writes_need_allow_destructive(readonly: DockerHubSession) -> None:
    with pytest.raises(DestructiveOperationRefused, match="allow_destructive"):
        readonly.registry.push_blob("ops/refused", b"data")
    with pytest.raises(DestructiveOperationRefused):
        readonly.registry.put_manifest("ops/refused", "v1", b"{}", OCI_MANIFEST)
    with pytest.raises(DestructiveOperationRefused):
        readonly.registry.delete_manifest("ops/refused", digest(b"x"))
    with pytest.raises(DestructiveOperationRefused):
        readonly.registry.delete_blob("ops/refused", digest(b"x"))


def test_delete_manifest_resolves_tags_and_deletes_by_digest(token_session: DockerHubSession) -> None:
    image = Image(files={"x": b"delete me"})
    pushed = push_raw(token_session.registry, "ops/delete", image, "doomed")
    assert token_session.registry.delete_manifest("ops/delete", "doomed") == pushed
    assert token_session.registry.head_manifest("ops/delete", pushed) is None
    with pytest.raises(NotFoundError):
        token_session.registry.delete_manifest("ops/delete", "never-existed")


def test_blob_delete_unsupported_is_reported_clearly(tmp_path_factory: pytest.TempPathFactory) -> None:
    overrides = {"storage": {"delete": {"enabled": False}}}
    with LocalRegistry(tmp_path_factory.mktemp("nodelete"), config_overrides=overrides) as registry:
        config = ClientConfig.from_fields(None, None, {"registry_url": registry.url, "allow_destructive": True})
        with DockerHubSession(config) as s:
            blob = s.registry.push_blob("ops/nodelete", b"keep").digest
            with pytest.raises(UnsupportedOperationError) as exc:
                s.registry.delete_blob("ops/nodelete", blob)
    assert exc.value.status == 405 and exc.value.code == "UNSUPPORTED"
    assert "does not support this operation" in str(exc.value)


def test_referrers_fall_back_to_the_tag_schema(token_session: DockerHubSession) -> None:
    image = Image(files={"x": b"subject"})
    subject = push_raw(token_session.registry, "ops/referrers", image, "v1")
    sbom = canonical({"spdxVersion": "SPDX-2.3"})
    config = b"{}"
    for blob in (sbom, config):
        token_session.registry.push_blob("ops/referrers", blob)
    artifact = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/spdx+json",
            "config": descriptor("application/vnd.oci.empty.v1+json", config),
            "layers": [descriptor("application/spdx+json", sbom)],
            "subject": descriptor(OCI_MANIFEST, image.manifest),
        }
    )
    token_session.registry.put_manifest("ops/referrers", digest(artifact), artifact, OCI_MANIFEST)
    fallback = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [descriptor(OCI_MANIFEST, artifact, artifactType="application/spdx+json")],
        }
    )
    token_session.registry.put_manifest("ops/referrers", "sha256-" + subject.split(":")[1], fallback, OCI_INDEX)
    found = token_session.registry.referrers("ops/referrers", subject)
    assert [d["digest"] for d in found] == [digest(artifact)]
    assert token_session.registry.referrers("ops/referrers", subject, artifact_type="application/spdx+json") == found
    assert token_session.registry.referrers("ops/referrers", subject, artifact_type="application/vnd.other") == []
    assert token_session.registry.referrers("ops/referrers", digest(b"no referrers")) == []


def test_platforms_config_and_inspect(token_session: DockerHubSession) -> None:
    multi = MultiPlatform([Image(architecture="amd64"), Image(architecture="arm64", variant="v8", user=None)])
    index_digest = push_multi(token_session.registry, "ops/multi", multi, "v1")
    platforms = token_session.registry.platforms("ops/multi", "v1")
    assert [p["platform"] for p in platforms] == ["linux/amd64", "linux/arm64/v8"]
    everything = token_session.registry.platforms("ops/multi", "v1", include_attestations=True)
    assert len(everything) == 4 and sum(p["attestation"] for p in everything) == 2
    assert token_session.registry.get_config("ops/multi", "v1", platform="linux/arm64")["architecture"] == "arm64"
    with pytest.raises(InvalidInputError, match="linux/amd64"):
        token_session.registry.get_config("ops/multi", "v1")
    with pytest.raises(InvalidInputError, match="no manifest for platform linux/s390x"):
        token_session.registry.get_config("ops/multi", "v1", platform="linux/s390x")
    report = token_session.registry.inspect("ops/multi", "v1", platform="linux/amd64")
    assert report["digest"] == index_digest and report["config"]["config"]["User"] == "1000"
    single = push_raw(token_session.registry, "ops/single", Image(), "v1")
    assert token_session.registry.platforms("ops/single", "v1") == [
        {
            "platform": "linux/amd64",
            "digest": single,
            "mediaType": OCI_MANIFEST,
            "size": len(Image().manifest),
            "attestation": False,
        }
    ]
    assert "config" in token_session.registry.inspect("ops/single", "v1")


def test_copy_index_within_registry_mounts_everything(token_session: DockerHubSession) -> None:
    multi = MultiPlatform([Image(files={"a": b"copy-amd64"}), Image(architecture="arm64", files={"a": b"copy-arm"})])
    source = push_multi(token_session.registry, "ops/copy-src", multi, "rc")
    result = token_session.registry.copy_image("ops/copy-src", "rc", "ops/copy-dst", ["1.0", "latest"])
    assert result.digest == source
    assert result.blobs_uploaded == 0 and result.blobs_mounted == len(set(multi.blobs))
    assert token_session.registry.resolve_digest("ops/copy-dst", "1.0") == source
    assert token_session.registry.resolve_digest("ops/copy-dst", "latest") == source
    again = token_session.registry.copy_image("ops/copy-src", "rc", "ops/copy-dst", ["1.0"])
    assert again.blobs_mounted == 0 and again.blobs_uploaded == 0  # everything present: only HEADs
    promoted = token_session.registry.copy_image("ops/copy-dst", "1.0", "ops/copy-dst", ["release"])
    assert promoted.digest == source and promoted.manifests == []  # a tag move copies nothing


def test_copy_to_another_registry_streams_blobs(token_session: DockerHubSession, open_registry: LocalRegistry) -> None:
    image = Image(files={"a": os.urandom(256 * 1024)})
    source = push_raw(token_session.registry, "ops/xreg", image, "v1")
    config = ClientConfig.from_fields(None, None, {"registry_url": open_registry.url, "allow_destructive": True})
    with DockerHubSession(config) as other:
        result = token_session.registry.copy_image("ops/xreg", "v1", "mirror/xreg", ["v1"], destination=other.registry)
        assert result.blobs_uploaded == 2 and result.digest == source
        assert other.registry.get_manifest("mirror/xreg", "v1").raw == image.manifest


def test_push_oci_layout(token_session: DockerHubSession, tmp_path: Path) -> None:
    multi = MultiPlatform([Image(files={"l": b"layout-amd64"}), Image(architecture="arm64", files={"l": b"arm"})])
    layout = write_layout(tmp_path / "layout", multi.index, OCI_INDEX, multi.manifests, multi.blobs)
    result = push_layout(token_session.registry, layout, "ops/layout", ["2.0"])
    assert result.digest == digest(multi.index)
    assert token_session.registry.resolve_digest("ops/layout", "2.0") == result.digest
    assert len(result.manifests) == 4 and result.blobs_uploaded == len(set(multi.blobs))
    again = push_layout(token_session.registry, layout, "ops/layout", ["2.0", "stable"])
    assert again.blobs_uploaded == 0 and again.blobs_skipped == len(set(multi.blobs))


def test_broken_layouts_fail_before_any_request(
    token_session: DockerHubSession, tmp_path: Path, token_issuer: TokenIssuer
) -> None:
    image = Image(files={"b": b"broken"})
    layout = write_layout(tmp_path / "missing", image.manifest, OCI_MANIFEST, [], [image.config])
    token_issuer.reset()
    with pytest.raises(InvalidInputError, match="missing blob"):
        push_layout(token_session.registry, layout, "ops/broken", ["v1"])
    tampered = write_layout(tmp_path / "tampered", image.manifest, OCI_MANIFEST, [], image.blobs)
    path = tampered / "blobs" / "sha256" / digest(image.manifest).split(":")[1]
    path.write_bytes(path.read_bytes() + b" ")
    with pytest.raises(DigestMismatchError):
        push_layout(token_session.registry, tampered, "ops/broken", ["v1"])
    with pytest.raises(InvalidInputError, match="not an OCI image layout"):
        push_layout(token_session.registry, tmp_path, "ops/broken", ["v1"])
    assert token_issuer.count == 0  # no request reached the registry, so no token was needed


def test_manifest_bytes_are_kept_exactly(token_session: DockerHubSession) -> None:
    image = Image(files={"k": b"exact"})
    for blob in image.blobs:
        token_session.registry.push_blob("ops/exact", blob)
    pretty = json.dumps(json.loads(image.manifest), indent=3).encode()  # same content, different bytes
    pushed = token_session.registry.put_manifest("ops/exact", "pretty", pretty, OCI_MANIFEST)
    assert pushed == digest(pretty)
    assert token_session.registry.get_manifest("ops/exact", "pretty").raw == pretty
