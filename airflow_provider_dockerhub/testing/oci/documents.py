"""The OCI documents every image builder here is made of: digests, descriptors, layers, manifests, indexes,
in-toto attestations and image layout directories. One implementation, so a test's image and the demo's layout
are built the same way.

Everything is canonical JSON (sorted keys, no spaces) and every layer has fixed timestamps, so equal inputs give
equal digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
SPDX_PREDICATE = "https://spdx.dev/Document"
# BuildKit's attestation manifests have this config: no platform, no layers of their own.
_ATTESTATION_CONFIG = {"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers"}}


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest(data), "size": len(data), **extra}


def layer(files: Mapping[str, bytes], *, mode: int = 0o644) -> bytes:
    """A gzipped tar layer of ``files`` (paths relative to the root) with fixed timestamps."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mtime, info.mode = len(content), 0, mode
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def diff_id(layer_blob: bytes) -> str:
    """The digest of the uncompressed layer, as an image config's ``rootfs.diff_ids`` lists it."""
    return digest(gzip.decompress(layer_blob))


def image_manifest(config: bytes, layers: Sequence[bytes]) -> bytes:
    return canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER, blob) for blob in layers],
        }
    )


def image_index(manifests: Sequence[Mapping[str, Any]]) -> bytes:
    return canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(manifests)})


def in_toto_statement(
    subject_manifest: bytes, predicate_type: str, predicate: Any, *, subject_name: str = "pkg:docker/test@latest"
) -> bytes:
    """An in-toto v0.1 statement about the image whose manifest is ``subject_manifest``."""
    return canonical(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": predicate_type,
            "subject": [{"name": subject_name, "digest": {"sha256": digest(subject_manifest).split(":")[1]}}],
            "predicate": predicate,
        }
    )


def attestation_manifest(statements: Sequence[tuple[str, bytes]]) -> tuple[bytes, list[bytes]]:
    """A BuildKit-style attestation manifest with one in-toto layer per ``(predicate type, statement bytes)``;
    the bytes are used as given, so a test can make them malformed. Returns the manifest and its blobs."""
    config = canonical(_ATTESTATION_CONFIG)
    layers = [
        descriptor(IN_TOTO, statement, annotations={"in-toto.io/predicate-type": predicate_type})
        for predicate_type, statement in statements
    ]
    manifest = canonical(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config), "layers": layers}
    )
    return manifest, [config, *(statement for _, statement in statements)]


def attestation_descriptor(manifest: bytes, subject_manifest: bytes) -> dict[str, Any]:
    """The index entry of an attestation manifest, linked to its image as BuildKit links them."""
    return descriptor(
        OCI_MANIFEST,
        manifest,
        platform={"os": "unknown", "architecture": "unknown"},
        annotations={
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": digest(subject_manifest),
        },
    )


def write_layout(
    path: Path,
    top: bytes,
    media_type: str,
    documents: Sequence[bytes],
    blobs: Sequence[bytes],
    *,
    ref_name: str = "latest",
) -> Path:
    """An OCI image layout directory holding ``top`` (named ``ref_name``), its manifests and blobs."""
    (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for data in [top, *documents, *blobs]:
        (path / "blobs" / "sha256" / digest(data).split(":")[1]).write_bytes(data)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(media_type, top, annotations={"org.opencontainers.image.ref.name": ref_name})],
    }
    (path / "index.json").write_text(json.dumps(index))
    return path
