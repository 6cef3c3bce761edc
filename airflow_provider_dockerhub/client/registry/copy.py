"""Copy or promote an image: to another tag, repository, or registry, without pulling layers when mounts work.

Order matters for registries that check references on manifest PUT (``MANIFEST_BLOB_UNKNOWN``): blobs first, then
each child manifest by digest, then the top manifest under each tag. A multi-platform index is copied whole,
attestation manifests included, so the destination's digest equals the source's.

The copy runs in three phases on the two registries' sync fronts (``transfer.py`` says why threads):

1. discovery: the top manifest, then every child manifest the destination lacks (HEADs and GETs in parallel);
2. blobs: every blob of every platform at once, ``max_concurrent_blobs`` in flight, largest first; each is
   skipped when present, mounted across repositories within one registry, else streamed from the source's GET
   into the destination's chunked upload (``remote.py``: no temporary file, digest checked before the commit);
3. manifests: the platform manifests by digest (in parallel), then each nested index, then the top under every
   tag.

Every destination request asks for the transfer's one scope set (``pull,push`` on the destination, plus ``pull``
on the source repository for mounts within one registry), so a copy mints one token per registry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..core.errors import InvalidInputError
from ..core.front import SyncFront
from ..core.reference import Scope, merge_scopes, registry_name, repository_scope, validate_digest, validate_tag
from .api import RegistryOperations
from .blobs import TransferResult
from .media import INDEX_TYPES, Manifest, blob_descriptors, child_descriptors, media_type_of
from .remote import RegistryBlobSource
from .resume import ResumeStore
from .transfer import BlobProgress, PushTask, TransferEngine
from .upload import BlobPusher

log = logging.getLogger("airflow_provider_dockerhub.client.registry.copy")


@dataclass
class CopyResult(TransferResult):
    """A copy's :class:`TransferResult`; ``destination`` is its repository, by its older name."""

    @property
    def destination(self) -> str:
        return self.repository


@dataclass
class _Copy:
    source: SyncFront[RegistryOperations]
    destination: SyncFront[RegistryOperations]
    src_repository: str
    dst_repository: str
    engine: TransferEngine
    chunk_size: int | None = None
    resume: ResumeStore | None = None

    @property
    def same_registry(self) -> bool:
        return self.source.ops.base == self.destination.ops.base

    @property
    def scopes(self) -> tuple[Scope, ...]:
        target = (repository_scope(self.dst_repository, "pull", "push"),)
        if self.same_registry and self.src_repository != self.dst_repository:
            return merge_scopes(target, (repository_scope(self.src_repository, "pull"),))
        return target

    @property
    def _source_scopes(self) -> tuple[Scope, ...] | None:
        """Within one registry the source is read with the destination's token (it covers ``pull`` there)."""
        return self.scopes if self.same_registry else None

    def run(self, src_reference: str, tags: list[str]) -> CopyResult:
        top: Manifest = self.source.run(
            self.source.ops.get_manifest(self.src_repository, src_reference, scopes=self._source_scopes)
        )
        result = CopyResult(
            digest=top.digest,
            registry=registry_name(str(self.destination.ops.base)),
            repository=self.dst_repository,
            tags=list(tags),
            media_type=media_type_of(top),
        )
        if not (self.same_registry and self.src_repository == self.dst_repository):  # else a tag move
            levels: list[list[Manifest]] = []
            images = self._discover([top], result, levels) if media_type_of(top) in INDEX_TYPES else [top]
            self._blobs(images, result)
            for level in reversed(levels):  # the deepest manifests first: an index after its children
                self.engine.map(self._put_child, level)
                for manifest in level:
                    result.add_manifest(manifest.digest)
        for tag in tags:
            put = self.destination.ops.put_manifest(self.dst_repository, tag, top.raw, result.media_type, self.scopes)
            self.destination.run(put)
            log.info("%s:%s -> %s", self.dst_repository, tag, top.digest)
        return result

    def _discover(self, indexes: list[Manifest], result: CopyResult, levels: list[list[Manifest]]) -> list[Manifest]:
        """The image manifests under ``indexes`` that the destination lacks; those and the nested indexes to PUT
        are appended to ``levels`` (one list per depth). Children already there are listed, not fetched."""
        seen = set(result.manifests) | {m.digest for level in levels for m in level}
        wanted: list[str] = []
        for index in indexes:
            for child in child_descriptors(index):
                digest = validate_digest(str(child.get("digest")))
                if digest not in seen:  # the same child twice in one index: copied once, listed once
                    seen.add(digest)
                    wanted.append(digest)
        fetched = [m for m in self.engine.map(self._fetch_missing, wanted) if m is not None]
        for digest in wanted:
            if all(m.digest != digest for m in fetched):
                result.add_manifest(digest)  # present at the destination
        if not fetched:
            return []
        levels.append(fetched)
        nested = [m for m in fetched if media_type_of(m) in INDEX_TYPES]
        images = [m for m in fetched if media_type_of(m) not in INDEX_TYPES]
        return images + (self._discover(nested, result, levels) if nested else [])

    def _fetch_missing(self, digest: str) -> Manifest | None:
        head = self.destination.ops.head_manifest(self.dst_repository, digest, scopes=self.scopes)
        if self.destination.run(head) is not None:
            return None
        manifest: Manifest = self.source.run(
            self.source.ops.get_manifest(self.src_repository, digest, scopes=self._source_scopes)
        )
        return manifest

    def _put_child(self, manifest: Manifest) -> None:
        flow = self.destination.ops.put_manifest(
            self.dst_repository, manifest.digest, manifest.raw, media_type_of(manifest), self.scopes
        )
        self.destination.run(flow)

    def _blobs(self, images: list[Manifest], result: CopyResult) -> None:
        descriptors: dict[str, int] = {}
        for image in images:
            for blob in blob_descriptors(image):
                digest = validate_digest(str(blob.get("digest")))
                size = blob.get("size")
                if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                    raise InvalidInputError(f"manifest {image.digest} gives blob {digest} no valid size")
                descriptors.setdefault(digest, size)  # a layer shared by two platforms: one blob
        tasks = [self._task(digest, size) for digest, size in descriptors.items()]
        label = f"copy {self.src_repository} -> {self.dst_repository}"
        for pushed in self.engine.transfer(tasks, label):
            result.add(pushed)

    def _task(self, digest: str, size: int) -> PushTask:
        source = RegistryBlobSource(self.source.run, self.source.ops, self.src_repository, digest, size)
        options: dict[str, Any] = {"digest": digest, "resume": self.resume}
        if self.same_registry:
            options["mount_from"] = self.src_repository
        if self.chunk_size:
            options["chunk_size"] = self.chunk_size

        def make(progress: BlobProgress) -> BlobPusher:
            return BlobPusher(self.destination.ops, self.dst_repository, source, progress=progress, **options)

        return PushTask(digest, size, self.destination.run, make, close=source.close)


def copy_image(
    source: SyncFront[RegistryOperations],
    src_repository: str,
    src_reference: str,
    dst_repository: str,
    tags: list[str],
    *,
    destination: SyncFront[RegistryOperations] | None = None,
    chunk_size: int | None = None,
    max_concurrent_blobs: int | None = None,
    resume: ResumeStore | None = None,
    engine: TransferEngine | None = None,
) -> CopyResult:
    """Copy/promote ``src_repository:src_reference`` to ``dst_repository`` under ``tags``, on one registry
    (``destination`` omitted: blobs mounted) or onto another (``destination``: blobs streamed).

    ``engine``: pass your own :class:`TransferEngine` to cancel the copy from another thread (``on_kill``).
    ``resume``: a :class:`ResumeStore`; a copy killed mid-blob continues on the next try.
    """
    if not tags:
        raise InvalidInputError("copy needs at least one destination tag")
    for tag in tags:
        validate_tag(tag)
    target = destination if destination is not None else source
    src_repository = source.ops.repository(src_repository)
    dst_repository = target.ops.repository(dst_repository)
    target.ops.state.require_destructive(f"copy to {dst_repository}:{','.join(tags)}")
    copy = _Copy(
        source,
        target,
        src_repository,
        dst_repository,
        engine or TransferEngine(max_concurrent_blobs),
        chunk_size=chunk_size,
        resume=resume,
    )
    return copy.run(src_reference, tags)
