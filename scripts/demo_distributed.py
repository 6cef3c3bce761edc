"""The distributed demo: every example DAG under CeleryExecutor, with chaos, on this one machine.

Starts PostgreSQL (metadata DB) and Redis (Celery broker) from Debian's packages, the sandbox, then Airflow's
components as separate processes, each with its own ``AIRFLOW_HOME``, working directory and ``TMPDIR``: the API
server, the scheduler, the DAG processor, two triggerers and two Celery workers. The only directory the workers
share is ``.demo-distributed/shared``, reached as ``file://`` object storage (what a bucket is in production).

The release gate runs with a large payload layer. While its push uploads, the demo SIGKILLs the worker running it
(its whole process tree); the scheduler notices the missing heartbeats, and the task's retry runs on the other
worker. While the digest sensor is deferred (it waits for the build tag beside the push), the demo SIGKILLs the
triggerer holding its trigger; the other triggerer takes the trigger over, rebuilt from its serialized kwargs, and
it fires once the retried push lands. The summary says what was killed, when, and what recovered; the digests are
checked end to end. Everything started is stopped by PID. Exit status 0 when every DAG run succeeded.

Usage: scripts/demo.sh --distributed
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_common import (
    BIN,
    DEMO,
    Api,
    clean_environ,
    dag_env,
    free_port,
    healthy,
    log,
    report,
    run_dags,
    start_sandbox,
    stop_group,
    store_connection,
    wait_for,
)
from demo_common import wait_for as wait_until
from demo_services import descendants, has_ancestor, kill_tree, start_postgres, start_redis

RELEASE = "dockerhub_release_gate"
PAYLOAD_MB = 256  # the push takes seconds, long enough to be killed half way
CHUNK = 16 * 1024 * 1024  # the release gate's push chunk_size: a retry resumes at a chunk boundary
CONCURRENCY = 2  # per worker: two cores are all this machine has


@dataclass
class Component:
    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    killed_at: float | None = None

    @property
    def home(self) -> Path:
        return DEMO / self.name / "home"

    @property
    def log_file(self) -> Path:
        return DEMO / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, stack: ExitStack) -> None:
        workdir, tmp = DEMO / self.name, DEMO / self.name / "tmp"
        tmp.mkdir(parents=True)
        self.home.mkdir(parents=True)
        env = {**self.env, "AIRFLOW_HOME": str(self.home), "TMPDIR": str(tmp)}
        out = self.log_file.open("wb")
        stack.callback(out.close)
        self.process = subprocess.Popen(
            self.command, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        # SIGTERM: the components' own graceful shutdown (a Celery worker's warm shutdown).
        stack.callback(stop_group, self.process, self.name, 30, signal.SIGTERM)
        log(f"started {self.name} (pid {self.pid}, cwd {workdir}, TMPDIR {tmp})")


class RunEnded(Exception):
    pass


@dataclass
class Chaos:
    events: list[str] = field(default_factory=list)
    worker: Component | None = None
    triggerer: Component | None = None
    upload_at_kill: int = 0

    def note(self, text: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {text}")
        log(text)


def base_env(sandbox: dict[str, Any], database: str, broker: str, port: int) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = clean_environ()
    env.update(dag_env(sandbox, DEMO / "shared"))
    env.update(
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database,
        AIRFLOW__CELERY__BROKER_URL=broker,
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + database.replace("+psycopg2", ""),
        AIRFLOW__CELERY__WORKER_CONCURRENCY=str(CONCURRENCY),
        # One key and one secret for every component, as a real deployment shares them: connections are encrypted
        # with the Fernet key; task and trigger identity tokens are signed with the JWT secret.
        AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        # A killed worker's task is failed (then retried) after 20 s without heartbeats instead of 5 minutes.
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
        # A killed triggerer's triggers go to the other one after 15 s without heartbeats instead of 30.
        AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="3",
        AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="15",
    )
    return env


def components(env: dict[str, str], port: int) -> list[Component]:
    airflow = str(BIN / "airflow")
    made = [
        Component("api-server", [airflow, "api-server", "--port", str(port)], env),
        Component("scheduler", [airflow, "scheduler"], env),
        Component("dag-processor", [airflow, "dag-processor"], env),
    ]
    for number in (1, 2):
        trigger_logs = {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
        made.append(Component(f"triggerer-{number}", [airflow, "triggerer"], {**env, **trigger_logs}))
    for number in (1, 2):
        worker_logs = {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
        command = [airflow, "celery", "worker", "--concurrency", str(CONCURRENCY)]
        command += ["--celery-hostname", f"worker-{number}@%h"]
        made.append(Component(f"worker-{number}", command, {**env, **worker_logs}))
    return made


def upload_bytes() -> int:
    """Bytes the registry holds in open upload sessions (distribution's ``_uploads/<id>/data`` files)."""
    total = 0
    for data in (DEMO / "sandbox").rglob("_uploads/*/data"):
        try:
            total += data.stat().st_size
        except OSError:
            continue
    return total


def largest_upload(at_least: int) -> Path | None:
    """The registry's file of the biggest open upload session, once it holds ``at_least`` bytes."""
    sizes = []
    for data in (DEMO / "sandbox").rglob("_uploads/*/data"):
        with contextlib.suppress(OSError):
            sizes.append((data.stat().st_size, data))
    size, data = max(sizes, default=(0, None))
    return data if size >= at_least else None


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def saved_offsets() -> set[int]:
    """Offsets the push's resume store has recorded (one small JSON document per blob in flight)."""
    offsets = set()
    for state in (DEMO / "shared" / "builds" / "resume").rglob("*.json"):
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            offsets.add(int(json.loads(state.read_text()).get("offset")))
    return offsets


def kill_between_chunks(task_pid: int, data: Path, budget: float = 30.0) -> tuple[int, bool]:
    """Freeze the task (SIGSTOP to it and its children) at a point its next try can resume from, and return
    there: the registry holds a whole number of chunks, nothing more is on the wire, and the resume store has
    recorded exactly that offset (with the upload ``Location`` the registry answered it with: distribution 2.8
    refuses a ``Location`` whose state names another offset). Killed anywhere else (a chunk half sent, or the
    state not saved yet) the next try finds the session gone and sends the blob again: correct, but no resume.
    Returns the bytes the registry holds and whether such a point was caught within ``budget`` seconds (else
    the task is left frozen where it is, to be killed there)."""
    deadline = time.monotonic() + budget
    tree = [task_pid, *descendants(task_pid)]
    while time.monotonic() < deadline:
        size = file_size(data)
        if size < 0:
            break
        if size % CHUNK == 0 and size > 0 and size in saved_offsets():
            signal_all(tree, signal.SIGSTOP)
            time.sleep(0.3)  # anything already on the wire lands meanwhile
            if file_size(data) == size and size in saved_offsets():
                return size, True
            signal_all(tree, signal.SIGCONT)
        time.sleep(0.002)
    signal_all(tree, signal.SIGSTOP)
    return max(file_size(data), 0), False


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def open_uploads() -> int:
    return sum(1 for _ in (DEMO / "sandbox").rglob("_uploads/*/data"))


def holder_of_trigger(triggerers: list[Component], run_id: str) -> Component | None:
    """The triggerer running the sensor's trigger: it writes the trigger's log into its own AIRFLOW_HOME."""
    return next((t for t in triggerers if t.killed_at is None and trigger_logs(t, run_id)), None)


def trigger_logs(triggerer: Component, run_id: str) -> list[Path]:
    pattern = f"dag_id={RELEASE}/*/task_id=wait_for_digest/*trigger*"
    return [p for p in (triggerer.home / "logs").glob(pattern) if f"run_id={run_id}" in str(p)]


def chaos_step(api: Api, workers: list[Component], triggerers: list[Component], chaos: Chaos) -> Any:
    def step(run_id: str) -> None:
        try:
            kill_both(run_id)
        except RunEnded as ended:
            chaos.note(f"MISSED: {ended}")

    def kill_both(run_id: str) -> None:
        def ti(task_id: str) -> dict[str, Any]:
            return api.task_instance(RELEASE, run_id, task_id)

        def wait_for(what: str, check: Any, timeout: float, interval: float) -> Any:
            def unless_ended() -> Any:
                state = api.get(f"/api/v2/dags/{RELEASE}/dagRuns/{run_id}")["state"]
                if state in ("success", "failed"):
                    raise RunEnded(f"the release gate run ended ({state}) before {what}")
                return check()

            return wait_until(what, unless_ended, timeout, interval)

        wait_for("the push to start", lambda: ti("push")["state"] in ("running", "success"), 600, 0.5)
        threshold = PAYLOAD_MB * 1024 * 1024 * 2 // 5  # 40 %: several 16 MiB chunks acknowledged

        def uploading() -> Path | bool:
            return largest_upload(threshold) or ti("push")["state"] != "running"

        data = wait_for("the push to upload 40 % of its payload", uploading, 600, 0.2)
        push = ti("push")
        if push["state"] != "running" or not isinstance(data, Path):
            chaos.note(f"MISSED: the push finished ({push['state']}) before 40 % of its payload was seen")
            return
        pid = int(push.get("pid") or 0)
        holder = next((w for w in workers if pid and has_ancestor(pid, w.pid)), None)
        if holder is None:
            chaos.note(f"MISSED: no worker is an ancestor of the push's process {pid}")
            return
        size, boundary = kill_between_chunks(pid, data)
        victims = kill_tree(holder.pid)
        holder.killed_at, chaos.worker, chaos.upload_at_kill = time.time(), holder, size
        where = (
            f"between two chunks: {size // CHUNK} chunks of 16 MiB acknowledged and in the resume store"
            if boundary
            else "not at a resumable point (none caught in 30 s)"
        )
        chaos.note(
            f"SIGKILLed {holder.name} (pid {holder.pid} and {len(victims) - 1} child processes, the task's among "
            f"them) in the middle of the push: {size / 1e6:.0f} of {PAYLOAD_MB * 1.048576:.0f} MB in the registry's "
            f"upload session, {where}"
        )
        wait_for("the digest sensor to defer", lambda: ti("wait_for_digest")["state"] == "deferred", 600, 1)
        chaos.note("wait_for_digest is deferred (waiting in a triggerer for the build tag the push will write)")
        holding = wait_for(
            "the triggerer holding the sensor's trigger", lambda: holder_of_trigger(triggerers, run_id), 120, 1
        )
        if ti("wait_for_digest")["state"] != "deferred":
            chaos.note(f"MISSED: wait_for_digest is {ti('wait_for_digest')['state']}, no longer deferred")
            return
        victims = kill_tree(holding.pid)
        holding.killed_at, chaos.triggerer = time.time(), holding
        chaos.note(
            f"SIGKILLed {holding.name} (pid {holding.pid}, {len(victims)} processes) "
            "while wait_for_digest was deferred on it"
        )

        def taken_over() -> Component | None:
            return next((t for t in triggerers if t is not holding and trigger_logs(t, run_id)), None)

        other = wait_for("the other triggerer to take the trigger over", taken_over, 300, 1)
        chaos.note(f"{other.name} took the trigger over {time.time() - holding.killed_at:.0f} s after the kill")

    return step


def recovery(api: Api, run_id: str, chaos: Chaos, workers: list[Component]) -> list[str]:
    lines = list(chaos.events)
    tries = api.get(f"/api/v2/dags/{RELEASE}/dagRuns/{run_id}/taskInstances/push/tries")["task_instances"]
    for attempt in tries:
        where = next(
            (
                w.name
                for w in workers
                if any((w.home / "logs").glob(f"dag_id={RELEASE}/*/task_id=push/attempt={attempt['try_number']}.log"))
            ),
            "?",
        )
        lines.append(f"push try {attempt['try_number']}: {attempt['state']} on {where}")
    pushed = api.xcom(RELEASE, run_id, "push") or {}
    retry_log = [
        path
        for w in workers
        for path in (w.home / "logs").glob(f"dag_id={RELEASE}/*/task_id=push/attempt={len(tries)}.log")
    ]
    text = "".join(path.read_text(errors="replace") for path in retry_log)
    uploaded = int(pushed.get("bytes_uploaded") or 0)
    offsets = [
        (int(held), int(size))
        for held, size in re.findall(r"resuming the previous try's upload to \S+ at offset (\d+) of (\d+) bytes", text)
    ]
    if offsets:
        resumed = ", ".join(f"{held / 1e6:.0f} of {size / 1e6:.0f} MB" for held, size in offsets)
        sent = sum(size - held for held, size in offsets)
        lines.append(
            f"the retry resumed the killed try's upload session at {resumed} (state read from the resume store) "
            f"and sent the remaining {sent / 1e6:.0f} MB"
        )
    else:
        lines.append(f"the retry resumed no upload session: it sent the blobs again ({uploaded / 1e6:.0f} MB)")
    sensor = api.task_instance(RELEASE, run_id, "wait_for_digest")
    lines.append(f"wait_for_digest: {sensor['state']} (try {sensor['try_number']}), fired by the surviving triggerer")
    layout_left = any((DEMO / "shared" / "builds").rglob("oci-layout"))
    lines.append(
        f"left behind: {open_uploads()} open upload sessions in the registry, "
        f"{'an OCI layout' if layout_left else 'no OCI layout'} in shared storage"
    )
    return lines


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    with ExitStack() as stack:
        database = start_postgres(stack)
        broker = start_redis(stack)
        sandbox = start_sandbox(stack)
        if sandbox is None:
            return 1
        port = free_port()
        env = base_env(sandbox, database, broker, port)
        store_connection({**env, "AIRFLOW_HOME": str(DEMO / "cli-home")}, sandbox)
        parts = components(env, port)
        for part in parts:
            part.start(stack)
        workers = [p for p in parts if p.name.startswith("worker-")]
        triggerers = [p for p in parts if p.name.startswith("triggerer-")]
        api = Api(f"http://127.0.0.1:{port}")
        wait_for("Airflow to be healthy", lambda: healthy(api), 600, 2)
        wait_for("both Celery workers", lambda: all(b"ready." in w.log_file.read_bytes() for w in workers), 300, 2)
        api.login()
        log(f"Airflow is up: {len(parts)} components after {time.monotonic() - started:.0f} s")
        chaos = Chaos()
        step = chaos_step(api, workers, triggerers, chaos)
        # The scheduled DAGs run first: a worker killed while it also ran their tasks would fail those (a task
        # without retries fails once its heartbeats stop), and that is not what this demo shows.
        runs = run_dags(api, {"payload_mb": PAYLOAD_MB}, during=step, timeout=1500, scheduled_first=True)
        component_logs = [p.log_file for p in parts]
        deferred = sum(p.log_file.read_text(errors="replace").count("final_state=deferred") for p in workers)
        logs = [*component_logs, *(p.home / "logs" for p in parts)]
        title = "airflow-provider-dockerhub distributed demo summary (CeleryExecutor, 2 workers, 2 triggerers)"
        ok = report(api, runs, sandbox, deferred=deferred, logs=logs, title=title)
        print("chaos:")
        for line in recovery(api, runs[RELEASE]["dag_run_id"], chaos, workers):
            print(f"  {line}")
        killed_both = chaos.worker is not None and chaos.triggerer is not None
        print(f"wall time: {time.monotonic() - started:.0f} s")
        return 0 if ok and killed_both else 1


if __name__ == "__main__":
    sys.exit(main())
