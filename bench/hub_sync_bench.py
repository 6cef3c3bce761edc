"""Hub administration at scale, through the operators and an ``AIRFLOW_CONN_*`` connection, against the Hub
emulator served on loopback.

(a) SCIM sync of 10,000 users with 1 % drift (50 creates, 30 renames, 20 deactivations): requests sent (the goal
    is one listing pass plus one request per change: 10,000 / 200 + 100 = 150) and wall time; then the same
    input again (the goal: the listing pass only); then the reviewed-plan flow on a fresh copy: a dry run that
    writes the plan (the listing pass) and an apply pinned to it (its drift check is a listing pass, then one
    request per change: again 150).
(b) Audit-log export of 100,000 seeded events to a local JSON Lines file: peak memory growth of the export, measured
    in a fresh subprocess (peak RSS over the RSS just before the export, and tracemalloc's peak), compared with
    an export of 10,000 events. Paging keeps one page in memory, so the growth should stay flat, not grow 10x.

The emulator runs without spec validation here (what is measured is the client, not the validator; the contract
tests validate every request). Prints one line per part and writes ``bench/results/hub_sync_bench.json``.

    python bench/hub_sync_bench.py [--quick] [--part scim|audit|all]
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CONN_ID = "dh_bench"
SCIM_PAGE = 200  # ScimClient's page size, the API's maximum ``count``
AUDIT_START = datetime(2025, 1, 1, tzinfo=UTC)
WARMUP_EVENTS = 250
MIB = 1024 * 1024  # before AUDIT_START: a small export that loads every module and opens the pool first


def airflow_env(hub_url: str) -> dict[str, str]:
    """An isolated Airflow home and the connection the operators use, as deployments configure them."""
    home = os.environ.get("AIRFLOW_HOME") or tempfile.mkdtemp(prefix="bench-hub-airflow-")
    extra = {"hub_url": hub_url, "namespace": "acme", "scim_token": "scim-token", "allow_destructive": True}
    conn = {"conn_type": "dockerhub", "login": "alice", "password": "alice-pat", "extra": extra}
    return {
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        # One log line per SCIM change is right for a task log, not for a benchmark's output.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(conn),
    }


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# -- (a) SCIM sync --------------------------------------------------------------------------------------------


def scim_sync(users: int, creates: int, renames: int, deactivations: int, workdir: Path) -> dict[str, Any]:
    from airflow_provider_dockerhub.testing.hub import HubEmulator

    with HubEmulator(users={"alice": "alice-pat"}, orgs=("acme",), scim_token="scim-token") as emu:
        os.environ.update(airflow_env(emu.url))
        from airflow_provider_dockerhub.operators.scim import DockerHubScimSyncOperator

        emu.seed_scim_users(users)  # user000001@example.com ..., givenName "User", familyName "<i-1>"
        source = workdir / "users.csv"
        with source.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["userName", "givenName", "familyName"])
            for i in range(1, users - deactivations + 1):  # the last `deactivations` users left the company
                given = "Renamed" if i <= renames else "User"
                writer.writerow([f"user{i:06d}@example.com", given, str(i - 1)])
            for i in range(creates):
                writer.writerow([f"hire{i:05d}@example.com", "New", str(i)])

        def run(**kwargs: Any) -> tuple[dict[str, Any], float, list[str]]:
            emu.reset_log()
            op = DockerHubScimSyncOperator(
                task_id="scim_sync",
                allow_deactivation=True,
                max_deactivations=0.01,  # 1 %: this drift's 20 of 10,000 pass, a truncated export would not
                managed_domains=["example.com"],
                dockerhub_conn_id=CONN_ID,
                **({"source": str(source)} if "plan_sha256" not in kwargs else {}),
                **kwargs,
            )
            started = time.perf_counter()
            counts = op.execute({})
            elapsed = time.perf_counter() - started
            return counts, elapsed, [r.method for r in emu.requests]

        counts, elapsed, methods = run()
        expected = {"create": creates, "update": renames, "reactivate": 0, "deactivate": deactivations}
        assert {k: counts[k] for k in expected} == expected, counts
        assert counts["done"] == {**expected, "failed": 0}, counts
        pages = -(-users // SCIM_PAGE)
        second, second_elapsed, second_methods = run()
        repages = -(-(users + creates) // SCIM_PAGE)  # the hires are listed too now
        assert second["create"] == second["update"] == second["deactivate"] == 0, second

        # The reviewed-plan flow, from the same starting point: a dry run writes the plan, an apply is pinned to it.
        emu.reset()
        emu.seed_scim_users(users)
        plan_path = workdir / "plans" / "bench.json"
        dry, dry_elapsed, dry_methods = run(dry_run=True, plan_path=str(plan_path))
        pinned, pinned_elapsed, pinned_methods = run(plan_path=str(plan_path), plan_sha256=dry["plan_sha256"])
        assert pinned["done"] == {**expected, "failed": 0}, pinned
        return {
            "users": users,
            "plan": {k: counts[k] for k in (*expected, "unchanged")},
            "requests": len(methods),
            "list_requests": methods.count("GET"),
            "change_requests": len(methods) - methods.count("GET"),
            "goal_requests": pages + creates + renames + deactivations,
            "wall_s": round(elapsed, 3),
            "rerun_requests": len(second_methods),
            "rerun_goal_requests": repages,
            "rerun_wall_s": round(second_elapsed, 3),
            "dry_run_requests": len(dry_methods),
            "dry_run_wall_s": round(dry_elapsed, 3),
            "plan_bytes": plan_path.stat().st_size,
            "pinned_apply_requests": len(pinned_methods),
            "pinned_apply_list_requests": pinned_methods.count("GET"),
            "pinned_apply_change_requests": len(pinned_methods) - pinned_methods.count("GET"),
            "pinned_apply_wall_s": round(pinned_elapsed, 3),
        }


# -- (b) audit export memory ----------------------------------------------------------------------------------

CHILD = "--child-export"


def export_child(events: int, out_dir: Path) -> dict[str, Any]:
    """Runs in a fresh interpreter: warm up, then measure one export's memory (RSS peak, then tracemalloc)."""
    import tracemalloc

    from airflow_provider_dockerhub.operators.hub import DockerHubAuditLogExportOperator

    def export(start: datetime, end: datetime, name: str) -> tuple[dict[str, Any], float]:
        op = DockerHubAuditLogExportOperator(
            # Each export in its own root: an export root keeps a watermark, and a partition is never overwritten.
            task_id="audit_export",
            destination=str(out_dir / name.removesuffix(".jsonl") / name),
            start=start,
            end=end,
            dockerhub_conn_id=CONN_ID,
        )
        began = time.perf_counter()
        result = op.execute({})
        return result, time.perf_counter() - began

    # Imports, the connection lookup, the pool and the JSON paths are paid for here, not in the measurement.
    warm, _ = export(AUDIT_START - timedelta(seconds=WARMUP_EVENTS), AUDIT_START, "warmup.jsonl")
    assert warm["count"] == WARMUP_EVENTS, warm
    end = AUDIT_START + timedelta(seconds=events)
    gc.collect()
    rss_before = status_kib("VmRSS")
    try:  # "5" resets VmHWM to the current RSS (Linux >= 4.0), so the peak below is this export's own
        Path("/proc/self/clear_refs").write_text("5")
        peak_source = "VmHWM"
    except OSError:
        peak_source = "ru_maxrss"
    result, elapsed = export(AUDIT_START, end, "events.jsonl")
    peak = status_kib("VmHWM") if peak_source == "VmHWM" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result["count"] == events, result
    lines = sum(1 for _ in (out_dir / "events" / "events.jsonl").open())
    assert lines == events, lines

    # Python allocations only, on a second run (tracemalloc slows it down, so it is not the timed one).
    tracemalloc.start()
    export(AUDIT_START, end, "twin.jsonl")
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "events": events,
        "wall_s": round(elapsed, 3),
        "events_per_s": round(events / elapsed),
        "rss_before_kib": rss_before,
        "rss_peak_kib": peak,
        "rss_growth_kib": peak - rss_before,
        "peak_source": peak_source,
        "tracemalloc_peak_kib": traced_peak // 1024,
        "output_bytes": (out_dir / "events" / "events.jsonl").stat().st_size,
    }


def audit_export(sizes: list[int], workdir: Path) -> dict[str, Any]:
    from airflow_provider_dockerhub.testing.hub import HubEmulator

    runs = []
    for events in sizes:
        with HubEmulator(users={"alice": "alice-pat"}, orgs=("acme",)) as emu:
            start = AUDIT_START - timedelta(seconds=WARMUP_EVENTS)
            warm_end = AUDIT_START.isoformat().replace("+00:00", "Z")
            emu.seed_audit_events("acme", WARMUP_EVENTS + events, start=start, step_seconds=1)
            out_dir = workdir / f"audit-{events}"
            out_dir.mkdir()
            env = {**os.environ, **airflow_env(emu.url), "PYTHONPATH": str(ROOT)}
            # Run under a forking sh: Linux carries ru_maxrss across execve, and Python spawns with vfork, so a
            # child exec'ed directly would start with this process's peak (which holds the seeded emulator).
            command = [sys.executable, __file__, CHILD, str(events), str(out_dir)]
            done = subprocess.run(
                ["sh", "-c", '"$@"; exit $?', "sh", *command],
                capture_output=True,
                text=True,
                env=env,
                check=False,
                timeout=1800,
            )
            if done.returncode != 0:
                raise RuntimeError(f"export child failed:\n{done.stderr[-3000:]}")
            run = json.loads(done.stdout.strip().splitlines()[-1])
            # The measured export and its tracemalloc twin send the same pages; the warm-up's are left out.
            measured = [r for r in emu.requests if r.path == "/v2/auditlogs/acme" and r.query.get("to") != warm_end]
            run["requests_per_export"] = len(measured) // 2
            runs.append(run)
    small, large = runs[0], runs[-1]
    return {
        "runs": runs,
        "page_size": 100,
        "events_ratio": large["events"] / small["events"],
        "rss_growth_ratio": round(large["rss_growth_kib"] / max(1, small["rss_growth_kib"]), 2),
        "tracemalloc_peak_ratio": round(large["tracemalloc_peak_kib"] / max(1, small["tracemalloc_peak_kib"]), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 SCIM users; 2,000 vs 20,000 audit events")
    parser.add_argument("--part", choices=("scim", "audit", "all"), default="all", help="run one part only")
    args = parser.parse_args()
    users, drift = (2_000, (10, 6, 4)) if args.quick else (10_000, (50, 30, 20))
    sizes = [2_000, 20_000] if args.quick else [10_000, 100_000]

    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        workdir = Path(tmp)
        scim: dict[str, Any] | None = None
        audit: dict[str, Any] | None = None
        if args.part in ("scim", "all"):
            scim = scim_sync(users, *drift, workdir)
            print(
                f"scim sync: {scim['users']:,} users, plan {scim['plan']}: {scim['requests']} requests "
                f"({scim['list_requests']} list + {scim['change_requests']} changes; goal {scim['goal_requests']}) "
                f"in {scim['wall_s']:.2f} s; re-run {scim['rerun_requests']} requests in {scim['rerun_wall_s']:.2f} s; "
                f"dry run {scim['dry_run_requests']} requests ({scim['plan_bytes']:,} byte plan) + pinned apply "
                f"{scim['pinned_apply_requests']} requests ({scim['pinned_apply_list_requests']} list + "
                f"{scim['pinned_apply_change_requests']} changes) in {scim['pinned_apply_wall_s']:.2f} s",
                flush=True,
            )
        if args.part in ("audit", "all"):
            audit = audit_part(sizes, workdir)
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "scim_sync": scim,
        "audit_export": audit,
    }
    (RESULTS / "hub_sync_bench.json").write_text(json.dumps(result, indent=2) + "\n")


def audit_part(sizes: list[int], workdir: Path) -> dict[str, Any]:
    """The audit export's half, printed as before."""
    audit = audit_export(sizes, workdir)
    small, large = audit["runs"][0], audit["runs"][-1]
    print(
        f"audit export: {small['events']:,} events +{small['rss_growth_kib'] / 1024:.1f} MiB RSS "
        f"(tracemalloc peak {small['tracemalloc_peak_kib'] / 1024:.1f} MiB); {large['events']:,} events "
        f"+{large['rss_growth_kib'] / 1024:.1f} MiB RSS (tracemalloc peak "
        f"{large['tracemalloc_peak_kib'] / 1024:.1f} MiB) in {large['wall_s']:.1f} s "
        f"({large['events_per_s']:,} events/s, {large['requests_per_export']} requests, "
        f"{large['output_bytes'] / MIB:.0f} MiB written); "
        f"{audit['events_ratio']:.0f}x the events, {audit['rss_growth_ratio']}x the RSS growth",
        flush=True,
    )
    return audit


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == CHILD:
        print(json.dumps(export_child(int(sys.argv[2]), Path(sys.argv[3]))))
    else:
        main()
