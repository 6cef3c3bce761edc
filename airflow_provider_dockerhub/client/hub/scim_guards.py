"""The SCIM sync's guards: how many creations and deactivations a plan may hold. Pure; counted against the plan
before any request, so an export truncated by an IdP outage fails the task instead of deprovisioning everyone."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.errors import DockerHubError, InvalidInputError


class SyncPlan(Protocol):
    """What the guards read of a plan (``scim_sync.SyncPlan``; a protocol, so this module imports nothing)."""

    current_active: int

    def of(self, kind: str) -> list[Any]: ...


class SyncGuardError(DockerHubError):
    """The plan exceeds ``max_creations`` or ``max_deactivations``; raised before any change is sent."""


@dataclass(frozen=True)
class Limit:
    """``max_creations``/``max_deactivations``: a count, a fraction of the active users in scope, or both.

    The rule: a fraction ``f`` of ``n`` active users allows ``max(1, ceil(f * n))`` changes, so it never rounds to
    zero (0.2 of 4 users allows 1, not 0: one person leaving a small org is not an outage). With both, the smaller
    bound holds. ``None`` is no limit; ``0`` forbids the kind of change entirely.
    """

    count: int | None = None
    fraction: float | None = None

    @classmethod
    def of(cls, value: Any, name: str) -> Limit:
        if value is None:
            return cls()
        if isinstance(value, Limit):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"count", "fraction"}
            if unknown or not value:
                raise InvalidInputError(f"{name}: use {{'count': n, 'fraction': f}}, got {dict(value)!r}")
            return cls(cls.of(value.get("count"), name).count, cls.of(value.get("fraction"), name).fraction)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"{name} must be a count, a fraction or both, got {value!r}")
        if isinstance(value, int):
            if value < 0:
                raise InvalidInputError(f"{name} must not be negative, got {value}")
            return cls(count=value)
        if not 0 < value < 1:
            raise InvalidInputError(f"{name} as a fraction must be between 0 and 1 (exclusive), got {value!r}")
        return cls(fraction=value)

    def allowed(self, active: int) -> int | None:
        bounds = []
        if self.count is not None:
            bounds.append(self.count)
        if self.fraction is not None:
            # round() first: 0.1 * 30 is 3.0000000000000004 in floating point, which must not allow 4.
            bounds.append(max(1, math.ceil(round(self.fraction * active, 9))))
        return min(bounds) if bounds else None

    def describe(self, active: int) -> str:
        parts = ([f"{self.count}"] if self.count is not None else []) + (
            [f"{self.fraction:g} of {active} active = {max(1, math.ceil(round(self.fraction * active, 9)))}"]
            if self.fraction is not None
            else []
        )
        return " and ".join(parts) or "no limit"


def check_guards(plan: SyncPlan, max_creations: Any = None, max_deactivations: Any = None) -> None:
    """Raise :class:`SyncGuardError` if the plan creates or deactivates more users than allowed."""
    for kind, value, name in (
        ("deactivate", max_deactivations, "max_deactivations"),
        ("create", max_creations, "max_creations"),
    ):
        limit = Limit.of(value, name)
        allowed = limit.allowed(plan.current_active)
        planned = len(plan.of(kind))
        if allowed is not None and planned > allowed:
            raise SyncGuardError(
                f"the plan would {kind} {planned} users ({plan.current_active} active users in scope), more than "
                f"{name} allows ({limit.describe(plan.current_active)}); nothing was changed. Check the input "
                f"(a truncated export?) or raise {name}"
            )


def deactivation_limit(max_deactivations: int | float, current_active: int) -> int:
    """How many deactivations ``max_deactivations`` allows for ``current_active`` users (see :class:`Limit`)."""
    allowed = Limit.of(max_deactivations, "max_deactivations").allowed(current_active)
    if allowed is None:
        raise InvalidInputError("max_deactivations must be set")
    return allowed
