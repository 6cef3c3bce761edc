"""1000 concurrent ``DockerHubDigestTrigger``s in one event loop: peak RSS, event-loop lag, time to fire.

The measured process (a fresh interpreter, like a triggerer) runs N triggers (default 1000) with
``condition="exists"`` and ``poll_interval=1.0`` on one connection, resolved from ``AIRFLOW_CONN_BENCH_TRIGGERS``,
against a token-auth registry (``TokenIssuer`` + ``LocalRegistry``) where the awaited tag does not exist yet.
The parent process pushes the tag about 5 s after the triggers started (from a thread: the parent's main thread
waits on the child's output), so nothing but the triggers runs in the measured process.

Measured in the child: ``ru_maxrss`` (peak RSS; started through a forking ``sh`` so the parent's peak does not
leak in), RSS before the triggers start, event-loop lag (a task sleeping 50 ms in a loop records actual minus
expected wake-up, until every trigger fired), time until every trigger fired. Counted in the parent: the token
issuer's requests by the triggers' user (expected 1: the triggers share one session and one token per scope),
and the registry's HTTP requests, from its log (``response completed`` lines at log level info).

Repeated ``--reps`` times (default 3), each with a fresh registry and triggerer process: the figures vary from
run to run (a run can tip into a state where the HTTP pool's queue eats the CPU, see bench/README.md), so every
rep is reported and a goal counts as met only when it is met in every rep.

Scenario and experiment switches (not part of the default run): ``--stall S`` freezes the registry (SIGSTOP, our
own child) for S seconds halfway to the push, so every poll piles up; ``--experiment-inflight N`` monkeypatches the
provider's async driver with a per-session limit of N in-flight requests, the change proposed in bench/README.md.

    python bench/triggers_1000.py [--quick] [--reps 3] [--triggers 1000] [--delay 5] [--stall S]
        [--experiment-inflight N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchutil import (
    OCI_MANIFEST,
    RESULTS,
    clean_spawn,
    cpu_seconds,
    machine_info,
    percentile,
    small_image,
    vm_rss_kib,
    write_result,
)

CONN_ID = "bench_triggers"
REPO = "bench/trig"
TAG = "ready"
TRIGGER_USER, TRIGGER_PASSWORD = "triggers", "triggers-secret"
PUSH_USER, PUSH_PASSWORD = "pusher", "pusher-secret"
LAG_PERIOD = 0.05
GOAL_RSS_MB = 150
GOAL_P99_LAG_MS = 200
FIRE_TIMEOUT = 120


# -- child: the triggerer ------------------------------------------------------------------------------------


async def run_triggers(count: int, poll_interval: float, fire_timeout: float) -> dict[str, Any]:
    from airflow_provider_dockerhub.triggers import base as trigger_base
    from airflow_provider_dockerhub.triggers.registry import DockerHubDigestTrigger

    loop = asyncio.get_running_loop()
    lags: list[float] = []
    mints_seen = 0
    sessions_seen = 0
    stop = asyncio.Event()

    async def lag_probe() -> None:
        nonlocal mints_seen, sessions_seen
        while not stop.is_set():
            expected = loop.time() + LAG_PERIOD
            await asyncio.sleep(LAG_PERIOD)
            lags.append(loop.time() - expected)
            for session, _users in list(trigger_base._SHARED.values()):
                mints_seen = max(mints_seen, session.state.registry_tokens.mints)
            sessions_seen = max(sessions_seen, len(trigger_base._SHARED))

    fired: list[float] = []
    statuses: dict[str, int] = {}

    async def watch(trigger: DockerHubDigestTrigger) -> None:
        # ``run()`` is an async generator; the triggerer takes the first event and then closes it.
        events = cast("AsyncGenerator[Any, None]", trigger.run())
        try:
            event = await events.__anext__()
        finally:
            await events.aclose()
        fired.append(time.time())
        status = str(event.payload.get("status"))
        statuses[status] = statuses.get(status, 0) + 1

    probe = asyncio.create_task(lag_probe())
    await asyncio.sleep(0.5)  # a lag baseline before the triggers start
    rss_before = vm_rss_kib()
    triggers = [
        DockerHubDigestTrigger(
            dockerhub_conn_id=CONN_ID, repository=REPO, tag=TAG, condition="exists", poll_interval=poll_interval
        )
        for _ in range(count)
    ]
    started = time.time()
    tasks = [asyncio.create_task(watch(t)) for t in triggers]
    print(f"READY {started}", flush=True)
    _done, pending = await asyncio.wait(tasks, timeout=fire_timeout)
    for task in pending:  # bounded: whatever has not fired by the deadline is cancelled and reported
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    stop.set()
    await probe
    errors = [repr(t.exception()) for t in tasks if not t.cancelled() and t.exception() is not None]
    return {
        "started": started,
        "fired_first": min(fired) if fired else None,
        "fired_last": max(fired) if fired else None,
        "fired": len(fired),
        "timed_out": len(pending),
        "task_errors": errors[:5],
        "statuses": statuses,
        "lag_ms": [round(x * 1000, 3) for x in lags],
        "rss_before_triggers_kib": rss_before,
        "rss_end_kib": vm_rss_kib(),
        "token_mints_seen": mints_seen,
        "shared_sessions_seen": sessions_seen,
        "sessions_left": len(trigger_base._SHARED),
    }


def patch_inflight_limit(limit: int) -> None:
    """EXPERIMENT, not the provider as shipped: bound each async session's in-flight requests with a semaphore
    (the provider change proposed in bench/README.md), so httpcore's pool never holds a long queue."""
    from airflow_provider_dockerhub.client.core import flow

    original = flow.AsyncDriver._perform

    async def _perform(self: flow.AsyncDriver, effect: flow.Effect) -> Any:
        if not isinstance(effect, flow.Send) or effect.stream:
            return await original(self, effect)
        semaphore = self.__dict__.get("_bench_inflight")
        if semaphore is None:
            semaphore = self.__dict__["_bench_inflight"] = asyncio.Semaphore(limit)
        async with semaphore:
            return await original(self, effect)

    flow.AsyncDriver._perform = _perform  # type: ignore[method-assign]


def child(count: int, poll_interval: float, fire_timeout: float) -> None:
    rss_start = vm_rss_kib()
    import airflow_provider_dockerhub.hooks.dockerhub
    import airflow_provider_dockerhub.triggers.registry  # noqa: F401 - import cost before the baseline

    inflight = int(os.environ.get("BENCH_TRIGGERS_INFLIGHT_LIMIT", "0"))
    if inflight > 0:
        patch_inflight_limit(inflight)

    rss_imported = vm_rss_kib()
    profile_path = os.environ.get("BENCH_TRIGGERS_PROFILE")
    if profile_path:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        data = profiler.runcall(asyncio.run, run_triggers(count, poll_interval, fire_timeout))
        with open(profile_path, "w") as handle:
            stats = pstats.Stats(profiler, stream=handle)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
    else:
        data = asyncio.run(run_triggers(count, poll_interval, fire_timeout))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    data.update(
        cpu_s=round(usage.ru_utime + usage.ru_stime, 2),
        rss_interpreter_kib=rss_start,
        rss_imported_kib=rss_imported,
        maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
    print(json.dumps(data), flush=True)


# -- parent ----------------------------------------------------------------------------------------------


def push_tag(url: str) -> str:
    from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession

    config_blob, manifest = small_image("triggers")
    config = ClientConfig.from_fields(PUSH_USER, PUSH_PASSWORD, {"registry_url": url, "allow_destructive": True})
    with DockerHubSession(config) as session:
        session.registry.upload_blob(REPO, config_blob)
        return session.registry.put_manifest(REPO, TAG, manifest, OCI_MANIFEST)


def registry_requests(log: str) -> dict[str, int]:
    """Requests by method and status from the registry's ``response completed`` log lines."""
    counts: dict[str, int] = {}
    for line in log.splitlines():
        if "response completed" not in line:
            continue
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        key = f"{fields.get('http.request.method', '?')} {fields.get('http.response.status', '?')}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def stop_child(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # our own child's process group (start_new_session)
        proc.wait()


def run_parent(
    count: int,
    *,
    delay: float,
    poll_interval: float,
    fire_timeout: float,
    profile: str | None,
    inflight: int,
    stall: float,
) -> dict[str, Any]:
    from airflow_provider_dockerhub.testing.registry import LocalRegistry, TokenAuth, connection_json
    from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

    users = {TRIGGER_USER: TRIGGER_PASSWORD, PUSH_USER: PUSH_PASSWORD}
    with (
        tempfile.TemporaryDirectory(prefix="bench-triggers-") as tmp,
        TokenIssuer(users=users) as issuer,
        LocalRegistry(Path(tmp) / "registry", auth=TokenAuth(issuer)) as registry,
    ):
        env = dict(
            os.environ,
            AIRFLOW_HOME=str(Path(tmp) / "airflow"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            **{f"AIRFLOW_CONN_{CONN_ID.upper()}": connection_json(registry.url, TRIGGER_USER, TRIGGER_PASSWORD)},
        )
        if profile:
            env["BENCH_TRIGGERS_PROFILE"] = profile
        if inflight:
            env["BENCH_TRIGGERS_INFLIGHT_LIMIT"] = str(inflight)

        log_offset = len(registry.log_text())
        command = [sys.executable, __file__, "--child", str(count), str(poll_interval), str(fire_timeout)]
        proc = subprocess.Popen(
            clean_spawn(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        timer = threading.Timer(fire_timeout + 60, stop_child, args=(proc,))
        timer.start()
        pushed: dict[str, float | str] = {}
        try:
            assert proc.stdout is not None
            ready = proc.stdout.readline()
            if not ready.startswith("READY"):
                raise RuntimeError(f"child did not start: {ready!r}\n{proc.stderr.read() if proc.stderr else ''}")
            started = float(ready.split()[1])

            def pusher() -> None:
                if stall > 0 and registry.pid is not None:
                    # Freeze the registry (our own child) mid-wait: every trigger's poll piles up in the pool.
                    time.sleep(max(0.0, started + delay / 2 - time.time()))
                    os.kill(registry.pid, signal.SIGSTOP)
                    pushed["stalled_at"] = time.time()
                    time.sleep(stall)
                    os.kill(registry.pid, signal.SIGCONT)
                time.sleep(max(0.0, started + delay - time.time()))
                pushed["digest"] = push_tag(registry.url)
                pushed["at"] = time.time()

            thread = threading.Thread(target=pusher, name="pusher")
            thread.start()
            registry_cpu0 = cpu_seconds(registry.pid) if registry.pid else 0.0
            out, err = proc.communicate()
            registry_cpu = (cpu_seconds(registry.pid) if registry.pid else 0.0) - registry_cpu0
            thread.join(timeout=30)
        finally:
            timer.cancel()
            stop_child(proc)
        if proc.returncode != 0 or not out.strip():
            raise RuntimeError(f"child failed ({proc.returncode}):\n{err[-4000:]}")
        data: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        tokens = [r for r in issuer.requests if r.user == TRIGGER_USER]
        data.update(
            pushed_at=pushed.get("at"),
            stalled_at=pushed.get("stalled_at"),
            pushed_digest=pushed.get("digest"),
            token_requests_by_triggers=len(tokens),
            token_scopes=sorted({" ".join(r.scopes) for r in tokens}),
            token_requests_total=issuer.count,
            registry_requests=registry_requests(registry.log_text()[log_offset:]),
            registry_cpu_s=round(registry_cpu, 2),
            poll_failures_logged=err.count("will poll again"),
            stderr_tail=err[-1500:],
        )
        return data


def summarize_run(data: dict[str, Any], triggers: int) -> dict[str, Any]:
    lags = data["lag_ms"]
    heads = sum(v for k, v in data["registry_requests"].items() if k.startswith("HEAD"))
    pushed_at = data["pushed_at"]
    first, last = data["fired_first"], data["fired_last"]
    all_fired = last is not None and not data["timed_out"]
    return {
        "triggers": triggers,
        "fired": data["fired"],
        "statuses": data["statuses"],
        "peak_rss_mib": round(data["maxrss_kib"] / 1024, 1),
        "peak_rss_mb": round(data["maxrss_kib"] * 1024 / 1e6, 1),
        "rss_after_imports_mib": round(data["rss_imported_kib"] / 1024, 1),
        "rss_before_triggers_mib": round(data["rss_before_triggers_kib"] / 1024, 1),
        "rss_growth_for_triggers_mib": round((data["maxrss_kib"] - data["rss_before_triggers_kib"]) / 1024, 1),
        "lag_p50_ms": round(percentile(lags, 0.5), 2),
        "lag_p99_ms": round(percentile(lags, 0.99), 2),
        "lag_max_ms": round(max(lags), 2),
        "lag_mean_ms": round(sum(lags) / len(lags), 2),
        "lag_samples": len(lags),
        "timed_out": data["timed_out"],
        "all_fired_after_start_s": round(last - data["started"], 3) if all_fired else None,
        "all_fired_after_push_s": round(last - pushed_at, 3) if all_fired and pushed_at else None,
        "first_fired_after_push_s": round(first - pushed_at, 3) if first and pushed_at else None,
        "push_after_start_s": round(pushed_at - data["started"], 3) if pushed_at else None,
        "token_requests_by_triggers": data["token_requests_by_triggers"],
        "token_mints_seen_in_session": data["token_mints_seen"],
        "shared_sessions_seen": data["shared_sessions_seen"],
        "registry_requests": data["registry_requests"],
        "registry_head_requests": heads,
        "triggerer_cpu_s": data["cpu_s"],
        "registry_cpu_s": data["registry_cpu_s"],
        "poll_failures_logged": data["poll_failures_logged"],
    }


def describe(summaries: list[dict[str, Any]], args: argparse.Namespace) -> str:
    def series(key: str, fmt: str) -> str:
        return "/".join("-" if s[key] is None else format(s[key], fmt) for s in summaries)

    reps = len(summaries)
    fired = sum(1 for s in summaries if s["all_fired_after_push_s"] is not None)
    rss_bad = sum(1 for s in summaries if s["peak_rss_mb"] >= GOAL_RSS_MB)
    lag_bad = sum(1 for s in summaries if s["lag_p99_ms"] >= GOAL_P99_LAG_MS)
    tokens = series("token_requests_by_triggers", "d")
    scenario = f", registry frozen {args.stall:g} s" if args.stall else ""
    experiment = f", EXPERIMENT in-flight limit {args.experiment_inflight}" if args.experiment_inflight else ""

    def verdict(bad: int) -> str:
        return "met" if bad == 0 else f"MISSED in {bad} of {reps}"

    return (
        f"triggers_1000 ({args.triggers} triggers, poll {args.poll_interval:g} s, tag pushed at +{args.delay:g} s"
        f"{scenario}{experiment}; per rep of {reps}): all fired in {fired} of {reps} reps, "
        f"{series('all_fired_after_push_s', '.2f')} s after the push; peak RSS {series('peak_rss_mb', '.0f')} MB "
        f"({summaries[0]['rss_before_triggers_mib']:.0f} MiB before the triggers); loop lag p50 "
        f"{series('lag_p50_ms', '.1f')} / p99 {series('lag_p99_ms', '.1f')} / max {series('lag_max_ms', '.1f')} ms; "
        f"triggerer CPU {series('triggerer_cpu_s', '.1f')} s; token requests {tokens}; goals: RSS < {GOAL_RSS_MB} MB "
        f"{verdict(rss_bad)}, p99 lag < {GOAL_P99_LAG_MS} ms {verdict(lag_bad)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 rep of 200 triggers, tag pushed after 3 s")
    parser.add_argument("--reps", type=int, default=3, help="independent runs (fresh registry and triggerer)")
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=5.0, help="seconds before the tag is pushed")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the triggerer (slows it; figures are off)")
    parser.add_argument(
        "--experiment-inflight",
        type=int,
        default=0,
        metavar="N",
        help="EXPERIMENT: monkeypatch a per-session limit of N in-flight requests (the proposed provider fix)",
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=0.0,
        metavar="S",
        help="scenario: freeze the registry (SIGSTOP) for S seconds halfway to the push",
    )
    parser.add_argument("--timeout", type=float, default=FIRE_TIMEOUT, help="give up on triggers after this")
    parser.add_argument("--child", nargs=3, metavar=("COUNT", "POLL", "TIMEOUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), float(args.child[1]), float(args.child[2]))
        return
    if args.quick:
        args.triggers, args.delay, args.reps = 200, 3.0, 1

    profile = str(RESULTS / "triggers_1000_profile.txt") if args.profile else None
    if profile:
        RESULTS.mkdir(exist_ok=True)
    runs: list[dict[str, Any]] = []
    for rep in range(args.reps):
        data = run_parent(
            args.triggers,
            delay=args.delay,
            poll_interval=args.poll_interval,
            fire_timeout=args.timeout,
            profile=profile if rep == 0 else None,
            inflight=args.experiment_inflight,
            stall=args.stall,
        )
        runs.append({"summary": summarize_run(data, args.triggers), "raw": data})
        print(f"  rep {rep + 1}: p99 lag {runs[-1]['summary']['lag_p99_ms']:.1f} ms", file=sys.stderr)
    summaries = [r["summary"] for r in runs]
    result = {
        "benchmark": "triggers_1000",
        "quick": args.quick,
        "reps": args.reps,
        "experiment_inflight_limit": args.experiment_inflight or None,
        "registry_stall_s": args.stall or None,
        "poll_interval": args.poll_interval,
        "delay": args.delay,
        "goals": {"peak_rss_mb_max": GOAL_RSS_MB, "lag_p99_ms_max": GOAL_P99_LAG_MS},
        "goal_rss_met_in_every_rep": all(s["peak_rss_mb"] < GOAL_RSS_MB for s in summaries),
        "goal_lag_met_in_every_rep": all(s["lag_p99_ms"] < GOAL_P99_LAG_MS for s in summaries),
        "summaries": summaries,
        "runs": runs,
        "machine": machine_info(),
    }
    write_result("triggers_1000", result)
    print(describe(summaries, args))


if __name__ == "__main__":
    main()
