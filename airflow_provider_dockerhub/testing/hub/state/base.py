"""The collections every part of :class:`~.HubState` reads and writes. Not for production."""

from __future__ import annotations

import itertools
from typing import Literal

from .audit_log import AuditLog
from .records import AuditEvent, Clock, Invite, Org, Pat, Repo, User


class StateBase:
    """Users, organizations, repositories, tokens and audit logs of one emulated Hub (the parts add the rules)."""

    def __init__(
        self, clock: Clock, tag_images: Literal["list", "object"] = "list", *, late_events: bool = False
    ) -> None:
        self.clock = clock
        self.late_events = late_events  # the ``ingest_late`` adversary mode (see AuditState)
        self.tag_images = tag_images
        self.users: dict[str, User] = {}
        self.orgs: dict[str, Org] = {}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.pats: dict[str, Pat] = {}
        self.invites: dict[str, Invite] = {}
        self.audit: dict[str, AuditLog] = {}
        self.audit_listings: dict[str, int] = {}  # first-page audit requests per account
        self.late_audit: list[tuple[int, AuditEvent]] = []  # (visible from listing number, event)
        self._ids = itertools.count(1001)
        self._seq = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)
