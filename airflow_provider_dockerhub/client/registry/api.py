"""Registry HTTP API v2 operations, written once as flows; ``client.py`` puts the sync and async fronts on them.

Every method validates its names, tags and digests before any request, asks for exactly the scopes it needs,
and maps unexpected answers to typed errors. A manifest HEAD is used wherever a digest is enough: on Docker Hub a
GET counts as a pull against the rate limit and a HEAD does not. Response bodies are read only through the
``ReadBody``/``StreamBody`` effects, so every flow here runs under both drivers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx

from ..core.errors import DigestMismatchError, InvalidInputError, ProtocolError, raise_for_response, redacted_path
from ..core.flow import Flow, ReadBody, StreamBody
from ..core.pagination import Pages, Params, collect_pages, next_link_same_origin, same_origin
from ..core.reference import (
    ImageReference,
    Scope,
    digest_of,
    is_digest,
    is_docker_hub_registry,
    parse_reference,
    repository_scope,
    validate_digest,
    validate_repository_name,
    validate_tag_or_digest,
)
from ..state import SessionState
from .media import MANIFEST_ACCEPT, MAX_MANIFEST_SIZE, OCI_INDEX, Manifest, ManifestHead

BLOB_READ_PIECE = 1024 * 1024


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(
            response.request.method, redacted_path(response.request.url), f"{what} is not JSON"
        ) from exc
    if not isinstance(data, dict):
        raise ProtocolError(response.request.method, redacted_path(response.request.url), f"{what} is not an object")
    return data


class RegistryOperations:
    """The registry operations as flows; both fronts delegate here, so the logic exists once."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self.base = httpx.URL(state.config.registry_url)
        self.docker_hub = is_docker_hub_registry(self.base.host)

    # -- values ---------------------------------------------------------------------------------------------

    def repository(self, name: str) -> str:
        return validate_repository_name(name, docker_hub=self.docker_hub)

    def image(self, text: str) -> ImageReference:
        """Parse ``text`` and make sure it names this connection's registry (or none)."""
        ref = parse_reference(text, docker_hub=self.docker_hub)
        if ref.registry is not None:
            served = self.base.netloc.decode("ascii").lower()
            host = ref.registry.lower()
            same = host == served or (self.docker_hub and is_docker_hub_registry(host))
            if not same:
                raise InvalidInputError(
                    f"image {text!r} names registry {ref.registry!r}, but this connection serves {served!r}"
                )
        return ref

    def url(self, repository: str, *parts: str) -> httpx.URL:
        return self.base.copy_with(path=f"/v2/{repository}/{'/'.join(parts)}")

    def request(
        self,
        method: str,
        url: httpx.URL,
        scopes: tuple[Scope, ...],
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        replayable: bool = True,
        stream: bool = False,
        follow_redirects: bool = False,
    ) -> Flow[httpx.Response]:
        request = httpx.Request(method, url, headers=headers, content=content)
        return self.state.registry_auth.request_flow(
            request, scopes, replayable=replayable, stream=stream, follow_redirects=follow_redirects
        )

    # -- base -----------------------------------------------------------------------------------------------

    def ping(self) -> Flow[bool]:
        """``GET /v2/`` authorized for no scope: proves reachability and credentials. True if authenticated."""
        response = yield from self.request("GET", self.base.copy_with(path="/v2/"), ())
        raise_for_response(response, {200})
        return "authorization" in response.request.headers

    # -- manifests ------------------------------------------------------------------------------------------

    def _head_manifest_response(
        self, repository: str, reference: str, scopes: tuple[Scope, ...] | None = None
    ) -> Flow[httpx.Response]:
        validate_tag_or_digest(reference)
        return (
            yield from self.request(
                "HEAD",
                self.url(repository, "manifests", reference),
                scopes or (repository_scope(repository, "pull"),),
                headers={"Accept": MANIFEST_ACCEPT},
            )
        )

    @staticmethod
    def _manifest_head(response: httpx.Response, repository: str, reference: str) -> ManifestHead:
        raise_for_response(response, {200})
        digest = response.headers.get("Docker-Content-Digest")
        if digest is None and is_digest(reference):
            digest = reference
        if digest is None:
            raise ProtocolError("HEAD", redacted_path(response.request.url), "no Docker-Content-Digest header")
        validate_digest(digest)
        if is_digest(reference) and digest != reference:
            raise DigestMismatchError(f"manifest {repository}@{reference}", reference, digest)
        length = response.headers.get("Content-Length")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip() or None
        return ManifestHead(digest, media_type, int(length) if length and length.isdigit() else None)

    def head_manifest(
        self, repository: str, reference: str, scopes: tuple[Scope, ...] | None = None
    ) -> Flow[ManifestHead | None]:
        """The manifest's digest by HEAD, or ``None`` when it does not exist (404 only: 401/403/5xx raise).

        ``scopes``: ask with a wider token than ``pull`` (a transfer asks everything of the destination with its
        one ``pull,push`` token, so a copy mints one token per registry, not one per action set)."""
        repository = self.repository(repository)
        response = yield from self._head_manifest_response(repository, reference, scopes)
        if response.status_code == 404:
            return None
        return self._manifest_head(response, repository, reference)

    def resolve_digest(self, repository: str, reference: str) -> Flow[str]:
        """The digest a tag points to; a missing tag is an error (``NotFoundError``), never a guess."""
        repository = self.repository(repository)
        response = yield from self._head_manifest_response(repository, reference)
        return self._manifest_head(response, repository, reference).digest

    def get_manifest(self, repository: str, reference: str, scopes: tuple[Scope, ...] | None = None) -> Flow[Manifest]:
        """GET a manifest, keeping its raw bytes, and verify them against the digest asked for and served."""
        repository = self.repository(repository)
        validate_tag_or_digest(reference)
        response = yield from self.request(
            "GET",
            self.url(repository, "manifests", reference),
            scopes or (repository_scope(repository, "pull"),),
            headers={"Accept": MANIFEST_ACCEPT},
        )
        raise_for_response(response, {200})
        raw = response.content
        if len(raw) > MAX_MANIFEST_SIZE:
            raise ProtocolError("GET", redacted_path(response.request.url), f"manifest of {len(raw)} bytes")
        served = response.headers.get("Docker-Content-Digest")
        expected = reference if is_digest(reference) else served
        algorithm = expected.split(":", 1)[0] if expected else "sha256"
        actual = digest_of(raw, algorithm if algorithm in ("sha256", "sha512") else "sha256")
        for claimed in {expected, served} - {None}:
            assert claimed is not None
            if claimed.split(":", 1)[0] == actual.split(":", 1)[0] and claimed != actual:
                raise DigestMismatchError(f"manifest {repository}:{reference}", claimed, actual)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if not media_type:
            try:
                media_type = str(json.loads(raw).get("mediaType") or "")
            except (ValueError, AttributeError):
                media_type = ""
        return Manifest(raw, media_type, actual)

    def put_manifest(
        self, repository: str, reference: str, raw: bytes, media_type: str, scopes: tuple[Scope, ...] | None = None
    ) -> Flow[str]:
        """PUT the exact bytes; check the registry's digest against ours. A write: needs allow_destructive."""
        repository = self.repository(repository)
        validate_tag_or_digest(reference)
        if not isinstance(raw, bytes):
            raise InvalidInputError("manifest must be the exact bytes to store (bytes), not a parsed object")
        self.state.require_destructive(f"PUT manifest {repository}:{reference}")
        digest = digest_of(raw, "sha256")
        if is_digest(reference) and reference != digest:
            raise DigestMismatchError(f"manifest for {repository}@{reference}", reference, digest)
        response = yield from self.request(
            "PUT",
            self.url(repository, "manifests", reference),
            scopes or (repository_scope(repository, "pull", "push"),),
            headers={"Content-Type": media_type},
            content=raw,
        )
        raise_for_response(response, {200, 201})
        served = response.headers.get("Docker-Content-Digest")
        if served and served != digest:
            raise DigestMismatchError(f"manifest {repository}:{reference} as stored", digest, served)
        return digest

    # -- tags -----------------------------------------------------------------------------------------------

    def list_tags(self, repository: str, page_size: int | None = None, last: str | None = None) -> Pages[str]:
        """Every tag, following ``Link`` pagination; ``page_size``/``last`` shape the first request."""
        repository = self.repository(repository)
        params: dict[str, str] = {}
        if page_size is not None:
            if not isinstance(page_size, int) or page_size < 1:
                raise InvalidInputError(f"page size n must be a positive integer, got {page_size!r}")
            params["n"] = str(page_size)
        if last is not None:
            params["last"] = last
        first = self.url(repository, "tags", "list").copy_merge_params(params)
        return Pages({"url": first}, lambda page: self._tags_page(repository, page["url"]), str)

    def _tags_page(self, repository: str, url: httpx.URL) -> Flow[tuple[list[Any], Params | None]]:
        response = yield from self.request(
            "GET", url, (repository_scope(repository, "pull"),), headers={"Accept": "application/json"}
        )
        raise_for_response(response, {200})
        try:
            tags = response.json().get("tags") or []
        except (ValueError, AttributeError) as exc:
            raise ProtocolError("GET", redacted_path(url), "tag list is not a JSON object") from exc
        following = next_link_same_origin(response)
        return list(tags), ({"url": following} if following is not None else None)

    # -- blobs ----------------------------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str, scopes: tuple[Scope, ...] | None = None) -> Flow[bool]:
        """Whether the repository holds the blob (HEAD); ``scopes`` as for :meth:`head_manifest`."""
        repository = self.repository(repository)
        validate_digest(digest)
        response = yield from self.request(
            "HEAD", self.url(repository, "blobs", digest), scopes or (repository_scope(repository, "pull"),)
        )
        if response.status_code == 404:
            return False
        raise_for_response(response, {200})
        return True

    def upload_blob(self, repository: str, data: bytes) -> Flow[str]:
        """Monolithic upload of a small blob (configs, manifests' companions): POST, then PUT ``?digest=``.

        The upload ``Location`` is used verbatim, its own query (``_state``) kept: dockerhub-api 0.2.0
        dropped it with httpx 0.28, and distribution then refuses the PUT.
        """
        repository = self.repository(repository)
        self.state.require_destructive(f"blob upload to {repository}")
        digest = digest_of(data, "sha256")
        scopes = (repository_scope(repository, "pull", "push"),)
        if (yield from self.blob_exists(repository, digest)):
            return digest
        start = yield from self.request("POST", self.url(repository, "blobs", "uploads", ""), scopes)
        raise_for_response(start, {202})
        location = self.upload_location(start)
        response = yield from self.request(
            "PUT",
            location.copy_add_param("digest", digest),
            scopes,
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )
        raise_for_response(response, {201})
        served = response.headers.get("Docker-Content-Digest")
        if served and served != digest:
            raise DigestMismatchError(f"blob pushed to {repository}", digest, served)
        return digest

    def delete_manifest(self, repository: str, reference: str) -> Flow[str]:
        """Delete a manifest **by digest**. A tag is resolved first (HEAD); an unresolvable tag is an error,
        never a delete by tag (which would remove whatever the tag points to by then). Returns the digest."""
        repository = self.repository(repository)
        self.state.require_destructive(f"DELETE manifest {repository}:{reference}")
        digest = reference if is_digest(reference) else (yield from self.resolve_digest(repository, reference))
        validate_digest(digest)
        response = yield from self.request(
            "DELETE",
            self.url(repository, "manifests", digest),
            (repository_scope(repository, "pull", "push", "delete"),),
            # A registry answers 500 on some delete races and retries internally; do not stack our retries.
            replayable=False,
        )
        raise_for_response(response, {202, 200})
        return digest

    def delete_blob(self, repository: str, digest: str) -> Flow[None]:
        repository = self.repository(repository)
        validate_digest(digest)
        self.state.require_destructive(f"DELETE blob {repository}@{digest}")
        response = yield from self.request(
            "DELETE",
            self.url(repository, "blobs", digest),
            (repository_scope(repository, "pull", "push", "delete"),),
        )
        raise_for_response(response, {202, 200})

    def fetch_blob(self, repository: str, digest: str, sink: Callable[[bytes], object]) -> Flow[int]:
        """Stream a blob into ``sink`` piece by piece, verifying its digest; returns its size.

        Follows the redirect to a CDN (httpx drops ``Authorization`` when the origin changes). The caller must
        discard what ``sink`` received if this raises ``DigestMismatchError``.
        """
        repository = self.repository(repository)
        validate_digest(digest)
        response = yield from self.request(
            "GET",
            self.url(repository, "blobs", digest),
            (repository_scope(repository, "pull"),),
            stream=True,
            follow_redirects=True,
        )
        if response.status_code != 200:
            yield ReadBody(response)
            raise_for_response(response, {200})
        hasher = hashlib.new(digest.split(":", 1)[0])

        def take(piece: bytes) -> None:
            hasher.update(piece)
            sink(piece)

        size: int = yield StreamBody(response, take, BLOB_READ_PIECE)
        actual = f"{digest.split(':', 1)[0]}:{hasher.hexdigest()}"
        if actual != digest:
            raise DigestMismatchError(f"blob {repository}@{digest}", digest, actual)
        return size

    def open_blob(self, repository: str, digest: str, offset: int = 0) -> Flow[httpx.Response]:
        """A streamed GET of a blob from ``offset`` (``Range: bytes=<offset>-``), redirects to a CDN followed.

        Returns the open response (200 for the whole blob, 206 from ``offset``); the caller reads and closes it
        (``registry/remote.py`` pipes it into an upload). A server that ignores ``Range`` answers 200 with the
        whole blob: the caller skips ``offset`` bytes. No digest check here: the reader of the whole blob does it.
        """
        repository = self.repository(repository)
        validate_digest(digest)
        headers = {"Range": f"bytes={offset}-"} if offset > 0 else None
        response = yield from self.request(
            "GET",
            self.url(repository, "blobs", digest),
            (repository_scope(repository, "pull"),),
            headers=headers,
            stream=True,
            follow_redirects=True,
        )
        if response.status_code not in (200, 206):
            yield ReadBody(response)
            raise_for_response(response, {200, 206})
        return response

    def get_blob(self, repository: str, digest: str, max_size: int = MAX_MANIFEST_SIZE) -> Flow[bytes]:
        """A small blob (an image config, an SBOM) in memory, digest verified; larger ones go to a file."""
        parts: list[bytes] = []
        received = 0

        def collect(piece: bytes) -> None:
            nonlocal received
            received += len(piece)
            if received > max_size:
                raise ProtocolError("GET", f"/v2/{repository}/blobs/{digest}", f"blob larger than {max_size} bytes")
            parts.append(piece)

        yield from self.fetch_blob(repository, digest, collect)
        return b"".join(parts)

    # -- referrers ------------------------------------------------------------------------------------------

    def referrers(self, repository: str, digest: str, artifact_type: str | None = None) -> Flow[list[dict[str, Any]]]:
        """Descriptors of the manifests whose ``subject`` is ``digest`` (OCI referrers API, end-12).

        Registries without the API answer 404; then the referrers tag schema (``sha256-<hex>``) is read, as
        the spec requires. The ``artifactType`` filter is applied here when the server did not apply it.
        """
        repository = self.repository(repository)
        validate_digest(digest)
        url = self.url(repository, "referrers", digest)
        if artifact_type:
            url = url.copy_add_param("artifactType", artifact_type)
        pages: Pages[dict[str, Any]] = Pages(
            {"url": url, "seen": 0}, lambda page: self._referrers_page(repository, digest, artifact_type, page)
        )
        return (yield from collect_pages(pages))

    def _referrers_page(
        self, repository: str, digest: str, artifact_type: str | None, page: Params
    ) -> Flow[tuple[list[Any], Params | None]]:
        """One page of the referrers index, filtered by ``artifact_type`` unless the server says it filtered;
        a 404 before any descriptor was seen means no referrers API: the fallback tag is the whole answer."""
        response = yield from self.request(
            "GET", page["url"], (repository_scope(repository, "pull"),), headers={"Accept": OCI_INDEX}
        )
        if response.status_code == 404 and not page["seen"]:
            descriptors = yield from self._referrers_from_tag(repository, digest)
            following: httpx.URL | None = None
            filtered = False
        else:
            raise_for_response(response, {200})
            index = _json_object(response, "referrers index")
            descriptors = [d for d in index.get("manifests") or [] if isinstance(d, dict)]
            filtered = "artifacttype" in response.headers.get("OCI-Filters-Applied", "").lower()
            following = next_link_same_origin(response)
        seen = page["seen"] + len(descriptors)
        if artifact_type and not filtered:
            descriptors = [d for d in descriptors if d.get("artifactType") == artifact_type]
        return descriptors, ({"url": following, "seen": seen} if following is not None else None)

    def _referrers_from_tag(self, repository: str, digest: str) -> Flow[list[dict[str, Any]]]:
        algorithm, encoded = digest.split(":", 1)
        tag = f"{algorithm[:32]}-{encoded[:64]}"
        head = yield from self.head_manifest(repository, tag)
        if head is None:
            return []
        manifest = yield from self.get_manifest(repository, tag)
        data = manifest.json()
        return [d for d in data.get("manifests") or [] if isinstance(d, dict)]

    def upload_location(self, response: httpx.Response) -> httpx.URL:
        location = response.headers.get("Location")
        if not location:
            raise ProtocolError(response.request.method, redacted_path(response.request.url), "no upload Location")
        url = response.request.url.join(location)
        if not same_origin(url, self.base):
            # Our registry credentials would follow the URL; only the registry itself may receive them.
            raise ProtocolError(
                response.request.method, redacted_path(response.request.url), "upload Location on another host"
            )
        return url
