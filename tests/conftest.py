"""Test-wide setup: an isolated AIRFLOW_HOME (SQLite, no examples) before anything imports Airflow, and the
shared fixtures: Airflow connections, and the real registries (a token issuer and Debian's ``docker-registry``
with token auth, with Basic auth and open), each started once per session. Tests that change issuer knobs
must undo them (``token_issuer.clear_faults()``).

Connections come from ``AIRFLOW_CONN_*`` JSON, as users configure them in deployments.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.testing.registry import BasicAuth, LocalRegistry, TokenAuth
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="dockerhub-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.join(_AIRFLOW_HOME, "dags"))
# Rejected-secret markers (the Docker Hub lockout guard) must not leak between tests or into the machine's /tmp.
os.environ["AIRFLOW_PROVIDER_DOCKERHUB_LOCKOUT_DIR"] = tempfile.mkdtemp(prefix="dockerhub-lockout-")

# No per-example deadline: a shared 2-core machine (and CI) can stall any example past hypothesis's 200 ms. In CI
# the examples are derandomized, so a submission's result does not depend on luck; locally they keep exploring.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")


@pytest.fixture(autouse=True)
def lockout_markers(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test its own directory of rejected-secret markers: a wrong password in one test must not lock the
    next one out (processes the test starts inherit it)."""
    directory = str(tmp_path_factory.mktemp("lockout"))
    monkeypatch.setenv("AIRFLOW_PROVIDER_DOCKERHUB_LOCKOUT_DIR", directory)
    return directory


@pytest.fixture
def airflow_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Register a ``dockerhub`` connection as ``AIRFLOW_CONN_<ID>`` JSON; returns the conn id."""

    def make(
        conn_id: str = "dockerhub_test", *, login: str | None = None, password: str | None = None, **extra: Any
    ) -> str:
        payload: dict[str, Any] = {"conn_type": "dockerhub", "extra": extra}
        if login is not None:
            payload["login"] = login
        if password is not None:
            payload["password"] = password
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))
        return conn_id

    return make


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated SQLite metadata DB in the test AIRFLOW_HOME (what ``dag.test()`` needs); once per session."""
    import subprocess
    import sys

    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run([airflow, "db", "migrate"], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return os.environ["AIRFLOW_HOME"]


TOKEN_USERS = {"alice": "alice-secret", "bob": "bob-secret"}
BASIC_USERS = {"alice": "alice-secret"}


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[TokenIssuer]:
    with TokenIssuer(users=dict(TOKEN_USERS)) as issuer:
        yield issuer


@pytest.fixture(scope="session")
def token_registry(token_issuer: TokenIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with LocalRegistry(tmp_path_factory.mktemp("token-registry"), auth=TokenAuth(token_issuer)) as registry:
        yield registry


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with LocalRegistry(tmp_path_factory.mktemp("basic-registry"), auth=BasicAuth(dict(BASIC_USERS))) as registry:
        yield registry


@pytest.fixture(scope="session")
def open_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with LocalRegistry(tmp_path_factory.mktemp("open-registry")) as registry:
        yield registry


@pytest.fixture
def token_session(token_registry: LocalRegistry, token_issuer: TokenIssuer) -> Iterator[DockerHubSession]:
    """A session on the token-auth registry as alice, writes allowed; the issuer's log starts empty."""
    token_issuer.reset()
    config = ClientConfig.from_fields(
        "alice", "alice-secret", {"registry_url": token_registry.url, "allow_destructive": True}
    )
    with DockerHubSession(config) as session:
        yield session
