"""What the Airflow layer does with the client's answers: permanent failures are not retried by Airflow, pokes share
one hook (one token) per process, the async session masks without the supervisor deadlock, a rejected Hub secret
is not re-posted by the next task on the machine, and the hook's User-Agent names Airflow. Each failed before."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import respx
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client import AuthenticationError, ClientConfig, DockerHubSession, TransportError
from airflow_provider_dockerhub.hooks.dockerhub import DockerHubAsyncHook, DockerHubHook
from airflow_provider_dockerhub.operators.registry import DockerHubDeleteManifestOperator
from airflow_provider_dockerhub.sensors.registry import DockerHubDigestSensor
from airflow_provider_dockerhub.testing.oci import Image, push_raw
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def stable_digest(token_registry: LocalRegistry) -> str:
    config = ClientConfig.from_fields(
        "alice", "alice-secret", {"registry_url": token_registry.url, "allow_destructive": True}
    )
    with DockerHubSession(config) as session:
        return push_raw(session.registry, "pokes/app", Image(files={"p": b"1"}), "stable")


def registry_conn(airflow_conn: Callable[..., str], registry: LocalRegistry, password: str, **extra: Any) -> str:
    return airflow_conn(
        f"dh_{password.replace('-', '_')}", login="alice", password=password, registry_url=registry.url, **extra
    )


# -- permanent failures fail the task at once --------------------------------------------------------------------


def test_a_rejected_secret_fails_the_task_without_retries(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, token_issuer: TokenIssuer, stable_digest: str
) -> None:
    conn = registry_conn(airflow_conn, token_registry, "wrong-secret")
    sensor = DockerHubDigestSensor(task_id="s", repository="pokes/app", tag="stable", dockerhub_conn_id=conn, retries=2)
    before = token_issuer.count
    with pytest.raises(AirflowFailException) as exc:
        sensor.poke({})
    # Still the provider's typed error for code that catches it, with the message that says what to fix.
    assert isinstance(exc.value, AuthenticationError) and exc.value.status == 401
    assert "token service rejected" in str(exc.value)
    assert token_issuer.count - before == 1


def test_a_refused_delete_fails_the_task_without_retries(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, stable_digest: str
) -> None:
    conn = registry_conn(airflow_conn, token_registry, "alice-secret")  # allow_destructive not set
    operator = DockerHubDeleteManifestOperator(
        task_id="d", repository="pokes/app", reference=stable_digest, confirm_delete=True, dry_run=False,
        dockerhub_conn_id=conn, retries=3,
    )  # fmt: skip
    with pytest.raises(AirflowFailException, match="allow_destructive"):
        operator.execute({})


def test_a_transient_failure_keeps_airflows_retries(airflow_conn: Callable[..., str]) -> None:
    conn = airflow_conn("dh_down", login="alice", password="pw", registry_url="http://127.0.0.1:9", max_retries=0)
    sensor = DockerHubDigestSensor(task_id="s", repository="pokes/app", tag="stable", dockerhub_conn_id=conn)
    with pytest.raises(TransportError) as exc:
        sensor.poke({})
    assert not isinstance(exc.value, AirflowFailException)


# -- pokes share a hook -------------------------------------------------------------------------------------------


def test_pokes_in_one_process_share_one_token(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, token_issuer: TokenIssuer, stable_digest: str
) -> None:
    conn = registry_conn(airflow_conn, token_registry, "alice-secret")
    sensor = DockerHubDigestSensor(
        task_id="s", repository="pokes/app", tag="stable", condition="changed", digest=stable_digest,
        dockerhub_conn_id=conn, mode="reschedule",
    )  # fmt: skip
    before = token_issuer.count
    for _ in range(5):
        assert sensor.poke({}).is_done is False
    assert token_issuer.count - before == 1  # was one per poke: a new hook, a new session, a new token


def test_a_changed_connection_gets_a_new_hook(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, stable_digest: str
) -> None:
    from airflow_provider_dockerhub.sensors.base import poke_hook

    conn = registry_conn(airflow_conn, token_registry, "alice-secret")
    first = poke_hook(conn)
    assert poke_hook(conn) is first
    airflow_conn(conn, login="bob", password="bob-secret", registry_url=token_registry.url)
    assert poke_hook(conn) is not first


# -- async masking ------------------------------------------------------------------------------------------------


class DeadlockingComms:
    """A supervisor channel as it behaves inside a busy event loop: sync sends raise, async sends work."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        from airflow.sdk.execution_time.comms import DeadlockImminentError

        raise DeadlockImminentError("sync send while an async request is in flight")

    async def asend(self, message: Any) -> None:
        self.sent.append(message)


def test_the_async_session_masks_without_the_sync_supervisor_call(
    airflow_conn: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.log import redact

    comms = DeadlockingComms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    conn = airflow_conn("dh_async", login="alice", password="dckr_pat_async")
    jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDB9.derived-async-token"

    async def main() -> None:
        with respx.mock(assert_all_called=False) as router:
            router.post("https://hub.docker.com/v2/auth/token").respond(200, json={"access_token": jwt})
            async with await DockerHubAsyncHook(dockerhub_conn_id=conn).get_async_conn() as session:
                await session.hub.authenticate()
                await asyncio.sleep(0)  # let the scheduled async mask run

    asyncio.run(main())
    assert jwt in [m.value for m in comms.sent]  # (the connection's password is masked the same way on lookup)
    assert jwt not in str(redact(f"token={jwt}"))


# -- a rejected Hub secret, across processes ------------------------------------------------------------------------


def test_a_rejected_hub_secret_is_not_posted_by_the_next_process(lockout_markers: str) -> None:
    """Four task runs with a wrong secret made four failed mints: each try is a new process."""
    from airflow_provider_dockerhub.testing.hub import HubEmulator

    with HubEmulator(users={"alice": "right"}) as hub:
        script = (
            "import sys\n"
            "from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession\n"
            f"config = ClientConfig.from_fields('alice', 'wrong', {{'hub_url': {hub.url!r}}})\n"
            "with DockerHubSession(config) as s:\n"
            "    try:\n"
            "        s.hub.authenticate()\n"
            "    except Exception as exc:\n"
            "        print(type(exc).__name__, exc)\n"
        )
        outputs = [
            subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
            ).stdout
            for _ in range(4)
        ]
        mints = [r for r in hub.requests if r.path == "/v2/auth/token"]
    assert len(mints) == 1
    assert all(out.startswith("MintRejectedError") for out in outputs), outputs
    assert "not posted again for 10 minutes" in outputs[-1]


def test_test_connection_honours_the_marker(airflow_conn: Callable[..., str], lockout_markers: str) -> None:
    from airflow_provider_dockerhub.testing.hub import HubEmulator

    with HubEmulator(users={"alice": "right"}) as hub:
        conn = airflow_conn("dh_marker", login="alice", password="wrong", hub_url=hub.url, registry_url=hub.url)
        first = DockerHubHook(dockerhub_conn_id=conn).test_connection()
        second = DockerHubHook(dockerhub_conn_id=conn).test_connection()
        mints = [r for r in hub.requests if r.path == "/v2/auth/token"]
    assert first[0] is False and second[0] is False
    assert "not posted again" in second[1]
    assert len(mints) == 1


def test_the_marker_never_holds_the_secret(lockout_markers: str) -> None:
    from pathlib import Path

    from airflow_provider_dockerhub.client.auth.lockout import MintRejections

    MintRejections(ClientConfig.from_fields("alice", "hunter2-secret", {})).remember(401, "x", "incorrect password")
    (marker,) = Path(lockout_markers).iterdir()
    text = marker.read_text()
    assert "hunter2" not in text and "hunter2" not in marker.name
    assert json.loads(text)["status"] == 401


# -- the hook's User-Agent -------------------------------------------------------------------------------------------


def test_the_hooks_requests_name_the_provider_airflow_and_httpx(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, token_issuer: TokenIssuer, stable_digest: str
) -> None:
    import airflow
    import httpx

    from airflow_provider_dockerhub import __version__

    conn = registry_conn(airflow_conn, token_registry, "alice-secret")
    with DockerHubHook(dockerhub_conn_id=conn) as hook:
        hook.registry.head_manifest("pokes/app", "stable")
    expected = f"airflow-provider-dockerhub/{__version__} airflow/{airflow.__version__} httpx/{httpx.__version__}"
    assert token_issuer.requests[-1].user_agent == expected
