"""Pagination helpers shared by every paging style (pure).

Each style reduces to "what is the next request, if any"; iteration over pages is written once per driver.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

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


def next_link(response: httpx.Response) -> httpx.URL | None:
    """The absolute URL of ``rel="next"``, resolved against the request, or ``None`` on the last page."""
    target = parse_link_header(response.headers.get("Link")).get("next")
    if not target:
        return None
    try:
        return response.request.url.join(target)
    except httpx.InvalidURL as exc:
        from .errors import ProtocolError, redacted_path

        raise ProtocolError("GET", redacted_path(response.request.url), f"unparsable Link target {target!r}") from exc


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


def iterate_pages(
    run: Callable[[Flow[tuple[list[T], Params | None]]], tuple[list[T], Params | None]],
    page: Callable[[Params], Flow[tuple[list[T], Params | None]]],
    first: Params,
) -> Iterator[T]:
    """Every item of every page; the one paging loop of the client (callers never write one)."""
    params: Params | None = first
    while params is not None:
        items, params = run(page(params))
        yield from items
