"""One account's audit events, sorted and queryable: the store under the audit-log part. Not for production."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from .records import AuditEvent


class AuditLog:
    """One account's events sorted by time, with a one-entry cache of the last filtered query.

    Paging through a filtered export asks the same question once per page; the cache makes each page O(page)
    instead of O(events), so a 100,000-event export stays fast.
    """

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.events: list[AuditEvent] = []
        self.version = 0
        self._cache: tuple[tuple[object, ...], list[int]] | None = None

    def add(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        if all(events[i].ts <= events[i + 1].ts for i in range(len(events) - 1)) and (
            not self.ts or events[0].ts >= self.ts[-1]
        ):
            self.events.extend(events)
            self.ts.extend(e.ts for e in events)
        else:
            self.events.extend(events)
            self.events.sort(key=lambda e: (e.ts, e.seq))
            self.ts = [e.ts for e in self.events]
        self.version += 1
        self._cache = None

    def query(
        self, frm: float | None, to: float | None, match: Callable[[AuditEvent], bool] | None, key: tuple[object, ...]
    ) -> list[int]:
        """Indices of matching events, newest first; ``from`` inclusive, ``to`` exclusive."""
        lo = bisect.bisect_left(self.ts, frm) if frm is not None else 0
        hi = bisect.bisect_left(self.ts, to) if to is not None else len(self.ts)
        if match is None:
            return list(range(hi - 1, lo - 1, -1))
        full_key = (*key, lo, hi, self.version)
        if self._cache is not None and self._cache[0] == full_key:
            return self._cache[1]
        found = [i for i in range(hi - 1, lo - 1, -1) if match(self.events[i])]
        self._cache = (full_key, found)
        return found
