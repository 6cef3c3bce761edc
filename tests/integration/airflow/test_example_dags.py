"""The example DAGs import cleanly, fast, and without touching the network at parse time."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "example_dags"
EXPECTED = {
    "dockerhub_release_gate",
    "dockerhub_deploy_on_new_image",
    "dockerhub_scim_sync",
    "dockerhub_audit_export",
    "dockerhub_registry_housekeeping",
    "dockerhub_scout_regate",
}


def test_example_dags_import_without_errors_or_network(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models import DagBag

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access at DAG parse time: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    started = time.perf_counter()
    bag = DagBag(dag_folder=str(EXAMPLES), safe_mode=False)
    elapsed = time.perf_counter() - started
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXPECTED
    for dag_id in EXPECTED:
        assert bag.dags[dag_id].doc_md, f"{dag_id} documents what it shows"
    print(f"parsed {len(bag.dag_ids)} example DAGs in {elapsed * 1000:.0f} ms")
    assert elapsed < 10


def test_release_gate_wiring() -> None:
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES / "dockerhub_release_gate.py"), safe_mode=False)
    dag = bag.dags["dockerhub_release_gate"]
    promote = dag.get_task("promote")
    assert {t.task_id for t in promote.upstream_list} == {"supply_chain_gate", "scout_gate"}
    assert [o.uri for o in promote.outlets] == ["docker-image://docker.io/acme/app"]
    assert dag.get_task("wait_for_digest").deferrable and dag.get_task("wait_for_scout").deferrable
