"""Offline sandbox helpers for tests and demos: a real local registry and a token issuer. Not for production.

Import the submodules directly (``testing.registry``, ``testing.token_issuer``). This package exports only
``ADVERSARY_MODES`` (the Hub emulator's paging adversary modes, loaded on first use), so importing it stays cheap
and pulls in neither PyJWT, cryptography nor bcrypt.
"""

from typing import Any

__all__ = ["ADVERSARY_MODES"]


def __getattr__(name: str) -> Any:
    # Lazily, so importing the package stays free: the Hub emulator's paging adversary modes
    # (airflow_provider_dockerhub.testing.hub.adversary documents each one).
    if name == "ADVERSARY_MODES":
        from .hub.adversary import ADVERSARY_MODES

        return ADVERSARY_MODES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
