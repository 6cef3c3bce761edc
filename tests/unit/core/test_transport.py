"""Retry policy, ``Retry-After`` handling, rate-limit telemetry, and ``send_flow`` driven through both drivers."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_dockerhub.client.core import transport
from airflow_provider_dockerhub.client.core.errors import RateLimitedError, TransportError
from airflow_provider_dockerhub.client.core.flow import AsyncDriver, SyncDriver
from airflow_provider_dockerhub.client.core.transport import (
    RateLimitTelemetry,
    RetryPolicy,
    RetryStats,
    parse_retry_after,
    rate_limit_delay,
    send_flow,
)

NOW = 1_700_000_000.0
URL = "https://registry.example.com/v2/library/alpine/manifests/latest"
UPLOAD_URL = "https://registry.example.com/v2/team/app/blobs/uploads/"
LOGGER = "airflow_provider_dockerhub.client"


def policy(**overrides: Any) -> RetryPolicy:
    """Backoff with the jitter pinned to 0: retry n sleeps exactly 0.25 * 2**(n-1) seconds (half the ceiling)."""
    values: dict[str, Any] = {
        "max_retries": 3,
        "backoff_base": 0.5,
        "backoff_cap": 30.0,
        "max_total_wait": 120.0,
        "jitter": lambda: 0.0,
    }
    values.update(overrides)
    return RetryPolicy(**values)


class Pool:
    """The smallest ClientPool: one client for every URL, and a record of which URLs asked."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.urls: list[httpx.URL] = []

    def client_for(self, url: httpx.URL) -> Any:
        self.urls.append(url)
        return self.client


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(transport, "now", lambda: NOW)
    return NOW


def run_sync(flow: Any, sleeps: list[float]) -> Any:
    with httpx.Client() as client:
        pool = Pool(client)
        result = SyncDriver(pool, sleep=sleeps.append).run(flow)
        assert pool.urls, "the driver must ask the pool for a client"
        return result


def run_async(flow: Any) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient() as client:
            return await AsyncDriver(Pool(client)).run(flow)

    return asyncio.run(main())


@pytest.fixture
def async_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the AsyncDriver's sleeps instead of waiting."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)  # the module attribute the AsyncDriver looks up
    return slept


# -- parse_retry_after --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        ("0", 0.0),
        ("120", 120.0),
        ("1.5", 1.5),
        ("  3  ", 3.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-1", None),
        ("1e3", None),
        ("0x10", None),
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: ambiguous, refused
    ],
)
def test_parse_retry_after_seconds_and_garbage(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, at=NOW) == expected


def test_parse_retry_after_http_date_in_the_future() -> None:
    value = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after(value, at=NOW) == pytest.approx(30.0)


def test_parse_retry_after_http_date_in_the_past_is_zero() -> None:
    value = email.utils.formatdate(NOW - 3600, usegmt=True)
    assert parse_retry_after(value, at=NOW) == 0.0


def test_parse_retry_after_http_date_uses_the_clock_by_default(frozen_now: float) -> None:
    assert parse_retry_after(email.utils.formatdate(frozen_now + 7, usegmt=True)) == pytest.approx(7.0)


# -- rate_limit_delay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5", "X-Retry-After": str(int(NOW) + 10), "X-RateLimit-Reset": str(int(NOW) + 20)}, 5.0),
        ({"X-Retry-After": str(int(NOW) + 10), "X-RateLimit-Reset": str(int(NOW) + 20)}, 10.0),
        ({"X-RateLimit-Reset": str(int(NOW) + 20)}, 20.0),
        ({"Retry-After": "soon", "X-Retry-After": str(int(NOW) + 10)}, 10.0),
        ({"X-Retry-After": "tomorrow", "X-RateLimit-Reset": str(int(NOW) + 20)}, 20.0),
        ({"X-Retry-After": str(int(NOW) - 100)}, 0.0),
        ({"X-RateLimit-Reset": str(int(NOW) - 1)}, 0.0),
        ({"Retry-After": email.utils.formatdate(NOW + 4, usegmt=True)}, 4.0),
        ({}, None),
        ({"X-RateLimit-Limit": "180", "X-RateLimit-Remaining": "0"}, None),
    ],
)
def test_rate_limit_delay_precedence(frozen_now: float, headers: dict[str, str], expected: float | None) -> None:
    delay = rate_limit_delay(httpx.Response(429, headers=headers))
    assert delay == (pytest.approx(expected) if expected is not None else None)


# -- RetryPolicy.backoff ------------------------------------------------------------------------------------


def test_backoff_with_fixed_jitter() -> None:
    low = RetryPolicy(backoff_base=0.5, backoff_cap=30.0, jitter=lambda: 0.0)
    high = RetryPolicy(backoff_base=0.5, backoff_cap=30.0, jitter=lambda: 1.0)
    assert [low.backoff(n) for n in range(1, 5)] == [0.25, 0.5, 1.0, 2.0]
    assert [high.backoff(n) for n in range(1, 5)] == [0.5, 1.0, 2.0, 4.0]
    assert low.backoff(20) == 15.0  # capped ceiling, halved by the jitter floor
    assert high.backoff(20) == 30.0


@given(
    retry=st.integers(min_value=1, max_value=60),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    base=st.floats(min_value=0.01, max_value=5.0),
    cap=st.floats(min_value=0.1, max_value=300.0),
)
def test_backoff_bounds(retry: int, jitter: float, base: float, cap: float) -> None:
    delay = RetryPolicy(backoff_base=base, backoff_cap=cap, jitter=lambda: jitter).backoff(retry)
    ceiling = min(cap, base * 2 ** (retry - 1))
    assert 0.5 * ceiling - 1e-9 <= delay <= ceiling + 1e-9
    assert delay <= cap + 1e-9


def test_policy_equality_ignores_jitter() -> None:
    assert RetryPolicy(jitter=lambda: 0.0) == RetryPolicy(jitter=lambda: 1.0)


# -- send_flow through the SyncDriver -----------------------------------------------------------------------


def test_get_503_twice_then_200(router: respx.MockRouter) -> None:
    route = router.get(URL).mock(side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200)])
    sleeps: list[float] = []
    stats = RetryStats()
    response = run_sync(send_flow(httpx.Request("GET", URL), policy(), stats=stats), sleeps)
    assert response.status_code == 200
    assert route.call_count == 3
    assert sleeps == [0.25, 0.5]
    assert (stats.retries, stats.total_wait) == (2, 0.75)


def test_503_ignores_the_rate_limit_reset_of_every_hub_answer(router: respx.MockRouter) -> None:
    # Docker Hub sends X-RateLimit-Reset on every reply; it says nothing about when an outage ends, so a 503
    # retries on backoff instead of waiting for the rate-limit window (or giving up because it is far away).
    far = str(int(time.time()) + 3600)
    route = router.get(URL).mock(
        side_effect=[httpx.Response(503, headers={"X-RateLimit-Reset": far}), httpx.Response(200)]
    )
    sleeps: list[float] = []
    assert run_sync(send_flow(httpx.Request("GET", URL), policy()), sleeps).status_code == 200
    assert route.call_count == 2 and sleeps == [0.25]


def test_post_503_is_not_retried(router: respx.MockRouter) -> None:
    route = router.post(UPLOAD_URL).mock(side_effect=[httpx.Response(503), httpx.Response(202)])
    sleeps: list[float] = []
    response = run_sync(send_flow(httpx.Request("POST", UPLOAD_URL, content=b"x"), policy()), sleeps)
    assert response.status_code == 503  # returned for the caller to map; a POST may have been acted upon
    assert route.call_count == 1
    assert sleeps == []


def test_post_connect_error_is_retried_because_nothing_was_sent(router: respx.MockRouter) -> None:
    route = router.post(UPLOAD_URL).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(202)])
    sleeps: list[float] = []
    response = run_sync(send_flow(httpx.Request("POST", UPLOAD_URL, content=b"x"), policy()), sleeps)
    assert response.status_code == 202
    assert route.call_count == 2
    assert sleeps == [0.25]
    assert route.calls[1].request.content == b"x"  # the body was replayed


@pytest.mark.parametrize("error", [httpx.ConnectTimeout("slow connect"), httpx.PoolTimeout("pool full")])
def test_post_other_not_sent_errors_are_retried(router: respx.MockRouter, error: Exception) -> None:
    route = router.post(UPLOAD_URL).mock(side_effect=[error, httpx.Response(202)])
    response = run_sync(send_flow(httpx.Request("POST", UPLOAD_URL), policy()), [])
    assert response.status_code == 202
    assert route.call_count == 2


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("slow read"), httpx.RemoteProtocolError("dropped"), httpx.ReadError("reset")],
)
def test_get_read_errors_are_retried(router: respx.MockRouter, error: Exception) -> None:
    route = router.get(URL).mock(side_effect=[error, httpx.Response(200)])
    sleeps: list[float] = []
    response = run_sync(send_flow(httpx.Request("GET", URL), policy()), sleeps)
    assert response.status_code == 200
    assert route.call_count == 2
    assert sleeps == [0.25]


@pytest.mark.parametrize("error", [httpx.ReadTimeout("slow read"), httpx.RemoteProtocolError("dropped")])
def test_post_read_error_fails_at_once(router: respx.MockRouter, error: Exception) -> None:
    route = router.post(UPLOAD_URL).mock(side_effect=[error, httpx.Response(202)])
    sleeps: list[float] = []
    with pytest.raises(TransportError) as info:
        run_sync(send_flow(httpx.Request("POST", UPLOAD_URL, content=b"x"), policy()), sleeps)
    assert route.call_count == 1
    assert sleeps == []
    assert info.value.attempts == 1
    assert info.value.method == "POST"
    assert info.value.__cause__ is error
    assert type(error).__name__ in str(info.value)


def test_transport_error_after_exhausted_retries_hides_the_query(router: respx.MockRouter) -> None:
    url = UPLOAD_URL + "5b2c?_state=secret-upload-state&digest=sha256:abc"
    route = router.get(url).mock(side_effect=httpx.ConnectError("refused"))
    sleeps: list[float] = []
    with pytest.raises(TransportError) as info:
        run_sync(send_flow(httpx.Request("GET", url), policy(max_retries=2)), sleeps)
    assert route.call_count == 3
    assert sleeps == [0.25, 0.5]
    assert info.value.attempts == 3
    assert info.value.path == "registry.example.com/v2/team/app/blobs/uploads/5b2c"
    assert "secret-upload-state" not in str(info.value)
    assert "3 attempt(s)" in str(info.value)


def test_429_retry_after_is_honoured(router: respx.MockRouter) -> None:
    route = router.get(URL).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200)])
    sleeps: list[float] = []
    response = run_sync(send_flow(httpx.Request("GET", URL), policy()), sleeps)
    assert response.status_code == 200
    assert route.call_count == 2
    assert sleeps == [2.0]


def test_429_is_retried_for_post_too(router: respx.MockRouter) -> None:
    route = router.post(UPLOAD_URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(202)]
    )
    sleeps: list[float] = []
    response = run_sync(send_flow(httpx.Request("POST", UPLOAD_URL), policy()), sleeps)
    assert response.status_code == 202
    assert route.call_count == 2
    assert sleeps == [1.0]


def test_503_retry_after_is_honoured(router: respx.MockRouter) -> None:
    router.get(URL).mock(side_effect=[httpx.Response(503, headers={"Retry-After": "3"}), httpx.Response(200)])
    sleeps: list[float] = []
    assert run_sync(send_flow(httpx.Request("GET", URL), policy()), sleeps).status_code == 200
    assert sleeps == [3.0]


def test_429_with_x_ratelimit_reset(router: respx.MockRouter, frozen_now: float) -> None:
    reset = {"X-RateLimit-Reset": str(int(frozen_now) + 7)}
    router.get(URL).mock(side_effect=[httpx.Response(429, headers=reset), httpx.Response(200)])
    sleeps: list[float] = []
    assert run_sync(send_flow(httpx.Request("GET", URL), policy()), sleeps).status_code == 200
    assert sleeps == [7.0]


def test_429_asking_longer_than_max_total_wait_raises_without_sleeping(router: respx.MockRouter) -> None:
    body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "You have reached your pull rate limit."}]}
    route = router.get(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}, json=body))
    sleeps: list[float] = []
    with pytest.raises(RateLimitedError) as info:
        run_sync(send_flow(httpx.Request("GET", URL), policy(max_total_wait=120.0)), sleeps)
    assert route.call_count == 1
    assert sleeps == []
    assert info.value.retry_after == 3600.0
    assert info.value.status == 429
    assert info.value.code == "TOOMANYREQUESTS"
    assert "pull rate limit" in str(info.value)


def test_429_exhausted_retries_raise_with_retry_after(router: respx.MockRouter) -> None:
    route = router.get(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    sleeps: list[float] = []
    with pytest.raises(RateLimitedError) as info:
        run_sync(send_flow(httpx.Request("GET", URL), policy(max_retries=2)), sleeps)
    assert route.call_count == 3
    assert sleeps == [1.0, 1.0]
    assert info.value.retry_after == 1.0


def test_429_on_a_stream_is_read_before_the_error_is_built(router: respx.MockRouter) -> None:
    body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}
    router.get(URL).mock(return_value=httpx.Response(429, json=body))
    with pytest.raises(RateLimitedError) as info:
        run_sync(send_flow(httpx.Request("GET", URL), policy(max_retries=0), stream=True), [])
    assert info.value.code == "TOOMANYREQUESTS"
    assert info.value.server_message == "slow down"


def test_exhausted_retries_return_the_last_5xx(router: respx.MockRouter) -> None:
    route = router.get(URL).mock(return_value=httpx.Response(500, json={"errors": [{"code": "UNKNOWN"}]}))
    sleeps: list[float] = []
    response = run_sync(send_flow(httpx.Request("GET", URL), policy(max_retries=2)), sleeps)
    assert response.status_code == 500
    assert route.call_count == 3
    assert sleeps == [0.25, 0.5]


@pytest.mark.parametrize("max_retries", [0, 1, 4])
def test_a_server_always_answering_503_is_called_max_retries_plus_one_times(
    router: respx.MockRouter, max_retries: int
) -> None:
    route = router.get(URL).mock(return_value=httpx.Response(503))
    sleeps: list[float] = []
    response = run_sync(send_flow(httpx.Request("GET", URL), policy(max_retries=max_retries)), sleeps)
    assert response.status_code == 503
    assert route.call_count == max_retries + 1
    assert len(sleeps) == max_retries


def test_total_wait_bounds_the_retries(router: respx.MockRouter) -> None:
    route = router.get(URL).mock(return_value=httpx.Response(503))
    sleeps: list[float] = []
    # Sleeps would be 0.5, 1, 2, ...: the second would take the total past 1.2 s, so it is not taken.
    bounded = policy(max_retries=10, max_total_wait=1.2, jitter=lambda: 1.0)
    response = run_sync(send_flow(httpx.Request("GET", URL), bounded), sleeps)
    assert response.status_code == 503
    assert sleeps == [0.5]
    assert route.call_count == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
def test_non_replayable_requests_are_never_retried(router: respx.MockRouter, method: str) -> None:
    route = router.route(method=method, url=UPLOAD_URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200)]
    )
    sleeps: list[float] = []
    response = run_sync(send_flow(httpx.Request(method, UPLOAD_URL), policy(), replayable=False), sleeps)
    assert response.status_code == 503
    assert route.call_count == 1
    assert sleeps == []


def test_non_replayable_connect_error_is_not_retried(router: respx.MockRouter) -> None:
    route = router.put(UPLOAD_URL).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(201)])
    with pytest.raises(TransportError):
        run_sync(send_flow(httpx.Request("PUT", UPLOAD_URL), policy(), replayable=False), [])
    assert route.call_count == 1


def test_non_replayable_429_raises_rate_limited(router: respx.MockRouter) -> None:
    router.patch(UPLOAD_URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "9"}))
    with pytest.raises(RateLimitedError) as info:
        run_sync(send_flow(httpx.Request("PATCH", UPLOAD_URL), policy(), replayable=False), [])
    assert info.value.retry_after == 9.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
def test_non_retryable_statuses_are_returned_at_once(router: respx.MockRouter, status: int) -> None:
    route = router.get(URL).mock(return_value=httpx.Response(status))
    sleeps: list[float] = []
    assert run_sync(send_flow(httpx.Request("GET", URL), policy()), sleeps).status_code == status
    assert route.call_count == 1
    assert sleeps == []


def test_send_flow_feeds_telemetry(router: respx.MockRouter) -> None:
    headers = {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "42;w=21600"}
    router.get(URL).mock(return_value=httpx.Response(200, headers=headers))
    telemetry = RateLimitTelemetry()
    run_sync(send_flow(httpx.Request("GET", URL), policy(), telemetry=telemetry), [])
    assert telemetry.snapshot()["registry.example.com"]["remaining"] == 42


# -- the same flows through the AsyncDriver -----------------------------------------------------------------


def test_async_get_503_twice_then_200(router: respx.MockRouter, async_sleeps: list[float]) -> None:
    route = router.get(URL).mock(side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200)])
    response = run_async(send_flow(httpx.Request("GET", URL), policy()))
    assert response.status_code == 200
    assert route.call_count == 3
    assert async_sleeps == [0.25, 0.5]


def test_async_429_retry_after_then_success(router: respx.MockRouter, async_sleeps: list[float]) -> None:
    route = router.get(URL).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200)])
    response = run_async(send_flow(httpx.Request("GET", URL), policy()))
    assert response.status_code == 200
    assert route.call_count == 2
    assert async_sleeps == [2.0]


def test_async_429_beyond_max_total_wait_raises(router: respx.MockRouter, async_sleeps: list[float]) -> None:
    router.get(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimitedError) as info:
        run_async(send_flow(httpx.Request("GET", URL), policy()))
    assert info.value.retry_after == 3600.0
    assert async_sleeps == []


def test_async_post_read_timeout_fails_at_once(router: respx.MockRouter, async_sleeps: list[float]) -> None:
    route = router.post(UPLOAD_URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(202)])
    with pytest.raises(TransportError) as info:
        run_async(send_flow(httpx.Request("POST", UPLOAD_URL, content=b"x"), policy()))
    assert route.call_count == 1
    assert info.value.attempts == 1
    assert async_sleeps == []


def test_async_post_connect_error_is_retried(router: respx.MockRouter, async_sleeps: list[float]) -> None:
    route = router.post(UPLOAD_URL).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(202)])
    response = run_async(send_flow(httpx.Request("POST", UPLOAD_URL, content=b"x"), policy()))
    assert response.status_code == 202
    assert route.call_count == 2
    assert async_sleeps == [0.25]


def test_sync_and_async_drivers_agree(router: respx.MockRouter, async_sleeps: list[float]) -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(502),
        httpx.ReadTimeout("slow"),
        httpx.Response(429, headers={"Retry-After": "1"}),
    ]
    route = router.get(URL)
    route.mock(side_effect=[*answers, httpx.Response(200, text="sync")])
    sync_sleeps: list[float] = []
    sync_response = run_sync(send_flow(httpx.Request("GET", URL), policy(max_retries=5)), sync_sleeps)
    route.mock(side_effect=[*answers, httpx.Response(200, text="async")])
    async_response = run_async(send_flow(httpx.Request("GET", URL), policy(max_retries=5)))
    assert (sync_response.status_code, sync_response.text) == (200, "sync")
    assert (async_response.status_code, async_response.text) == (200, "async")
    assert sync_sleeps == async_sleeps == [0.25, 0.5, 1.0]
    assert route.call_count == 8


# -- RateLimitTelemetry -------------------------------------------------------------------------------------


def _observed(url: str, headers: dict[str, str], status: int = 200) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", url))


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def test_telemetry_parses_hub_headers() -> None:
    telemetry = RateLimitTelemetry()
    reset = str(int(NOW) + 60)
    telemetry.observe(
        _observed(
            "https://hub.docker.com/v2/repositories/library/alpine/tags",
            {"X-RateLimit-Limit": "180", "X-RateLimit-Remaining": "179", "X-RateLimit-Reset": reset},
        )
    )
    assert telemetry.snapshot() == {
        "hub.docker.com": {"limit": 180, "remaining": 179, "reset": float(reset), "window": None, "source": None}
    }


def test_telemetry_parses_registry_headers() -> None:
    telemetry = RateLimitTelemetry()
    telemetry.observe(
        _observed(
            "https://registry-1.docker.io/v2/library/alpine/manifests/latest",
            {
                "ratelimit-limit": "100;w=21600",
                "ratelimit-remaining": "20;w=21600",
                "docker-ratelimit-source": "192.0.2.1",
            },
        )
    )
    assert telemetry.snapshot()["registry-1.docker.io"] == {
        "limit": 100,
        "remaining": 20,
        "reset": None,
        "window": 21600,
        "source": "192.0.2.1",
    }


def test_telemetry_ignores_responses_without_rate_limit_headers() -> None:
    telemetry = RateLimitTelemetry()
    telemetry.observe(_observed(URL, {"Content-Type": "application/json"}))
    assert telemetry.snapshot() == {}


def test_telemetry_keeps_hosts_apart() -> None:
    telemetry = RateLimitTelemetry()
    telemetry.observe(_observed("https://hub.docker.com/v2/x", {"X-RateLimit-Limit": "180"}))
    telemetry.observe(_observed(URL, {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "99;w=21600"}))
    snapshot = telemetry.snapshot()
    assert set(snapshot) == {"hub.docker.com", "registry.example.com"}
    assert snapshot["hub.docker.com"]["remaining"] is None
    assert snapshot["registry.example.com"]["remaining"] == 99


def test_telemetry_warns_once_when_low(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    telemetry = RateLimitTelemetry()
    url = "https://registry-1.docker.io/v2/library/alpine/manifests/latest"
    for remaining in (50, 20, 11):
        telemetry.observe(_observed(url, {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": f"{remaining}"}))
    assert _warnings(caplog) == []
    for remaining in (5, 4, 3, 2):
        telemetry.observe(_observed(url, {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": f"{remaining}"}))
    warnings = _warnings(caplog)
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "registry-1.docker.io" in message
    assert "5 of 100" in message
    assert "21600" in message
    assert telemetry.snapshot()["registry-1.docker.io"]["remaining"] == 2


def test_telemetry_warns_again_in_a_new_hub_window(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    telemetry = RateLimitTelemetry()
    url = "https://hub.docker.com/v2/repositories/x/y"
    for reset in (NOW + 60, NOW + 60, NOW + 120):
        telemetry.observe(
            _observed(
                url,
                {"X-RateLimit-Limit": "180", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": str(int(reset))},
            )
        )
    assert len(_warnings(caplog)) == 2


def test_telemetry_low_warning_for_each_host(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    telemetry = RateLimitTelemetry()
    headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0"}
    telemetry.observe(_observed("https://hub.docker.com/v2/x", headers))
    telemetry.observe(_observed("https://api.scout.docker.com/v1/x", headers))
    telemetry.observe(_observed("https://hub.docker.com/v2/y", headers))
    assert sorted(r.getMessage().split(" on ", 1)[1].split()[0] for r in _warnings(caplog)) == [
        "api.scout.docker.com",
        "hub.docker.com",
    ]
