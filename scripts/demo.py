"""Run every example DAG through a real Airflow deployment against the offline sandbox, then summarise.

``airflow standalone`` (scheduler, DAG processor, triggerer, API server; LocalExecutor on SQLite) runs the DAGs in
``example_dags/``; the sandbox (a real ``docker-registry`` with token auth, and the Docker Hub / SCIM / Scout
emulator) stands in for Docker Hub. The ``dockerhub_default`` connection lives in the metadata DB, so tasks and
triggers resolve it through the execution API, as in production. Deferrable sensors really defer to the
triggerer. Everything started here is stopped on exit. Exit status: 0 when every DAG run succeeded.

``--distributed`` runs scripts/demo_distributed.py instead: CeleryExecutor, two workers, two triggerers, chaos.

Usage: scripts/demo.sh [--distributed] (sets up the virtual environment first), or .venv/bin/python scripts/demo.py
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from contextlib import ExitStack
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


def airflow_env(port: int, sandbox: dict[str, Any]) -> dict[str, str]:
    env = clean_environ()
    env.update(dag_env(sandbox, DEMO / "shared"))
    env.update(
        AIRFLOW_HOME=str(DEMO / "airflow-home"),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        # Without this every task fails to start when the API server is not on 8080.
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{port}/execution/",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
    )
    return env


def start_airflow(stack: ExitStack, sandbox: dict[str, Any]) -> Api:
    port = free_port()
    env = airflow_env(port, sandbox)
    store_connection(env, sandbox)
    standalone_log = (DEMO / "standalone.log").open("wb")
    stack.callback(standalone_log.close)
    log(f"starting airflow standalone (API server on port {port}); log: {DEMO / 'standalone.log'}")
    process = subprocess.Popen(
        [str(BIN / "airflow"), "standalone"],
        env=env,
        stdout=standalone_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(stop_group, process, "airflow standalone")
    api = Api(f"http://127.0.0.1:{port}")
    wait_for("Airflow to be healthy", lambda: healthy(api), 300, 2)
    api.login()
    return api


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    if "--distributed" in sys.argv[1:]:
        import demo_distributed

        return demo_distributed.main()
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
        deferred = (DEMO / "standalone.log").read_text(errors="replace").count("final_state=deferred")
        logs = [DEMO / "standalone.log", DEMO / "airflow-home" / "logs"]
        ok = report(api, runs, sandbox, deferred=deferred, logs=logs, title="airflow-provider-dockerhub demo summary")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
