"""Where credentials may go: the one credential policy every sender of a secret passes.

Each kind of credential has the origins it may be sent to (:class:`CredentialPolicy`); every one of them travels
only over https, or plain http between loopback addresses (the local sandbox). The check runs where the secret is
put on the request (``CredentialPolicy.attach``) or, for the Hub mint whose secret is the body, right before the
request is built, so no sender can skip it.
"""

from __future__ import annotations

import enum
import functools
import ipaddress

import httpx

from ..core.config import ClientConfig
from ..core.errors import ConfigurationError, UntrustedRealmError
from ..core.pagination import same_origin
from ..core.reference import is_docker_hub_registry

DOCKER_AUTH_HOSTS = frozenset({"auth.docker.io"})
DOCKER_SCOUT_SUFFIX = ".docker.com"


@functools.lru_cache(maxsize=256)
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


class Credential(enum.Enum):
    """The secrets the provider sends, each named as a user would recognise it in an error (names, not secrets)."""

    HUB_SECRET = "the connection's login and secret (Docker Hub token request)"  # noqa: S105
    HUB_JWT = "the Docker Hub JWT"
    SCIM_TOKEN = "the SCIM token"  # noqa: S105
    REGISTRY_BASIC = "the connection's login and secret (registry Basic auth)"
    REALM_BASIC = "the connection's login and secret (registry token request)"
    REGISTRY_BEARER = "a registry bearer token"


class CredentialPolicy:
    """For each credential, the origins (scheme, host, port) it may go to.

    * The Hub secret and the SCIM token: the ``hub_url`` origin only.
    * The Hub JWT: the ``hub_url`` origin, and the ``scout_url`` origin (checked at construction to be Docker's,
      loopback, or listed in ``trusted_realms``).
    * Registry Basic credentials and registry bearer tokens: the ``registry_url`` origin only; Basic credentials
      also go to trusted token realms (:class:`RealmPolicy`).
    * Every one over https, or plain http when both ends are loopback.
    """

    def __init__(self, config: ClientConfig) -> None:
        self.realms = RealmPolicy(config)
        hub, scout, registry = httpx.URL(config.hub_url), httpx.URL(config.scout_url), httpx.URL(config.registry_url)
        self._origins: dict[Credential, tuple[httpx.URL, ...]] = {
            Credential.HUB_SECRET: (hub,),
            Credential.HUB_JWT: (hub, scout),
            Credential.SCIM_TOKEN: (hub,),
            Credential.REGISTRY_BASIC: (registry,),
            Credential.REGISTRY_BEARER: (registry,),
        }
        self._allowed: set[tuple[Credential, str, str, int | None]] = set()

    def check(self, credential: Credential, url: httpx.URL) -> None:
        """Raise :class:`UntrustedRealmError` unless ``credential`` may be sent to ``url``."""
        decision = (credential, url.scheme, url.host, url.port)
        if decision in self._allowed:  # every request asks; the answer for an origin does not change
            return
        self._decide(credential, url)
        self._allowed.add(decision)

    def _decide(self, credential: Credential, url: httpx.URL) -> None:
        if credential is Credential.REALM_BASIC:
            self.realms.check(str(url), with_credentials=True)
            return
        if url.scheme != "https" and not (url.scheme == "http" and is_loopback(url.host)):
            raise UntrustedRealmError(
                f"refusing to send {credential.value} over plain http to {url.host}: use https "
                "(plain http is allowed only on loopback)"
            )
        if not any(same_origin(url, allowed) for allowed in self._origins[credential]):
            raise UntrustedRealmError(
                f"refusing to send {credential.value} to {url.scheme}://{url.netloc.decode('ascii')}: "
                "it may go only to the connection's own endpoints"
            )

    def attach(self, request: httpx.Request, credential: Credential, authorization: str) -> None:
        """Put ``authorization`` on ``request`` after checking where it goes: the one place that does."""
        self.check(credential, request.url)
        request.headers["Authorization"] = authorization
