"""Copy or promote an image: to another tag, repository, or registry, without pulling layers when mounts work.

Order matters for registries that check references on manifest PUT (``MANIFEST_BLOB_UNKNOWN``): blobs first, then
each child manifest by digest, then the top manifest under each tag. A multi-platform index is copied whole,
attestation manifests included, so the destination's digest equals the source's.

The copy is written once, as a *plan*: a generator of steps, each a flow for the source or for the destination
registry. With one front the plan runs as one flow (:func:`copy_within`); with two, each step runs on its own
registry's front, one after the other (:func:`copy_image`), so no flow ever runs a driver.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import IO, Any, Literal, TypeVar

from ..core.errors import InvalidInputError
from ..core.flow import Flow
from ..core.front import SyncFront
from ..core.reference import registry_name, validate_digest, validate_tag
from .api import RegistryOperations
from .blobs import PushResult, TransferResult, UploadFailedError
from .media import INDEX_TYPES, Manifest, blob_descriptors, child_descriptors, media_type_of
from .upload import BlobPusher

log = logging.getLogger("airflow_provider_dockerhub.client.registry.copy")

T = TypeVar("T")
Side = Literal["source", "destination"]


@dataclass(frozen=True)
class Step:
    """One flow of a plan, for the registry on ``side``."""

    side: Side
    flow: Flow[Any]


Plan = Generator[Step, Any, T]


@dataclass
class CopyResult(TransferResult):
    """A copy's :class:`TransferResult`; ``destination`` is its repository, by its older name."""

    @property
    def destination(self) -> str:
        return self.repository


class StagedBlob:
    """A source blob fetched into a temporary file by :meth:`stage`, only once the destination turns out to need
    it (no mount, not present): bounded memory, digest verified by ``fetch_blob`` before any byte is pushed."""

    def __init__(self, fetch: Callable[[Callable[[bytes], object]], Flow[int]], directory: str | None = None) -> None:
        self._fetch = fetch  # sink -> the source registry's fetch_blob flow
        self._directory = directory
        self._path: str | None = None
        self.size: int | None = None

    @property
    def seekable(self) -> bool:
        return True

    def stage(self) -> Flow[None]:
        if self._path is not None:
            return
        fd, path = tempfile.mkstemp(prefix="dockerhub-copy-", dir=self._directory)
        try:
            with os.fdopen(fd, "wb") as out:
                self.size = yield from self._fetch(out.write)
        except BaseException:
            os.unlink(path)
            raise
        self._path = path

    def open_at(self, offset: int) -> IO[bytes]:
        if self._path is None:
            raise UploadFailedError("the copied blob was not staged before its upload")
        handle = open(self._path, "rb")  # noqa: SIM115 - the push engine closes it
        handle.seek(offset)
        return handle

    def discard(self) -> None:
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            self._path = None


@dataclass
class _Copy:
    source: RegistryOperations
    destination: RegistryOperations
    same_registry: bool
    chunk_size: int | None = None
    temp_dir: str | None = None

    def plan(self, src_repository: str, src_reference: str, dst_repository: str, tags: list[str]) -> Plan[CopyResult]:
        if not tags:
            raise InvalidInputError("copy needs at least one destination tag")
        for tag in tags:
            validate_tag(tag)
        src_repository = self.source.repository(src_repository)
        dst_repository = self.destination.repository(dst_repository)
        self.destination.state.require_destructive(f"copy to {dst_repository}:{','.join(tags)}")
        top: Manifest = yield Step("source", self.source.get_manifest(src_repository, src_reference))
        result = CopyResult(
            digest=top.digest,
            registry=registry_name(str(self.destination.base)),
            repository=dst_repository,
            tags=list(tags),
            media_type=media_type_of(top),
        )
        tag_move = self.same_registry and src_repository == dst_repository
        if not tag_move:
            yield from self._content(src_repository, dst_repository, top, result)
        media_type = media_type_of(top)
        for tag in tags:
            yield Step("destination", self.destination.put_manifest(dst_repository, tag, top.raw, media_type))
            log.info("%s:%s -> %s", dst_repository, tag, top.digest)
        return result

    def _content(self, src_repository: str, dst_repository: str, manifest: Manifest, result: CopyResult) -> Plan[None]:
        """Everything ``manifest`` references; child manifests are PUT by digest, the top one by the caller."""
        if media_type_of(manifest) in INDEX_TYPES:
            for child in child_descriptors(manifest):
                digest = validate_digest(str(child.get("digest")))
                if digest in result.manifests:
                    continue  # the same child twice in one index: copied once, listed once
                if (yield Step("destination", self.destination.head_manifest(dst_repository, digest))) is not None:
                    result.add_manifest(digest)
                    continue
                child_manifest: Manifest = yield Step("source", self.source.get_manifest(src_repository, digest))
                yield from self._content(src_repository, dst_repository, child_manifest, result)
                raw, media_type = child_manifest.raw, media_type_of(child_manifest)
                yield Step("destination", self.destination.put_manifest(dst_repository, digest, raw, media_type))
                result.add_manifest(digest)
            return
        for blob in blob_descriptors(manifest):
            yield from self._blob(src_repository, dst_repository, validate_digest(str(blob.get("digest"))), result)

    def _blob(self, src_repository: str, dst_repository: str, digest: str, result: CopyResult) -> Plan[None]:
        """Skip or mount on the destination; else stage the blob from the source, then upload it. A blob that
        another manifest of this copy already brought (a layer shared by two platforms) is neither asked for
        again nor counted twice."""
        if digest in result.counted:
            return
        staged = StagedBlob(lambda sink: self.source.fetch_blob(src_repository, digest, sink), self.temp_dir)
        options: dict[str, Any] = {"digest": digest}
        if self.same_registry:
            options["mount_from"] = src_repository
        if self.chunk_size:
            options["chunk_size"] = self.chunk_size
        pusher = BlobPusher(self.destination, dst_repository, staged, **options)
        try:
            pushed: PushResult | None = yield Step("destination", pusher.begin())
            if pushed is None:
                try:
                    yield Step("source", staged.stage())
                except Exception:
                    yield Step("destination", pusher.abandon())
                    raise
                pushed = yield Step("destination", pusher.finish())
        finally:
            staged.discard()
        assert pushed is not None
        result.add(pushed)


def _inline(plan: Plan[T]) -> Flow[T]:
    """The plan as one flow: each step's flow delegated to, its result sent back (its exception thrown in)."""
    value: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                step = plan.throw(error) if error is not None else plan.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = yield from step.flow
            except Exception as exc:
                error = exc
    finally:
        plan.close()


def _with_fronts(plan: Plan[T], fronts: dict[Side, SyncFront[RegistryOperations]]) -> T:
    """The same loop, each step run to its end by its own registry's front before the next one starts."""
    value: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                step = plan.throw(error) if error is not None else plan.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = fronts[step.side].run(step.flow)
            except Exception as exc:
                error = exc
    finally:
        plan.close()


def copy_within(
    ops: RegistryOperations,
    src_repository: str,
    src_reference: str,
    dst_repository: str,
    tags: list[str],
    *,
    chunk_size: int | None = None,
    temp_dir: str | None = None,
) -> Flow[CopyResult]:
    """A copy within one registry as one flow: blobs mounted across repositories, else staged and uploaded."""
    copy = _Copy(ops, ops, same_registry=True, chunk_size=chunk_size, temp_dir=temp_dir)
    return _inline(copy.plan(src_repository, src_reference, dst_repository, tags))


def copy_image(
    source: SyncFront[RegistryOperations],
    src_repository: str,
    src_reference: str,
    dst_repository: str,
    tags: list[str],
    *,
    destination: SyncFront[RegistryOperations] | None = None,
    chunk_size: int | None = None,
    temp_dir: str | None = None,
) -> CopyResult:
    """Copy/promote with one front (one flow) or two (each step on its registry's front; two fronts of one
    registry still mount, with the destination's credentials, as a single front does)."""
    if destination is None or destination is source:
        flow = copy_within(
            source.ops, src_repository, src_reference, dst_repository, tags, chunk_size=chunk_size, temp_dir=temp_dir
        )
        return source.run(flow)
    same = source.ops.base == destination.ops.base
    copy = _Copy(source.ops, destination.ops, same_registry=same, chunk_size=chunk_size, temp_dir=temp_dir)
    plan = copy.plan(src_repository, src_reference, dst_repository, tags)
    return _with_fronts(plan, {"source": source, "destination": destination})
