"""The Airflow-free client core (httpx and pydantic; no Airflow import anywhere below this package).

Names are loaded on first use (PEP 562), so importing the hook module for DAG parsing costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.config import ClientConfig
    from .core.errors import (
        ApiError,
        AuthenticationError,
        ConfigurationError,
        ConflictError,
        DestructiveOperationRefused,
        DigestMismatchError,
        DockerHubError,
        InvalidInputError,
        NotFoundError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitedError,
        ServerError,
        TransportError,
        UnsupportedOperationError,
        UntrustedRealmError,
    )
    from .session import AsyncDockerHubSession, DockerHubSession

_LOCATIONS = {
    "ClientConfig": ".core.config",
    "AsyncDockerHubSession": ".session",
    "DockerHubSession": ".session",
    **{
        name: ".core.errors"
        for name in (
            "ApiError",
            "AuthenticationError",
            "ConfigurationError",
            "ConflictError",
            "DestructiveOperationRefused",
            "DigestMismatchError",
            "DockerHubError",
            "InvalidInputError",
            "NotFoundError",
            "PermissionDeniedError",
            "ProtocolError",
            "RateLimitedError",
            "ServerError",
            "TransportError",
            "UnsupportedOperationError",
            "UntrustedRealmError",
        )
    },
}

__all__ = [
    "ApiError",
    "AsyncDockerHubSession",
    "AuthenticationError",
    "ClientConfig",
    "ConfigurationError",
    "ConflictError",
    "DestructiveOperationRefused",
    "DigestMismatchError",
    "DockerHubError",
    "DockerHubSession",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "UnsupportedOperationError",
    "UntrustedRealmError",
]


def __getattr__(name: str) -> Any:
    if name not in _LOCATIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LOCATIONS[name], __name__), name)
    globals()[name] = value
    return value
