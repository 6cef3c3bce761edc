"""Fixtures the integration tests of several folders share: the cold-start scenarios' ACL token registry and
their results table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_dockerhub.testing.registry import LocalRegistry
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
