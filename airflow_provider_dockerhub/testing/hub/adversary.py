"""The emulator as an adversary: the worst paging behaviour the Hub and SCIM contracts allow. Not for production.

``HubEmulator(adversary={...})`` turns on any of :data:`ADVERSARY_MODES`; each applies to every paginated listing
(Hub ``page``/``page_size`` envelopes with ``count``/``next``, the audit log, SCIM ``startIndex``/``count``):

``cap_page_size``
    every page holds at most :data:`CAP_PAGE_SIZE` (50) items, whatever was asked (``next``/``count`` stay right).
``ignore_page_size``
    ``page_size``/``count`` are ignored; every page holds the server default :data:`DEFAULT_PAGE_SIZE` (25), as
    Docker Hub has done on other endpoints.
``drift_totals``
    the advertised ``count``/``total``/``totalResults`` changes from page to page and is always understated (half
    the truth on the first page, four fifths after); Hub ``next`` is derived from that count, as a Django REST
    paginator derives it, so it goes missing while items remain.
``insert_during_paging``
    between the first and the second page of each listing pass a new record is inserted where it shifts every later
    offset by one (an audit event at the newest end of the queried window, a SCIM user at the front, a repository
    or tag that sorts first): the next page repeats an item, and the new record is not on any later page.
``ingest_late``
    every third audit event (recorded or seeded) is dated when it happened but becomes visible only to the second
    listing started after it was recorded: a run that reads its day misses it, the next run finds it in the past.
``ignore_page``
    ``page``/``startIndex`` are ignored: every request answers the first page (proves a client's runaway guard).

Listings without an inserting hook (access tokens, teams, members) are still capped, drifted and paged wrongly;
only the record insertion needs to know the resource.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

ADVERSARY_MODES: tuple[str, ...] = (
    "cap_page_size",
    "ignore_page_size",
    "drift_totals",
    "insert_during_paging",
    "ingest_late",
    "ignore_page",
)
CAP_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 25  # the Hub API's documented default page_size
LATE_EVERY = 3  # ingest_late holds back every third event


@dataclass
class Adversary:
    """Which modes are on, and the little state they need (which listing pass already had its insertion)."""

    modes: frozenset[str] = frozenset()
    _inserted: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, modes: Collection[str]) -> Adversary:
        if isinstance(modes, str):
            raise ValueError("adversary takes a collection of mode names, not one string")
        unknown = sorted(set(modes) - set(ADVERSARY_MODES))
        if unknown:
            raise ValueError(f"unknown adversary modes {unknown}; known: {list(ADVERSARY_MODES)}")
        return cls(frozenset(modes))

    def __contains__(self, mode: object) -> bool:
        return mode in self.modes

    def page_size(self, asked: int) -> int:
        """The page size the server actually uses for a request that asked for ``asked``."""
        if "ignore_page_size" in self.modes:
            return DEFAULT_PAGE_SIZE
        if "cap_page_size" in self.modes:
            return min(asked, CAP_PAGE_SIZE)
        return asked

    def page(self, asked: int) -> int:
        """The page (or SCIM ``startIndex``) the server serves for ``asked``."""
        return 1 if "ignore_page" in self.modes else asked

    def total(self, real: int, first_page: bool) -> int:
        """The total the server advertises on this page (understated and changing under ``drift_totals``)."""
        if "drift_totals" not in self.modes or real == 0:
            return real
        return real - real // 2 if first_page else real - real // 5

    def insert_now(self, listing: str, first_page: bool) -> bool:
        """``True`` once per listing pass, before its second page: the moment to insert a record.

        A first-page request starts a new pass of ``listing`` (its path), so every pass gets one insertion.
        """
        if "insert_during_paging" not in self.modes:
            return False
        if first_page:
            self._inserted.discard(listing)
            return False
        if listing in self._inserted:
            return False
        self._inserted.add(listing)
        return True
