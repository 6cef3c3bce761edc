"""The wait-for-digest predicate: one pure function used by the sensor's ``poke()`` and by the trigger.

The http provider's sensor and trigger each had their own "is it done?" logic and drifted apart
(apache/airflow#69903, #40209); here both call :func:`digest_state` through their own driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.errors import InvalidInputError
from ..core.flow import Flow
from ..core.reference import validate_digest, validate_tag
from .api import RegistryOperations

Condition = Literal["exists", "changed", "equals"]
CONDITIONS: tuple[Condition, ...] = ("exists", "changed", "equals")


@dataclass(frozen=True)
class DigestWatch:
    """Wait for ``repository:tag`` to exist, to move away from ``digest``, or to equal ``digest``."""

    repository: str
    tag: str
    condition: Condition = "exists"
    digest: str | None = None

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise InvalidInputError(f"condition must be one of {CONDITIONS}, got {self.condition!r}")
        validate_tag(self.tag)
        if self.condition in ("changed", "equals"):
            if not self.digest:
                raise InvalidInputError(f"condition {self.condition!r} needs a digest to compare with")
            validate_digest(self.digest)

    def met(self, current: str | None) -> bool:
        """The predicate itself, on the tag's current digest (``None``: the tag does not exist)."""
        if self.condition == "exists":
            return current is not None
        if self.condition == "changed":
            return current is not None and current != self.digest
        return current == self.digest


def digest_state(ops: RegistryOperations, watch: DigestWatch) -> Flow[tuple[bool, str | None]]:
    """One HEAD (never a GET: on Docker Hub a GET is a pull) -> (condition met, current digest)."""
    head = yield from ops.head_manifest(watch.repository, watch.tag)
    current = head.digest if head is not None else None
    return watch.met(current), current
