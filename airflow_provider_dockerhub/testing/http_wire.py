"""HTTP/1.1 message framing for the fault proxy: heads, header edits, body lengths and streaming copies. Not for
production (a test tool's wire code: no pipelining, one message at a time)."""

from __future__ import annotations

from collections.abc import Callable
from io import BufferedReader
from typing import Literal

Headers = list[tuple[str, str]]
BodyMode = int | Literal["chunked", "eof"]
Data = bytes | bytearray | memoryview
MAX_LINE = 65536


class PeerClosed(Exception):
    """The other side closed the connection inside a message (or a cut ended the exchange)."""


def read_line(rfile: BufferedReader) -> bytes:
    line = rfile.readline(MAX_LINE)
    if not line.endswith(b"\n"):
        raise PeerClosed("connection closed (or line too long) inside a message head")
    return line


def read_head(rfile: BufferedReader) -> tuple[str, Headers] | None:
    """Start line and headers; ``None`` on a clean end of stream between requests."""
    line = rfile.readline(MAX_LINE)
    while line in (b"\r\n", b"\n"):  # RFC 9112 2.2: tolerate stray CRLFs before a request line.
        line = rfile.readline(MAX_LINE)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise PeerClosed("truncated start line")
    headers: Headers = []
    while (raw := read_line(rfile)) not in (b"\r\n", b"\n"):
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return line.decode("latin-1").rstrip("\r\n"), headers


def render(start: str, headers: Headers) -> bytes:
    return (start + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode("latin-1")


def get(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def replace(headers: Headers, name: str, value: str) -> Headers:
    return [(name, value), *((k, v) for k, v in headers if k.lower() != name.lower())]


def keep_alive(version: str, headers: Headers) -> bool:
    tokens = {t.strip().lower() for t in (get(headers, "connection") or "").split(",")}
    return "close" not in tokens and (version.upper() == "HTTP/1.1" or "keep-alive" in tokens)


def body_mode(headers: Headers, response_to: str | None = None, status: int = 0) -> BodyMode:
    """Framing of a request body, or of a response body when ``response_to`` is the request method."""
    if response_to == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return 0
    if "chunked" in (get(headers, "transfer-encoding") or "").lower():
        return "chunked"
    length = get(headers, "content-length")
    return int(length) if length is not None else (0 if response_to is None else "eof")


def copy_exact(src: BufferedReader, n: int, write: Callable[[Data], None], buf: memoryview) -> None:
    while n > 0:
        got = src.readinto1(buf[: min(n, len(buf))])
        if not got:
            raise PeerClosed(f"connection closed with {n} body bytes missing")
        write(buf[:got])
        n -= got


def copy_body(src: BufferedReader, mode: BodyMode, write: Callable[[Data], None], buf: memoryview) -> None:
    """Relay one body verbatim (chunk framing and trailers included) without holding more than ``buf``."""
    if mode == "eof":
        while got := src.readinto1(buf):
            write(buf[:got])
    elif mode == "chunked":
        while True:
            line = read_line(src)
            write(line)
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            copy_exact(src, size + 2, write, buf)  # data and its CRLF
        while (line := read_line(src)) not in (b"\r\n", b"\n"):  # trailers
            write(line)
        write(line)
    else:
        copy_exact(src, mode, write, buf)
