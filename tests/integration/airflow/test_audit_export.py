"""The audit export job through a real Airflow connection against the Hub emulator, under every adversary mode.

What is asserted is the contract a compliance reader relies on: across a DAG's runs, every event of the audit log
lands in exactly one partition (late ingestion, a skipped interval, shifted pages, capped and ignored page sizes
notwithstanding), each partition's manifest matches its bytes, nothing is overwritten, and a retry resumes after
the pages it wrote. ``EXPORTS`` collects (mode, scenario, expected, exported) for the table printed at the end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client.core.pagination import RunawayListingError
from airflow_provider_dockerhub.client.hub.audit import event_key
from airflow_provider_dockerhub.client.hub.audit_export import STATE_NAME, stamp
from airflow_provider_dockerhub.operators.hub import DockerHubAuditLogExportOperator
from airflow_provider_dockerhub.testing.hub import ADVERSARY_MODES, HubEmulator
from tests.specs import spec_path

AUDIT = "/v2/auditlogs/acme"
# Twenty days ago at midnight: within Docker's retention, so only the test that asks for it sees the warning.
D1 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=20)
DAY = timedelta(days=1)
EXPORTS: list[tuple[str, str, int, int]] = []
MODES = ["none", *ADVERSARY_MODES]


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[HubEmulator]:
    mode = request.param
    with HubEmulator(
        spec_path("docker-hub-api.yaml"), users={"alice": "alice-pat"}, adversary=() if mode == "none" else {mode}
    ) as emu:
        yield emu
        assert emu.violations == [] and emu.response_violations == []


@pytest.fixture
def conn(airflow_conn: Callable[..., str], emulator: HubEmulator) -> str:
    return airflow_conn("dh_audit", login="alice", password="alice-pat", hub_url=emulator.url, namespace="acme")


def run(conn: str, root: Path, day: datetime, **kwargs: Any) -> dict[str, Any]:
    """The run of the interval ``[day, day + 1)``, executed (as the scheduler would) after the interval."""
    op = DockerHubAuditLogExportOperator(
        task_id="audit", destination=str(root), dockerhub_conn_id=conn, **{"lookback": 3 * DAY, **kwargs}
    )
    result: dict[str, Any] = op.execute({"data_interval_start": day, "data_interval_end": day + DAY})
    return result


def visible(emu: HubEmulator) -> dict[str, int]:
    """Every event the emulator now serves, by content key (as the API renders it), with its sequence number."""
    return {event_key(emu.state.audit_json(e)): e.seq for e in emu.state.audit.get("acme", _Empty()).events}


class _Empty:
    events: list[Any] = []


def exported(root: Path) -> list[str]:
    """The content keys of every line of every partition, checking each manifest against its partition."""
    keys: list[str] = []
    for manifest_path in sorted(root.glob("*.manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        partition = root / manifest_path.name.removesuffix(".manifest.json")
        data = partition.read_bytes()
        lines = [json.loads(line) for line in data.decode().splitlines()]
        assert manifest["sha256"] == hashlib.sha256(data).hexdigest() and manifest["bytes"] == len(data)
        assert manifest["count"] == len(lines)
        stamps = sorted(line["timestamp"] for line in lines)
        assert (manifest["first_event"], manifest["last_event"]) == ((stamps[0], stamps[-1]) if stamps else (None,) * 2)
        assert all(manifest["window"][0] <= s < manifest["window"][1] for s in stamps)
        keys.extend(event_key(line) for line in lines)
    assert not list(root.glob("_inflight/*")), "a finished run leaves no pages in flight"
    return keys


def seed_day(emu: HubEmulator, day: datetime, n: int) -> None:
    emu.seed_audit_events("acme", n, start=day + timedelta(hours=1), step_seconds=3600 * 20 / max(1, n))


def scenario(emu: HubEmulator, conn: str, root: Path, per_day: tuple[int, int, int], page_size: int) -> int:
    """Three days of events; day 1's run, day 2's run skipped (catchup off), day 3's and day 4's runs. Returns
    the highest sequence number that existed when the last run began (what that run can be asked to export)."""
    seed_day(emu, D1, per_day[0])
    run(conn, root, D1, page_size=page_size)
    seed_day(emu, D1 + DAY, per_day[1])  # day 2: its run never happens
    seed_day(emu, D1 + 2 * DAY, per_day[2])
    run(conn, root, D1 + 2 * DAY, page_size=page_size)
    last_seq = max([*visible(emu).values(), *(e.seq for _, e in emu.state.late_audit)])
    run(conn, root, D1 + 3 * DAY, page_size=page_size)
    return last_seq


@pytest.mark.parametrize(
    ("emulator", "per_day", "page_size"),
    [
        *((mode, (7, 6, 6), 5) for mode in MODES),  # the issue's 19 events, five to a page
        *((mode, (120, 80, 50), 100) for mode in MODES),  # 250 events in pages of up to 100 (caps bite)
    ],
    indirect=["emulator"],
    ids=[*(f"19-{m}" for m in MODES), *(f"250-{m}" for m in MODES)],
)
def test_every_event_is_exported_exactly_once(
    emulator: HubEmulator, conn: str, tmp_path: Path, per_day: tuple[int, int, int], page_size: int
) -> None:
    mode = next(iter(emulator.adversary.modes), "none")
    scenario_name = f"{sum(per_day)} events, pages of {page_size}"
    root = tmp_path / "audit"
    if mode == "ignore_page":
        # A server that ignores `page` never serves an empty page: the guard stops it, nothing is written.
        seed_day(emulator, D1, per_day[0])
        with pytest.raises(RunawayListingError, match=r"GET \S*/v2/auditlogs/acme: .* does not advance"):
            run(conn, root, D1, page_size=page_size)
        assert not (root / STATE_NAME).exists() and not list(root.glob("*.jsonl"))
        EXPORTS.append((mode, scenario_name, per_day[0], 0))
        return
    last_seq = scenario(emulator, conn, root, per_day, page_size)
    expected = {key for key, seq in visible(emulator).items() if seq <= last_seq}
    keys = exported(root)
    assert len(keys) == len(set(keys)), "an event was exported twice"
    assert set(keys) == expected
    seeded = sum(per_day)
    inserted = len(expected) - seeded
    assert inserted == (2 if mode == "insert_during_paging" else 0)  # runs 1 and 3 each shifted by one event
    if mode == "ingest_late":
        assert emulator.state.late_audit == [], "every late event was revealed and exported"
    EXPORTS.append((mode, scenario_name, len(expected), len(keys)))


@pytest.mark.parametrize("emulator", ["none"], indirect=True)
def test_the_issue_scenario_in_detail(emulator: HubEmulator, conn: str, tmp_path: Path) -> None:
    """19 events over three days: 7 on day 1, 2 more dated day 1 that arrive after day 1's run, 6 on day 2,
    whose run never happens, 4 on day 3. An export of each run's interval alone writes 11 of them (days 1 and 3);
    this one writes all 19, each once."""
    root = tmp_path / "audit"
    seed_day(emulator, D1, 7)
    late = [D1 + timedelta(hours=22), D1 + timedelta(hours=23)]
    first = run(conn, root, D1)
    assert first["count"] == 7 and first["window"] == [stamp(D1), stamp(D1 + DAY)]
    for when in late:  # ingested after day 1's run, dated day 1
        emulator.seed_audit_events("acme", 1, start=when, action="org.team.create", name="acme")
    seed_day(emulator, D1 + DAY, 6)  # day 2: its run is skipped
    seed_day(emulator, D1 + 2 * DAY, 4)
    third = run(conn, root, D1 + 2 * DAY)
    assert third["count"] == 2 + 6 + 4
    newest_day1 = datetime.fromisoformat(first["last_event"])
    assert third["window"] == [stamp(newest_day1 - 3 * DAY), stamp(D1 + 3 * DAY)]
    assert third["retention_warning"] is None
    state = json.loads((root / STATE_NAME).read_text())
    assert state["newest"] == third["last_event"] and state["exported_until"] == stamp(D1 + 3 * DAY)
    fourth = run(conn, root, D1 + 3 * DAY)
    assert fourth["count"] == 0  # the overlap re-read events already exported, all recognised
    keys = exported(root)
    assert len(keys) == len(set(keys)) == 19 == len(visible(emulator))
    assert sorted(p.name for p in root.glob("*.jsonl")) == sorted(Path(r["path"]).name for r in (first, third, fourth))


@pytest.mark.parametrize("emulator", ["none"], indirect=True)
def test_a_retry_resumes_after_the_last_written_page(
    emulator: HubEmulator, airflow_conn: Callable[..., str], tmp_path: Path
) -> None:
    conn = airflow_conn("dh_once", login="alice", password="alice-pat", hub_url=emulator.url, max_retries=0)
    emulator.seed_audit_events("acme", 60, start=D1 + timedelta(hours=1), step_seconds=60)
    root = tmp_path / "audit"
    query = emulator.state.query_audit

    def fail_page_3(account: str, **kwargs: Any) -> Any:
        if kwargs["page"] == 2:
            emulator.fail(AUDIT, 503)  # the next request, page 3, fails
        return query(account, **kwargs)

    emulator.state.query_audit = fail_page_3  # type: ignore[method-assign]
    with pytest.raises(Exception, match="503"):
        run(conn, root, D1, page_size=25, account="acme", pages_per_part=1)
    assert not list(root.glob("*.jsonl")) and not (root / STATE_NAME).exists()
    assert len(list(root.glob("_inflight/*/page-*.jsonl"))) == 2  # pages 1 and 2 are kept for the retry
    emulator.state.query_audit = query  # type: ignore[method-assign]
    emulator.seed_audit_events("acme", 3, start=D1 + timedelta(hours=3), step_seconds=1)  # newer: shifts pages
    emulator.reset_log()
    result = run(conn, root, D1, page_size=25, account="acme", pages_per_part=1)
    assert result["resumed_parts"] == 2 and result["count"] == 60
    queries = [r.query for r in emulator.requests if r.path == AUDIT]
    # The retry asks only up to the oldest written event's second (50 written: 01:10 is the oldest; `to` is
    # exclusive), so the shifted offsets cannot make it skip or repeat anything.
    assert queries[0]["to"] == stamp(D1 + timedelta(hours=1, minutes=10, seconds=1)) and queries[0]["page"] == "1"
    # The three events that arrived above the resume point are the next run's (inside its lookback).
    assert run(conn, root, D1 + DAY, page_size=25, account="acme")["count"] == 3
    keys = exported(root)
    assert len(keys) == len(set(keys)) == 63


@pytest.mark.parametrize("emulator", ["none"], indirect=True)
def test_outputs_are_never_overwritten_and_old_windows_warn(emulator: HubEmulator, conn: str, tmp_path: Path) -> None:
    emulator.seed_audit_events("acme", 3, start=D1 + timedelta(hours=1), step_seconds=60)
    fixed = tmp_path / "audit" / "events.jsonl"
    first = run(conn, fixed, D1)
    assert first["path"] == f"file://{fixed}" and first["count"] == 3
    before = fixed.read_bytes()
    with pytest.raises(AirflowFailException, match="already holds another export"):
        run(conn, fixed, D1 + DAY)
    assert fixed.read_bytes() == before
    with pytest.raises(ValueError, match="Template the partition"):
        DockerHubAuditLogExportOperator(task_id="t", destination="s3://b/{{ ds }}/events.jsonl")
    stable = "{{ var.value.get('audit_root', 's3://audit') }}/dockerhub"  # the same for every run: allowed
    assert DockerHubAuditLogExportOperator(task_id="t", destination=stable).destination == stable
    old = run(conn, tmp_path / "other", D1, retention=timedelta(days=7))
    assert old["retention_warning"] is not None and stamp(D1) in old["retention_warning"]
    assert first["retention_warning"] is None


def test_print_the_table() -> None:
    """Runs last in this module: the adversary modes x audit job table (also in the final report)."""
    if not EXPORTS:
        pytest.skip("run with the parametrized tests")

    def verdict(mode: str, expected: int, got: int) -> str:
        if mode == "ignore_page":
            return "RunawayListingError: task fails, nothing written, watermark unchanged"
        return "exact" if expected == got else "MISMATCH"

    rows = [f"| {m} | {s} | {e} | {x} | {verdict(m, e, x)} |" for m, s, e, x in EXPORTS]
    print("\n| mode | scenario | events expected | exported | |\n|---|---|---|---|---|\n" + "\n".join(rows))
    assert all(e == x for m, _, e, x in EXPORTS if m != "ignore_page")


@pytest.mark.parametrize("emulator", ["none"], indirect=True)
def test_a_cleared_old_run_exports_nothing_twice(emulator: HubEmulator, conn: str, tmp_path: Path) -> None:
    root = tmp_path / "audit"
    for day in range(5):
        seed_day(emulator, D1 + day * DAY, 3)
    for day in range(5):
        run(conn, root, D1 + day * DAY, lookback=DAY)
    again = run(conn, root, D1 + DAY, lookback=DAY)  # day 2, cleared and re-run after day 5's run
    assert (again["count"], again["path"], again["manifest"]) == (0, None, None)
    keys = exported(root)
    assert len(keys) == len(set(keys)) == 15
