"""Where credentials may go: the trusted token realms, and what counts as loopback (plain http allowed)."""

from __future__ import annotations

import ipaddress

import httpx

from ..core.config import ClientConfig
from ..core.errors import ConfigurationError, UntrustedRealmError
from ..core.reference import is_docker_hub_registry

DOCKER_AUTH_HOSTS = frozenset({"auth.docker.io"})
DOCKER_SCOUT_SUFFIX = ".docker.com"


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RealmPolicy:
    """Which token realms may receive the connection's credentials (GGCR ``validateRealmURL``, done stricter).

    https realms on the registry's own host, Docker's auth host for Docker Hub, or listed in the connection's
    ``trusted_realms``; plain http only between loopback addresses.
    """

    def __init__(self, config: ClientConfig) -> None:
        self._registry = httpx.URL(config.registry_url)
        self._trusted = config.trusted_realms

    def check(self, realm: str, *, with_credentials: bool) -> httpx.URL:
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL as exc:
            raise UntrustedRealmError(f"token realm {realm!r} is not a valid URL") from exc
        host = url.host.lower()
        registry_host = self._registry.host.lower()
        listed = host in self._trusted or str(url.copy_with(query=None)) in self._trusted
        if url.scheme == "http":
            if is_loopback(host) and (is_loopback(registry_host) or listed):
                return url
            raise UntrustedRealmError(
                f"refusing token realm {realm!r}: plain http is allowed only on loopback (use https)"
            )
        if url.scheme != "https" or not host:
            raise UntrustedRealmError(f"refusing token realm {realm!r}: not an https URL")
        if not with_credentials or listed or host == registry_host:
            return url
        if is_docker_hub_registry(registry_host) and host in DOCKER_AUTH_HOSTS:
            return url
        raise UntrustedRealmError(
            f"refusing to send credentials to token realm {realm!r}: its host is neither the registry's "
            f"({registry_host}) nor listed in the connection's 'trusted_realms'"
        )


def require_https_or_loopback(name: str, url: str) -> None:
    parsed = httpx.URL(url)
    if parsed.scheme != "https" and not is_loopback(parsed.host):
        raise ConfigurationError(f"{name} {url!r} must use https (plain http is allowed only on loopback)")
