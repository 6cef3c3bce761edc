"""Pagination, in one place: every paging style reduces to "the next page's parameters, if any" (pure), and the
page loop is written here once per way of running it (sync iterator, async iterator, inside a flow).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from .errors import ProtocolError, redacted_path

if TYPE_CHECKING:
    from .flow import Flow

_LINK_RE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_PARAM_RE = re.compile(r';\s*([A-Za-z0-9*-]+)\s*=\s*(?:"([^"]*)"|([^;,\s]+))')


def parse_link_header(value: str | None) -> dict[str, str]:
    """RFC 8288 ``Link`` header -> ``{rel: target}``. Targets may be relative (registries send ``</v2/...>``)."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK_RE.finditer(value):
        target, params = match.group(1), match.group(2)
        for pmatch in _PARAM_RE.finditer(params):
            if pmatch.group(1).lower() == "rel":
                for rel in (pmatch.group(2) or pmatch.group(3) or "").split():
                    links.setdefault(rel.lower(), target)
    return links


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """RFC 6454 origins (scheme, host, port, default ports filled in) are equal: the one rule for where a
    ``Link`` next page or an upload ``Location`` may point, since our credentials follow those URLs."""
    return (a.scheme, a.host.lower(), a.port or _DEFAULT_PORTS.get(a.scheme)) == (
        b.scheme,
        b.host.lower(),
        b.port or _DEFAULT_PORTS.get(b.scheme),
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def next_link(response: httpx.Response) -> httpx.URL | None:
    """The absolute URL of ``rel="next"``, resolved against the request, or ``None`` on the last page."""
    target = parse_link_header(response.headers.get("Link")).get("next")
    if not target:
        return None
    try:
        return response.request.url.join(target)
    except httpx.InvalidURL as exc:
        raise ProtocolError("GET", redacted_path(response.request.url), f"unparsable Link target {target!r}") from exc


def next_link_same_origin(response: httpx.Response) -> httpx.URL | None:
    """:func:`next_link`, refusing a next page on another origin (another host or port, or ``http`` where we
    asked over ``https``): our token would follow it. Raised rather than followed or silently dropped, so a
    listing never ends early without anyone knowing."""
    following = next_link(response)
    if following is not None and not same_origin(following, response.request.url):
        raise ProtocolError("GET", redacted_path(response.request.url), "Link rel=next points to another host")
    return following


# -- Hub API paging styles: each is "the parameters of the next page, or None" -----------------------------

Params = dict[str, Any]
T = TypeVar("T")


def next_by_link(body: Any, params: Params) -> Params | None:
    """``page``/``page_size`` envelopes (``{count|total, next, previous, results}``): go on while ``next`` is set.

    The page number is incremented rather than ``next`` followed, so a ``next`` URL on another host can never
    receive our token.
    """
    if isinstance(body, dict) and body.get("next"):
        return {**params, "page": int(params.get("page", 1)) + 1}
    return None


def next_by_short_page(items: list[Any], params: Params) -> Params | None:
    """Audit logs answer only ``{logs: [...]}``: the last page is the first one shorter than ``page_size``."""
    if items and len(items) >= int(params["page_size"]):
        return {**params, "page": int(params.get("page", 1)) + 1}
    return None


def next_by_start_index(body: Any, items: list[Any], params: Params) -> Params | None:
    """SCIM (RFC 7644 §3.4.2.4): 1-based ``startIndex``; stop once ``totalResults`` are seen or a page is empty."""
    if not items or not isinstance(body, dict):
        return None
    start = int(body.get("startIndex") or params.get("startIndex", 1))
    following = start + len(items)
    total = body.get("totalResults")
    if isinstance(total, int) and following > total:
        return None
    return {**params, "startIndex": following}


def _identity(item: Any) -> Any:
    return item


@dataclass(frozen=True)
class Pages(Generic[T]):
    """A listing, not yet run: the first page's parameters, the flow that fetches one page (its items and the
    next page's parameters, ``None`` on the last), and what each raw item becomes (a model, say)."""

    first: Params
    fetch: Callable[[Params], Flow[tuple[list[Any], Params | None]]]
    item: Callable[[Any], T] = _identity


def iterate_pages(run: Callable[[Flow[Any]], Any], pages: Pages[T]) -> Iterator[T]:
    """Every item of every page, one page in memory at a time: the paging loop of the sync fronts."""
    params: Params | None = pages.first
    while params is not None:
        items, params = run(pages.fetch(params))
        for item in items:
            yield pages.item(item)


async def aiterate_pages(run: Callable[[Flow[Any]], Awaitable[Any]], pages: Pages[T]) -> AsyncIterator[T]:
    """The same loop for the async fronts (the only difference is ``await``)."""
    params: Params | None = pages.first
    while params is not None:
        items, params = await run(pages.fetch(params))
        for item in items:
            yield pages.item(item)


def collect_pages(pages: Pages[T]) -> Flow[list[T]]:
    """Every item as one list, inside a flow (for operations that need the whole listing to decide)."""
    collected: list[T] = []
    params: Params | None = pages.first
    while params is not None:
        items, params = yield from pages.fetch(params)
        collected.extend(pages.item(item) for item in items)
    return collected
