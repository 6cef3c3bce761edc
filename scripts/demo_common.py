"""What both demos share (scripts/demo.py: ``airflow standalone``; scripts/demo_distributed.py: CeleryExecutor):
the sandbox, the REST API client, triggering and waiting for every example DAG, the summary and its digest checks,
and the secret scan."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# The distributed demo has its own directory, so it can run while the standalone demo does (and each run starts from
# an empty directory of its own).
DEMO = ROOT / (".demo-distributed" if "--distributed" in sys.argv[1:] else ".demo")
BIN = Path(sys.executable).parent
DAGS = {
    "dockerhub_release_gate": "manual",
    "dockerhub_deploy_on_new_image": "asset",
    "dockerhub_scim_sync": "schedule",
    "dockerhub_audit_export": "schedule",
    "dockerhub_registry_housekeeping": "schedule",
    "dockerhub_scout_regate": "asset",  # nightly, and after each promotion (the demo's run)
}
TERMINAL = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(f"[demo] {time.strftime('%H:%M:%S')} {message}", flush=True)


def wait_for(what: str, check: Any, timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def stop_group(process: subprocess.Popen[bytes], name: str, grace: float = 30, first: int = signal.SIGINT) -> None:
    """``first`` (SIGINT: standalone shuts its components down on it), then SIGTERM, then SIGKILL, to the group.

    The group is swept with SIGKILL even after its leader exits: executor workers and other grandchildren can
    outlive their parent, and nothing in the group may survive the demo.
    """
    try:
        for sig, wait in ((first, grace), (signal.SIGTERM, 10)):
            if process.poll() is not None:
                break
            os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    log(f"stopped {name} (pid {process.pid})")


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

    def latest_run(self, dag_id: str, run_type: str | None = None) -> dict[str, Any] | None:
        """The newest run (of ``run_type``, e.g. ``asset_triggered``: a DAG on a timetable and an Asset may also
        have had its scheduled run)."""
        runs = self.get(f"/api/v2/dags/{dag_id}/dagRuns", order_by="-run_after", limit=20)["dag_runs"]
        return next((run for run in runs if run_type is None or run["run_type"] == run_type), None)

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        response = self.client.get(path, params={"map_index": map_index, "deserialize": True})
        return response.json().get("value") if response.status_code == 200 else None

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")  # type: ignore[no-any-return]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        items = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]
        return {t["task_id"] + ("" if t["map_index"] < 0 else f"[{t['map_index']}]"): t["state"] for t in items}


def dag_env(sandbox: dict[str, Any], shared: Path) -> dict[str, str]:
    """What the example DAGs read, identical in every component: Variables (object-storage URLs on ``shared``, the
    one directory every worker sees) and the registry their image Asset names."""
    (shared / "output").mkdir(parents=True, exist_ok=True)
    (shared / "builds").mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW_VAR_DOCKERHUB_SCIM_CSV": f"file://{sandbox['scim_csv']}",
        "AIRFLOW_VAR_DOCKERHUB_DEMO_DIR": f"file://{shared / 'output'}",
        # The release gate's build hands its OCI layout to the push through object storage, never a local path.
        "AIRFLOW_VAR_DOCKERHUB_RELEASE_STORAGE": f"file://{shared / 'builds'}",
        # The example DAGs' image Asset names the registry the sandbox serves (host:port, as image references do).
        "DOCKERHUB_EXAMPLE_REGISTRY": sandbox["connection"]["extra"]["registry_url"].split("://", 1)[1],
    }


def clean_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def scan_for_secrets(api: Api, runs: dict[str, dict[str, Any]], secrets: list[str], logs: list[Path]) -> dict[str, int]:
    """Occurrences of any secret in play in task logs, component logs, XCom values and rendered template fields.

    The secrets are the connection's password and SCIM token and every token the sandbox issued during the run
    (Hub JWTs, registry tokens). Airflow masks connection secrets, the provider masks every token it derives.
    ``logs``: component log files, and directories whose files are task and trigger logs.
    """
    wanted = [s for s in set(secrets) if len(s) >= 8]
    found = {"task logs": 0, "component logs": 0, "xcom": 0, "rendered fields": 0}

    def count(text: str) -> int:
        return sum(text.count(secret) for secret in wanted)

    for where in logs:
        files = [where] if where.is_file() else [p for p in where.rglob("*") if p.is_file()]
        for path in files:
            found["component logs" if where.is_file() else "task logs"] += count(path.read_text(errors="replace"))
    for dag_id, run in runs.items():
        if run["dag_run_id"] == "-":  # never ran
            continue
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


def verify_digests(api: Api, runs: dict[str, dict[str, Any]], sandbox: dict[str, Any]) -> tuple[bool, str]:
    """The digest the build computed is the one pushed, the one the sensor saw, the one promoted, the one the
    registry serves as ``release`` (and it holds every child manifest) and the one deployed."""
    from airflow_provider_dockerhub.client.core.config import ClientConfig
    from airflow_provider_dockerhub.client.session import DockerHubSession

    release = runs["dockerhub_release_gate"]["dag_run_id"]
    deploy = runs["dockerhub_deploy_on_new_image"]["dag_run_id"]
    built = api.xcom("dockerhub_release_gate", release, "build_image") or {}
    pushed = api.xcom("dockerhub_release_gate", release, "push") or {}
    seen = api.xcom("dockerhub_release_gate", release, "wait_for_digest")
    indexed = api.xcom("dockerhub_release_gate", release, "wait_for_scout")
    gated = api.xcom("dockerhub_release_gate", release, "scout_gate") or {}
    promoted = api.xcom("dockerhub_release_gate", release, "promote") or {}
    deployed = str((api.xcom("dockerhub_deploy_on_new_image", deploy, "deploy") or {}).get("deployed"))
    connection = sandbox["connection"]
    config = ClientConfig.from_fields(connection["login"], connection["password"], connection["extra"])
    with DockerHubSession(config) as session:
        served = session.registry.resolve_digest("acme/app", "release")
        children = [session.registry.get_manifest("acme/app", child).digest for child in pushed.get("manifests", [])]
    expected = built.get("index_digest")
    checks = {
        "pushed": pushed.get("digest"),
        "sensed": seen,
        "indexed": indexed,
        "gated": gated.get("digest"),
        "promoted": promoted.get("digest"),
        "served as release": served,
        "deployed": deployed.rpartition("@")[2],
    }
    wrong = {name: value for name, value in checks.items() if value != expected}
    complete = children == list(pushed.get("manifests", [])) and len(children) == 2
    ok = expected is not None and not wrong and complete
    text = f"{expected}: " + (
        f"built = pushed = sensed = indexed = gated = promoted = served as release = deployed; "
        f"{len(children)} child manifests served; the deploy checked gate report {gated.get('report_hash')}"
        if ok
        else f"MISMATCH {wrong}, child manifests {children}"
    )
    return ok, text


def size_text(count: int) -> str:
    """Bytes for a reader: the demo's default image is a few KB, its chaos push a few hundred MB."""
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.0f} {unit}"
    return f"{count} bytes"


def summarise(api: Api, runs: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for dag_id, run in runs.items():
        run_id, state = run["dag_run_id"], run["state"]
        if run_id == "-":
            lines.append(f"{dag_id:<34} {state}")
            continue
        facts: list[str] = []
        if dag_id == "dockerhub_release_gate":
            push = api.xcom(dag_id, run_id, "push") or {}
            facts.append(
                f"pushed {push.get('repository')}@{push.get('digest')} "
                f"({size_text(push.get('bytes_uploaded', 0))} uploaded)"
            )
            for gate in ("supply_chain_gate", "scout_gate"):
                report = api.xcom(dag_id, run_id, gate) or {}
                results = (report.get("report") or {}).get("results") or []
                marks = ", ".join(f"{r['id']}={r['status']}" for r in results)
                facts.append(f"{gate}: {'passed' if report.get('passed') else 'FAILED'} ({marks})")
            promote = api.xcom(dag_id, run_id, "promote") or {}
            facts.append(f"promoted to {promote.get('repository')}:{','.join(promote.get('tags') or [])}")
        elif dag_id == "dockerhub_deploy_on_new_image":
            deployed = api.xcom(dag_id, run_id, "deploy") or {}
            facts.append(f"{deployed.get('deployed')} (gate report {str(deployed.get('gate_report_hash'))[:19]})")
        elif dag_id == "dockerhub_scout_regate":
            drift = api.xcom(dag_id, run_id, "drift") or {}
            for detail in drift.get("details") or []:
                facts.append(
                    f"re-gated {str(detail.get('digest'))[:19]} {','.join(detail.get('tags') or [])}: "
                    f"{detail.get('status')}, {len(detail.get('new') or [])} new / {len(detail.get('fixed') or [])} "
                    f"fixed findings since the release gate"
                )
            facts.append(f"{drift.get('drifted', 0)} of {drift.get('digests', 0)} promoted digests drifted")
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
        else:
            facts.append(f"{run.get('run_type')} run; tasks {api.task_states(dag_id, run_id)}")
        lines.append(f"{dag_id:<34} {state:<8} " + "; ".join(facts))
        if state != "success":
            lines.append(f"{'':<34} tasks: {api.task_states(dag_id, run_id)}")
    return lines


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


def store_connection(env: dict[str, str], sandbox: dict[str, Any]) -> None:
    log("migrating the metadata DB and storing the dockerhub_default connection in it")
    airflow_cli = str(BIN / "airflow")
    subprocess.run([airflow_cli, "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [airflow_cli, "connections", "add", "dockerhub_default", "--conn-json", json.dumps(sandbox["connection"])],
        env=env,
        check=True,
        capture_output=True,
    )


def healthy(api: Api) -> bool:
    try:
        health = api.client.get("/api/v2/monitor/health").json()
    except (httpx.HTTPError, ValueError):
        return False
    parts = ("scheduler", "triggerer", "dag_processor")
    return all((health.get(p) or {}).get("status") == "healthy" for p in parts)


def run_dags(
    api: Api,
    release_conf: dict[str, Any] | None = None,
    during: Callable[[str], None] | None = None,
    timeout: float = 900,
    scheduled_first: bool = False,
) -> dict[str, dict[str, Any]]:
    """Unpause every example DAG (the scheduled ones get their run; with ``scheduled_first``, wait for those to
    finish), trigger the release gate with ``release_conf``, call ``during(release run id)`` (the chaos step),
    and wait for every run to finish."""

    def parsed() -> bool:
        found = {dag["dag_id"] for dag in api.get("/api/v2/dags", dag_id_pattern="dockerhub_", limit=100)["dags"]}
        return set(DAGS) <= found

    wait_for(f"the {len(DAGS)} example DAGs to be parsed", parsed, 300, 2)
    for dag_id in DAGS:
        api.send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    log("unpaused the example DAGs; the daily and weekly ones get their scheduled run now")
    if scheduled_first:
        scheduled = [dag_id for dag_id, kind in DAGS.items() if kind == "schedule"]

        def scheduled_done() -> bool:
            return all((api.latest_run(dag_id) or {}).get("state") in TERMINAL for dag_id in scheduled)

        wait_for("the scheduled runs to finish", scheduled_done, timeout, 3)
        log(f"the scheduled runs finished: {', '.join(scheduled)}")
    body: dict[str, Any] = {"logical_date": None, "conf": release_conf or {}}
    release = api.send("POST", "/api/v2/dags/dockerhub_release_gate/dagRuns", body)
    log(f"triggered dockerhub_release_gate {body['conf']}; its promotion will trigger dockerhub_deploy_on_new_image")
    if during is not None:
        during(release["dag_run_id"])

    def latest(dag_id: str) -> dict[str, Any] | None:
        return api.latest_run(dag_id, "asset_triggered" if DAGS[dag_id] == "asset" else None)

    def finished() -> dict[str, dict[str, Any]] | None:
        runs = {dag_id: latest(dag_id) for dag_id in DAGS}
        release_failed = (runs["dockerhub_release_gate"] or {}).get("state") == "failed"
        for dag_id, kind in DAGS.items():
            if kind == "asset" and runs[dag_id] is None and release_failed:  # no promotion: they never run
                runs[dag_id] = {"dag_run_id": "-", "state": "not triggered"}
        done = all(run is not None and run["state"] in TERMINAL | {"not triggered"} for run in runs.values())
        return runs if done else None  # type: ignore[return-value]

    try:
        runs: dict[str, dict[str, Any]] = wait_for("every example DAG run to finish", finished, timeout, 5)
    except TimeoutError:
        log("timed out; current states below")
        runs = {dag_id: latest(dag_id) or {"dag_run_id": "-", "state": "none"} for dag_id in DAGS}
    return runs


def report(
    api: Api, runs: dict[str, dict[str, Any]], sandbox: dict[str, Any], *, deferred: int, logs: list[Path], title: str
) -> bool:
    """Print the summary; True when every DAG succeeded, the digests agree and no secret leaked."""
    print(f"\n{title}\n" + "=" * len(title))
    for line in summarise(api, runs):
        print(line)
    all_ok = all(run["state"] == "success" for run in runs.values())
    digests_ok, digests = verify_digests(api, runs, sandbox) if all_ok else (False, "not checked: a DAG failed")
    print(f"digests: {digests}")
    print(f"tasks deferred to a triggerer: {deferred}; logs: {DEMO}")
    secrets = json.loads((DEMO / "sandbox" / "secrets-in-play.json").read_text())
    leaks = scan_for_secrets(api, runs, secrets, logs)
    print(
        f"secret scan of {len(secrets)} secrets in play (password, SCIM token, issued Hub and registry "
        f"tokens): {sum(leaks.values())} found " + str(leaks)
    )
    ok = all_ok and digests_ok and not any(leaks.values())
    log("all example DAGs succeeded, digests verified" if ok else "some example DAGs did not succeed")
    return ok
