"""``SessionState``: the I/O-free half of a session (config, retry policy, token sources, auth flows,
telemetry), shared by every API client of one session. It imports nothing above the auth layer.
"""

from __future__ import annotations

import dataclasses

import httpx

from .auth.hub import HubAuth, HubTokenSource, StaticBearerAuth
from .auth.lockout import MintRejections
from .auth.registry import RegistryAuth, RegistryTokenSource
from .auth.tokens import SecretSink
from .auth.trust import DOCKER_SCOUT_SUFFIX, CredentialPolicy, is_loopback, require_https_or_loopback
from .core.config import ClientConfig
from .core.errors import ConfigurationError, DestructiveOperationRefused
from .core.transport import RateLimitTelemetry, RetryPolicy, RetryStats


class SessionState:
    """The I/O-free half of a session."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        on_secret: SecretSink | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.policy = policy or RetryPolicy(max_retries=config.max_retries, max_total_wait=config.max_retry_wait)
        self.telemetry = RateLimitTelemetry()
        self.stats = RetryStats()
        sink = on_secret or (lambda _secret: None)
        self.on_secret: SecretSink = sink
        self.credentials = CredentialPolicy(config)
        self.hub_tokens = HubTokenSource(config, self.policy, sink, credentials=self.credentials)
        self.registry_tokens = RegistryTokenSource(config, self.policy, self.credentials, sink, self.telemetry)
        self.hub_auth = HubAuth(
            config, self.hub_tokens, self.policy, self.telemetry, self.stats, credentials=self.credentials
        )
        self.registry_auth = RegistryAuth(
            config, self.registry_tokens, self.policy, self.credentials, telemetry=self.telemetry, stats=self.stats
        )
        # The SCIM token's refusals are remembered under their own fingerprint (origin, a fixed label, the token).
        scim_identity = dataclasses.replace(config, login="scim-token", secret=config.scim_token)
        self.scim_auth = StaticBearerAuth(
            config.scim_token,
            self.policy,
            self.telemetry,
            credentials=self.credentials,
            rejections=MintRejections(scim_identity) if config.scim_token else None,
        )

    def check_hub_url(self) -> None:
        require_https_or_loopback("hub_url", self.config.hub_url)

    def check_scout_url(self) -> None:
        """The Hub JWT goes to Scout; only to Docker's own host, loopback (the emulator) or a listed host."""
        url = httpx.URL(self.config.scout_url)
        require_https_or_loopback("scout_url", self.config.scout_url)
        host = url.host.lower()
        if not (host.endswith(DOCKER_SCOUT_SUFFIX) or is_loopback(host) or host in self.config.trusted_realms):
            raise ConfigurationError(
                f"refusing to send the Docker Hub token to scout_url host {host!r}: not a Docker host; "
                "list it in 'trusted_realms' if it really is Scout"
            )

    def require_destructive(self, operation: str) -> None:
        """Writes and deletes need the connection's ``allow_destructive``: checked before any request."""
        if not self.config.allow_destructive:
            raise DestructiveOperationRefused(
                f"{operation} refused: the connection does not set allow_destructive=true"
            )
