"""Fixtures the integration tests of several folders share: the cold-start scenarios' ACL token registry and
their results table."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from airflow_provider_dockerhub.client import DockerHubSession
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.sandbox import Sandbox
from tests.integration.registry.cold_start_support import acl_registry, write_table


@pytest.fixture(scope="session")
def cold_start_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """Writes bench/results/cold_start.md once every cold-start case of the run is recorded."""
    yield
    write_table(request)


@pytest.fixture(scope="session")
def acl_token_registry(tmp_path_factory: pytest.TempPathFactory, cold_start_table: None) -> Iterator[LocalRegistry]:
    """A token-auth registry whose token service knows a pull-only user and keeps every repository private."""
    with acl_registry(tmp_path_factory.mktemp("cold-token")) as registry:
        yield registry


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The offline sandbox (token-auth registry, Docker Hub/Scout emulator indexing what is pushed), unseeded."""
    from tests.integration.scout_sandbox import start_sandbox

    with start_sandbox(tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture
def sandbox_conn(sandbox: Sandbox, airflow_conn: Callable[..., str]) -> str:
    """The sandbox's ``dockerhub`` connection as ``AIRFLOW_CONN_DH_SANDBOX``."""
    connection = sandbox.connection
    return airflow_conn("dh_sandbox", login=connection["login"], password=connection["password"], **connection["extra"])


@pytest.fixture
def sandbox_session(sandbox: Sandbox) -> Iterator[DockerHubSession]:
    """A client session on the sandbox's connection."""
    from tests.integration.scout_sandbox import session_for

    with session_for(sandbox) as session:
        yield session
