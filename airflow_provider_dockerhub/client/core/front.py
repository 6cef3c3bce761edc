"""The sync and async fronts of every API client, derived from its flows in one line per method.

An API's operations are written once, as flows, on an *operations* object (``RegistryOperations``,
``HubOperations``...). Its two public clients are thin fronts over it::

    class RegistryClient(SyncFront[RegistryOperations]):
        head_manifest = sync_call(RegistryOperations.head_manifest)

    class AsyncRegistryClient(AsyncFront[RegistryOperations]):
        head_manifest = async_call(RegistryOperations.head_manifest)

``sync_call`` keeps the flow method's signature and docstring (``ParamSpec``), so both fronts are typed and
documented from the one definition. A listing is an operations method returning :class:`Pages`;
``sync_pages``/``async_pages`` make it an iterator/async iterator over every item.

``front.run(flow)`` and ``front.ops`` stay public: flows compose (``client.run(client.ops.some_flow())``), which is
how the policy and transfer code combine several operations into one.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from .flow import Flow
from .pagination import Pages, aiterate_pages, iterate_pages

O = TypeVar("O")  # noqa: E741 - the operations type, as in Generic[O]
P = ParamSpec("P")
T = TypeVar("T")


class SyncFront(Generic[O]):
    """Runs ``ops``' flows with a blocking driver."""

    def __init__(self, ops: O, run: Callable[[Flow[Any]], Any]) -> None:
        self.ops = ops
        self._run = run

    def run(self, flow: Flow[T]) -> T:
        """Drive one flow to its result (retries, auth and paging included)."""
        result: T = self._run(flow)
        return result


class AsyncFront(Generic[O]):
    """Runs ``ops``' flows on the event loop; never blocks it."""

    def __init__(self, ops: O, run: Callable[[Flow[Any]], Awaitable[Any]]) -> None:
        self.ops = ops
        self._run = run

    async def run(self, flow: Flow[T]) -> T:
        """Drive one flow to its result (retries, auth and paging included)."""
        result: T = await self._run(flow)
        return result


def sync_call(method: Callable[Concatenate[Any, P], Flow[T]]) -> Callable[Concatenate[SyncFront[Any], P], T]:
    """``front.name(*args)`` == ``front.run(front.ops.name(*args))``."""

    @functools.wraps(method)
    def call(self: SyncFront[Any], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.run(method(self.ops, *args, **kwargs))

    return call


def async_call(
    method: Callable[Concatenate[Any, P], Flow[T]],
) -> Callable[Concatenate[AsyncFront[Any], P], Coroutine[Any, Any, T]]:
    """``await front.name(*args)`` == ``await front.run(front.ops.name(*args))``."""

    @functools.wraps(method)
    async def call(self: AsyncFront[Any], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.run(method(self.ops, *args, **kwargs))

    return call


def sync_pages(
    method: Callable[Concatenate[Any, P], Pages[T]],
) -> Callable[Concatenate[SyncFront[Any], P], Iterator[T]]:
    """A listing as an iterator over every item; its arguments are checked at the call, before any request."""

    @functools.wraps(method)
    def call(self: SyncFront[Any], /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        return iterate_pages(self.run, method(self.ops, *args, **kwargs))

    return call


def async_pages(
    method: Callable[Concatenate[Any, P], Pages[T]],
) -> Callable[Concatenate[AsyncFront[Any], P], AsyncIterator[T]]:
    """A listing as an async iterator over every item (``async for``)."""

    @functools.wraps(method)
    def call(self: AsyncFront[Any], /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        return aiterate_pages(self.run, method(self.ops, *args, **kwargs))

    return call
