"""An in-memory Docker Hub management API v2 + SCIM 2.0 (+ Scout GraphQL) emulator for tests. Not for production.

Split by resource: :mod:`.state` holds the data and its rules (one module per resource, composed into
:class:`HubState`), :mod:`.handlers` the HTTP operations (likewise, composed by :mod:`.routes`), :mod:`.spec` the
official spec and its validation, :mod:`.adversary` the paging adversary modes (:data:`ADVERSARY_MODES`), and
:mod:`.emulator` the server and its request pipeline.
"""

from __future__ import annotations

from .adversary import ADVERSARY_MODES
from .emulator import HubEmulator
from .http import HubRequest, Injection, LoggedRequest, Violation
from .spec import SPEC_WORKAROUNDS, SpecChecker, find_hub_spec, load_hub_spec, sanitize_spec
from .state import HubError, HubState, Principal, ScimStore

__all__ = [
    "ADVERSARY_MODES",
    "SPEC_WORKAROUNDS",
    "HubEmulator",
    "HubError",
    "HubRequest",
    "HubState",
    "Injection",
    "LoggedRequest",
    "Principal",
    "ScimStore",
    "SpecChecker",
    "Violation",
    "find_hub_spec",
    "load_hub_spec",
    "sanitize_spec",
]
