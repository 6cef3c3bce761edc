"""Pagination helpers shared by every paging style (pure).

Each style reduces to "what is the next request, if any"; iteration over pages is written once per driver.
"""

from __future__ import annotations

import re

import httpx

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
    return response.request.url.join(target)
