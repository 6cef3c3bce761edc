"""RFC 3339 timestamps (https://www.rfc-editor.org/rfc/rfc3339, section 5.8's examples are the vectors), as the
registry token spec's ``issued_at``, image configs' ``created`` and the Hub and Scout APIs write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from airflow_provider_dockerhub.client.core.timeparse import parse_epoch, parse_timestamp

RFC3339_EXAMPLES = [
    # section 5.8, each with the instant it names
    ("1985-04-12T23:20:50.52Z", datetime(1985, 4, 12, 23, 20, 50, 520000, tzinfo=UTC)),
    ("1996-12-19T16:39:57-08:00", datetime(1996, 12, 20, 0, 39, 57, tzinfo=UTC)),
    ("1990-12-31T23:59:60Z", datetime(1991, 1, 1, tzinfo=UTC)),  # a leap second: POSIX time's next second
    ("1990-12-31T15:59:60-08:00", datetime(1991, 1, 1, tzinfo=UTC)),  # the same leap second
    ("1937-01-01T12:00:27.87+00:20", datetime(1937, 1, 1, 11, 40, 27, 870000, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "instant"), RFC3339_EXAMPLES)
def test_the_rfc_examples(text: str, instant: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed is not None and parsed.tzinfo is not None
    assert parsed == instant
    assert parse_epoch(text) == instant.timestamp()


def test_the_offset_is_kept() -> None:
    parsed = parse_timestamp("1996-12-19T16:39:57-08:00")
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=-8)
    assert parsed.astimezone(timezone(timedelta(hours=-8))).hour == 16


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        # section 5.6: "T" and "Z" may be lower case
        ("2026-01-01t00:00:00z", datetime(2026, 1, 1, tzinfo=UTC)),
        # Go (distribution, BuildKit) writes nanoseconds: truncated to microseconds
        ("2026-01-01T00:00:00.123456789Z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2009-11-10T23:00:00Z", datetime(2009, 11, 10, 23, tzinfo=UTC)),  # the token spec's issued_at example
        ("  2026-01-01T00:00:00+00:00 ", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_what_the_apis_write(text: str, instant: datetime) -> None:
    assert parse_timestamp(text) == instant


@pytest.mark.parametrize(
    "value", [None, "", "   ", 1700000000, "2026-01-01", "P1D", "12:00:00", "garbage", "2026-13-01T00:00:00Z"]
)
def test_what_is_not_a_timestamp(value: object) -> None:
    assert parse_timestamp(value) is None
    assert parse_epoch(value) is None


def test_no_offset_is_no_instant_unless_the_caller_knows_it_is_utc() -> None:
    assert parse_timestamp("2026-01-01T00:00:00") is None
    assert parse_timestamp("2026-01-01T00:00:00", assume_utc=True) == datetime(2026, 1, 1, tzinfo=UTC)
    # assume_utc never overrides an offset that is there
    assert parse_timestamp("2026-01-01T00:00:00+01:00", assume_utc=True) == datetime(2025, 12, 31, 23, tzinfo=UTC)
