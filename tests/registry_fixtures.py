"""Session-scoped sandbox fixtures: a token issuer and real ``docker-registry`` processes.

Load as a plugin from the root conftest: ``pytest_plugins = ["tests.registry_fixtures"]``. Each registry
starts once per session; tests that change issuer knobs must undo them (``token_issuer.clear_faults()``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_dockerhub.testing.registry import BasicAuth, LocalRegistry, TokenAuth
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

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
