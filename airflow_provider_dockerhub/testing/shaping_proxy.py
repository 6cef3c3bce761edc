"""A WAN-shaping TCP proxy on 127.0.0.1: added round-trip time and a per-connection bandwidth cap, for benchmarks
and tests that need a slow link on a machine whose kernel has no ``netem``. Not for production.

Every byte is delayed by half the added RTT in each direction (a delay line per direction, so a stream keeps
flowing while the delay applies to each piece, as on a real link) and paced to ``rate`` bytes per second per
connection and direction (a link whose every TCP flow is capped, as long-haul paths and per-flow shapers are).
A new connection first waits one RTT (the TCP handshake). Each delay line holds at most ``window`` bytes, which
plays the part of the TCP window: one connection can have at most that much in flight.

It lives in the sandbox package (not ``bench/``) because the registry tests and the chaos demo use it too: its
``hold`` rules stop the client's stream at a request boundary, or a given number of body bytes into one, so a
test can kill the pushing process at an exact point and know what the registry received. Requests are parsed
(``http_wire``) only in the client-to-server direction, to find those boundaries; ``Host`` and every byte go
through unchanged, so the registry's ``Location`` URLs name the proxy and clients keep using it.
"""

from __future__ import annotations

import collections
import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from io import BufferedReader
from urllib.parse import urlsplit

from .http_wire import Data, PeerClosed, body_mode, copy_body, read_head, render

__all__ = ["Hold", "ShapingProxy"]

PIECE = 64 * 1024
DEFAULT_WINDOW = 4 * 1024 * 1024


@dataclass
class Hold:
    """Stop forwarding the ``n``-th matching request: before its head (``body_bytes=None``) or after that many
    bytes of its body. ``reached`` is set when the stream stops there; ``release()`` lets it go on, ``cut()``
    closes both connections without forwarding another byte (what the registry then holds is exactly what it
    had received: nothing of the request, or ``body_bytes`` of its body)."""

    method: str
    path_re: re.Pattern[str]
    n: int = 1
    body_bytes: int | None = None
    seen: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    cutting: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path_re.search(path) is not None

    def release(self) -> None:
        self.released.set()

    def cut(self) -> None:
        self.cutting = True
        self.released.set()


class _DelayLine:
    """Bytes written now leave ``delay`` seconds later, at most ``rate`` bytes per second, ``window`` in flight."""

    def __init__(self, target: socket.socket, delay: float, rate: float | None, window: int) -> None:
        self._target = target
        self._delay = delay
        self._rate = rate
        self._window = window
        self._queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._closed = False
        self.thread = threading.Thread(target=self._run, daemon=True, name="shaping-proxy-line")
        self.thread.start()

    def put(self, data: Data) -> None:
        view = bytes(data)
        with self._cond:
            while self._queued >= self._window and not self._closed:
                self._cond.wait()
            if self._closed:
                raise PeerClosed("the other side is gone")
            self._queue.append((time.monotonic() + self._delay, view))
            self._queued += len(view)
            self._cond.notify_all()

    def finish(self) -> None:
        """No more data: half-close the target once everything queued has left."""
        with self._cond:
            self._queue.append((time.monotonic() + self._delay, None))
            self._cond.notify_all()

    def abort(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()

    def _run(self) -> None:
        paced = time.monotonic()
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                due, data = self._queue.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if data is None:
                with contextlib.suppress(OSError):
                    self._target.shutdown(socket.SHUT_WR)
                return
            try:
                self._target.sendall(data)
            except OSError:
                self.abort()
                return
            if self._rate:
                paced = max(paced, time.monotonic()) + len(data) / self._rate
                pause = paced - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            with self._cond:
                self._queued -= len(data)
                self._cond.notify_all()


class ShapingProxy:
    """``rtt`` seconds added, ``rate`` bytes/s per connection and direction (``None``: unlimited), in front of
    ``upstream`` (``host:port`` or a URL)."""

    def __init__(
        self, upstream: str, *, rtt: float = 0.0, rate: float | None = None, window: int = DEFAULT_WINDOW
    ) -> None:
        parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be host:port, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port)
        self.rtt = rtt
        self.rate = rate
        self.window = window
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._holds: list[Hold] = []
        self._sockets: set[socket.socket] = set()
        self._stopping = threading.Event()
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        self.bytes_upstream = 0  # request bytes (heads and bodies) forwarded to the upstream

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> ShapingProxy:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        threading.Thread(target=self._accept, daemon=True, name="shaping-proxy").start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets = list(self._sockets)
            holds = list(self._holds)
        for hold in holds:
            hold.cut()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def __enter__(self) -> ShapingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("ShapingProxy is not running")
        return int(self._listener.getsockname()[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # -- rules -----------------------------------------------------------------------------------------------

    def hold(self, method: str, path_re: str, *, n: int = 1, body_bytes: int | None = None) -> Hold:
        rule = Hold(method.upper(), re.compile(path_re), n, body_bytes)
        with self._lock:
            self._holds.append(rule)
        return rule

    def _due_hold(self, method: str, path: str) -> Hold | None:
        with self._lock:
            self.requests.append((method, path))
            for rule in self._holds:
                if rule.matches(method, path):
                    rule.seen += 1
                    if rule.seen == rule.n:
                        self._holds.remove(rule)
                        return rule
        return None

    # -- connections -----------------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                return
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True, name="shaping-proxy-conn").start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.add(sock)
            self.connections += 1
        return sock

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        if self.rtt:
            time.sleep(self.rtt)  # the handshake's round trip
        try:
            upstream = self._track(socket.create_connection(self.upstream, timeout=10))
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        one_way = self.rtt / 2
        to_upstream = _DelayLine(upstream, one_way, self.rate, self.window)
        to_client = _DelayLine(client, one_way, self.rate, self.window)
        down = threading.Thread(target=self._pump, args=(upstream, to_client), daemon=True, name="shaping-proxy-down")
        down.start()
        rfile = client.makefile("rb")
        try:
            self._requests(rfile, to_upstream)
        except (OSError, PeerClosed, ValueError):
            # The client died or a hold cut it: what was forwarded still arrives, then the upstream sees the end
            # of the stream (mid-body for a truncated request, as after a real cut).
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        to_upstream.finish()
        down.join(timeout=60)
        to_upstream.thread.join(timeout=30)
        to_client.thread.join(timeout=30)
        rfile.close()  # the socket's file descriptor closes only when its makefile() reader is closed too
        for sock in (client, upstream):
            with self._lock:
                self._sockets.discard(sock)
            sock.close()

    def _requests(self, rfile: BufferedReader, line: _DelayLine) -> None:
        buf = memoryview(bytearray(PIECE))
        while True:
            first = rfile.peek(1)[:1]
            if first and not first.isupper():  # not an HTTP request (a TLS ClientHello probing for HTTPS): raw
                while data := rfile.read1(PIECE):
                    self._send(line, data)
                return
            head = read_head(rfile)
            if head is None:
                return
            start, headers = head
            method, target, _version = start.split(" ", 2)
            rule = self._due_hold(method, target.partition("?")[0])
            if rule is not None and rule.body_bytes is None:
                self._wait(rule)
            self._send(line, render(start, headers))
            budget = rule.body_bytes if rule is not None else None
            sent = 0

            def write(data: Data, rule: Hold | None = rule, budget: int | None = budget) -> None:
                nonlocal sent
                if budget is not None and rule is not None and not rule.released.is_set():
                    room = budget - sent
                    if len(data) > room:
                        self._send(line, data[:room])
                        sent += room
                        self._wait(rule)
                        data = data[room:]
                self._send(line, data)
                sent += len(data)

            copy_body(rfile, body_mode(headers), write, buf)

    def _send(self, line: _DelayLine, data: Data) -> None:
        with self._lock:
            self.bytes_upstream += len(data)
        line.put(data)

    def _wait(self, rule: Hold) -> None:
        rule.reached.set()
        while not rule.released.wait(0.1):
            if self._stopping.is_set():
                raise PeerClosed("proxy stopping")
        if rule.cutting:
            raise PeerClosed("cut by the hold rule")

    def _pump(self, source: socket.socket, line: _DelayLine) -> None:
        try:
            while True:
                data = source.recv(PIECE)
                if not data:
                    break
                line.put(data)
            line.finish()
        except (OSError, PeerClosed):
            line.abort()
