"""Pagination, in one place: every paging style reduces to a :class:`Page` (its items, the next page's parameters,
the advertised total), and one :class:`PageLoop` decides when a listing is complete, for every Hub, SCIM and
registry listing and every way of running it (sync iterator, async iterator, inside a flow).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
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


# -- the one paging loop -------------------------------------------------------------------------------------

Params = dict[str, Any]
T = TypeVar("T")


class ListingError(ProtocolError):
    """A listing the server paged inconsistently: the method, the path and what went wrong are in the message."""


class RunawayListingError(ListingError):
    """More pages than the items can fill: a server ignoring ``page`` (or a ``Link`` loop) would never end."""


class IncompleteListingError(ListingError):
    """Fewer distinct items than the server advertised, even after a second pass from the first page."""


class ListingWarning(UserWarning):
    """A listing completed, but the server misbehaved on the way (see the subclasses)."""


class DuplicateItemsWarning(ListingWarning):
    """Items were served twice (offsets shifted by a concurrent insert); the repeats were dropped."""


class CountMismatchWarning(ListingWarning):
    """More distinct items than the advertised total (an understated ``count``/``totalResults``)."""


@dataclass(frozen=True)
class Page:
    """One answer of a listing: its raw items, the parameters of the page after it (``None``: this paging style has
    no way on, as a registry page without ``Link``), the total the server advertised with it, if it does, and its
    ``next`` signal where the style has one."""

    items: list[Any]
    following: Params | None
    total: int | None = None
    more: bool | None = None  # the server's own "there is a next page" (Hub ``next``); None: no such signal


def item_key(item: Any) -> Hashable:
    """What makes two raw items "the same" when none is given: the first identity field present (``id``, ``uuid``,
    ``digest``, ``name``, ``username``), else the whole item as canonical JSON (strings are their own key)."""
    if isinstance(item, dict):
        for name in ("id", "uuid", "digest", "name", "username"):
            value = item.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return (name, value)
        return json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
    if isinstance(item, Hashable):
        return item
    return json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)


def _identity(item: Any) -> Any:
    return item


@dataclass(frozen=True)
class Pages(Generic[T]):
    """A listing, not yet run: the first page's parameters, the flow that fetches one page (a :class:`Page`, or the
    older ``(items, next parameters)`` pair), and what each raw item becomes (a model, say).

    ``key`` identifies an item for duplicate detection (default :func:`item_key`); ``window``, if set, bounds the
    memory of keys to the last ``window`` pages (a long audit log; duplicates from shifted offsets are adjacent).
    ``page_size`` is what the first request asks for; ``method``/``path`` name the listing in errors.
    """

    first: Params
    fetch: Callable[[Params], Flow[Page | tuple[list[Any], Params | None]]]
    item: Callable[[Any], T] = _identity
    key: Callable[[Any], Hashable] = item_key
    window: int | None = None
    page_size: int | None = None
    method: str = "GET"
    path: str = ""


class PageLoop:
    """The paging rules, once, for every listing and every way of running it (sync, async, inside a flow).

    - It stops on an empty page, on a page after which the paging style has no way on, or when the advertised total
      is reached on a page shorter than the largest so far. Never on a short page alone: a server that caps
      ``page_size`` at 50, or ignores it, serves short pages all along. A total reached on a *full* page is
      trusted only if the same total was advertised on at least two pages of the pass and the server does not
      say there is more; otherwise one more request confirms the end, because an understated total (and the
      ``next`` a Django paginator derives from it) cannot be told from the end on one page's word.
    - A missing ``next`` while the count says more is not the end: the Hub is paged by page number anyway (its
      ``next`` URL is never followed, so our token cannot go to another host), so the loop asks for the next page
      and lets an empty page end it. Raising instead would fail every listing of a server with a wrong ``next``
      that still serves every page; the count cross-check below catches the case where the pages really run out.
    - Runaway guard: at most ``ceil((max(total, distinct) + shifted) / largest page) + 1`` pages per pass, where
      ``shifted`` counts the repeats on pages that also brought new items (an insert moved the offsets). A server
      that ignores ``page`` repeats its first page, adds nothing, widens nothing, and trips it in a few requests.
    - Duplicates (by ``key``) are dropped, counted and reported once (:class:`DuplicateItemsWarning`).
    - Cross-check at the end: fewer distinct items than the last advertised total (an insert during paging shifted
      a record past us) starts a second pass from the first page, which stops once the total is reached; still
      short is an :class:`IncompleteListingError`. More than advertised is a :class:`CountMismatchWarning`.
    """

    def __init__(self, pages: Pages[Any]) -> None:
        self.pages = pages
        self.params: Params | None = pages.first
        self.distinct = 0
        self.duplicates = 0
        self.requests = 0
        self.total: int | None = None
        self._max_total = 0
        self._largest = 0
        self._pass = 1
        self._pass_requests = 0
        self._totals: list[int] = []  # advertised totals of this pass
        self._shifted = 0  # repeats served on pages that also brought new items, this pass
        self._seen: set[Hashable] = set()
        self._recent: deque[set[Hashable]] = deque()

    def _where(self) -> str:
        return self.pages.path or "listing"

    def _is_new(self, key: Hashable, current: set[Hashable]) -> bool:
        if key in self._seen or key in current or any(key in keys for keys in self._recent):
            return False
        (self._seen if self.pages.window is None else current).add(key)
        return True

    def accept(self, answer: Page | tuple[list[Any], Params | None]) -> list[Any]:
        """Take one page's answer: its new raw items (duplicates dropped); ``self.params`` becomes the next
        page's parameters, or ``None`` when the listing is complete (checked)."""
        page = answer if isinstance(answer, Page) else Page(answer[0], answer[1])
        items = page.items
        self.requests += 1
        self._pass_requests += 1
        if page.total is not None:
            self.total = page.total
            self._max_total = max(self._max_total, page.total)
            self._totals.append(page.total)
        current: set[Hashable] = set()
        new = [raw for raw in items if self._is_new(self.pages.key(raw), current)]
        if self.pages.window is not None:  # this page's keys join the window after it was checked against it
            self._recent.append(current)
            while len(self._recent) > self.pages.window:
                self._recent.popleft()
        self.distinct += len(new)
        if self._pass == 1:  # a second pass re-reads on purpose: its repeats are not the server's
            self.duplicates += len(items) - len(new)
        if new:  # repeats on a page that also moved on are a shift (an insert): they widen the guard
            self._shifted += len(items) - len(new)
        # "Full" compares with the largest page so far (a capped server's pages are all 50), and on the first
        # page with what was asked for.
        full_size = self._largest or self.pages.page_size or len(items)
        full = len(items) >= full_size
        self._largest = max(self._largest, len(items))
        limit = math.ceil((max(self._max_total, self.distinct) + self._shifted) / max(1, self._largest)) + 1
        if self._pass_requests > limit:
            raise RunawayListingError(
                self.pages.method,
                self._where(),
                f"{self._pass_requests} pages for {self.distinct} distinct items (advertised total "
                f"{self.total}, pages of up to {self._largest}): the server does not advance through its pages",
            )
        reached = self.total is not None and self.distinct >= self.total
        steady = len(self._totals) >= 2 and len(set(self._totals)) == 1 and page.more is not True
        if not items or page.following is None or (reached and (not full or steady or self._pass > 1)):
            self.params = self._finish()
        else:
            self.params = page.following
        return new

    def _finish(self) -> Params | None:
        if self.total is not None and self.distinct < self.total:
            if self._pass == 1:
                self._pass, self._pass_requests, self._totals, self._shifted = 2, 0, [], 0
                return self.pages.first
            raise IncompleteListingError(
                self.pages.method,
                self._where(),
                f"{self.distinct} distinct items after two passes, the server advertised {self.total}",
            )
        if self.total is not None and self.distinct > self.total:
            warnings.warn(
                CountMismatchWarning(
                    f"{self.pages.method} {self._where()}: {self.distinct} distinct items, the server advertised "
                    f"{self.total}"
                ),
                stacklevel=4,
            )
        if self.duplicates:
            warnings.warn(
                DuplicateItemsWarning(
                    f"{self.pages.method} {self._where()}: {self.duplicates} items served twice were dropped "
                    f"({self.distinct} distinct)"
                ),
                stacklevel=4,
            )
        return None


def iterate_batches(run: Callable[[Flow[Any]], Any], pages: Pages[T]) -> Iterator[tuple[Params, list[T]]]:
    """Each page's parameters and its new items, one page in memory at a time (for callers that checkpoint)."""
    loop = PageLoop(pages)
    while loop.params is not None:
        params = loop.params
        new = loop.accept(run(pages.fetch(params)))
        yield params, [pages.item(raw) for raw in new]


def iterate_pages(run: Callable[[Flow[Any]], Any], pages: Pages[T]) -> Iterator[T]:
    """Every item of every page: the paging loop of the sync fronts."""
    for _, items in iterate_batches(run, pages):
        yield from items


async def aiterate_pages(run: Callable[[Flow[Any]], Awaitable[Any]], pages: Pages[T]) -> AsyncIterator[T]:
    """The same loop for the async fronts (the only difference is ``await``)."""
    loop = PageLoop(pages)
    while loop.params is not None:
        for raw in loop.accept(await run(pages.fetch(loop.params))):
            yield pages.item(raw)


def collect_pages(pages: Pages[T]) -> Flow[list[T]]:
    """Every item as one list, inside a flow (for operations that need the whole listing to decide)."""
    collected: list[T] = []
    loop = PageLoop(pages)
    while loop.params is not None:
        answer = yield from pages.fetch(loop.params)
        collected.extend(pages.item(raw) for raw in loop.accept(answer))
    return collected


# -- paging styles: each is "the next page's parameters" (the loop decides whether to ask for it) -----------


def next_page_number(params: Params) -> Params:
    """``page``/``page_size`` listings (Hub envelopes, the audit log): the next page number."""
    return {**params, "page": int(params.get("page", 1)) + 1}


def hub_page(body: Any, items: list[Any], params: Params) -> Page:
    """A Hub envelope (``{count|total, next, previous, results}``, or the audit log's ``{logs}``) as a
    :class:`Page`. ``next`` is not trusted either way (see :class:`PageLoop`): the loop pages by number."""
    total = None
    if isinstance(body, dict):
        for name in ("count", "total"):
            value = body.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                total = value
                break
    more = bool(body.get("next")) if isinstance(body, dict) and "next" in body else None
    return Page(items, next_page_number(params), total, more)


def start_index_page(body: Any, items: list[Any], params: Params) -> Page:
    """SCIM (RFC 7644 §3.4.2.4): 1-based ``startIndex``, advanced by what this page held, from our own cursor
    (a server answering another ``startIndex`` than asked is then caught as a repeat, not followed)."""
    total = body.get("totalResults") if isinstance(body, dict) else None
    following = {**params, "startIndex": int(params.get("startIndex", 1)) + len(items)}
    return Page(items, following, total if isinstance(total, int) and not isinstance(total, bool) else None)
