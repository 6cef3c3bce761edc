"""RFC 8288 ``Link`` parsing and ``rel="next"`` resolution (registries send relative targets)."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_dockerhub.client.core.pagination import next_link, parse_link_header

REQUEST_URL = "https://registry.example.com:5000/v2/team/app/tags/list?n=2"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</v2/x/tags/list?n=2&last=b>; rel="next"', {"next": "/v2/x/tags/list?n=2&last=b"}),
        (
            '<https://r.example/v2/_catalog?last=b&n=100>; rel="next"',
            {"next": "https://r.example/v2/_catalog?last=b&n=100"},
        ),
        ('<a>; rel="next", <b>; rel="prev"', {"next": "a", "prev": "b"}),
        ('<a>; rel="prev",<b>; rel="next" , <c>; rel="first"', {"prev": "a", "next": "b", "first": "c"}),
        ('<a>; rel="next last"', {"next": "a", "last": "a"}),
        ("<a>;rel=next", {"next": "a"}),
        ("<a>; rel=next, <b>; rel=prev", {"next": "a", "prev": "b"}),
        ('<a> ; REL = "Next"', {"next": "a"}),
        ('<a>; type="text/html"; rel="next"', {"next": "a"}),
        ('<a>; rel="next"; type="text/html"', {"next": "a"}),
        ('<a>; rel="next", <b>; rel="next"', {"next": "a"}),  # the first wins
        ('</v2/a,b/tags/list?last=x>; rel="next"', {"next": "/v2/a,b/tags/list?last=x"}),
        ("<a>", {}),
        ('<a>; title="next"', {}),
        ("garbage", {}),
        ("", {}),
        (None, {}),
    ],
)
def test_parse_link_header(header: str | None, expected: dict[str, str]) -> None:
    assert parse_link_header(header) == expected


def _response(link: str | None, url: str = REQUEST_URL) -> httpx.Response:
    headers = {"Link": link} if link is not None else {}
    return httpx.Response(200, headers=headers, request=httpx.Request("GET", url))


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            '</v2/team/app/tags/list?n=2&last=v2>; rel="next"',
            "https://registry.example.com:5000/v2/team/app/tags/list?n=2&last=v2",
        ),
        (
            '<list?n=2&last=v2>; rel="next"',
            "https://registry.example.com:5000/v2/team/app/tags/list?n=2&last=v2",
        ),
        (
            '<https://mirror.example.com/v2/team/app/tags/list?last=v2>; rel="next"',
            "https://mirror.example.com/v2/team/app/tags/list?last=v2",
        ),
        (
            '</v2/_catalog?last=b%2Fc&n=100>; rel="next"',
            "https://registry.example.com:5000/v2/_catalog?last=b%2Fc&n=100",
        ),
    ],
)
def test_next_link_resolves_against_the_request(link: str, expected: str) -> None:
    resolved = next_link(_response(link))
    assert resolved == httpx.URL(expected)
    assert isinstance(resolved, httpx.URL)


def test_next_link_keeps_the_query_parameters_of_the_link_not_the_request() -> None:
    resolved = next_link(_response('</v2/team/app/tags/list?last=v2>; rel="next"', REQUEST_URL + "&stale=1"))
    assert resolved is not None
    assert dict(resolved.params) == {"last": "v2"}


@pytest.mark.parametrize("link", [None, "", '<a>; rel="prev"', '<>; rel="next"', "garbage"])
def test_no_next_link_on_the_last_page(link: str | None) -> None:
    assert next_link(_response(link)) is None
