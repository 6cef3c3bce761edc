"""``Link``-header pagination of the registry tag list, against a scripted OCI registry (respx).

distribution 2.8 ignores ``n``/``last``, so the paging contract of the OCI spec (end-8b) is exercised here.
"""

from __future__ import annotations

import httpx
import pytest
import respx

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession, ProtocolError

REGISTRY = "https://registry.example.test"


def paged_registry(router: respx.MockRouter, pages: list[list[str]], next_host: str | None = None) -> respx.Route:
    def answer(request: httpx.Request) -> httpx.Response:
        last = request.url.params.get("last")
        index = 0 if last is None else next(i + 1 for i, page in enumerate(pages) if page[-1] == last)
        headers = {}
        if index + 1 < len(pages):
            host = next_host or ""
            headers["Link"] = f'<{host}/v2/team/app/tags/list?n=2&last={pages[index][-1]}>; rel="next"'
        return httpx.Response(200, json={"name": "team/app", "tags": pages[index]}, headers=headers)

    return router.get(url__regex=r".*/v2/team/app/tags/list.*").mock(side_effect=answer)


def test_every_page_is_followed_once() -> None:
    with respx.mock(assert_all_called=True) as router, DockerHubSession(ClientConfig(registry_url=REGISTRY)) as session:
        route = paged_registry(router, [["a", "b"], ["c", "d"], ["e"]])
        assert list(session.registry.list_tags("team/app", page_size=2)) == ["a", "b", "c", "d", "e"]
    assert route.call_count == 3
    assert route.calls[0].request.url.params["n"] == "2"
    assert route.calls[2].request.url.params["last"] == "d"


def test_next_link_to_another_host_is_refused() -> None:
    with respx.mock() as router, DockerHubSession(ClientConfig(registry_url=REGISTRY)) as session:
        paged_registry(router, [["a"], ["b"]], next_host="https://elsewhere.example.test")
        with pytest.raises(ProtocolError, match="another host"):
            list(session.registry.list_tags("team/app"))
