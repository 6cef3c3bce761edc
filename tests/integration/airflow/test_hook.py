"""DockerHubHook through real Airflow: connections from ``AIRFLOW_CONN_*`` JSON, the providers manager, the CLI,
masking of derived tokens, and the async twin's connection resolution."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from airflow_provider_dockerhub.client import ConfigurationError
from airflow_provider_dockerhub.hooks.dockerhub import DockerHubAsyncHook, DockerHubHook
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer


def test_init_does_no_io(mocker) -> None:
    get_connection = mocker.patch.object(DockerHubHook, "get_connection")
    hook = DockerHubHook(dockerhub_conn_id="does_not_exist")
    assert hook.dockerhub_conn_id == "does_not_exist"
    get_connection.assert_not_called()
    assert DockerHubHook().dockerhub_conn_id == "dockerhub_default"


def test_hook_attributes_match_the_provider_info() -> None:
    from airflow_provider_dockerhub.get_provider_info import get_provider_info

    info = get_provider_info()
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == DockerHubHook.conn_type == "dockerhub"
    assert conn_type["hook-class-name"] == "airflow_provider_dockerhub.hooks.dockerhub.DockerHubHook"
    assert DockerHubHook.conn_name_attr == "dockerhub_conn_id"
    assert DockerHubHook.hook_name == "Docker Hub"
    assert info["package-name"] == "airflow-provider-dockerhub"
    assert conn_type["conn-fields"]["scim_token"]["schema"]["format"] == "password"


def test_providers_manager_sees_the_provider_and_its_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-dockerhub" in manager.providers
    assert "extra__dockerhub__scim_token" in manager.connection_form_widgets
    assert "extra__dockerhub__allow_destructive" in manager.connection_form_widgets
    assert manager.field_behaviours["dockerhub"]["hidden_fields"] == ["schema", "port", "host"]


def test_airflow_cli_lists_the_provider() -> None:
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run([airflow, "providers", "list"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "airflow-provider-dockerhub" in result.stdout


@pytest.mark.registry
def test_hook_from_env_connection_talks_to_a_real_registry(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, token_issuer: TokenIssuer
) -> None:
    conn_id = airflow_conn(login="alice", password="alice-secret", registry_url=token_registry.url)
    with DockerHubHook(dockerhub_conn_id=conn_id) as hook:
        assert hook.registry.ping() is True
        assert hook.get_config().registry_url == token_registry.url
        assert hook.registry is hook.registry  # one session, one client per API


@pytest.mark.registry
def test_derived_registry_tokens_are_masked(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, token_issuer: TokenIssuer
) -> None:
    from airflow.providers.common.compat.sdk import redact

    conn_id = airflow_conn(login="alice", password="alice-secret", registry_url=token_registry.url)
    with DockerHubHook(dockerhub_conn_id=conn_id) as hook:
        hook.registry.ping()
        tokens = hook.get_conn().state.registry_tokens
        (minted,) = list(tokens._tokens.values())
        assert minted.token not in str(redact(f"token is {minted.token}"))


@pytest.mark.registry
def test_test_connection_reports_success_and_failure_without_raising(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, token_issuer: TokenIssuer
) -> None:
    good = airflow_conn("dh_good", login="alice", password="alice-secret", registry_url=token_registry.url)
    ok, message = DockerHubHook(dockerhub_conn_id=good).test_connection()
    assert ok is True and "as alice" in message

    anonymous = airflow_conn("dh_anon", registry_url=token_registry.url)
    ok, message = DockerHubHook(dockerhub_conn_id=anonymous).test_connection()
    assert ok is True and "anonymously" in message

    before = token_issuer.count
    bad = airflow_conn("dh_bad", login="alice", password="wrong", registry_url=token_registry.url)
    ok, message = DockerHubHook(dockerhub_conn_id=bad).test_connection()
    assert ok is False and "AuthenticationError" in message
    assert token_issuer.count - before == 1

    broken = airflow_conn("dh_broken", registry_url=token_registry.url, timeout=-1)
    ok, message = DockerHubHook(dockerhub_conn_id=broken).test_connection()
    assert ok is False and "timeout" in message

    ok, message = DockerHubHook(dockerhub_conn_id="dh_missing").test_connection()
    assert ok is False and "dh_missing" in message


def test_invalid_extras_are_reported_clearly(airflow_conn: Callable[..., str], tmp_path) -> None:
    conn_id = airflow_conn(verify=str(tmp_path / "missing-ca.pem"))
    with pytest.raises(ConfigurationError, match="CA bundle that does not exist"):
        DockerHubHook(dockerhub_conn_id=conn_id).get_config()
    conn_id = airflow_conn("dh_typo", allow_destructiv=True)
    with pytest.raises(ConfigurationError, match="unknown connection extra"):
        DockerHubHook(dockerhub_conn_id=conn_id).get_config()


@pytest.mark.registry
def test_async_hook_resolves_with_the_async_api_only(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, token_issuer: TokenIssuer, mocker
) -> None:
    conn_id = airflow_conn(login="alice", password="alice-secret", registry_url=token_registry.url)
    sync_lookup = mocker.patch.object(DockerHubAsyncHook, "get_connection", side_effect=AssertionError("sync"))

    async def main() -> bool:
        hook = DockerHubAsyncHook(dockerhub_conn_id=conn_id)
        async with await hook.get_async_conn() as session:
            return await session.registry.ping()

    assert asyncio.run(main()) is True
    sync_lookup.assert_not_called()


def test_provider_info_lists_every_operator_sensor_trigger_and_link_module() -> None:
    import importlib

    from airflow_provider_dockerhub.get_provider_info import get_provider_info

    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for entry in info[kind]
        for m in entry["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    link_module, _, link_class = info["extra-links"][0].rpartition(".")
    assert hasattr(importlib.import_module(link_module), link_class)
