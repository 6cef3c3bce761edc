"""What every handler module reads of the emulator. Not for production."""

from __future__ import annotations

from collections.abc import Callable

from ..adversary import Adversary
from ..state import HubState, ScimStore


class HandlerBase:
    """The emulator's state as the handlers see it; :class:`~..emulator.HubEmulator` sets it (and resets it).

    Handlers run under the emulator's lock, so each one sees and leaves the state consistent.
    """

    clock: Callable[[], float]
    state: HubState
    scim: ScimStore
    adversary: Adversary
