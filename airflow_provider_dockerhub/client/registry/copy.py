"""Copy or promote an image: to another tag, repository, or registry, without pulling layers when mounts work.

Order matters for registries that check references on manifest PUT (``MANIFEST_BLOB_UNKNOWN``): blobs first, then
each child manifest by digest, then the top manifest under each tag. A multi-platform index is copied whole,
attestation manifests included, so the destination's digest equals the source's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidInputError
from ..core.reference import validate_digest, validate_tag
from .images import INDEX_TYPES, DownloadedBlob, _media_type, blob_descriptors, child_descriptors
from .upload import BlobCounts

if TYPE_CHECKING:
    from .api import Manifest, RegistryClient

log = logging.getLogger("airflow_provider_dockerhub.client.registry.copy")


@dataclass
class CopyResult(BlobCounts):
    digest: str = ""
    destination: str = ""
    tags: list[str] = field(default_factory=list)
    manifests: int = 0

    def as_xcom(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "destination": self.destination,
            "tags": list(self.tags),
            "manifests": self.manifests,
            "blobs_mounted": self.blobs_mounted,
            "blobs_skipped": self.blobs_skipped,
            "blobs_uploaded": self.blobs_uploaded,
        }


class ImageCopier:
    """Copies from ``source`` to ``destination`` registry clients (the same client for one registry)."""

    def __init__(
        self,
        source: RegistryClient,
        destination: RegistryClient,
        *,
        chunk_size: int | None = None,
        temp_dir: str | None = None,
    ) -> None:
        self.source = source
        self.destination = destination
        self.same_registry = source is destination or source.ops.base == destination.ops.base
        self.chunk_size = chunk_size
        self.temp_dir = temp_dir

    def copy(self, src_repository: str, src_reference: str, dst_repository: str, tags: list[str]) -> CopyResult:
        if not tags:
            raise InvalidInputError("copy needs at least one destination tag")
        for tag in tags:
            validate_tag(tag)
        src_repository = self.source.ops.repository(src_repository)
        dst_repository = self.destination.ops.repository(dst_repository)
        self.destination.ops.state.require_destructive(f"copy to {dst_repository}:{','.join(tags)}")
        top = self.source.get_manifest(src_repository, src_reference)
        result = CopyResult(digest=top.digest, destination=dst_repository, tags=list(tags))
        tag_move = self.same_registry and src_repository == dst_repository
        if not tag_move:
            self._copy_content(src_repository, dst_repository, top, result)
        media_type = _media_type(top)
        for tag in tags:
            self.destination.put_manifest(dst_repository, tag, top.raw, media_type)
            log.info("%s:%s -> %s", dst_repository, tag, top.digest)
        return result

    def _copy_content(self, src_repository: str, dst_repository: str, manifest: Manifest, result: CopyResult) -> None:
        """Everything ``manifest`` references; child manifests are PUT by digest, the top one by the caller."""
        if _media_type(manifest) in INDEX_TYPES:
            for child in child_descriptors(manifest):
                digest = validate_digest(str(child.get("digest")))
                if self.destination.head_manifest(dst_repository, digest) is not None:
                    result.manifests += 1
                    continue
                child_manifest = self.source.get_manifest(src_repository, digest)
                self._copy_content(src_repository, dst_repository, child_manifest, result)
                self.destination.put_manifest(dst_repository, digest, child_manifest.raw, _media_type(child_manifest))
                result.manifests += 1
            return
        for blob in blob_descriptors(manifest):
            self._copy_blob(src_repository, dst_repository, validate_digest(str(blob.get("digest"))), result)

    def _copy_blob(self, src_repository: str, dst_repository: str, digest: str, result: CopyResult) -> None:
        def fetch(repository: str, blob_digest: str, sink: Any) -> int:
            size: int = self.source.run(self.source.ops.fetch_blob(repository, blob_digest, sink))
            return size

        staged = DownloadedBlob(fetch, src_repository, digest, self.temp_dir)
        options: dict[str, Any] = {"digest": digest}
        if self.same_registry:
            options["mount_from"] = src_repository
        if self.chunk_size:
            options["chunk_size"] = self.chunk_size
        try:
            pushed = self.destination.push_blob(dst_repository, staged, **options)
        finally:
            staged.discard()
        result.add(pushed)
