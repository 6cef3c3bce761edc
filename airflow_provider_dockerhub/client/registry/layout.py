"""Read an OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``) and push it.

Layouts come from ``docker buildx build --output type=oci,tar=false``, ``skopeo copy ... oci:<dir>`` or
``oras``. Everything is checked before the first request: the layout marker, the manifest selected, and that
every referenced blob is present with its declared size; small documents (manifests, configs) are hash-checked
when read, and large blobs are hash-checked in the single pass that uploads them.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import DigestMismatchError, InvalidInputError
from ..core.front import SyncFront
from ..core.reference import digest_of, registry_name, validate_digest, validate_tag
from .api import RegistryOperations
from .blobs import PathSource, TransferResult
from .media import INDEX_TYPES, MANIFEST_MEDIA_TYPES, OCI_INDEX, OCI_MANIFEST
from .resume import ResumeStore
from .transfer import BlobProgress, PushTask, TransferEngine
from .upload import BlobPusher

log = logging.getLogger("airflow_provider_dockerhub.client.registry.layout")

REF_NAME = "org.opencontainers.image.ref.name"
MAX_DOCUMENT = 4 * 1024 * 1024


# An image push reports the same shape as a copy (``TransferResult.as_xcom``); the old name stays importable.
LayoutPushResult = TransferResult


@dataclass(frozen=True)
class Document:
    digest: str
    media_type: str
    raw: bytes

    def json(self) -> dict[str, Any]:
        data = json.loads(self.raw)
        if not isinstance(data, dict):
            raise InvalidInputError(f"OCI layout document {self.digest} is not a JSON object")
        return data


class OciLayout:
    """An OCI image layout under ``path``: a ``str``/``os.PathLike`` (local) or any pathlib-like object, such as
    ``airflow.sdk.ObjectStoragePath`` for a layout in object storage. Only ``/``, ``open("rb")``,
    ``read_text``/``read_bytes``, ``exists`` and ``is_dir`` are used, which every such object has."""

    def __init__(self, path: Any) -> None:
        self.root: Any = Path(path) if isinstance(path, str | os.PathLike) and not _pathlike(path) else path
        shown = str(path)
        if not self.root.exists():
            raise InvalidInputError(f"OCI image layout {shown!r} not found (no such directory)")
        if not self.root.is_dir():
            raise InvalidInputError(f"{shown!r} is not an OCI image layout (not a directory)")
        marker = self.root / "oci-layout"
        if not marker.exists():
            raise InvalidInputError(f"{shown!r} is not an OCI image layout (no 'oci-layout' file)")
        try:
            version = json.loads(marker.read_text()).get("imageLayoutVersion")
        except (ValueError, AttributeError) as exc:
            raise InvalidInputError(f"{marker} is not valid JSON") from exc
        if version != "1.0.0":
            raise InvalidInputError(f"unsupported OCI layout version {version!r} in {marker}")

    def blob_path(self, digest: str) -> Any:
        algorithm, encoded = validate_digest(digest).split(":", 1)
        return self.root / "blobs" / algorithm / encoded

    def index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read the layout's index.json: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("manifests"), list):
            raise InvalidInputError("the layout's index.json has no 'manifests' list")
        return data

    def select(self, ref_name: str | None = None) -> dict[str, Any]:
        """The descriptor to push: the one named ``ref_name``, or the only one."""
        entries = [d for d in self.index()["manifests"] if isinstance(d, dict)]
        if ref_name is not None:
            entries = [d for d in entries if (d.get("annotations") or {}).get(REF_NAME) == ref_name]
        if len(entries) != 1:
            names = sorted(str((d.get("annotations") or {}).get(REF_NAME)) for d in self.index()["manifests"])
            raise InvalidInputError(
                f"the layout holds {len(entries)} matching manifests; pass ref_name (one of {names})"
            )
        return entries[0]

    def document(self, descriptor: dict[str, Any]) -> Document:
        digest = validate_digest(str(descriptor.get("digest")))
        path = self.blob_path(digest)
        if not path.exists():
            raise InvalidInputError(f"the OCI layout is missing blob {digest}")
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT + 1)
        if len(raw) > MAX_DOCUMENT:
            raise InvalidInputError(f"manifest {digest} in the layout is larger than {MAX_DOCUMENT} bytes")
        actual = digest_of(raw, digest.split(":", 1)[0])
        if actual != digest:
            raise DigestMismatchError(f"OCI layout manifest {path}", digest, actual)
        media_type = str(descriptor.get("mediaType") or "")
        declared = json.loads(raw).get("mediaType") if raw.strip().startswith(b"{") else None
        media_type = str(declared or media_type or (OCI_INDEX if b'"manifests"' in raw else OCI_MANIFEST))
        if media_type not in MANIFEST_MEDIA_TYPES:
            raise InvalidInputError(f"unsupported manifest media type {media_type!r} for {digest}")
        return Document(digest, media_type, raw)

    def check_blob(self, descriptor: dict[str, Any]) -> PathSource:
        """The blob as a push source, after checking it is there with the size its descriptor declares."""
        digest = validate_digest(str(descriptor.get("digest")))
        path = self.blob_path(digest)
        if not path.exists():
            raise InvalidInputError(f"the OCI layout is missing blob {digest}")
        size = descriptor.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInputError(f"blob {digest} has no valid size in its manifest")
        with path.open("rb") as handle:  # seek to the end: object stores have no cheap stat() in common
            actual = handle.seek(0, io.SEEK_END)
        if actual != size:
            raise InvalidInputError(f"blob {digest} is {actual} bytes, the manifest says {size}")
        return PathSource(path, size)

    def plan(self, descriptor: dict[str, Any]) -> list[tuple[Document, list[dict[str, Any]]]]:
        """Manifests in push order (children before their index), each with the blobs it needs."""
        document = self.document(descriptor)
        if document.media_type in INDEX_TYPES:
            steps: list[tuple[Document, list[dict[str, Any]]]] = []
            for child in document.json().get("manifests") or []:
                if isinstance(child, dict):
                    steps.extend(self.plan(child))
            return [*steps, (document, [])]
        data = document.json()
        blobs = [data["config"]] if isinstance(data.get("config"), dict) else []
        blobs.extend(d for d in data.get("layers") or [] if isinstance(d, dict))
        for blob in blobs:
            self.check_blob(blob)
        return [(document, blobs)]


def _pathlike(path: Any) -> bool:
    """An object with pathlib's interface (``ObjectStoragePath`` is also ``os.PathLike``, for local paths)."""
    return not isinstance(path, str) and all(
        hasattr(path, name) for name in ("open", "exists", "is_dir", "__truediv__")
    )


def push_layout(
    registry: SyncFront[RegistryOperations],
    layout_path: Any,
    repository: str,
    tags: list[str],
    *,
    ref_name: str | None = None,
    mount_from: str | None = None,
    chunk_size: int | None = None,
    max_concurrent_blobs: int | None = None,
    resume: ResumeStore | None = None,
    engine: TransferEngine | None = None,
) -> TransferResult:
    """Push the selected image (or index, whole) under ``tags`` with a sync registry front: every blob of every
    platform concurrently (``max_concurrent_blobs``, ``transfer.py``), then the platform manifests by digest (in
    parallel), each nested index after its children, and the top under each tag.

    ``engine``: your own :class:`TransferEngine`, to cancel from another thread. ``resume``: a
    :class:`ResumeStore`, so that a push killed mid-blob continues on its next try.
    """
    ops = registry.ops
    repository, layout, steps, result = _prepare(ops, layout_path, repository, tags, ref_name)
    top = steps[-1][0]
    engine = engine or TransferEngine(max_concurrent_blobs)
    options: dict[str, Any] = {"resume": resume}
    if chunk_size:
        options["chunk_size"] = chunk_size
    if mount_from:
        options["mount_from"] = mount_from
    sizes = {str(blob["digest"]): int(blob["size"]) for _document, blobs in steps for blob in blobs}
    scopes = BlobPusher(ops, repository, PathSource(layout.root, 0), **options).scopes
    # One request before the blobs fan out: it learns the registry's challenge and mints the push's one token.
    registry.run(ops.head_manifest(repository, top.digest, scopes=scopes))

    def task(digest: str, size: int) -> PushTask:
        source = PathSource(layout.blob_path(digest), size)

        def make(progress: BlobProgress) -> BlobPusher:
            return BlobPusher(ops, repository, source, digest=digest, progress=progress, **options)

        return PushTask(digest, size, registry.run, make)

    tasks = [task(digest, size) for digest, size in sizes.items()]
    for pushed in engine.transfer(tasks, f"push {repository}"):
        result.add(pushed)
    children = [document for document, _blobs in steps if document is not top]
    images = [d for d in children if d.media_type not in INDEX_TYPES]

    def put(document: Document) -> None:
        registry.run(ops.put_manifest(repository, document.digest, document.raw, document.media_type, scopes))

    engine.map(put, images)
    for document in children:
        if document.media_type in INDEX_TYPES:
            put(document)  # a nested index, after the manifests it lists (the plan is children first)
        result.add_manifest(document.digest)
    for tag in tags:
        registry.run(ops.put_manifest(repository, tag, top.raw, top.media_type, scopes))
        log.info("pushed %s:%s -> %s", repository, tag, top.digest)
    return result


def _prepare(
    ops: RegistryOperations, layout_path: Any, repository: str, tags: list[str], ref_name: str | None
) -> tuple[str, OciLayout, list[tuple[Document, list[dict[str, Any]]]], TransferResult]:
    """Every check, before any request: tags, repository, the destructive gate, the layout and its blobs."""
    if not tags:
        raise InvalidInputError("push needs at least one tag")
    for tag in tags:
        validate_tag(tag)
    repository = ops.repository(repository)
    ops.state.require_destructive(f"image push to {repository}")
    layout = OciLayout(layout_path)
    steps = layout.plan(layout.select(ref_name))
    top = steps[-1][0]
    result = TransferResult(
        digest=top.digest,
        registry=registry_name(str(ops.base)),
        repository=repository,
        tags=list(tags),
        media_type=top.media_type,
    )
    return repository, layout, steps, result
