"""The one paging loop (core/pagination.PageLoop) against scripted servers: when it stops, what it asks for, and
how it fails. Pure: each "server" is a function of the requested parameters, and the loop's request count is
asserted exactly."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_dockerhub.client.core.flow import Flow
from airflow_provider_dockerhub.client.core.pagination import (
    CountMismatchWarning,
    DuplicateItemsWarning,
    IncompleteListingError,
    Page,
    Pages,
    Params,
    RunawayListingError,
    collect_pages,
    hub_page,
    iterate_pages,
    start_index_page,
)

Server = Callable[[Params], Page | tuple[list[Any], Params | None]]


def drive(flow: Flow[Any]) -> Any:
    try:
        next(flow)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("these flows yield no effects")


def listing(server: Server, first: Params, page_size: int | None = None, **kwargs: Any) -> tuple[list[Any], int]:
    asked: list[Params] = []

    def fetch(params: Params) -> Flow[Page | tuple[list[Any], Params | None]]:
        asked.append(params)
        return server(params)
        yield  # a flow without effects

    pages: Pages[Any] = Pages(first, fetch, page_size=page_size, path="/v2/things", **kwargs)
    items = list(iterate_pages(drive, pages))
    return items, len(asked)


def hub(data: list[int], *, cap: int | None = None, count: Callable[[int], int] | None = None) -> Server:
    """A Hub-style server over ``data``: page/page_size, optional cap, advertised count per page number."""

    def serve(params: Params) -> Page:
        size = min(params["page_size"], cap) if cap else params["page_size"]
        start = (params["page"] - 1) * size
        items = [{"id": i} for i in data[start : start + size]]
        total = count(params["page"]) if count else len(data)
        body = {"count": total, "next": "x" if start + size < total else None, "results": items}
        return hub_page(body, items, params)

    return serve


FIRST = {"page": 1, "page_size": 100}


def ids(items: list[Any]) -> list[int]:
    return [i["id"] for i in items]


def test_a_short_page_does_not_end_a_listing_the_count_says_is_longer() -> None:
    items, requests = listing(hub(list(range(250)), cap=50), FIRST, 100)
    assert ids(items) == list(range(250)) and requests == 5  # five capped pages; the count ends it


def test_one_small_page_is_one_request() -> None:
    items, requests = listing(hub(list(range(7))), FIRST, 100)
    assert ids(items) == list(range(7)) and requests == 1


def test_a_steady_total_on_a_full_page_is_trusted_a_single_one_is_confirmed() -> None:
    assert listing(hub(list(range(300))), FIRST, 100)[1] == 3  # count 300 on three pages: no fourth request
    assert listing(hub(list(range(100))), FIRST, 100)[1] == 2  # one full page: is it all? one more asks


def test_an_understated_total_and_its_missing_next_do_not_truncate() -> None:
    with pytest.warns(CountMismatchWarning, match="250 distinct items, the server advertised 200"):
        items, requests = listing(hub(list(range(250)), count=lambda page: 125 if page == 1 else 200), FIRST, 100)
    assert ids(items) == list(range(250)) and requests == 3


def test_a_missing_next_while_the_count_says_more_pages_on_by_number() -> None:
    def serve(params: Params) -> Page:
        start = (params["page"] - 1) * 100
        items = [{"id": i} for i in range(250)[start : start + 100]]
        return hub_page({"count": 250, "next": None, "results": items}, items, params)

    items, requests = listing(serve, FIRST, 100)
    assert len(items) == 250 and requests == 3


def test_a_shift_is_dropped_warned_about_and_the_missed_record_found_by_a_second_pass() -> None:
    data = list(range(1, 121))

    def serve(params: Params) -> Page:
        if params["page"] == 2 and data[0] != 0:
            data.insert(0, 0)  # a record that sorts first appears between page 1 and page 2
        return hub(data)(params)  # type: ignore[return-value]

    with pytest.warns(DuplicateItemsWarning, match="1 items served twice were dropped"):
        items, requests = listing(serve, {"page": 1, "page_size": 50}, 50)
    assert sorted(ids(items)) == list(range(121)) and len(items) == 121
    # Pages 1-3 (120 distinct, the count says 121), the empty page 4 ends the pass short, and the second pass
    # finds the inserted record on page 1 and stops there.
    assert requests == 4 + 1


def test_fewer_items_than_advertised_after_two_passes_is_an_error() -> None:
    with pytest.raises(IncompleteListingError, match=r"GET /v2/things: 80 distinct items after two passes.*100"):
        listing(hub(list(range(80)), count=lambda page: 100), {"page": 1, "page_size": 50}, 50)


@pytest.mark.parametrize(("total", "size"), [(250, 100), (3000, 100), (40, 25)])
def test_a_server_ignoring_page_is_stopped_by_the_guard(total: int, size: int) -> None:
    first_page = [{"id": i} for i in range(size)]

    def serve(params: Params) -> Page:
        return hub_page({"count": total, "results": first_page}, first_page, params)

    with pytest.raises(RunawayListingError, match=r"GET /v2/things: .*does not advance") as raised:
        listing(serve, {"page": 1, "page_size": size}, size)
    assert str(raised.value).startswith(f"GET /v2/things: {math.ceil(total / size) + 2} pages for {size} distinct")


def test_without_a_count_a_listing_ends_at_an_empty_page_and_the_guard_still_holds() -> None:
    def serve(params: Params) -> Page:
        start = (params["page"] - 1) * 25  # ignores page_size
        items = [{"id": i} for i in range(130)[start : start + 25]]
        return hub_page({"logs": items}, items, params)

    items, requests = listing(serve, FIRST, 100)
    assert len(items) == 130 and requests == 7  # six pages of up to 25, then the empty one

    def stuck(params: Params) -> Page:
        items = [{"id": i} for i in range(25)]
        return hub_page({"logs": items}, items, params)

    with pytest.raises(RunawayListingError):
        listing(stuck, FIRST, 100)


def test_the_registry_style_ends_where_link_ends_and_a_link_loop_is_caught() -> None:
    pages = {"a": (["v1", "v2"], {"url": "b"}), "b": (["v3"], None)}
    items, requests = listing(lambda p: pages[p["url"]], {"url": "a"})
    assert items == ["v1", "v2", "v3"] and requests == 2
    with pytest.raises(RunawayListingError):
        listing(lambda p: (["v1", "v2"], {"url": "a"}), {"url": "a"})


def test_scim_pages_advance_from_our_own_cursor() -> None:
    users = [{"id": f"u{i}"} for i in range(450)]

    def serve(params: Params) -> Page:
        start, count = params["startIndex"], min(params["count"], 50)  # caps count at 50
        chunk = users[start - 1 : start - 1 + count]
        return start_index_page({"totalResults": 450, "startIndex": start, "Resources": chunk}, chunk, params)

    items, requests = listing(serve, {"startIndex": 1, "count": 200}, 200)
    assert items == users and requests == 9


def test_a_key_window_bounds_memory_and_still_drops_adjacent_repeats() -> None:
    def serve(params: Params) -> Page:
        start = (params["page"] - 1) * 10 - (1 if params["page"] >= 3 else 0)  # shifted by one from page 3
        items = [{"id": i} for i in range(35)[max(0, start) : start + 10]]
        return hub_page({"logs": items}, items, params)

    with pytest.warns(DuplicateItemsWarning):
        items, _ = listing(serve, {"page": 1, "page_size": 10}, 10, window=2)
    assert ids(items) == list(range(35))


def test_collect_pages_runs_the_same_loop_inside_a_flow() -> None:
    def fetch(params: Params) -> Flow[Page]:
        return hub(list(range(250)), cap=50)(params)  # type: ignore[return-value]
        yield

    pages: Pages[Any] = Pages(FIRST, fetch, page_size=100)
    assert ids(drive(collect_pages(pages))) == list(range(250))
