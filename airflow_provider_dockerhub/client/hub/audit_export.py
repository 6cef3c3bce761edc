"""Audit-log export with a watermark: complete across runs, late events and skipped intervals, exactly once.

Airflow-free: the caller hands in an :class:`ExportStore` (the Airflow layer adapts ``ObjectStoragePath``) and a
sync Hub client. The layout under the store's root::

    _watermark.json                             the newest exported event, the keys of the events within
                                                ``lookback`` before it, and how far runs have exported
    <account>-<from>--<to>.jsonl                one partition per run: JSON Lines, newest first, as served
    <account>-<from>--<to>.jsonl.manifest.json  window, count, first/last event time, SHA-256, bytes
    _inflight/<run>/page-NNNNNN.jsonl           a run's pages as written, and progress.json; removed when done

Each run exports ``[watermark - lookback, interval end)``: an event ingested after its day's run (dated in the
past), and every event of an interval whose run never happened (``catchup=False``), fall inside a later window.
Events already exported are recognised by their content key (:func:`~.audit.event_key`; events have no id), so
the overlap is never exported twice. Pages are written as they arrive and a retry resumes after the last written
page: by *time* (``to`` = the oldest written event's second), not by page number, because offsets shift as new
events arrive. A partition is never replaced by another run's: its name carries its window, and an existing one
that another run wrote is an error, not an overwrite.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import logging
import sys
from array import array
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ..core.errors import DockerHubError, InvalidInputError
from ..core.front import SyncFront
from ..core.pagination import iterate_batches
from ..core.timeparse import parse_timestamp
from .audit import AuditFlows, canonical_event, key_of_canonical

log = logging.getLogger(__name__)

STATE_NAME = "_watermark.json"
INFLIGHT = "_inflight"
# Docker documents that it "retains the activity data for a period of three months" (docs/audit-export.md).
HUB_AUDIT_RETENTION = timedelta(days=90)
DEFAULT_LOOKBACK = timedelta(days=1)


class ExportStore(Protocol):
    """Where an export lives: names are ``/``-separated and relative to the export's root."""

    def read_text(self, name: str) -> str | None:
        """The object's text, or ``None`` if there is none."""

    def write_text(self, name: str, text: str) -> None:
        """Write atomically: readers see the old object or the whole new one (temporary object, then move)."""

    def assemble(self, name: str, parts: list[str]) -> tuple[str, int]:
        """Concatenate ``parts`` into ``name`` atomically, streaming; returns (sha256 hex, bytes)."""

    def delete_tree(self, name: str) -> None:
        """Remove ``name`` and everything under it, if present."""


class _Either:
    """Membership in either of two containers, without copying the watermark's keys into one set."""

    def __init__(self, first: Container[str], second: Container[str]) -> None:
        self.first, self.second = first, second

    def __contains__(self, key: object) -> bool:
        return key in self.first or key in self.second


class ExportError(DockerHubError):
    """The export cannot go on without losing or overwriting events (the message says why)."""


def parse_time(value: str) -> datetime:
    """An API timestamp (RFC 3339) as an aware UTC datetime (naive: UTC, as the audit API means it)."""
    parsed = parse_timestamp(value, assume_utc=True)
    if parsed is None:
        raise ValueError(f"not a date-time: {value!r}")
    return parsed.astimezone(UTC)


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class RecentKeys:
    """Content keys of exported events and their times, 16 bytes each (the first 64 bits of the key, the epoch
    second) in two arrays: a day's lookback of a busy organization (86,400 events) is 1.4 MB, not the ~40 MB a
    dict of strings would take. 64 bits tell ~10^5 keys apart with a collision chance near 10^-9."""

    def __init__(self, times: array[int] | None = None, hashes: array[int] | None = None) -> None:
        self.times: array[int] = times if times is not None else array("q")
        self.hashes: array[int] = hashes if hashes is not None else array("Q")
        self._sorted: array[int] | None = None

    @staticmethod
    def _hash(key: str) -> int:
        return int(key[:16], 16)

    def add(self, key: str, when: int) -> None:
        self.times.append(when)
        self.hashes.append(self._hash(key))
        self._sorted = None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if self._sorted is None:
            self._sorted = array("Q", sorted(self.hashes))
        wanted = self._hash(key)
        at = bisect.bisect_left(self._sorted, wanted)
        return at < len(self._sorted) and self._sorted[at] == wanted

    def __len__(self) -> int:
        return len(self.hashes)

    def keep_since(self, floor: int) -> None:
        """Forget the keys of events before ``floor`` (no later window reaches them)."""
        times, hashes = array("q"), array("Q")
        for when, hashed in zip(self.times, self.hashes, strict=True):
            if when >= floor:
                times.append(when)
                hashes.append(hashed)
        self.times, self.hashes, self._sorted = times, hashes, None

    def to_json(self) -> dict[str, str]:
        """Both arrays as little-endian base64 (compact, and no list of a hundred thousand Python objects)."""
        return {"times": _pack(self.times), "hashes": _pack(self.hashes)}

    @classmethod
    def from_json(cls, data: dict[str, str] | None) -> RecentKeys:
        if not data:
            return cls()
        return cls(_unpack("q", data["times"]), _unpack("Q", data["hashes"]))


def _pack(values: array[int]) -> str:
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode()


def _unpack(typecode: str, text: str) -> array[int]:
    values = array(typecode)
    values.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":
        values.byteswap()
    return values


@dataclass
class Watermark:
    """What the runs so far exported: the newest event's time, the keys of the events within ``lookback`` before
    it (to recognise them when the next window overlaps), and the end of the last exported window."""

    account: str
    newest: datetime | None = None
    exported_until: datetime | None = None
    keys: RecentKeys = field(default_factory=RecentKeys)

    @classmethod
    def load(cls, text: str | None, account: str) -> Watermark:
        if not text:
            return cls(account)
        data = json.loads(text)
        if data.get("account") != account:
            raise ExportError(f"the watermark next to this export belongs to {data.get('account')!r}, not {account!r}")
        return cls(
            account,
            parse_time(data["newest"]) if data.get("newest") else None,
            parse_time(data["exported_until"]) if data.get("exported_until") else None,
            RecentKeys.from_json(data.get("keys")),
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "account": self.account,
                "newest": stamp(self.newest) if self.newest else None,
                "exported_until": stamp(self.exported_until) if self.exported_until else None,
                "keys": self.keys.to_json(),
            },
            indent=1,
        )


@dataclass
class Progress:
    """A run's pages written so far (``_inflight/<run>/progress.json``), so a retry goes on after them."""

    parts: list[str] = field(default_factory=list)
    count: int = 0
    first: str | None = None  # the oldest event written (RFC 3339)
    last: str | None = None  # the newest
    boundary: list[str] = field(default_factory=list)  # keys written at the oldest second (the resume point)

    @classmethod
    def load(cls, text: str | None) -> Progress:
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        return json.dumps(self.__dict__)


@dataclass(frozen=True)
class ExportResult:
    """A run's outcome; ``path``/``manifest``/``sha256`` are ``None`` when its window was already covered."""

    path: str | None
    manifest: str | None
    count: int
    window: tuple[datetime, datetime]
    first_event: str | None
    last_event: str | None
    sha256: str | None
    resumed_parts: int
    retention_warning: str | None

    def as_xcom(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "path": self.path,
            "manifest": self.manifest,
            "window": [stamp(self.window[0]), stamp(self.window[1])],
            "first_event": self.first_event,
            "last_event": self.last_event,
            "sha256": self.sha256,
            "resumed_parts": self.resumed_parts,
            "retention_warning": self.retention_warning,
        }


@dataclass
class AuditExport:
    """One run of the export job (see the module docstring). ``partition`` names this run's output (default:
    ``<account>-<from>--<to>.jsonl``); ``now`` is injectable for tests of the retention warning."""

    hub: SyncFront[Any]  # a HubClient (its flows run with its driver)
    store: ExportStore
    account: str
    lookback: timedelta = DEFAULT_LOOKBACK
    retention: timedelta = HUB_AUDIT_RETENTION
    page_size: int = 100
    action: str | None = None
    actor: str | None = None
    partition: str | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_page: Callable[[int, int], None] = field(default=lambda page, count: None)  # (parts written, events)
    pages_per_part: int = 10  # pages per written part (what a retry resumes after)
    flush_bytes: int = 4 << 20
    _fresh: RecentKeys = field(default_factory=RecentKeys, init=False, repr=False)

    def window(self, start: datetime, end: datetime, state: Watermark) -> tuple[datetime, datetime]:
        """``[newest exported event - lookback, end)`` once an event was exported (or, while none was, from the
        end of the last exported window, minus the lookback); the first run starts at ``start``."""
        since = state.newest or state.exported_until
        if since is None:
            return start, end
        # Once a run has exported, the watermark alone decides where the next one starts: a cleared old run
        # (its interval long covered, its keys long pruned) must not export its events a second time.
        return since - self.lookback, end

    def execute(self, start: datetime, end: datetime) -> ExportResult:
        if self.lookback < timedelta(0):
            raise InvalidInputError("lookback must not be negative")
        state = Watermark.load(self.store.read_text(STATE_NAME), self.account)
        frm, to = self.window(start, end, state)
        if to <= frm:
            log.info("nothing to export: [%s, %s) was covered by earlier runs", stamp(start), stamp(end))
            return ExportResult(None, None, 0, (frm, to), None, None, None, 0, None)
        warning = None
        oldest_kept = self.now() - self.retention
        if frm < oldest_kept:
            warning = (
                f"the export window starts at {stamp(frm)}, before {stamp(oldest_kept)}: Docker Hub keeps audit "
                f"events for about {self.retention.days} days, so events older than that may be gone"
            )
            log.warning("%s", warning)
        name = self.partition or f"{self.account}-{_compact(frm)}--{_compact(to)}.jsonl"
        run_id = hashlib.sha256(
            json.dumps([self.account, stamp(frm), stamp(to), self.action, self.actor, name]).encode()
        ).hexdigest()[:16]
        inflight = f"{INFLIGHT}/{run_id}"
        manifest_name = name + ".manifest.json"
        existing = self.store.read_text(manifest_name)
        if existing is not None and json.loads(existing).get("run") != run_id:
            raise ExportError(
                f"{name} already holds another export (window {json.loads(existing).get('window')}); not "
                "overwriting it: give each run its own partition (the default name carries the window)"
            )
        if existing is not None:  # this very run got as far as its manifest, then failed: finish the rest
            manifest = json.loads(existing)
            progress = Progress.load(self.store.read_text(f"{inflight}/progress.json"))
        else:
            progress = Progress.load(self.store.read_text(f"{inflight}/progress.json"))
            resumed = len(progress.parts)
            self._fresh = RecentKeys()
            self._pages(frm, to, state, progress, inflight)
            digest, size = self.store.assemble(name, progress.parts)
            manifest = {
                "run": run_id,
                "account": self.account,
                "window": [stamp(frm), stamp(to)],
                "count": progress.count,
                "first_event": progress.first,
                "last_event": progress.last,
                "sha256": digest,
                "bytes": size,
                "lookback_seconds": int(self.lookback.total_seconds()),
                "filters": {"action": self.action, "actor": self.actor},
                "resumed_parts": resumed,
                "exported_at": stamp(self.now()),
            }
            self.store.write_text(manifest_name, json.dumps(manifest, indent=1))
        self._advance(state, progress, to, read_back=existing is not None or manifest["resumed_parts"] > 0)
        self.store.write_text(STATE_NAME, state.dump())
        self.store.delete_tree(inflight)
        return ExportResult(
            name,
            manifest_name,
            manifest["count"],
            (frm, to),
            manifest["first_event"],
            manifest["last_event"],
            manifest["sha256"],
            manifest["resumed_parts"],
            warning,
        )

    def _pages(self, frm: datetime, to: datetime, state: Watermark, progress: Progress, inflight: str) -> None:
        """Page through the window (after what ``progress`` already wrote) and write each page's new events."""
        upper = to
        if progress.first is not None:  # resume: everything newer than the oldest written second is written
            upper = min(to, parse_time(progress.first) + timedelta(seconds=1))
        skip: Container[str] = _Either(state.keys, set(progress.boundary))
        ops: AuditFlows = self.hub.ops
        pages = ops.audit_logs(
            self.account, start=frm, end=upper, action=self.action, actor=self.actor, page_size=self.page_size
        )
        raw_pages = replace(pages, item=lambda raw: raw)  # the events exactly as served, keyed as served
        lines: list[str] = []
        keyed: list[tuple[str, str]] = []
        buffered = 0
        for _, events in iterate_batches(self.hub.run, raw_pages):
            page_lines, page_keyed = self._new_events(events, frm, to, skip)
            lines += page_lines
            keyed += page_keyed
            buffered += 1
            # Pages are written in groups (a retry resumes after the last group written): one object write per
            # page would make a 1,000-page export spend its time in object-storage round trips.
            if buffered >= self.pages_per_part or sum(map(len, lines)) >= self.flush_bytes:
                self._flush(progress, inflight, lines, keyed)
                lines, keyed, buffered = [], [], 0
        self._flush(progress, inflight, lines, keyed)

    def _flush(self, progress: Progress, inflight: str, lines: list[str], keyed: list[tuple[str, str]]) -> None:
        if not lines:
            return
        part = f"{inflight}/page-{len(progress.parts) + 1:06d}.jsonl"
        self.store.write_text(part, "".join(lines))
        self._record(progress, keyed)
        progress.parts.append(part)
        self.store.write_text(f"{inflight}/progress.json", progress.dump())
        self.on_page(len(progress.parts), progress.count)

    def _new_events(
        self, events: Iterable[Any], frm: datetime, to: datetime, skip: Container[str]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        lines: list[str] = []
        keyed: list[tuple[str, str]] = []
        for raw in events:
            when = raw.get("timestamp") if isinstance(raw, dict) else None
            if not isinstance(when, str):
                continue
            moment = parse_time(when)
            # [from, to): the API's bounds are not documented as half-open; ours are.
            if not frm <= moment < to:
                continue
            canonical = canonical_event(raw)
            key = key_of_canonical(canonical)
            if key in skip:  # exported by an earlier run (or before a resume); repeats within a listing
                continue  # were already dropped by the paging loop
            lines.append(canonical + "\n")
            keyed.append((key, stamp(moment)))
        return lines, keyed

    def _record(self, progress: Progress, keyed: list[tuple[str, str]]) -> None:
        for key, when in keyed:
            progress.count += 1
            if progress.last is None or when > progress.last:
                progress.last = when
            if progress.first is None or when < progress.first:
                progress.first, progress.boundary = when, []
            if when == progress.first:
                progress.boundary.append(key)
            # The keys the next window's overlap can meet: the log comes newest first, so the first page sets
            # the bar and most keys of a long export are never held (16 bytes each for the rest).
            seconds = int(parse_time(when).timestamp())
            if seconds >= int(parse_time(progress.last).timestamp() - self.lookback.total_seconds()):
                self._fresh.add(key, seconds)

    def _advance(self, state: Watermark, progress: Progress, to: datetime, read_back: bool) -> None:
        """The new watermark: the newest event so far, and the keys of the events within ``lookback`` before it.
        They were collected while writing; after a resume (``read_back``) the pages written by the earlier try
        are read back, newest first, until they are older than that."""
        candidates = [state.newest, parse_time(progress.last) if progress.last else None]
        newest = max((c for c in candidates if c is not None), default=None)
        if newest is not None:
            floor = int((newest - self.lookback).timestamp())
            keys = state.keys
            if read_back:
                for part in progress.parts:
                    older = True
                    for line in (self.store.read_text(part) or "").splitlines():
                        when = int(parse_time(json.loads(line)["timestamp"]).timestamp())
                        if when >= floor:
                            keys.add(key_of_canonical(line), when)  # the line is the event's canonical JSON
                            older = False
                    if older:
                        break
            else:
                for when, hashed in zip(self._fresh.times, self._fresh.hashes, strict=True):
                    keys.times.append(when)
                    keys.hashes.append(hashed)
            keys.keep_since(floor)
        state.newest = newest
        state.exported_until = max(t for t in (state.exported_until, to) if t is not None)


def read_partition(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The events of a partition's JSON Lines (for readers and tests)."""
    for line in lines:
        if line.strip():
            yield json.loads(line)
