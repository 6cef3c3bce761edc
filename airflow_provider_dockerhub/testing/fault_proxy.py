"""An HTTP/1.1-aware TCP proxy that injects network faults between a client and a registry. Not for production.

:class:`FaultProxy` listens on 127.0.0.1 (free port), forwards keep-alive connections request by request to an
upstream ``host:port`` and applies fault rules added at runtime: connections cut before or in the middle of a
request body, lost replies, canned replies (503 bursts, 429 with ``Retry-After``) and slow replies. Bodies are
streamed in pieces of at most ``chunk_size`` bytes, so multi-GiB blob uploads never sit in memory.

Rules match a method (``"*"`` for any) and a regex searched in the request path (query string excluded). Each
rule fires on the ``n``-th matching request counted from when it was added, then on the ``times - 1`` matching
requests after it, and is dropped. Rules are tried in the order they were added; the first one due fires.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.client import responses
from io import BufferedReader
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from .http_wire import (
    BodyMode,
    Data,
    Headers,
    PeerClosed,
    body_mode,
    copy_body,
    get,
    keep_alive,
    read_head,
    render,
    replace,
)

__all__ = ["Fault", "FaultKind", "FaultProxy", "RequestRecord"]

FaultKind = Literal["cut_before_body", "cut_after_body_bytes", "cut_response", "respond", "delay"]
PathRe = str | re.Pattern[str]

DEFAULT_CHUNK = 1 << 20
# Upper bound on waiting for upstream to finish an aborted request; the registry answers within milliseconds.
_DRAIN_TIMEOUT = 5.0


class RequestRecord(NamedTuple):
    """One request seen by the proxy: ``outcome`` is the status the client got, or the name of the cut."""

    method: str
    path: str
    outcome: int | str


@dataclass
class Fault:
    """A fault rule; ``hits`` counts how often it fired (it leaves the proxy after its last firing)."""

    kind: FaultKind
    method: str
    path_re: re.Pattern[str]
    skip: int
    remaining: int
    status: int = 0
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    nbytes: int = -1
    seconds: float = 0.0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path_re.search(path) is not None


class _BudgetReached(Exception):
    """``cut_after_body_bytes`` has forwarded all the body bytes it may."""


class _Peer:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile: BufferedReader = sock.makefile("rb")
        # Without TCP_NODELAY a small head followed by body pieces can stall on delayed ACKs (40 ms per request).
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data: Data) -> None:
        self.sock.sendall(data)

    def stale(self) -> bool:
        """Whether an idle keep-alive connection was closed by the server (or has stray bytes): don't reuse it."""
        try:
            self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # b"" (closed) or bytes nobody asked for
        except BlockingIOError:
            return False
        except OSError:
            pass
        return True

    def close(self, reset: bool = False) -> None:
        with contextlib.suppress(OSError):
            if reset:
                # Linger 0 turns close() into a RST: the peer sees "connection reset", not a clean end of stream.
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.sock.close()


class FaultProxy:
    """Fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of ``upstream`` (``host:port`` or ``http://host:port``).

    ``Host`` is rewritten to the upstream on the way in and upstream ``Location`` URLs to the proxy on the way
    out, so clients that follow registry upload URLs keep going through the proxy.
    """

    def __init__(self, upstream: str, *, chunk_size: int = DEFAULT_CHUNK) -> None:
        parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be host:port, not {upstream!r}")
        self.upstream_host: str = parts.hostname
        self.upstream_port: int = parts.port
        self._upstream_netloc = parts.netloc
        self.chunk_size = chunk_size
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._records: list[RequestRecord] = []
        self._bytes_upstream = 0
        self._faults_injected = 0
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: set[threading.Thread] = set()
        self._peers: set[_Peer] = set()

    def start(self) -> FaultProxy:
        if self._listener is not None:
            return self
        self._stopping.clear()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        thread = threading.Thread(target=self._accept_loop, args=(self._listener,), daemon=True)
        thread.name = f"fault-proxy-{self.port}"
        self._threads.add(thread)
        thread.start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        self._stopping.set()
        if listener is not None:
            # shutdown() wakes a thread blocked in accept(); close() alone does not on Linux.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            peers, threads = list(self._peers), list(self._threads)
        for peer in peers:  # shutdown() also unblocks connection threads stuck in recv/send
            with contextlib.suppress(OSError):
                peer.sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)
        with self._lock:
            self._threads.difference_update(t for t in threads if not t.is_alive())

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("FaultProxy is not running; call start() first")
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- fault rules -----------------------------------------------------------------------------------------

    def cut_before_body(self, method: str, path_re: PathRe, *, n: int = 1, times: int = 1) -> Fault:
        """Read the request head, forward nothing, reset the client connection (no body byte reaches upstream)."""
        return self._add(Fault("cut_before_body", method, re.compile(path_re), n - 1, times))

    def cut_after_body_bytes(self, method: str, path_re: PathRe, nbytes: int, *, n: int = 1, times: int = 1) -> Fault:
        """Forward the head and the first ``nbytes`` of the body (wire bytes), then cut both connections.

        Upstream gets FIN right after those bytes rather than RST, because a RST may discard bytes still queued
        for it; the proxy then waits until upstream has finished with the request before resetting the client,
        so the client's next request sees the registry's reaction to the truncated body, not a race. A body
        shorter than ``nbytes`` is forwarded whole and the cut follows it.
        """
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        return self._add(Fault("cut_after_body_bytes", method, re.compile(path_re), n - 1, times, nbytes=nbytes))

    def cut_response(self, method: str, path_re: PathRe, *, n: int = 1, times: int = 1) -> Fault:
        """Forward the whole request and read the whole response, then reset the client: the reply is lost."""
        return self._add(Fault("cut_response", method, re.compile(path_re), n - 1, times))

    def respond(
        self,
        method: str,
        path_re: PathRe,
        status: int,
        body: bytes = b"",
        *,
        headers: Mapping[str, str] | None = None,
        n: int = 1,
        times: int = 1,
    ) -> Fault:
        """Answer from the proxy without contacting upstream; the request body is read and dropped."""
        fault = Fault("respond", method, re.compile(path_re), n - 1, times, status=status, body=body)
        fault.headers = dict(headers or {})
        return self._add(fault)

    def delay(self, method: str, path_re: PathRe, seconds: float, *, n: int = 1, times: int = 1) -> Fault:
        """Hold the upstream response for ``seconds`` before forwarding it."""
        return self._add(Fault("delay", method, re.compile(path_re), n - 1, times, seconds=seconds))

    def clear(self) -> None:
        """Drop all pending fault rules."""
        with self._lock:
            self._rules.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def _add(self, fault: Fault) -> Fault:
        if fault.skip < 0 or fault.remaining < 1:
            raise ValueError("n and times must be >= 1")
        fault.method = fault.method.upper()
        with self._lock:
            self._rules.append(fault)
        return fault

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            chosen: Fault | None = None
            for fault in self._rules:
                if not fault.matches(method, path):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                elif chosen is None:
                    chosen = fault
            if chosen is not None:
                chosen.remaining -= 1
                chosen.hits += 1
                self._faults_injected += 1
                if chosen.remaining <= 0:
                    self._rules.remove(chosen)
            return chosen

    # -- statistics ------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._records)

    @property
    def bytes_upstream(self) -> int:
        """Request-body bytes (as on the wire, chunk framing included) forwarded upstream."""
        with self._lock:
            return self._bytes_upstream

    @property
    def faults_injected(self) -> int:
        with self._lock:
            return self._faults_injected

    def reset_stats(self) -> None:
        with self._lock:
            self._records.clear()
            self._bytes_upstream = 0
            self._faults_injected = 0

    def _record(self, method: str, path: str, outcome: int | str) -> None:
        with self._lock:
            self._records.append(RequestRecord(method, path, outcome))

    def _count_upstream(self, nbytes: int) -> None:
        with self._lock:
            self._bytes_upstream += nbytes

    # -- connections -----------------------------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                sock, _addr = listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True, name="fault-proxy-conn")
            with self._lock:
                self._threads.add(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = _Conn(self, sock)
        # Dropped connections are what this proxy is for: the test judges them, so nothing is raised or logged.
        with contextlib.suppress(Exception):
            while not self._stopping.is_set() and conn.exchange():
                pass
        conn.close()
        with self._lock:
            self._threads.discard(threading.current_thread())

    def _track(self, peer: _Peer, add: bool = True) -> _Peer:
        with self._lock:
            (self._peers.add if add else self._peers.discard)(peer)
        return peer

    def _rewrite_location(self, headers: Headers) -> Headers:
        origin, out = f"http://{self._upstream_netloc}", []
        for name, value in headers:
            rest = value[len(origin) :]
            moved = name.lower() == "location" and value.startswith(origin) and rest[:1] in ("", "/", "?", "#")
            out.append((name, self.url + rest if moved else value))
        return out


class _Conn:
    """One client connection and the upstream connection it reuses across keep-alive requests."""

    def __init__(self, proxy: FaultProxy, sock: socket.socket) -> None:
        self.proxy = proxy
        self.client = proxy._track(_Peer(sock))
        self.upstream: _Peer | None = None
        self.buf = memoryview(bytearray(proxy.chunk_size))

    def close(self, reset: bool = False) -> None:
        self.client.close(reset)
        self.proxy._track(self.client, add=False)
        self.drop_upstream()

    def drop_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
            self.proxy._track(self.upstream, add=False)
            self.upstream = None

    def exchange(self) -> bool:
        """Relay one request and its response; False when the client connection must close."""
        proxy, client = self.proxy, self.client
        head = read_head(client.rfile)
        if head is None:
            return False
        start, headers = head
        method, target, version = start.split(" ", 2)
        path = target.partition("?")[0] if target.startswith("/") else (urlsplit(target).path or "/")
        fault = proxy._take(method, path)
        kind = fault.kind if fault is not None else None
        if kind == "cut_before_body":
            proxy._record(method, path, "cut_before_body")
            self.close(reset=True)
            return False
        if (get(headers, "expect") or "").lower() == "100-continue":
            # Answering 100 here keeps the body streaming one way; upstream never sees the Expect.
            headers = [(k, v) for k, v in headers if k.lower() != "expect"]
            client.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if fault is not None and fault.kind == "respond":
            # Drained, not refused: clients only read the reply once they have sent the whole body.
            copy_body(client.rfile, body_mode(headers), lambda _data: None, self.buf)
            # Recorded before the answer leaves, like forwarded requests: a test reading the log right after its
            # client got the reply must find it there.
            proxy._record(method, path, fault.status)
            client.send(_canned(fault, method))
            return keep_alive(version, headers)
        if self.upstream is not None and self.upstream.stale():
            self.drop_upstream()
        if self.upstream is None:
            try:
                sock = socket.create_connection((proxy.upstream_host, proxy.upstream_port), timeout=10)
            except OSError:
                client.send(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                proxy._record(method, path, 502)
                return False
            sock.settimeout(None)
            self.upstream = proxy._track(_Peer(sock))
        self.upstream.send(render(start, replace(headers, "Host", proxy._upstream_netloc)))
        self._forward_body(body_mode(headers), fault.nbytes if fault is not None else -1)
        if kind == "cut_after_body_bytes":
            self._drain_upstream()
            proxy._record(method, path, "cut_after_body_bytes")
            self.close(reset=True)
            return False
        if self._relay_response(method, path, fault) and keep_alive(version, headers):
            return True
        self.drop_upstream()
        return False

    def _forward_body(self, mode: BodyMode, budget: int) -> None:
        """Stream the request body upstream, counting it; stop after ``budget`` wire bytes unless it is -1."""
        up, sent = self.upstream, 0
        assert up is not None

        def write(data: Data) -> None:
            nonlocal sent
            if budget >= 0:
                data = data[: budget - sent]
            up.send(data)
            sent += len(data)
            self.proxy._count_upstream(len(data))
            if sent == budget:
                raise _BudgetReached

        with contextlib.suppress(_BudgetReached):
            copy_body(self.client.rfile, mode, write, self.buf)

    def _drain_upstream(self) -> None:
        """Half-close towards upstream and wait until it is done with the truncated request."""
        up = self.upstream
        assert up is not None
        with contextlib.suppress(OSError):
            up.sock.shutdown(socket.SHUT_WR)
            up.sock.settimeout(_DRAIN_TIMEOUT)
            while up.rfile.readinto1(self.buf):
                pass
        self.drop_upstream()

    def _relay_response(self, method: str, path: str, fault: Fault | None) -> bool:
        """Forward (or lose, or hold) upstream's response; True if the upstream connection stays reusable."""
        proxy, client, up = self.proxy, self.client, self.upstream
        assert up is not None
        head = read_head(up.rfile)  # no 1xx to expect: upstream never sees an Expect header
        if head is None:
            raise PeerClosed("upstream closed before answering")
        start, headers = head
        status = int(start.split(" ", 2)[1])
        mode = body_mode(headers, method, status)
        if fault is not None and fault.kind == "cut_response":
            copy_body(up.rfile, mode, lambda _data: None, self.buf)
            proxy._record(method, path, "cut_response")
            self.close(reset=True)
            raise PeerClosed("reply deliberately lost")
        proxy._record(method, path, status)
        if fault is not None and fault.kind == "delay" and proxy._stopping.wait(fault.seconds):
            return False
        client.send(render(start, proxy._rewrite_location(headers)))
        copy_body(up.rfile, mode, client.send, self.buf)
        return mode != "eof" and keep_alive(start.split(" ", 1)[0], headers)


def _canned(fault: Fault, method: str) -> bytes:
    headers = list(fault.headers.items())
    if not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(("Content-Length", str(len(fault.body))))
    head = render(f"HTTP/1.1 {fault.status} {responses.get(fault.status, 'Injected')}", headers)
    return head if method == "HEAD" or fault.status in (204, 304) else head + fault.body
