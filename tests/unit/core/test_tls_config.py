"""Per-surface trust in ``ClientConfig``: ``registry_ca_bundle`` (validated like ``verify``) adds to the default
roots for the registry's host only, contexts are cached per bundle combination, and ``verify`` false names the
hosts it leaves unchecked. The real-HTTPS side is tests/integration/registry/test_tls.py."""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_dockerhub.client.core.config import EXTRA_FIELDS, ClientConfig
from airflow_provider_dockerhub.client.core.errors import ConfigurationError
from airflow_provider_dockerhub.get_provider_info import CONN_FIELDS
from airflow_provider_dockerhub.testing.tls import make_test_ca

REGISTRY = "https://registry.example.com"


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_test_ca(tmp_path_factory.mktemp("ca")).certificate)


def build(**extra: Any) -> ClientConfig:
    return ClientConfig.from_fields(None, None, {"registry_url": REGISTRY, **extra})


def ca_count(context: ssl.SSLContext | bool) -> int:
    assert isinstance(context, ssl.SSLContext)
    return int(context.cert_store_stats()["x509_ca"])


def test_registry_ca_bundle_is_a_connection_extra_and_a_form_field(private_ca: str) -> None:
    assert "registry_ca_bundle" in EXTRA_FIELDS and "registry_ca_bundle" in CONN_FIELDS
    assert build(registry_ca_bundle=private_ca).registry_ca_bundle == private_ca
    assert build(extra__dockerhub__registry_ca_bundle=f" {private_ca} ").registry_ca_bundle == private_ca
    assert build(registry_ca_bundle="").registry_ca_bundle is None
    assert build().registry_ca_bundle is None


@pytest.mark.parametrize("value", ["false", "no", "0", False, True, 7, "/nonexistent/ca.pem"])
def test_registry_ca_bundle_never_turns_verification_off(value: object) -> None:
    with pytest.raises(ConfigurationError, match="registry_ca_bundle"):
        build(registry_ca_bundle=value)


def test_a_file_without_certificates_is_not_a_ca_bundle(tmp_path: Path) -> None:
    path = tmp_path / "not-a-ca.pem"
    path.write_text("-----BEGIN NOTHING-----\nhello\n-----END NOTHING-----\n")
    with pytest.raises(ConfigurationError, match="not a usable CA bundle"):
        build(registry_ca_bundle=str(path))


def test_the_bundle_adds_to_the_default_roots_for_the_registry_origin(private_ca: str) -> None:
    config = build(registry_ca_bundle=private_ca)
    default = ca_count(config.ssl_context)
    registry = config.ssl_context_for(httpx.URL(REGISTRY + "/v2/"))
    assert ca_count(registry) == default + 1  # the private CA on top of certifi's roots, not instead of them
    assert registry.verify_mode == ssl.CERT_REQUIRED and registry.check_hostname  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "with_bundle"),
    [
        ("https://registry.example.com/v2/app/manifests/v1", True),
        ("https://registry.example.com:8443/token", True),  # a realm on the registry's host
        ("https://auth.example.com/token", False),  # a realm elsewhere
        ("https://hub.docker.com/v2/auth/token", False),
        ("https://api.scout.docker.com/v1/graphql", False),
        ("https://cdn.example.net/blob", False),  # a blob redirect target
    ],
)
def test_which_origins_get_the_registry_bundle(private_ca: str, url: str, with_bundle: bool) -> None:
    config = build(registry_ca_bundle=private_ca)
    context = config.ssl_context_for(httpx.URL(url))
    assert (context is not config.ssl_context) is with_bundle


def test_a_hub_on_the_registry_host_keeps_the_default_roots(private_ca: str) -> None:
    config = build(registry_ca_bundle=private_ca, hub_url="https://registry.example.com:9443")
    assert config.ssl_context_for(httpx.URL("https://registry.example.com:9443/v2/auth/token")) is config.ssl_context
    assert config.ssl_context_for(httpx.URL("https://registry.example.com/v2/")) is not config.ssl_context


def test_verify_bundle_replaces_the_roots_and_registry_bundle_still_adds(private_ca: str, tmp_path: Path) -> None:
    other = str(make_test_ca(tmp_path, "another CA").certificate)
    config = build(verify=other, registry_ca_bundle=private_ca)
    assert ca_count(config.ssl_context) == 1  # only the verify bundle
    assert ca_count(config.ssl_context_for(httpx.URL(REGISTRY))) == 2


def test_verify_false_is_off_for_every_surface_and_names_the_hosts(private_ca: str) -> None:
    config = build(verify="false", registry_ca_bundle=private_ca)
    for url in (REGISTRY, "https://hub.docker.com", "https://api.scout.docker.com"):
        assert config.ssl_context_for(httpx.URL(url)) is False
    assert config.unverified_hosts == ("hub.docker.com", "registry.example.com", "api.scout.docker.com")
    assert build().unverified_hosts == ()


def test_contexts_are_cached_per_bundle_combination(private_ca: str) -> None:
    first = build(registry_ca_bundle=private_ca)
    second = build(registry_ca_bundle=private_ca)
    url = httpx.URL(REGISTRY)
    started = time.perf_counter()
    for _ in range(200):
        assert second.ssl_context_for(url) is first.ssl_context_for(url)
    # Building one costs ~16 ms: 400 lookups in well under that many milliseconds means none was built.
    assert time.perf_counter() - started < 0.5
