"""Run every example DAG through a real Airflow deployment against the offline sandbox, then summarise.

``airflow standalone`` (scheduler, DAG processor, triggerer, API server; LocalExecutor on SQLite) runs the DAGs in
``example_dags/``; the sandbox (a real ``docker-registry`` with token auth, and the Docker Hub / SCIM / Scout
emulator) stands in for Docker Hub. The ``dockerhub_default`` connection lives in the metadata DB, so tasks and
triggers resolve it through the execution API, as in production. Deferrable sensors really defer to the
triggerer. Everything started here is stopped on exit. Exit status: 0 when every DAG run succeeded.

Usage: scripts/demo.sh (sets up the virtual environment first), or .venv/bin/python scripts/demo.py
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent
DAGS = {
    "dockerhub_release_gate": "manual",
    "dockerhub_deploy_on_new_image": "asset",
    "dockerhub_scim_sync": "schedule",
    "dockerhub_audit_export": "schedule",
    "dockerhub_registry_housekeeping": "schedule",
}
TERMINAL = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def wait_for(what: str, check: Any, timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def stop_group(process: subprocess.Popen[bytes], name: str, grace: float = 30) -> None:
    """SIGINT first (standalone shuts its components down on it), then SIGTERM, then SIGKILL, to the group.

    The group is swept with SIGKILL even after its leader exits: LocalExecutor workers and other grandchildren
    can outlive ``airflow standalone``, and nothing in the group may survive the demo.
    """
    try:
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10)):
            if process.poll() is not None:
                break
            os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    log(f"stopped {name}")


class Api:
    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)

    def login(self) -> None:
        # [core] simple_auth_manager_all_admins: a token without credentials (local demo only).
        token = self.client.get("/auth/token").json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        response = self.client.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def latest_run(self, dag_id: str) -> dict[str, Any] | None:
        runs = self.get(f"/api/v2/dags/{dag_id}/dagRuns", order_by="-run_after", limit=1)["dag_runs"]
        return runs[0] if runs else None

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        response = self.client.get(path, params={"map_index": map_index, "deserialize": True})
        return response.json().get("value") if response.status_code == 200 else None

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        items = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]
        return {t["task_id"] + ("" if t["map_index"] < 0 else f"[{t['map_index']}]"): t["state"] for t in items}


def airflow_env(port: int, sandbox: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFLOW_CONN_"))}
    output = DEMO / "output"
    output.mkdir(parents=True, exist_ok=True)
    env.update(
        AIRFLOW_HOME=str(DEMO / "airflow-home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        # Without this every task fails to start when the API server is not on 8080.
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        AIRFLOW_VAR_DOCKERHUB_SCIM_CSV=f"file://{sandbox['scim_csv']}",
        AIRFLOW_VAR_DOCKERHUB_DEMO_DIR=f"file://{output}",
        # The example DAGs' image Asset names the registry the sandbox serves (host:port, as image references do).
        DOCKERHUB_EXAMPLE_REGISTRY=sandbox["connection"]["extra"]["registry_url"].split("://", 1)[1],
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def scan_for_secrets(api: Api, runs: dict[str, dict[str, Any]], secrets: list[str]) -> dict[str, int]:
    """Occurrences of any secret in play in task logs, component logs, XCom values and rendered template fields.

    The secrets are the connection's password and SCIM token and every token the sandbox issued during the run
    (Hub JWTs, registry tokens). Airflow masks connection secrets, the provider masks every token it derives.
    """
    wanted = [s for s in set(secrets) if len(s) >= 8]
    found = {"task logs": 0, "component logs": 0, "xcom": 0, "rendered fields": 0}

    def count(text: str) -> int:
        return sum(text.count(secret) for secret in wanted)

    for path in (DEMO / "airflow-home" / "logs").rglob("*"):
        if path.is_file():
            found["task logs"] += count(path.read_text(errors="replace"))
    found["component logs"] += count((DEMO / "standalone.log").read_text(errors="replace"))
    for dag_id, run in runs.items():
        base = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances"
        for ti in api.get(base, limit=100)["task_instances"]:
            found["rendered fields"] += count(json.dumps(ti.get("rendered_fields") or {}))
            entries = api.get(f"{base}/{ti['task_id']}/xcomEntries", map_index=ti["map_index"])["xcom_entries"]
            for entry in entries:
                value = api.client.get(
                    f"{base}/{ti['task_id']}/xcomEntries/{entry['key']}",
                    params={"map_index": ti["map_index"], "deserialize": True},
                )
                found["xcom"] += count(value.text)
    return found


def summarise(api: Api, runs: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for dag_id, run in runs.items():
        run_id, state = run["dag_run_id"], run["state"]
        facts: list[str] = []
        if dag_id == "dockerhub_release_gate":
            push = api.xcom(dag_id, run_id, "push") or {}
            facts.append(f"pushed {push.get('repository')}@{push.get('digest')}")
            for gate in ("supply_chain_gate", "scout_gate"):
                report = api.xcom(dag_id, run_id, gate) or {}
                results = (report.get("report") or {}).get("results") or []
                marks = ", ".join(f"{r['id']}={r['status']}" for r in results)
                facts.append(f"{gate}: {'passed' if report.get('passed') else 'FAILED'} ({marks})")
            promote = api.xcom(dag_id, run_id, "promote") or {}
            facts.append(f"promoted to {promote.get('repository')}:{','.join(promote.get('tags') or [])}")
        elif dag_id == "dockerhub_deploy_on_new_image":
            facts.append(str((api.xcom(dag_id, run_id, "deploy") or {}).get("deployed")))
        elif dag_id == "dockerhub_scim_sync":
            plan = api.xcom(dag_id, run_id, "plan") or {}
            applied = api.xcom(dag_id, run_id, "apply")
            facts.append(
                "plan " + ", ".join(f"{k} {plan.get(k)}" for k in ("create", "update", "deactivate", "unchanged"))
            )
            facts.append("applied" if applied else "nothing applied")
        elif dag_id == "dockerhub_audit_export":
            export = api.xcom(dag_id, run_id, "export") or {}
            facts.append(f"{export.get('count')} events exported to {export.get('path')}")
        elif dag_id == "dockerhub_registry_housekeeping":
            expired = api.xcom(dag_id, run_id, "find_expired") or []
            facts.append(f"{len(expired)} expired digests found (dry run: nothing deleted)")
        lines.append(f"{dag_id:<34} {state:<8} " + "; ".join(facts))
        if state != "success":
            lines.append(f"{'':<34} tasks: {api.task_states(dag_id, run_id)}")
    return lines


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def start_sandbox(stack: ExitStack) -> dict[str, Any] | None:
    info_file = DEMO / "sandbox.json"
    sandbox_log = (DEMO / "sandbox.log").open("wb")
    stack.callback(sandbox_log.close)
    log("starting the sandbox (docker-registry with token auth, Docker Hub/SCIM/Scout emulator)")
    command = [sys.executable, "-m", "airflow_provider_dockerhub.testing.sandbox"]
    command += ["--workdir", str(DEMO / "sandbox"), "--info-file", str(info_file)]
    process = subprocess.Popen(command, stdout=sandbox_log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.callback(stop_group, process, "sandbox", 10)
    wait_for("the sandbox", lambda: info_file.exists() or process.poll() is not None, 120, 0.5)
    if process.poll() is not None:
        log((DEMO / "sandbox.log").read_text()[-3000:])
        return None
    info: dict[str, Any] = json.loads(info_file.read_text())
    return info


def start_airflow(stack: ExitStack, sandbox: dict[str, Any]) -> Api:
    port = free_port()
    env = airflow_env(port, sandbox)
    log("migrating the metadata DB and storing the dockerhub_default connection in it")
    airflow_cli = str(BIN / "airflow")
    subprocess.run([airflow_cli, "db", "migrate"], env=env, check=True, capture_output=True)
    connection = json.dumps(sandbox["connection"])
    subprocess.run(
        [airflow_cli, "connections", "add", "dockerhub_default", "--conn-json", connection],
        env=env,
        check=True,
        capture_output=True,
    )
    standalone_log = (DEMO / "standalone.log").open("wb")
    stack.callback(standalone_log.close)
    log(f"starting airflow standalone (API server on port {port}); log: {DEMO / 'standalone.log'}")
    process = subprocess.Popen(
        [airflow_cli, "standalone"], env=env, stdout=standalone_log, stderr=subprocess.STDOUT, start_new_session=True
    )
    stack.callback(stop_group, process, "airflow standalone")
    api = Api(f"http://127.0.0.1:{port}")

    def healthy() -> bool:
        try:
            health = api.client.get("/api/v2/monitor/health").json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("scheduler", "triggerer", "dag_processor")
        return all((health.get(p) or {}).get("status") == "healthy" for p in parts)

    wait_for("Airflow to be healthy", healthy, 300, 2)
    api.login()
    return api


def run_dags(api: Api) -> dict[str, dict[str, Any]]:
    wait_for(
        "the example DAGs to be parsed",
        lambda: len(api.get("/api/v2/dags", dag_id_pattern="dockerhub_")["dags"]) >= len(DAGS),
        180,
        2,
    )
    for dag_id in DAGS:
        api.send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    log("unpaused the example DAGs; the daily and weekly ones get their scheduled run now")
    api.send("POST", "/api/v2/dags/dockerhub_release_gate/dagRuns", {"logical_date": None})
    log("triggered dockerhub_release_gate; its promotion will trigger dockerhub_deploy_on_new_image")

    def finished() -> dict[str, dict[str, Any]] | None:
        runs = {dag_id: api.latest_run(dag_id) for dag_id in DAGS}
        done = all(run is not None and run["state"] in TERMINAL for run in runs.values())
        return runs if done else None  # type: ignore[return-value]

    try:
        runs: dict[str, dict[str, Any]] = wait_for("every example DAG run to finish", finished, 900, 5)
    except TimeoutError:
        log("timed out; current states below")
        runs = {dag_id: api.latest_run(dag_id) or {"dag_run_id": "-", "state": "none"} for dag_id in DAGS}
    return runs


def main() -> int:
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so everything started below is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    with ExitStack() as stack:
        sandbox = start_sandbox(stack)
        if sandbox is None:
            return 1
        api = start_airflow(stack, sandbox)
        runs = run_dags(api)
        standalone_log = (DEMO / "standalone.log").read_text(errors="replace")
        deferred = standalone_log.count("final_state=deferred")
        print("\nairflow-provider-dockerhub demo summary\n" + "=" * 40)
        for line in summarise(api, runs):
            print(line)
        print(f"tasks deferred to the triggerer: {deferred}; full log: {DEMO / 'standalone.log'}")
        secrets = json.loads((DEMO / "sandbox" / "secrets-in-play.json").read_text())
        leaks = scan_for_secrets(api, runs, secrets)
        print(
            f"secret scan of {len(secrets)} secrets in play (password, SCIM token, issued Hub and registry "
            f"tokens): {sum(leaks.values())} found " + str(leaks)
        )
        ok = all(run["state"] == "success" for run in runs.values()) and not any(leaks.values())
        log("all example DAGs succeeded" if ok else "some example DAGs did not succeed")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
