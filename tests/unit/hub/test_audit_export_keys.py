"""The audit export's watermark keys: 16 bytes per exported event, recognised after a round trip through the
watermark file, forgotten once older than the lookback; and the content key is the canonical JSON's hash."""

from __future__ import annotations

import hashlib
import json

from airflow_provider_dockerhub.client.hub.audit import canonical_event, event_key
from airflow_provider_dockerhub.client.hub.audit_export import RecentKeys, Watermark, parse_time, stamp


def test_keys_survive_the_watermark_file_and_expire_by_time() -> None:
    events = [
        {"action": "repo.tag.push", "timestamp": f"2026-03-01T00:00:{i:02d}Z", "data": {"n": i}} for i in range(50)
    ]
    keys = RecentKeys()
    for event in events:
        keys.add(event_key(event), int(parse_time(event["timestamp"]).timestamp()))
    state = Watermark("acme", parse_time("2026-03-01T00:00:49Z"), parse_time("2026-03-02T00:00:00Z"), keys)
    again = Watermark.load(state.dump(), "acme")
    assert all(event_key(e) in again.keys for e in events) and len(again.keys) == 50
    assert event_key({**events[0], "data": {"n": 99}}) not in again.keys
    assert again.newest is not None and again.exported_until is not None
    assert (stamp(again.newest), stamp(again.exported_until)) == ("2026-03-01T00:00:49Z", "2026-03-02T00:00:00Z")
    again.keys.keep_since(int(parse_time("2026-03-01T00:00:40Z").timestamp()))
    assert [event_key(e) in again.keys for e in events] == [i >= 40 for i in range(50)]
    assert len(json.loads(state.dump())["keys"]["hashes"]) == len(json.loads(state.dump())["keys"]["times"])


def test_the_content_key_ignores_key_order_and_sees_every_field() -> None:
    event = {"timestamp": "2026-03-01T00:00:00Z", "actor": "alice", "data": {"tag": "v1", "digest": "sha256:a"}}
    reordered = {"data": {"digest": "sha256:a", "tag": "v1"}, "actor": "alice", "timestamp": "2026-03-01T00:00:00Z"}
    assert event_key(event) == event_key(reordered)
    assert event_key(event) == hashlib.sha256(canonical_event(event).encode()).hexdigest()[:32]
    assert event_key({**event, "actor": "bob"}) != event_key(event)
    assert parse_time("2026-03-01T01:00:00+01:00") == parse_time("2026-03-01T00:00:00Z")
