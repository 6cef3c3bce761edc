"""The fault-injecting proxy (``airflow_provider_dockerhub.testing.fault_proxy``) against a real registry.

Raw httpx only, so provider tests can rely on what each fault does to distribution 2.8's blob upload sessions.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from airflow_provider_dockerhub.testing.fault_proxy import FaultProxy, RequestRecord
from airflow_provider_dockerhub.testing.registry import LocalRegistry

pytestmark = pytest.mark.registry

UPLOADS = r"/blobs/uploads/"
CHUNK1 = b"a" * 1000
CHUNK2 = b"b" * 1000


@pytest.fixture
def open_proxy(open_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(open_registry.host) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def repo() -> str:
    return f"faults/{uuid.uuid4().hex[:12]}"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def start_upload(http_client: httpx.Client, base: str, name: str) -> str:
    response = http_client.post(f"{base}/v2/{name}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return response.headers["location"]


def patch(http_client: httpx.Client, location: str, data: bytes, offset: int) -> httpx.Response:
    headers = {"Content-Range": f"{offset}-{offset + len(data) - 1}", "Content-Type": "application/octet-stream"}
    return http_client.patch(location, content=data, headers=headers)


def upload_first_chunk(http_client: httpx.Client, open_proxy: FaultProxy, name: str) -> str:
    """An upload session holding CHUNK1; returns the Location carrying its current ``_state``."""
    response = patch(http_client, start_upload(http_client, open_proxy.url, name), CHUNK1, 0)
    assert response.status_code == 202, response.text
    assert response.headers["range"] == "0-999"
    return response.headers["location"]


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code


def test_unfaulted_blob_upload(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    name, data = repo(), CHUNK1 + CHUNK2
    location = start_upload(http_client, open_proxy.url, name)
    assert location.startswith(f"{open_proxy.url}/v2/{name}/blobs/uploads/")
    response = patch(http_client, location, data, 0)
    assert response.status_code == 202
    assert response.headers["range"] == f"0-{len(data) - 1}"
    response = http_client.put(f"{response.headers['location']}&digest={digest(data)}")
    assert response.status_code == 201, response.text
    assert response.headers["location"].startswith(open_proxy.url)
    assert http_client.head(f"{open_proxy.url}/v2/{name}/blobs/{digest(data)}").headers["content-length"] == str(
        len(data)
    )
    assert http_client.get(f"{open_proxy.url}/v2/{name}/blobs/{digest(data)}").content == data

    path = response.url.path
    methods = ["POST", "PATCH", "PUT", "HEAD", "GET"]
    assert [(r.method, r.outcome) for r in open_proxy.requests] == list(
        zip(methods, [202, 202, 201, 200, 200], strict=True)
    )
    assert open_proxy.requests[1] == RequestRecord("PATCH", path, 202)
    assert open_proxy.bytes_upstream == len(data)
    assert open_proxy.faults_injected == 0


def test_chunked_request_body_is_streamed(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    name, pieces = repo(), [bytes([i]) * 300_000 for i in range(8)]
    data = b"".join(pieces)
    response = http_client.patch(start_upload(http_client, open_proxy.url, name), content=iter(pieces))
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 202
    assert response.headers["range"] == f"0-{len(data) - 1}"
    assert http_client.put(f"{response.headers['location']}&digest={digest(data)}").status_code == 201
    # Wire bytes: the chunk framing is forwarded verbatim and counted too.
    assert open_proxy.bytes_upstream > len(data)


def test_location_is_rewritten_to_the_proxy(
    open_registry: LocalRegistry, open_proxy: FaultProxy, http_client: httpx.Client
) -> None:
    direct = start_upload(http_client, open_registry.url, repo())
    proxied = start_upload(http_client, open_proxy.url, repo())
    assert direct.startswith(f"{open_registry.url}/v2/")
    assert proxied.startswith(f"{open_proxy.url}/v2/")


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        port = self.connection.getsockname()[1]
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/eof":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until close")
            self.close_connection = True
        else:
            body = json.dumps({"host": self.headers["Host"], "peer": self.client_address[1]}).encode()
            self.send_response(200)
            self.send_header("Location", f"http://127.0.0.1:{port}/next?x=1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "12345")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


@pytest.fixture
def echo_proxy() -> Iterator[FaultProxy]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with FaultProxy(f"127.0.0.1:{server.server_address[1]}") as fault_proxy:
            yield fault_proxy
    finally:
        server.shutdown()
        server.server_close()


def test_host_location_and_response_framings(echo_proxy: FaultProxy, http_client: httpx.Client) -> None:
    upstream = f"127.0.0.1:{echo_proxy.upstream_port}"
    first, second = http_client.get(f"{echo_proxy.url}/echo"), http_client.get(f"{echo_proxy.url}/echo")
    assert first.json()["host"] == upstream
    assert first.headers["location"] == f"{echo_proxy.url}/next?x=1"
    # One client connection maps to one reused upstream connection.
    assert first.json()["peer"] == second.json()["peer"]
    assert http_client.get(f"{echo_proxy.url}/chunked").content == b"hello chunked world"
    assert http_client.get(f"{echo_proxy.url}/eof").content == b"until close"
    head = http_client.head(f"{echo_proxy.url}/echo")
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "12345", b"")
    assert http_client.get(f"{echo_proxy.url}/echo").status_code == 200


def test_cut_before_body_loses_the_whole_chunk(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    name = repo()
    location = upload_first_chunk(http_client, open_proxy, name)
    open_proxy.cut_before_body("PATCH", UPLOADS)
    with pytest.raises(httpx.TransportError):
        patch(http_client, location, CHUNK2, 1000)

    # Nothing of the failed chunk arrived: the session is intact and resumes at the same offset.
    status = http_client.get(location)
    assert (status.status_code, status.headers["range"]) == (204, "0-999")
    response = patch(http_client, status.headers["location"], CHUNK2, 1000)
    assert (response.status_code, response.headers["range"]) == (202, "0-1999")
    assert http_client.put(f"{response.headers['location']}&digest={digest(CHUNK1 + CHUNK2)}").status_code == 201
    assert [r.outcome for r in open_proxy.requests] == [202, 202, "cut_before_body", 204, 202, 201]
    assert open_proxy.bytes_upstream == 2000
    assert open_proxy.faults_injected == 1


@pytest.mark.parametrize(
    ("nbytes", "expected"),
    [
        # Distribution 2.8 keeps the bytes that arrived but not the offset in _state: the session is dead.
        (300, (404, "BLOB_UPLOAD_INVALID")),
        # A cut after the head but before any body byte leaves the session as it was.
        (0, (204, "0-999")),
    ],
)
def test_cut_after_body_bytes(
    open_proxy: FaultProxy, http_client: httpx.Client, nbytes: int, expected: tuple[int, str]
) -> None:
    location = upload_first_chunk(http_client, open_proxy, repo())
    open_proxy.cut_after_body_bytes("PATCH", UPLOADS, nbytes)
    with pytest.raises(httpx.TransportError):
        patch(http_client, location, CHUNK2, 1000)
    assert open_proxy.bytes_upstream == 1000 + nbytes
    assert open_proxy.requests[-1].outcome == "cut_after_body_bytes"

    for _ in range(2):  # the verdict is stable, not a one-off
        status = http_client.get(location)
        got = error_code(status) if status.status_code == 404 else status.headers["range"]
        assert (status.status_code, got) == expected


def test_cut_response_on_patch_leaves_a_stale_state(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    location = upload_first_chunk(http_client, open_proxy, repo())
    open_proxy.cut_response("PATCH", UPLOADS)
    with pytest.raises(httpx.TransportError):
        patch(http_client, location, CHUNK2, 1000)
    assert open_proxy.bytes_upstream == 2000
    # The chunk landed (2000 bytes) but the client only holds the _state for offset 1000.
    status = http_client.get(location)
    assert (status.status_code, error_code(status)) == (404, "BLOB_UPLOAD_INVALID")


def test_cut_response_on_put_after_the_blob_was_committed(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    name = repo()
    location = upload_first_chunk(http_client, open_proxy, name)
    open_proxy.cut_response("PUT", UPLOADS)
    with pytest.raises(httpx.TransportError):
        http_client.put(f"{location}&digest={digest(CHUNK1)}")
    assert http_client.head(f"{open_proxy.url}/v2/{name}/blobs/{digest(CHUNK1)}").status_code == 200
    retry = http_client.put(f"{location}&digest={digest(CHUNK1)}")
    assert (retry.status_code, error_code(retry)) == (404, "BLOB_UPLOAD_UNKNOWN")


def test_respond_burst_then_upstream(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    open_proxy.respond("GET", r"^/v2/$", 503, b"busy", times=2)
    statuses = [http_client.get(f"{open_proxy.url}/v2/") for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].content == b"busy"
    assert open_proxy.faults_injected == 2
    assert open_proxy.pending == []

    open_proxy.respond("GET", r"^/v2/$", 502, n=2)
    assert [http_client.get(f"{open_proxy.url}/v2/").status_code for _ in range(3)] == [200, 502, 200]


def test_respond_429_with_retry_after(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    http_date = formatdate(time.time() + 30, usegmt=True)
    open_proxy.respond("PATCH", UPLOADS, 429, headers={"Retry-After": "2"})
    open_proxy.respond("PATCH", UPLOADS, 429, headers={"Retry-After": http_date}, n=2)
    location = start_upload(http_client, open_proxy.url, repo())
    first, second = patch(http_client, location, CHUNK1, 0), patch(http_client, location, CHUNK1, 0)
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert (second.status_code, second.headers["retry-after"]) == (429, http_date)
    # The canned replies drained the bodies without contacting the registry; the connection stays usable.
    assert open_proxy.bytes_upstream == 0
    assert patch(http_client, location, CHUNK1, 0).status_code == 202


def test_delay_exceeds_the_read_timeout(open_proxy: FaultProxy) -> None:
    open_proxy.delay("GET", r"^/v2/$", 1.0)
    with httpx.Client(timeout=httpx.Timeout(5.0, read=0.2)) as impatient:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            impatient.get(f"{open_proxy.url}/v2/")
        assert time.monotonic() - started < 0.9
        assert impatient.get(f"{open_proxy.url}/v2/").status_code == 200
    assert open_proxy.faults_injected == 1


def test_rules_count_occurrences_per_method_and_path(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    open_proxy.respond("*", r"^/v2/_catalog$", 500, n=2)
    open_proxy.respond("POST", r"^/v2/_catalog$", 501)
    assert http_client.get(f"{open_proxy.url}/v2/").status_code == 200  # other path: not counted
    assert http_client.head(f"{open_proxy.url}/v2/_catalog").status_code == 405  # 1st match, the registry's answer
    assert http_client.get(f"{open_proxy.url}/v2/_catalog").status_code == 500  # 2nd match
    assert http_client.get(f"{open_proxy.url}/v2/_catalog").status_code == 200  # spent; the POST rule ignores GETs
    assert [f.method for f in open_proxy.pending] == ["POST"]
    with pytest.raises(ValueError, match=">= 1"):
        open_proxy.respond("GET", "/", 500, n=0)


def test_clear_and_reset_stats(open_proxy: FaultProxy, http_client: httpx.Client) -> None:
    open_proxy.cut_response("GET", r"^/v2/$")
    open_proxy.clear()
    assert http_client.get(f"{open_proxy.url}/v2/").status_code == 200
    assert open_proxy.requests == [RequestRecord("GET", "/v2/", 200)]
    open_proxy.reset_stats()
    assert (open_proxy.requests, open_proxy.bytes_upstream, open_proxy.faults_injected) == ([], 0, 0)
