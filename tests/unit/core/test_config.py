"""``ClientConfig.from_fields``: defaults, every extra, and a clear ConfigurationError for every bad value."""

from __future__ import annotations

import re
import shutil
import ssl
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest

from airflow_provider_dockerhub.client.core.config import (
    DEFAULT_HUB_URL,
    DEFAULT_REGISTRY_URL,
    DEFAULT_SCOUT_URL,
    EXTRA_FIELDS,
    ClientConfig,
)
from airflow_provider_dockerhub.client.core.errors import ConfigurationError

SECRET = "dckr_pat_S3cr3t-Value"
SCIM_TOKEN = "scim-T0ken-Value"


def build(extra: dict[str, Any] | None = None, login: str | None = None, password: str | None = None) -> ClientConfig:
    return ClientConfig.from_fields(login, password, extra)


@pytest.fixture
def ca_bundle(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    shutil.copyfile(certifi.where(), path)
    return str(path)


# -- defaults -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [None, {}])
def test_defaults(extra: dict[str, Any] | None) -> None:
    config = build(extra)
    assert config == ClientConfig()
    assert config.login is None and config.secret is None
    assert config.anonymous
    assert config.hub_url == DEFAULT_HUB_URL == "https://hub.docker.com"
    assert config.registry_url == DEFAULT_REGISTRY_URL == "https://registry-1.docker.io"
    assert config.scout_url == DEFAULT_SCOUT_URL
    assert config.namespace is None
    assert config.scim_token is None
    assert config.verify is True
    assert (config.timeout, config.connect_timeout) == (30.0, 10.0)
    assert (config.max_retries, config.max_retry_wait) == (4, 120.0)
    assert config.allow_destructive is False
    assert config.trusted_realms == ()
    assert config.registry_host == "registry-1.docker.io"


def test_login_and_password() -> None:
    config = build(login="alice", password=SECRET)
    assert (config.login, config.secret) == ("alice", SECRET)
    assert not config.anonymous


@pytest.mark.parametrize(("login", "password"), [("alice", None), (None, SECRET), ("", ""), ("alice", "")])
def test_incomplete_credentials_are_anonymous(login: str | None, password: str | None) -> None:
    config = build(login=login, password=password)
    assert config.anonymous
    assert config.login == (login or None)
    assert config.secret == (password or None)


# -- every extra --------------------------------------------------------------------------------------------


def test_every_extra_parsed_from_strings(ca_bundle: str) -> None:
    config = build(
        {
            "hub_url": " https://hub.example.com/ ",
            "registry_url": "http://127.0.0.1:5000/",
            "scout_url": "https://scout.example.com",
            "namespace": "  acme  ",
            "scim_token": SCIM_TOKEN,
            "verify": ca_bundle,
            "timeout": "12.5",
            "connect_timeout": "3",
            "max_retries": "7",
            "max_retry_wait": "0",
            "allow_destructive": "true",
            "trusted_realms": "auth.example.com, https://auth2.example.com/token/ ,",
        }
    )
    assert config.hub_url == "https://hub.example.com"
    assert config.registry_url == "http://127.0.0.1:5000"
    assert config.registry_host == "127.0.0.1:5000"
    assert config.scout_url == "https://scout.example.com"
    assert config.namespace == "acme"
    assert config.scim_token == SCIM_TOKEN
    assert config.verify == ca_bundle
    assert config.timeout == 12.5
    assert config.connect_timeout == 3.0
    assert config.max_retries == 7
    assert isinstance(config.max_retries, int)
    assert config.max_retry_wait == 0.0
    assert config.allow_destructive is True
    assert config.trusted_realms == ("auth.example.com", "https://auth2.example.com/token")
    timeout = config.httpx_timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3.0, 12.5, 12.5, 12.5)


def test_every_extra_parsed_from_json_values() -> None:
    config = build(
        {
            "verify": False,
            "timeout": 5,
            "connect_timeout": 1.5,
            "max_retries": 0,
            "max_retry_wait": 30,
            "allow_destructive": True,
            "trusted_realms": ["auth.example.com", "https://auth2.example.com/token"],
        }
    )
    assert config.verify is False
    assert (config.timeout, config.connect_timeout, config.max_retries, config.max_retry_wait) == (5, 1.5, 0, 30)
    assert config.allow_destructive is True
    assert config.trusted_realms == ("auth.example.com", "https://auth2.example.com/token")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("0", False),
        ("off", False),
        (True, True),
        (False, False),
        ("", False),  # empty means "not set": the default
    ],
)
def test_allow_destructive_values(value: Any, expected: bool) -> None:
    assert build({"allow_destructive": value}).allow_destructive is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("FALSE", False), ("0", False), ("", True), (True, True), (False, False)],
)
def test_verify_boolean_values(value: Any, expected: bool) -> None:
    assert build({"verify": value}).verify is expected


@pytest.mark.parametrize(("value", "expected"), [("3", 3), ("3.0", 3), (5, 5), (0, 0), ("0", 0)])
def test_max_retries_integers(value: Any, expected: int) -> None:
    config = build({"max_retries": value})
    assert config.max_retries == expected
    assert type(config.max_retries) is int


def test_empty_strings_keep_defaults() -> None:
    config = build({"timeout": "", "max_retries": "", "namespace": "", "hub_url": "", "trusted_realms": ""})
    assert config == ClientConfig()


def test_blank_namespace_is_none() -> None:
    assert build({"namespace": "   "}).namespace is None


def test_prefixed_extras_are_accepted() -> None:
    config = build(
        {
            "extra__dockerhub__timeout": "5",
            "extra__dockerhub__allow_destructive": "true",
            "extra__dockerhub__namespace": "acme",
            "extra__dockerhub__registry_url": "https://registry.example.com",
        }
    )
    assert config.timeout == 5.0
    assert config.allow_destructive is True
    assert config.namespace == "acme"
    assert config.registry_url == "https://registry.example.com"


def test_plain_spelling_wins_over_prefixed() -> None:
    assert build({"timeout": "7", "extra__dockerhub__timeout": "5"}).timeout == 7.0


def test_extra_fields_cover_the_documented_names() -> None:
    assert set(EXTRA_FIELDS) >= {"hub_url", "registry_url", "verify", "timeout", "max_retries", "allow_destructive"}


# -- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hub_url", "not a url", "must be an http(s) URL with a host"),
        ("hub_url", "https://", "must be an http(s) URL with a host"),
        ("hub_url", "hub.docker.com", "must be an http(s) URL with a host"),
        ("registry_url", "ftp://registry.example.com", "must be an http(s) URL with a host"),
        ("registry_url", "file:///etc/passwd", "must be an http(s) URL with a host"),
        ("registry_url", "http://[::1", "is not a valid URL"),
        ("scout_url", "https://api.scout.docker.com?x=1", "must not carry a query"),
        ("scout_url", "https://api.scout.docker.com/#frag", "must not carry a query, fragment"),
        ("hub_url", "https://user:pw@hub.docker.com", "credentials"),
        ("hub_url", 42, "must be a URL"),
        ("hub_url", "   ", "must be a URL"),
    ],
)
def test_bad_urls(field: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"extra '{field}'.*{re.escape(message)}"):
        build({field: value})


def test_url_credentials_are_not_echoed_in_the_error() -> None:
    """The error lands in task logs; it must say the URL carries credentials without repeating them."""
    with pytest.raises(ConfigurationError, match="credentials") as info:
        build({"registry_url": f"https://alice:{SECRET}@registry.example.com"})
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("value", ["/nonexistent/ca.pem", "  /nonexistent/ca.pem  ", "yes please", "ca.pem"])
def test_verify_path_that_does_not_exist_is_an_error_never_false(value: str) -> None:
    with pytest.raises(ConfigurationError, match="CA bundle that does not exist"):
        build({"verify": value})


def test_verify_directory_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        build({"verify": str(tmp_path)})


@pytest.mark.parametrize("value", [1, 0, 1.5, ["a"], {"a": 1}])
def test_verify_of_other_types(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="'verify'"):
        build({"verify": value})


@pytest.mark.parametrize("field", ["timeout", "connect_timeout"])
@pytest.mark.parametrize("value", ["0", 0, "-1", -0.5, "abc", "inf", "nan", "1e400", True, [1]])
def test_bad_timeouts(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=rf"extra '{field}' must be a number >= 0.001, got "):
        build({field: value})


@pytest.mark.parametrize("value", ["2.5", 2.5, "three", "-1", -1, True, "inf", "1.5e0"])
def test_bad_max_retries(value: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"extra 'max_retries' must be an integer >= 0"):
        build({"max_retries": value})


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_bad_max_retry_wait(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="'max_retry_wait'"):
        build({"max_retry_wait": value})


@pytest.mark.parametrize("value", ["maybe", "2", 2, 1.0, ["true"], "tru"])
def test_bad_allow_destructive(value: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"extra 'allow_destructive' must be true or false"):
        build({"allow_destructive": value})


@pytest.mark.parametrize("value", [42, {"a": 1}, "https://realm.example.com?x=1"])
def test_bad_trusted_realms(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="trusted_realms"):
        build({"trusted_realms": value})


@pytest.mark.parametrize(
    ("extra", "unknown"),
    [
        ({"max_retires": "3"}, "max_retires"),
        ({"hubUrl": "https://hub.docker.com"}, "hubUrl"),
        ({"extra__dockerhub__max_retires": "3"}, "extra__dockerhub__max_retires"),
        ({"timeout": "5", "verfy": "false"}, "verfy"),
    ],
)
def test_unknown_extra_keys_are_refused(extra: dict[str, Any], unknown: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown connection extra") as info:
        build(extra)
    assert repr(unknown) in str(info.value)
    assert "max_retries" in str(info.value)  # the known names are listed, so the typo is easy to spot


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        build({"timeout": "-1"})


# -- secrets and TLS ----------------------------------------------------------------------------------------


def test_repr_never_shows_secrets() -> None:
    config = build({"scim_token": SCIM_TOKEN, "namespace": "acme"}, login="alice", password=SECRET)
    for text in (repr(config), str(config)):
        assert SECRET not in text
        assert SCIM_TOKEN not in text
        assert "alice" in text  # the login is not a secret, and helps diagnose which identity was used
        assert "acme" in text


def test_config_is_immutable() -> None:
    config = build()
    with pytest.raises(AttributeError):
        config.timeout = 1.0  # type: ignore[misc]


def test_verify_ca_path_builds_an_ssl_context(ca_bundle: str) -> None:
    config = build({"verify": ca_bundle})
    context = config.ssl_context
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 0
    assert config.ssl_context is context  # built once per config
    httpx.Client(verify=context).close()  # usable by httpx as is


def test_default_verify_builds_a_verifying_context() -> None:
    context = build().ssl_context
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_verify_false_has_no_context() -> None:
    assert build({"verify": "false"}).ssl_context is False
