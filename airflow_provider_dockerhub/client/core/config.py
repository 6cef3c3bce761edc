"""Client settings: one validated, immutable value built from a connection's fields (pure, Airflow-free)."""

from __future__ import annotations

import functools
import math
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from airflow_provider_dockerhub import __version__

from .errors import ConfigurationError

DEFAULT_HUB_URL = "https://hub.docker.com"
DEFAULT_REGISTRY_URL = "https://registry-1.docker.io"
DEFAULT_SCOUT_URL = "https://api.scout.docker.com"

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", ""}

# Every extra the connection understands, with the 2.x UI's prefixed spelling accepted as a fallback.
EXTRA_FIELDS = (
    "hub_url",
    "registry_url",
    "scout_url",
    "namespace",
    "scim_token",
    "verify",
    "registry_ca_bundle",
    "timeout",
    "connect_timeout",
    "max_retries",
    "max_retry_wait",
    "allow_destructive",
    "trusted_realms",
)


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(f"extra {name!r} must be true or false, got {value!r}")


def _as_number(name: str, value: Any, *, minimum: float, integer: bool = False) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number) or math.isinf(number) or number < minimum or (integer and number != int(number)):
        kind = "an integer" if integer else "a number"
        raise ConfigurationError(f"extra {name!r} must be {kind} >= {minimum}, got {value!r}")
    return number


def _as_url(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"extra {name!r} must be a URL, got {value!r}")
    text = value.strip().rstrip("/")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError):
        shown = text.rpartition("@")[2]  # never echo credentials someone pasted into a URL
        raise ConfigurationError(f"extra {name!r} is not a valid URL: {shown!r}") from None  # the cause can quote it
    shown = str(url.copy_with(username=None, password=None, query=None, fragment=None))
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigurationError(f"extra {name!r} must be an http(s) URL with a host, got {shown!r}")
    if url.query or url.fragment or url.userinfo:
        raise ConfigurationError(f"extra {name!r} must not carry a query, fragment or credentials: {shown!r}")
    return text


def _as_verify(value: Any) -> bool | str:
    """``true``/``false`` or a CA bundle path. A path never degrades to "no verification": the package this
    provider replaces (dockerhub-api 0.2.0) read any non-"true" string, CA paths included, as verify=False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _TRUE | _FALSE and text:
            return text.lower() in _TRUE
        return _as_ca_bundle("verify", text)
    raise ConfigurationError(f"extra 'verify' must be true, false or a CA bundle path, got {value!r}")


def _as_ca_bundle(name: str, value: Any) -> str:
    """The path of a PEM file that exists and loads as CA certificates; anything else is refused, never read as
    "do not verify" (so ``registry_ca_bundle: false`` is an error, not a way to turn verification off)."""
    text = value.strip() if isinstance(value, str) else None
    if not text:
        raise ConfigurationError(f"extra {name!r} must be a CA bundle path, got {value!r}")
    if not os.path.isfile(text):
        raise ConfigurationError(f"extra {name!r} names a CA bundle that does not exist: {text!r}")
    try:
        # The context the client will use (cached): ``verify`` replaces the default roots, the registry's bundle
        # adds to them. Either way a file without a certificate in it fails to load here, not at the first request.
        _ssl_context(text) if name == "verify" else _ssl_context(None, text)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigurationError(f"extra {name!r} names a file that is not a usable CA bundle: {text!r}") from exc
    return text


@functools.lru_cache(maxsize=8)
def _ssl_context(cafile: str | None, extra_cafile: str | None = None) -> ssl.SSLContext:
    """One SSL context per combination of CA bundles per process: building one loads the CA store (~16 ms and
    ~1 MB), too costly per client when a triggerer runs a thousand sensors (measured: a fresh httpx client with
    the default trust store took ~16 ms to build, a reused one nothing). ``cafile`` replaces the default roots
    (certifi, httpx's own), ``extra_cafile`` adds to them."""
    if cafile is None:
        import certifi  # httpx's own default trust store

        cafile = certifi.where()
    context = ssl.create_default_context(cafile=cafile)
    if extra_cafile is not None:
        context.load_verify_locations(cafile=extra_cafile)
    return context


def build_user_agent(*products: str) -> str:
    """``airflow-provider-dockerhub/<version> <products...> httpx/<version>``: what every request says it is
    (registries and Docker Hub tell clients apart by it in their logs and rate-limit support cases). The Airflow
    layer passes ``airflow/<version>`` as a product."""
    parts = [f"airflow-provider-dockerhub/{__version__}", *products, f"httpx/{httpx.__version__}"]
    return " ".join(_as_user_agent(part) for part in parts)


def _as_user_agent(value: Any) -> str:
    # Visible ASCII and spaces only: a CR or LF would split the header (httpx refuses those late, mid-request).
    if not isinstance(value, str) or not value.strip() or any(not (" " <= c <= "~") for c in value):
        raise ConfigurationError(f"user agent must be printable ASCII, got {value!r}")
    return value.strip()


DEFAULT_USER_AGENT = build_user_agent()


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    # httpx normalises a default port to None, so https://h and https://h:443 are one origin.
    return (url.scheme, url.host, url.port)


def _as_realms(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigurationError(f"extra 'trusted_realms' must be a list or comma-separated string, got {value!r}")
    realms = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if "://" in text:
            text = _as_url("trusted_realms", text)
        realms.append(text)
    return tuple(realms)


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client core needs to talk to Docker Hub, a registry and Scout.

    ``secret`` and ``scim_token`` never appear in ``repr``.
    """

    login: str | None = None
    secret: str | None = field(default=None, repr=False)
    hub_url: str = DEFAULT_HUB_URL
    registry_url: str = DEFAULT_REGISTRY_URL
    scout_url: str = DEFAULT_SCOUT_URL
    namespace: str | None = None
    scim_token: str | None = field(default=None, repr=False)
    verify: bool | str = True
    registry_ca_bundle: str | None = None
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_retries: int = 4
    max_retry_wait: float = 120.0
    allow_destructive: bool = False
    trusted_realms: tuple[str, ...] = ()
    user_agent: str = DEFAULT_USER_AGENT

    @property
    def anonymous(self) -> bool:
        return not (self.login and self.secret)

    @property
    def registry_host(self) -> str:
        return httpx.URL(self.registry_url).netloc.decode("ascii")

    @property
    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    @property
    def ssl_context(self) -> ssl.SSLContext | bool:
        """The trust of every host but the registry's: the default roots, or the ``verify`` bundle, or off."""
        return False if self.verify is False else _ssl_context(self.verify if isinstance(self.verify, str) else None)

    def ssl_context_for(self, url: httpx.URL) -> ssl.SSLContext | bool:
        """The trust for requests to ``url``'s origin: :attr:`ssl_context`, plus ``registry_ca_bundle`` for the
        registry's origin and any other origin on the registry's host (its token realm, say), unless that origin
        is the Hub's or Scout's: a private CA vouches for the private registry, never for Docker Hub."""
        if self.verify is False or self.registry_ca_bundle is None or not self.uses_registry_ca(url):
            return self.ssl_context
        return _ssl_context(self.verify if isinstance(self.verify, str) else None, self.registry_ca_bundle)

    def uses_registry_ca(self, url: httpx.URL) -> bool:
        registry = httpx.URL(self.registry_url)
        origin = _origin(url)
        if origin == _origin(registry):
            return True
        if origin in {_origin(httpx.URL(self.hub_url)), _origin(httpx.URL(self.scout_url))}:
            return False
        return url.host == registry.host

    @property
    def unverified_hosts(self) -> tuple[str, ...]:
        """The configured hosts whose certificates are not checked (all of them with ``verify`` false)."""
        if self.verify is not False:
            return ()
        urls = (self.hub_url, self.registry_url, self.scout_url)
        return tuple(dict.fromkeys(httpx.URL(url).netloc.decode("ascii") for url in urls))

    @classmethod
    def from_fields(
        cls,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any] | None,
        *,
        user_agent: str | None = None,
    ) -> ClientConfig:
        """Build from a connection's login, password and extras, validating every field.

        ``user_agent`` replaces the default ``User-Agent`` (:data:`DEFAULT_USER_AGENT`); build one with
        :func:`build_user_agent` to keep the provider's and httpx's products in it.
        """
        raw = dict(extra or {})
        values: dict[str, Any] = {}
        for name in EXTRA_FIELDS:
            value = raw.get(name, raw.get(f"extra__dockerhub__{name}"))
            if value is not None and value != "":
                values[name] = value
            elif name == "verify" and value == "":
                values[name] = True
        kwargs: dict[str, Any] = {"login": login or None, "secret": password or None}
        for name in ("hub_url", "registry_url", "scout_url"):
            if name in values:
                kwargs[name] = _as_url(name, values[name])
        if "namespace" in values:
            kwargs["namespace"] = str(values["namespace"]).strip() or None
        if "scim_token" in values:
            kwargs["scim_token"] = str(values["scim_token"])
        if "verify" in values:
            kwargs["verify"] = _as_verify(values["verify"])
        if "registry_ca_bundle" in values:
            kwargs["registry_ca_bundle"] = _as_ca_bundle("registry_ca_bundle", values["registry_ca_bundle"])
        if user_agent is not None:
            kwargs["user_agent"] = _as_user_agent(user_agent)
        if "timeout" in values:
            kwargs["timeout"] = _as_number("timeout", values["timeout"], minimum=0.001)
        if "connect_timeout" in values:
            kwargs["connect_timeout"] = _as_number("connect_timeout", values["connect_timeout"], minimum=0.001)
        if "max_retries" in values:
            kwargs["max_retries"] = int(_as_number("max_retries", values["max_retries"], minimum=0, integer=True))
        if "max_retry_wait" in values:
            kwargs["max_retry_wait"] = _as_number("max_retry_wait", values["max_retry_wait"], minimum=0)
        if "allow_destructive" in values:
            kwargs["allow_destructive"] = _as_bool("allow_destructive", values["allow_destructive"])
        if "trusted_realms" in values:
            kwargs["trusted_realms"] = _as_realms(values["trusted_realms"])
        unknown = sorted(
            k for k in raw if k not in EXTRA_FIELDS and k.removeprefix("extra__dockerhub__") not in EXTRA_FIELDS
        )
        if unknown:
            raise ConfigurationError(f"unknown connection extra(s) {unknown}; known: {', '.join(EXTRA_FIELDS)}")
        return cls(**kwargs)
