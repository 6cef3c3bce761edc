#!/usr/bin/env python3
"""Render RELIABILITY.md from the figures the test suite writes to ``bench/results/``.

``pytest tests/reliability`` writes ``reliability.json`` (the seeded fault campaign); ``pytest tests/security``
may write ``bad_inputs.json``. This script only formats them: every number in RELIABILITY.md comes from those
files, so the document cannot drift from what was measured.

Usage: ``python scripts/reliability_report.py [--results bench/results] [--output RELIABILITY.md]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Row labels for the fault kinds the campaign injects, in the campaign's order.
FAULT_LABELS = {
    "cut_before_body": "Connection cut before the request body",
    "cut_after_body_bytes": "Connection cut after N body bytes (random N)",
    "cut_response": "Reply lost (request processed, connection cut)",
    "http_5xx": "500 / 502 / 503 answers (bursts of 1-3, and storms)",
    "http_429_seconds": "429 with `Retry-After` in seconds",
    "http_429_date": "429 with `Retry-After` as an HTTP-date",
    "delay_past_timeout": "Reply held past the client's read timeout",
    "token_expiry": "Token expired mid-operation (registry or Hub)",
}
AREA_LABELS = {
    "push": "blob pushes",
    "copy": "image copies",
    "digest_wait": "digest waits",
    "listing": "Hub listings",
    "non_idempotent": "non-idempotent writes",
}
BAD_INPUT_LABELS = {
    "inputs": "Bad inputs tried",
    "no_request": "Refused before any request was sent",
    "escaped": "Hub/SCIM path parameters sent escaped, as one path segment",
    "malformed_replies": "Malformed server replies ending in a typed error after one request",
}


def _load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object")
    return data


def _bytes(count: int) -> str:
    return f"{count:,} B ({count / 1024 / 1024:.1f} MiB)"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def faults_section(figures: dict[str, Any]) -> list[str]:
    faults = figures["faults"]
    by_area: dict[str, dict[str, int]] = faults["by_area"]
    areas = [area for area in AREA_LABELS if area in by_area] + sorted(set(by_area) - set(AREA_LABELS))
    rows = []
    for kind, total in faults["by_kind"].items():
        cells = [str(by_area[area].get(kind, 0)) for area in areas]
        rows.append([FAULT_LABELS.get(kind, kind), *cells, f"**{total}**"])
    area_totals = [str(sum(by_area[area].values())) for area in areas]
    rows.append(["**All faults**", *area_totals, f"**{faults['total']}**"])
    lines = ["## Faults injected", ""]
    lines += _table(["Fault", *(AREA_LABELS.get(a, a) for a in areas), "Total"], rows)
    lines += [
        "",
        f"Counted as they fired: {faults['proxy_faults_injected']} by the fault proxies (their own counters agree with "
        f"the campaign's rule-by-rule count: {faults['proxy_rules_fired']}), {faults['emulator_injections']} answered "
        f"by the Hub emulator itself (with its rate-limit headers), {faults['token_expiries']} token expiries.",
        "",
    ]
    return lines


def outcomes_section(figures: dict[str, Any]) -> list[str]:
    ops, data, wait = figures["operations"], figures["bytes"], figures["retry_wait"]
    rows = [
        ["Operations attempted", str(ops["attempted"])],
        ["Completed, result verified against the source", str(ops["completed"])],
        ["Failed cleanly (typed `DockerHubError` naming the request)", str(ops["failed_cleanly"])],
        ["Failed with an untyped or unclear error (must be 0)", str(ops["failed_unclearly"])],
        ["**Corrupt or partial result accepted (must be 0)**", f"**{ops['corrupt_accepted']}**"],
        [
            "Non-idempotent request re-sent after the server may have acted (must be 0)",
            str(ops["non_idempotent_resent"]),
        ],
        ["Outcomes that broke the plan (must be 0)", str(ops["unexpected"])],
        ["Blob bytes pushed (completed pushes)", _bytes(data["payload_pushed"])],
        ["Bytes re-sent, as counted by the push engine (`PushResult.bytes_resent`)", _bytes(data["resent_by_client"])],
        ["Extra bytes that reached the registry (proxy count minus payload)", _bytes(data["extra_at_registry"])],
        ["Bytes sent by pushes that failed", _bytes(data["sent_by_failed_pushes"])],
        [
            "Total retry wait requested (recorded, not slept)",
            f"{wait['total_s']:.1f} s over {wait['sleeps']} sleeps (longest {wait['longest_s']:.1f} s)",
        ],
        ["Most sends of one request (retries, plus one re-send after a 401 challenge)", str(figures["max_attempts"])],
    ]
    lines = ["## Outcomes", "", *_table(["Figure", "Value"], rows), ""]
    area_rows = [
        [
            AREA_LABELS.get(area, area),
            str(counts.get("attempted", 0)),
            str(counts.get("completed", 0)),
            str(counts.get("failed_cleanly", 0)),
        ]
        for area, counts in ops["by_area"].items()
    ]
    lines += [*_table(["Area", "Attempted", "Completed", "Failed cleanly"], area_rows), ""]
    failures = ", ".join(f"{name} {count}" for name, count in sorted(ops["failures_by_error"].items()))
    if ops["unexpected"] == 0:
        verdict = (
            "Every failure was planned (faults beyond every retry bound, `Retry-After` beyond `max_retry_wait`, "
            "non-idempotent requests whose reply was lost or timed out, a wrong expected digest), and every "
            "fault plan within the bounds completed"
        )
    else:
        verdict = f"{ops['unexpected']} outcome(s) broke the plan: see `problems` in `bench/results/reliability.json`"
    lines += [f"{verdict}. Failures by error: {failures or 'none'}.", ""]
    return lines


def bad_inputs_section(figures: dict[str, Any]) -> list[str]:
    rows = [[BAD_INPUT_LABELS.get(key, key), str(value)] for key, value in figures.items() if isinstance(value, int)]
    return [
        "## Bad inputs",
        "",
        "From `pytest tests/security` (`bench/results/bad_inputs.json`).",
        "",
        *_table(["Figure", "Value"], rows),
        "",
    ]


def render(figures: dict[str, Any], bad_inputs: dict[str, Any] | None) -> str:
    client = figures["client"]
    sizes = ", ".join(
        f"{size / 1024 / 1024:g} MiB" if size >= 1024 * 1024 else f"{size // 1024} KiB" for size in client["push_sizes"]
    )
    lines = [
        "# Reliability under faults",
        "",
        "Generated, never hand-typed: `pytest tests/reliability` runs a seeded fault-injection campaign and writes "
        "`bench/results/reliability.json`; `python scripts/reliability_report.py` renders this file from it.",
        "",
        f"Seed **{figures['seed']}** (replay with `RELIABILITY_SEED={figures['seed']} pytest tests/reliability`), "
        f"run on {figures['date']}, {figures['wall_time_s']} s wall time.",
        "",
        "Fault-injecting proxies stand in front of a real `docker-registry` 2.8 with token auth, of its token issuer "
        "(the registry's challenge realm points at the proxy) and of the Docker Hub / SCIM emulator. The campaign "
        f"pushes blobs of {sizes} in {client['chunk_size'] // 1024 // 1024} MiB chunks, copies images between "
        "repositories (mounted, and streamed between two registry addresses), waits for digests (`digest_state` "
        "and `DockerHubDigestTrigger` while the tag appears) and pages through Hub repositories, audit logs and SCIM "
        "users. "
        f"The client runs with a {client['timeout_s']:g} s timeout (held replies: {client['fault_hold_s']:g} s), "
        f"`max_retries` {client['max_retries']} and `max_retry_wait` {client['max_retry_wait_s']:g} s. Each operation "
        "either completes with its result checked against the source (blob pulled back, digest resolved, listing equal "
        "to the seeded items without duplicates) or fails with a typed error naming the request; the registry is "
        "checked for blobs under a wrong digest or truncated prefixes whatever the outcome; every `httpx` send is "
        "logged to catch a re-sent POST or PATCH.",
        "",
    ]
    lines += faults_section(figures)
    lines += outcomes_section(figures)
    if bad_inputs is not None:
        lines += bad_inputs_section(bad_inputs)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results", help="figures directory")
    parser.add_argument("--output", type=Path, default=ROOT / "RELIABILITY.md", help="Markdown file to write")
    args = parser.parse_args(argv)
    figures = _load(args.results / "reliability.json")
    if figures is None:
        print(f"{args.results / 'reliability.json'} not found: run `pytest tests/reliability` first", file=sys.stderr)
        return 1
    args.output.write_text(render(figures, _load(args.results / "bad_inputs.json")))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
