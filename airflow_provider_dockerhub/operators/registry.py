"""Release operators on the Registry HTTP API v2: push a blob, push an image, copy/promote, delete a manifest.

Each is its arguments plus one core call. Every write needs the connection's ``allow_destructive``; a delete
also needs the operator's own ``confirm_delete=True``. Return values are JSON primitives (XCom); the image push
and the copy return one shape, ``TransferResult.as_xcom()`` (README, "XCom results").

Image Assets: the push and copy operators add ``image_asset(repository, registry)`` to their outlets at parse
time; the registry is the ``registry`` argument (Docker Hub, ``docker.io``, by default), because the connection
is read only at run time. At run time, before any request, a task whose image Assets name another registry or
repository than the one its connection writes to fails (``AirflowFailException``, no retries): emitting this
push's digest on them would fire a DAG scheduled on another image. The event's extra always names the registry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.assets import DOCKER_HUB, foreign_image_outlets
from airflow_provider_dockerhub.operators.base import DockerHubBaseOperator, default_image_outlets
from airflow_provider_dockerhub.operators.links import DockerHubTransferImageLink

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_dockerhub.client.registry.resume import ResumeStore
    from airflow_provider_dockerhub.client.registry.transfer import TransferEngine
    from airflow_provider_dockerhub.client.registry.upload import BlobPusher


def check_image_outlets(operator: DockerHubBaseOperator, registry_url: str, repository: str) -> None:
    """Refuse, before any request, image Assets that name another image than ``repository`` on this registry."""
    from airflow_provider_dockerhub.client.core.reference import registry_name

    registry = registry_name(registry_url)
    foreign = foreign_image_outlets(operator.outlets, registry, repository)
    if foreign:
        raise AirflowFailException(
            f"{operator.task_id} writes {registry}/{repository} but declares the image Asset(s) {', '.join(foreign)}; "
            f"pass registry={registry!r} (or emit_asset=False), or declare image_asset({repository!r}, "
            f"registry={registry!r}): an event with this digest would fire DAGs scheduled on another image"
        )


def resume_store_for(location: str | None, context: Context) -> ResumeStore | None:
    """The resume store of one task instance: ``<location>/<dag_id>/<run_id>/<task_id>[/<map_index>]`` as an
    ``ObjectStoragePath`` (``file:///shared/...`` on a volume every worker mounts, ``s3://bucket/...``), so any
    worker running the next try finds what this try saved; ``None`` when no location is configured.

    Why object storage and not XCom or Variables: a task's XComs are cleared when its next try starts, and a
    Variable is global metadata written through the API server once per chunk of every blob in flight; object
    storage the user already runs is built for small, frequent writes and is readable from any worker."""
    if not location:
        return None
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_dockerhub.client.registry.resume import PathResumeStore

    ti = context["ti"]
    parts = [ti.dag_id, ti.run_id, ti.task_id] + ([str(ti.map_index)] if ti.map_index >= 0 else [])
    root = ObjectStoragePath(location)
    for part in parts:
        root = root / re.sub(r"[^A-Za-z0-9._-]", "_", str(part))
    return PathResumeStore(root)


class _TransferOperatorMixin:
    """What the push and copy operators share: concurrency, the resume store, and ``on_kill``.

    ``on_kill`` (Airflow's SIGTERM: a worker shutting down or evicted, a task marked failed, ``execution_timeout``):
    with a ``resume_store`` the transfer stops with each blob's chunk in flight finished, and keeps the upload
    sessions and their resume state, because the next try is exactly what resumes them (a session never resumed
    is purged by the registry, after 168 h on distribution). Without one, nothing could resume them: they are
    deleted at once, as before. A SIGKILL runs no code; the state saved after the last chunk is what the next
    try reads.
    """

    resume_store: str | None
    _engine: TransferEngine | None

    def _transfer_engine(self, max_concurrent_blobs: int | None) -> TransferEngine:
        from airflow_provider_dockerhub.client.registry.transfer import TransferEngine

        self._engine = TransferEngine(max_concurrent_blobs, keep_sessions_on_interrupt=bool(self.resume_store))
        return self._engine

    def on_kill(self) -> None:
        engine = self._engine
        if engine is not None:
            engine.cancel(keep_sessions=bool(self.resume_store))


def image_event(result: Any) -> dict[str, Any]:
    """The image Asset event's extra: the digest, and where it now is."""
    return {"digest": result.digest, "registry": result.registry, "repository": result.repository, "tags": result.tags}


def blob_source(path: str) -> Any:
    """What the blob push reads: a local path as it is, or an object storage URL (``s3://``, ``gs://``,
    ``file://`` on a shared volume) read through ``ObjectStoragePath``, so the file may come from another task on
    another worker. Its size is read first, so a missing object fails before any request to the registry."""
    if "://" not in path:
        return path
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_dockerhub.client.core.errors import InvalidInputError
    from airflow_provider_dockerhub.client.registry.blobs import PathSource

    remote = ObjectStoragePath(path)
    if not remote.is_file():
        raise InvalidInputError(f"blob source {path!r} was not found in object storage (or is not a file)")
    return PathSource(remote, remote.stat().st_size)


class DockerHubPushBlobOperator(DockerHubBaseOperator):
    """Push one blob (a file) with the streaming, resumable chunked upload; returns ``{"digest", "size", ...}``.

    :param repository: target repository.
    :param path: the file to push: a local path, or an object storage URL (``s3://bucket/key``, ``gs://...``,
        ``file:///shared/...``) read through ``ObjectStoragePath``, so another task on another worker may write it.
    :param digest: expected digest, if known: enables skip-if-present and is verified before commit.
    :param mount_from: a repository of the same registry that may already hold the blob (cross-repo mount).
    :param chunk_size: PATCH chunk size in bytes (default 64 MiB); memory stays near one 1 MiB piece.
    :param resume_store: where the upload's resume state is kept between tries (``file:///shared/dir``,
        ``s3://bucket/prefix``: an ``ObjectStoragePath`` every worker can reach); a push killed mid-blob then
        resumes from the registry's session on the next try. ``on_kill`` keeps the session when it is set.
    """

    template_fields: Sequence[str] = (
        "repository",
        "path",
        "digest",
        "mount_from",
        "dockerhub_conn_id",
        "resume_store",
    )

    def __init__(
        self,
        *,
        repository: str,
        path: str,
        digest: str | None = None,
        mount_from: str | None = None,
        chunk_size: int | None = None,
        resume_store: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repository = repository
        self.path = path
        self.digest = digest
        self.mount_from = mount_from
        self.chunk_size = chunk_size
        self.resume_store = resume_store
        self._pusher: BlobPusher | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        options: dict[str, Any] = {"digest": self.digest or None, "mount_from": self.mount_from or None}
        if self.chunk_size:
            options["chunk_size"] = self.chunk_size
        options["resume"] = resume_store_for(self.resume_store, context)
        registry = self.hook.registry
        self._pusher = registry.blob_pusher(self.repository, blob_source(self.path), **options)
        try:
            result = registry.run(self._pusher.push())
        finally:
            self._pusher = None
            self.hook.close()
        self.log.info(
            "blob %s (%d bytes) in %s: %s",
            result.digest,
            result.size,
            self.repository,
            "skipped" if result.skipped else "mounted" if result.mounted else f"uploaded in {result.seconds:.1f}s",
        )
        return result.as_xcom()

    def on_kill(self) -> None:
        # Without a resume store the push loop sees the flag between 1 MiB pieces and deletes the registry's
        # upload session; with one it finishes its chunk and keeps the session for the next try.
        if self._pusher is not None:
            self._pusher.cancel(keep_session=bool(self.resume_store))


class DockerHubPushImageOperator(_TransferOperatorMixin, DockerHubBaseOperator):
    """Push an OCI image layout directory (``docker buildx --output type=oci``, skopeo, oras) under tags.

    Blobs first (skipped when present, mounted when ``mount_from`` has them), then child manifests by digest,
    then the image or index under every tag. Emits the image Asset event with the digest. Returns
    ``TransferResult.as_xcom()``: ``{"digest", "registry", "repository", "tags", "media_type", "manifests",
    "blobs_uploaded", "blobs_mounted", "blobs_skipped", "bytes_uploaded"}``.

    :param layout_path: the layout directory: a local path, or an object storage URL (``s3://...``,
        ``file://...``), read through ``ObjectStoragePath``.
    :param registry: the registry the connection pushes to, for the image Asset declared at parse time
        (``docker.io`` by default; ``"registry.example.com:5000"`` for a private one). Checked at run time.
    :param max_concurrent_blobs: blobs transferred at once, across all platforms (default 6, at most 32).
    :param resume_store: where resume state is kept between tries (an ``ObjectStoragePath`` URL every worker
        can reach, e.g. ``file:///shared/dockerhub-resume``); a push killed mid-blob resumes on the next try.
    """

    operator_extra_links = (DockerHubTransferImageLink(),)  # the image's Docker Hub page; none elsewhere
    template_fields: Sequence[str] = (
        "layout_path",
        "repository",
        "tags",
        "ref_name",
        "dockerhub_conn_id",
        "resume_store",
    )

    def __init__(
        self,
        *,
        layout_path: str,
        repository: str,
        tags: Sequence[str],
        ref_name: str | None = None,
        mount_from: str | None = None,
        chunk_size: int | None = None,
        emit_asset: bool = True,
        registry: str | None = None,
        max_concurrent_blobs: int | None = None,
        resume_store: str | None = None,
        **kwargs: Any,
    ) -> None:
        outlets = default_image_outlets(repository, kwargs.get("outlets"), emit_asset, registry or DOCKER_HUB)
        kwargs["outlets"] = outlets
        super().__init__(**kwargs)
        self.registry = registry
        self.layout_path = layout_path
        self.repository = repository
        self.tags = tags
        self.ref_name = ref_name
        self.mount_from = mount_from
        self.chunk_size = chunk_size
        self.max_concurrent_blobs = max_concurrent_blobs
        self.resume_store = resume_store
        self._engine = None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.registry.layout import push_layout

        tags = [self.tags] if isinstance(self.tags, str) else list(self.tags)
        check_image_outlets(self, self.hook.get_config().registry_url, self.repository)
        layout: Any = self.layout_path
        if "://" in layout:
            from airflow.sdk import ObjectStoragePath

            layout = ObjectStoragePath(layout)
        try:
            result = push_layout(
                self.hook.registry,
                layout,
                self.repository,
                tags,
                ref_name=self.ref_name or None,
                mount_from=self.mount_from or None,
                chunk_size=self.chunk_size,
                resume=resume_store_for(self.resume_store, context),
                engine=self._transfer_engine(self.max_concurrent_blobs),
            )
        finally:
            self.hook.close()
        self.log.info(
            "pushed %s:%s = %s (%d blobs uploaded, %d skipped, %d mounted)",
            result.repository,
            ",".join(tags),
            result.digest,
            result.blobs_uploaded,
            result.blobs_skipped,
            result.blobs_mounted,
        )
        self.emit_image_event(context, image_event(result))
        return result.as_xcom()


class DockerHubCopyImageOperator(_TransferOperatorMixin, DockerHubBaseOperator):
    """Copy or promote ``source`` to ``destination`` (another tag, repository, or registry).

    ``source`` is ``repo:tag`` or ``repo@digest``; ``destination`` is ``repo:tag`` (plus ``extra_tags``). Within
    one registry, layers are mounted, never pulled; a multi-platform index is copied whole, so the destination
    digest equals the source's. ``destination_conn_id`` targets another registry: each blob is streamed from
    the source's GET into the destination's upload (no temporary file), ``max_concurrent_blobs`` at once, its
    digest verified before the commit. Emits the image Asset event for the destination. Returns
    ``TransferResult.as_xcom()``, the image push's shape.

    :param registry: the destination's registry, for the image Asset declared at parse time (default: the host
        ``destination`` names, else ``docker.io``). Checked at run time against the destination connection.
    :param gate_report_hash: the policy gate's ``report_hash`` (templated), added to the Asset event's extra.
    :param max_concurrent_blobs: blobs transferred at once, across all platforms (default 6, at most 32).
    :param resume_store: where resume state is kept between tries (an ``ObjectStoragePath`` URL every worker
        can reach); a copy killed mid-blob resumes on the next try.
    :param chunk_size: PATCH chunk size in bytes for blobs streamed to another registry (default 64 MiB); what
        a killed copy may have to send again.
    """

    operator_extra_links = (DockerHubTransferImageLink(),)  # the image's Docker Hub page; none elsewhere
    template_fields: Sequence[str] = (
        "source",
        "destination",
        "extra_tags",
        "dockerhub_conn_id",
        "destination_conn_id",
        "gate_report_hash",
        "resume_store",
    )

    def __init__(
        self,
        *,
        source: str,
        destination: str,
        extra_tags: Sequence[str] = (),
        destination_conn_id: str | None = None,
        emit_asset: bool = True,
        registry: str | None = None,
        gate_report_hash: str | None = None,
        max_concurrent_blobs: int | None = None,
        resume_store: str | None = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        named = _named_image(destination)
        if named is None:  # templated or malformed: no automatic Asset (execute reports a malformed one)
            emit_asset, named = False, (DOCKER_HUB, destination)
        outlets = default_image_outlets(named[1], kwargs.get("outlets"), emit_asset, registry or named[0])
        kwargs["outlets"] = outlets
        super().__init__(**kwargs)
        self.registry = registry
        self.source = source
        self.destination = destination
        self.extra_tags = extra_tags
        self.destination_conn_id = destination_conn_id
        # The policy gate's report hash (its XCom "report_hash"), carried in the Asset event so a deploy can
        # refuse a digest that was never gated (policy.py, "gated.json").
        self.gate_report_hash = gate_report_hash
        self.max_concurrent_blobs = max_concurrent_blobs
        self.resume_store = resume_store
        self.chunk_size = chunk_size
        self._engine = None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.core.errors import InvalidInputError
        from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook

        source_registry = self.hook.registry
        destination_hook = (
            DockerHubHook(dockerhub_conn_id=self.destination_conn_id)
            if self.destination_conn_id and self.destination_conn_id != self.dockerhub_conn_id
            else None
        )
        try:
            destination_registry = destination_hook.registry if destination_hook else source_registry
            src = source_registry.parse_image(self.source)
            dst = destination_registry.parse_image(self.destination)
            if dst.digest or not dst.tag:
                raise InvalidInputError(f"destination {self.destination!r} must be repository:tag")
            tags = [dst.tag, *self.extra_tags]
            written_by = destination_hook if destination_hook is not None else self.hook
            check_image_outlets(self, written_by.get_config().registry_url, dst.repository)
            result = source_registry.copy_image(
                src.repository,
                src.reference,
                dst.repository,
                tags,
                destination=destination_registry if destination_hook else None,
                chunk_size=self.chunk_size,
                resume=resume_store_for(self.resume_store, context),
                engine=self._transfer_engine(self.max_concurrent_blobs),
            )
        finally:
            self.hook.close()
            if destination_hook is not None:
                destination_hook.close()
        self.log.info(
            "%s -> %s:%s = %s (%d blobs mounted, %d skipped, %d uploaded)",
            self.source,
            result.repository,
            ",".join(tags),
            result.digest,
            result.blobs_mounted,
            result.blobs_skipped,
            result.blobs_uploaded,
        )
        extra = image_event(result)
        if self.gate_report_hash:
            extra["gate_report_hash"] = str(self.gate_report_hash)
        self.emit_image_event(context, extra)
        return result.as_xcom()


def _named_image(text: str) -> tuple[str, str] | None:
    """``(registry, repository)`` an untemplated image reference names at parse time (the registry ``docker.io``
    when it names none); ``None`` when templated or malformed."""
    if "{{" in text:
        return None
    from airflow_provider_dockerhub.client.core.errors import InvalidInputError
    from airflow_provider_dockerhub.client.core.reference import parse_reference

    try:
        ref = parse_reference(text, docker_hub=False)  # image_asset adds library/ on Docker Hub only
    except InvalidInputError:
        return None
    return ref.registry or DOCKER_HUB, ref.repository


class DockerHubDeleteManifestOperator(DockerHubBaseOperator):
    """Delete a manifest **by digest** (a tag is resolved first; an unresolvable tag is an error).

    Destructive: runs only when the connection has ``allow_destructive`` **and** ``confirm_delete=True``.
    ``dry_run=True`` (the default) resolves and reports what would be deleted, changing nothing.
    Returns ``{"repository", "reference", "digest", "deleted", "dry_run"}``.
    """

    template_fields: Sequence[str] = ("repository", "reference", "dry_run", "dockerhub_conn_id")

    def __init__(
        self,
        *,
        repository: str,
        reference: str,
        confirm_delete: bool = False,
        dry_run: bool | str = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repository = repository
        self.reference = reference
        self.confirm_delete = confirm_delete
        self.dry_run = dry_run

    def execute(self, context: Context) -> dict[str, Any]:
        # dry_run may be templated ("{{ params.dry_run }}"): anything but a clear false keeps the dry run.
        self.dry_run = str(self.dry_run).strip().lower() not in ("false", "0", "no", "off")
        report: dict[str, Any] = {"repository": self.repository, "reference": self.reference, "dry_run": self.dry_run}
        if not self.dry_run:
            self.require_confirmation(
                self.confirm_delete, f"deleting {self.repository}:{self.reference}", "confirm_delete"
            )
        try:
            registry = self.hook.registry
            if self.dry_run:
                report["digest"] = registry.resolve_digest(self.repository, self.reference)
                report["deleted"] = False
                self.log.info("dry run: would delete %s@%s", self.repository, report["digest"])
                return report
            report["digest"] = registry.delete_manifest(self.repository, self.reference)
            report["deleted"] = True
        finally:
            self.hook.close()
        self.log.info("deleted %s@%s", self.repository, report["digest"])
        return report
