"""The registry's two fronts: ``RegistryClient`` (workers) and ``AsyncRegistryClient`` (triggers, async tasks).

Each method is one line over a flow of :class:`RegistryOperations` or of the image, watch and copy modules
(``core/front.py``), so the two fronts cannot drift. Obtain them from ``DockerHubHook.registry`` or a session's
``.registry``; ``front.ops`` stays public so flows compose (``front.run(platforms(front.ops, ...))``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..core.front import AsyncFront, SyncFront, async_call, async_pages, sync_call, sync_pages
from ..core.reference import ImageReference
from . import digest_watch, images
from .api import RegistryOperations
from .blobs import as_source
from .copy import CopyResult, copy_image
from .upload import BlobPusher, PushResult

# Pushing streams each chunk as a sync iterator body, which httpx's AsyncClient refuses: these stay sync-only.
SYNC_ONLY = frozenset({"blob_pusher", "push_blob", "copy_image"})


class RegistryClient(SyncFront[RegistryOperations]):
    """Synchronous registry client."""

    ping = sync_call(RegistryOperations.ping)
    head_manifest = sync_call(RegistryOperations.head_manifest)
    resolve_digest = sync_call(RegistryOperations.resolve_digest)
    get_manifest = sync_call(RegistryOperations.get_manifest)
    put_manifest = sync_call(RegistryOperations.put_manifest)
    list_tags = sync_pages(RegistryOperations.list_tags)
    blob_exists = sync_call(RegistryOperations.blob_exists)
    upload_blob = sync_call(RegistryOperations.upload_blob)
    delete_manifest = sync_call(RegistryOperations.delete_manifest)
    delete_blob = sync_call(RegistryOperations.delete_blob)
    fetch_blob = sync_call(RegistryOperations.fetch_blob)
    get_blob = sync_call(RegistryOperations.get_blob)
    referrers = sync_call(RegistryOperations.referrers)
    platforms = sync_call(images.platforms)
    get_config = sync_call(images.get_config)
    inspect = sync_call(images.inspect)
    digest_state = sync_call(digest_watch.digest_state)

    def parse_image(self, text: str) -> ImageReference:
        """Parse ``text`` (``repo:tag``, ``repo@digest``) and make sure it names this connection's registry."""
        return self.ops.image(text)

    def download_blob(self, repository: str, digest: str, path: str | os.PathLike[str]) -> int:
        """Stream a blob to ``path`` with its digest verified; a partial or corrupt download never lands there."""
        with _landing(path) as handle:
            return self.run(self.ops.fetch_blob(repository, digest, handle.write))

    def copy_image(
        self,
        src_repository: str,
        src_reference: str,
        dst_repository: str,
        tags: list[str],
        destination: RegistryClient | None = None,
        **options: Any,
    ) -> CopyResult:
        """Copy/promote an image (whole index) to ``dst_repository`` under ``tags``; mounts blobs when the
        registry allows, else streams each from the source's GET into the destination's upload, several at once.
        ``destination``: another registry. Options: ``chunk_size``, ``max_concurrent_blobs`` (default 6),
        ``resume`` (a ``ResumeStore``: a copy killed mid-blob continues on the next try), ``engine`` (a
        ``TransferEngine``, to cancel it from another thread)."""
        return copy_image(self, src_repository, src_reference, dst_repository, tags, destination=destination, **options)

    def blob_pusher(self, repository: str, source: Any, **options: Any) -> BlobPusher:
        """A pusher for ``source`` (a path, ``bytes``, a binary stream or a ``BlobSource``); run it with
        ``client.run(pusher.push())``, cancel it from another thread with ``pusher.cancel()``."""
        return BlobPusher(self.ops, repository, as_source(source), **options)

    def push_blob(self, repository: str, source: Any, **options: Any) -> PushResult:
        """Push a blob: skip if present, mount when ``mount_from`` is given, else a resumable chunked upload.

        Options: ``digest`` (expected; enables the skip and is verified), ``mount_from``, ``chunk_size``,
        ``resume`` (a ``ResumeStore``: a push killed mid-blob continues on the next try).
        """
        return self.run(self.blob_pusher(repository, source, **options).push())


class AsyncRegistryClient(AsyncFront[RegistryOperations]):
    """The async front: every registry flow that can run on the event loop (reads, streamed blob reads, manifest
    puts, monolithic uploads, deletes, digest watches).

    Not here (``SYNC_ONLY``): ``push_blob``/``blob_pusher`` stream each chunk as a sync file iterator, which
    httpx's ``AsyncClient`` refuses, and ``copy_image`` pushes a blob whenever a mount is declined.
    """

    ping = async_call(RegistryOperations.ping)
    head_manifest = async_call(RegistryOperations.head_manifest)
    resolve_digest = async_call(RegistryOperations.resolve_digest)
    get_manifest = async_call(RegistryOperations.get_manifest)
    put_manifest = async_call(RegistryOperations.put_manifest)
    list_tags = async_pages(RegistryOperations.list_tags)
    blob_exists = async_call(RegistryOperations.blob_exists)
    upload_blob = async_call(RegistryOperations.upload_blob)
    delete_manifest = async_call(RegistryOperations.delete_manifest)
    delete_blob = async_call(RegistryOperations.delete_blob)
    fetch_blob = async_call(RegistryOperations.fetch_blob)
    get_blob = async_call(RegistryOperations.get_blob)
    referrers = async_call(RegistryOperations.referrers)
    platforms = async_call(images.platforms)
    get_config = async_call(images.get_config)
    inspect = async_call(images.inspect)
    digest_state = async_call(digest_watch.digest_state)

    def parse_image(self, text: str) -> ImageReference:
        """Parse ``text`` (``repo:tag``, ``repo@digest``) and make sure it names this connection's registry."""
        return self.ops.image(text)

    async def download_blob(self, repository: str, digest: str, path: str | os.PathLike[str]) -> int:
        """Stream a blob to ``path`` with its digest verified; a partial or corrupt download never lands there."""
        with _landing(path) as handle:
            return await self.run(self.ops.fetch_blob(repository, digest, handle.write))


@contextlib.contextmanager
def _landing(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A temporary file next to ``path``, renamed onto it only when the block succeeds, removed otherwise."""
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
