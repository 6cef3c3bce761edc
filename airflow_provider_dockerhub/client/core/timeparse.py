"""Timestamps as the APIs write them (RFC 3339: image configs' ``created``, token ``issued_at``, Hub and Scout
dates), parsed in one place with pendulum, which the provider declares.

RFC 3339 section 5.6 is stricter than ISO 8601 in one way and looser in two, and all three matter here:
- an offset is required, so a timestamp without one is not a point in time (``None``), unless the caller knows the
  API means UTC (``assume_utc=True``);
- ``T`` and ``Z`` may be lower case (section 5.6, note on case);
- seconds may be ``60`` on a leap second (section 5.7), which no Python datetime holds: it is read as the next
  second, as POSIX time counts it.
Fractions of any length are accepted (Go writes nanoseconds; ``datetime.fromisoformat`` in Python 3.11 takes at
most microseconds) and truncated to microseconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pendulum

_LEAP_SECOND = re.compile(r"(T\d{2}:\d{2}:)60(?=[.Z+-]|$)")


def parse_timestamp(value: object, *, assume_utc: bool = False) -> datetime | None:
    """An aware ``datetime`` for an RFC 3339 timestamp; ``None`` for anything else (not a string, empty, a date
    without a time, malformed, or without an offset unless ``assume_utc``)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().upper()
    # The APIs' own ``...Z`` form takes the standard library's parser (~20x faster than pendulum, and an audit
    # export parses every event); it answers the same for every instant it accepts, and pendulum takes the rest.
    try:
        fast = datetime.fromisoformat(text)
    except ValueError:
        fast = None
    if fast is not None and fast.tzinfo is not None:
        return fast
    leap = _LEAP_SECOND.search(text)
    if leap:
        text = _LEAP_SECOND.sub(r"\g<1>59", text, count=1)
    try:
        parsed = pendulum.parse(text, exact=True, tz=None)
    except (ValueError, TypeError, OverflowError):  # pendulum's ParserError is a ValueError
        return None
    if not isinstance(parsed, datetime):  # a Date, Time or Duration
        return None
    if parsed.tzinfo is None:
        if not assume_utc:
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return parsed + timedelta(seconds=1) if leap else parsed


def parse_epoch(value: object, *, assume_utc: bool = False) -> float | None:
    """:func:`parse_timestamp` as POSIX seconds (what token lifetimes are compared in)."""
    parsed = parse_timestamp(value, assume_utc=assume_utc)
    return parsed.timestamp() if parsed is not None else None
