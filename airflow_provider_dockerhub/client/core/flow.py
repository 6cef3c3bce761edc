"""Sans-IO flows and their two drivers: the one place where sync and async code differ.

Every operation of the client core (auth, retry, pagination, registry calls) is a generator that *yields effects*
and receives their results: ``Send`` a request and get the response (or the transport exception thrown in),
``ReadBody``/``StreamBody``/``CloseBody`` on a streamed response, ``Sleep``, or ``Acquire`` a token from a cache.
``SyncDriver`` and ``AsyncDriver`` perform the effects with ``httpx.Client``/``time.sleep``/``threading.Lock`` or
``httpx.AsyncClient``/``asyncio.sleep``/``asyncio.Lock``. A flow never touches a response body itself (a sync
``read()`` on an async stream raises), so every flow runs under both drivers, and retry, auth and paging logic is
written once and cannot drift between the worker and the triggerer. (The http provider's sync and async hooks
did drift: their retry and error handling are two copies, apache/airflow#69903.)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

from .config import DEFAULT_USER_AGENT

T = TypeVar("T")
C_co = TypeVar("C_co", covariant=True)


@dataclass
class Send:
    """Send ``request``; the flow receives the ``httpx.Response``, or has the exception (an
    ``httpx.TransportError``, or whatever a streamed request body raised) thrown in."""

    request: httpx.Request
    stream: bool = False
    follow_redirects: bool = False


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class ReadBody:
    """Read the rest of a streamed response's body; the flow receives the bytes (``response.content`` works after)."""

    response: httpx.Response


@dataclass(frozen=True)
class StreamBody:
    """Feed a streamed response's body to ``sink`` in pieces of ``piece_size`` as they arrive, then close it; the
    flow receives the number of bytes. ``sink`` is plain CPU work (hash, write to a buffer or file)."""

    response: httpx.Response
    sink: Callable[[bytes], object]
    piece_size: int = 1024 * 1024


@dataclass(frozen=True)
class CloseBody:
    """Release a streamed response without reading the rest of it."""

    response: httpx.Response


class TokenSource(Protocol):
    """A token cache whose misses are filled by a mint flow, at most one mint per key at a time."""

    def cached(self, key: Hashable) -> str | None: ...

    def mint_flow(self, key: Hashable) -> Flow[Any]: ...

    def store(self, key: Hashable, minted: Any) -> str: ...

    locks: LockTable


@dataclass(frozen=True)
class Acquire:
    source: TokenSource
    key: Hashable


Effect = Send | Sleep | Acquire | ReadBody | StreamBody | CloseBody
Flow = Generator[Effect, Any, T]


@dataclass
class LockTable:
    """Per-key locks, so concurrent callers share one mint per key but different keys mint in parallel."""

    _thread_locks: dict[Hashable, threading.Lock] = field(default_factory=dict)
    _async_locks: dict[Hashable, asyncio.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def thread_lock(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def async_lock(self, key: Hashable) -> asyncio.Lock:
        with self._guard:
            return self._async_locks.setdefault(key, asyncio.Lock())


class ClientPool(Protocol[C_co]):
    def client_for(self, url: httpx.URL) -> C_co: ...


def prepare(request: httpx.Request, user_agent: str) -> None:
    """What every request gets before it leaves: a ``User-Agent`` unless it has one. Flows build requests with
    ``httpx.Request(...)``, which carries none of a client's default headers, and ``client.send()`` adds none.
    Only this one default: merging the others would add ``Accept-Encoding: gzip``, and a CDN may then compress
    blob bytes that must hash to their digest as served."""
    if "User-Agent" not in request.headers:
        request.headers["User-Agent"] = user_agent


class SyncDriver:
    """Runs flows with blocking I/O. Thread-safe: flows share only the token sources, which lock per key."""

    def __init__(
        self,
        pool: ClientPool[httpx.Client],
        sleep: Callable[[float], None] = time.sleep,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self._pool = pool
        self._sleep = sleep
        self._user_agent = user_agent

    def run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = self._perform(effect)
            except Exception as exc:
                # Thrown into the flow so it can clean up (cancel an upload session) or retry a transport error.
                error = exc
            except BaseException:
                flow.close()
                raise

    def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Send):
            request = effect.request
            prepare(request, self._user_agent)
            client = self._pool.client_for(request.url)
            return client.send(request, stream=effect.stream, follow_redirects=effect.follow_redirects)
        if isinstance(effect, Sleep):
            if effect.seconds > 0:
                self._sleep(effect.seconds)
            return None
        if isinstance(effect, ReadBody):
            return effect.response.read()
        if isinstance(effect, StreamBody):
            size = 0
            try:
                for piece in effect.response.iter_raw(effect.piece_size):
                    effect.sink(piece)
                    size += len(piece)
            finally:
                effect.response.close()
            return size
        if isinstance(effect, CloseBody):
            effect.response.close()
            return None
        source, key = effect.source, effect.key
        token = source.cached(key)
        if token is None:
            with source.locks.thread_lock(key):
                token = source.cached(key)  # another thread may have minted while we waited
                if token is None:
                    token = source.store(key, self.run(source.mint_flow(key)))
        return token


class AsyncDriver:
    """Runs the same flows on an event loop; never blocks it.

    At most ``max_in_flight`` requests run at once. A triggerer runs a thousand sensors on one loop: without the
    limit, their polls pile up in httpcore's pool queue, which rescans every queued request whenever one starts
    or ends (encode/httpcore#1035) and took the loop's p99 lag past 600 ms; with 8 in flight it stayed under
    100 ms and the polls were answered faster (bench/triggers_1000.py).
    """

    def __init__(
        self, pool: ClientPool[httpx.AsyncClient], max_in_flight: int = 8, *, user_agent: str = DEFAULT_USER_AGENT
    ) -> None:
        self._pool = pool
        self._user_agent = user_agent
        self._max_in_flight = max_in_flight
        self._in_flight: asyncio.Semaphore | None = None  # made on first use, on the loop that runs the flows

    async def run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = await self._perform(effect)
            except Exception as exc:
                # Thrown into the flow so it can clean up (cancel an upload session) or retry a transport error.
                error = exc
            except BaseException:
                flow.close()
                raise

    async def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Send):
            request = effect.request
            prepare(request, self._user_agent)
            return await self._send(request, effect)
        if isinstance(effect, Sleep):
            if effect.seconds > 0:
                await asyncio.sleep(effect.seconds)
            return None
        if isinstance(effect, ReadBody):
            return await effect.response.aread()
        if isinstance(effect, StreamBody):
            size = 0
            try:
                async for piece in effect.response.aiter_raw(effect.piece_size):
                    effect.sink(piece)
                    size += len(piece)
            finally:
                await effect.response.aclose()
            return size
        if isinstance(effect, CloseBody):
            await effect.response.aclose()
            return None
        source, key = effect.source, effect.key
        token = source.cached(key)
        if token is None:
            async with source.locks.async_lock(key):
                token = source.cached(key)
                if token is None:
                    token = source.store(key, await self.run(source.mint_flow(key)))
        return token

    async def _send(self, request: httpx.Request, effect: Send) -> httpx.Response:
        client = self._pool.client_for(request.url)
        if effect.stream:  # the caller reads the body later: a slot held until then could never be freed here
            return await client.send(request, stream=True, follow_redirects=effect.follow_redirects)
        if self._in_flight is None:
            self._in_flight = asyncio.Semaphore(self._max_in_flight)
        async with self._in_flight:
            return await client.send(request, follow_redirects=effect.follow_redirects)


def now() -> float:
    """Wall-clock seconds; token expiry compares against server-issued epoch times, so not monotonic."""
    return time.time()
