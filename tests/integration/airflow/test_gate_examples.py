"""The gate's example DAGs, task by task on the sandbox: the deploy refuses a digest that was never gated (no
hash in the Asset event, a report that does not hash to it, a failed gate) and deploys a gated one; the nightly
re-gate finds the promoted digest, gates it again and reports drift against the release gate's report."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client import DockerHubSession
from airflow_provider_dockerhub.operators.policy import DockerHubScoutPolicyGateOperator
from airflow_provider_dockerhub.testing.oci import SbomPackage
from airflow_provider_dockerhub.testing.sandbox import Sandbox
from airflow_provider_dockerhub.testing.scout_emulator import vulnerability
from tests.integration.scout_sandbox import LOG4J, push_built, wait_indexed

pytestmark = pytest.mark.registry
EXAMPLES = Path(__file__).resolve().parents[3] / "example_dags"
ZLIB = SbomPackage("zlib", "1.3.1", "Zlib", "pkg:apk/alpine/zlib@1.3.1")
POLICIES = ["fixable-vulnerabilities", "high-profile-vulnerabilities"]


class FakeTI:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


def dag(name: str) -> Any:
    from airflow.models import DagBag

    return DagBag(dag_folder=str(EXAMPLES / f"{name}.py"), safe_mode=False).dags[name]


def gate_run(conn: str, image: str, reports: str, **kwargs: Any) -> dict[str, Any]:
    operator = DockerHubScoutPolicyGateOperator(
        task_id="gate", image=image, policies=POLICIES, report_dir=reports, dockerhub_conn_id=conn, **kwargs
    )
    return dict(operator.execute({"ti": FakeTI()}))


def events(digest: str, **extra: Any) -> dict[Any, list[Any]]:
    module = __import__("dockerhub_deploy_on_new_image")
    return {module.APP_IMAGE: [SimpleNamespace(extra={"digest": digest, "repository": "acme/app", **extra})]}


@pytest.fixture
def examples_on_path(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    assert sandbox.registry is not None
    monkeypatch.setenv("DOCKERHUB_EXAMPLE_REGISTRY", sandbox.registry.host)
    monkeypatch.syspath_prepend(str(EXAMPLES))


def test_deploy_refuses_a_digest_never_gated_and_deploys_a_gated_one(
    examples_on_path: None, sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    reports = (tmp_path / "gate-reports").as_uri()
    good = push_built(sandbox_session, tmp_path, "acme/app", "good", platforms=("linux/amd64",), packages=[ZLIB])
    bad = push_built(sandbox_session, tmp_path, "acme/app", "bad", platforms=("linux/amd64",), packages=[LOG4J])
    for layout in (good, bad):
        wait_indexed(sandbox_conn, "acme/app", layout.digest)
    passed = gate_run(sandbox_conn, f"acme/app@{good.digest}", reports)
    failed = gate_run(sandbox_conn, f"acme/app@{bad.digest}", reports, on_failure="warn")
    assert passed["passed"] and not failed["passed"]
    verify = dag("dockerhub_deploy_on_new_image").get_task("verify_gated").python_callable

    with pytest.raises(AirflowFailException, match="never gated"):
        verify(reports, triggering_asset_events=events(good.digest))
    with pytest.raises(AirflowFailException, match="no gate report"):
        verify(reports, triggering_asset_events=events(good.digest, gate_report_hash="sha256:" + "0" * 64))
    with pytest.raises(AirflowFailException, match="passed=False"):
        verify(reports, triggering_asset_events=events(bad.digest, gate_report_hash=failed["report_hash"]))
    with pytest.raises(AirflowFailException, match="no gate report"):  # a good report, but for another digest
        verify(reports, triggering_asset_events=events(bad.digest, gate_report_hash=passed["report_hash"]))
    ok = verify(reports, triggering_asset_events=events(good.digest, gate_report_hash=passed["report_hash"]))
    assert ok["reference"] == f"acme/app@{good.digest}" and ok["report_hash"] == passed["report_hash"]


@pytest.mark.usefixtures("examples_on_path")
def test_nightly_regate_finds_the_promoted_digest_and_reports_drift(
    sandbox: Sandbox,
    airflow_conn: Any,
    sandbox_conn: str,
    sandbox_session: DockerHubSession,
    tmp_path: Path,
) -> None:
    connection = sandbox.connection
    airflow_conn("dockerhub_default", login=connection["login"], password=connection["password"], **connection["extra"])
    gate_reports = (tmp_path / "gate-reports").as_uri()
    regate_reports = (tmp_path / "regate-reports").as_uri()
    layout = push_built(sandbox_session, tmp_path, "acme/app", "release", platforms=("linux/amd64",), packages=[ZLIB])
    wait_indexed(sandbox_conn, "acme/app", layout.digest)
    released = gate_run(sandbox_conn, f"acme/app@{layout.digest}", gate_reports)
    assert released["passed"]

    # After the release, Scout learns of a new critical in zlib (a CVE published after the gate ran).
    assert sandbox.registry is not None
    image = sandbox.emulator.scout.images[(sandbox.registry.host, "acme/app", layout.manifests["linux/amd64"])]
    image.packages[0]["vulnerabilities"].append(vulnerability("CVE-2026-0001", "CRITICAL", fixed_by="1.3.2"))
    regate_dag = dag("dockerhub_scout_regate")
    targets = regate_dag.get_task("promoted").python_callable(gate_reports)
    assert [(t["digest"], t["tags"], t["gated"]["report_hash"]) for t in targets] == [
        (layout.digest, ["release"], released["report_hash"])
    ]
    again = gate_run(sandbox_conn, targets[0]["image"], regate_reports, on_failure="warn")
    summary = regate_dag.get_task("drift").python_callable(targets, [again], regate_reports)
    assert summary["digests"] == 1 and summary["drifted"] == 1 and summary["never_gated"] == 0
    (detail,) = summary["details"]
    assert detail["new"] == ["CVE-2026-0001"] and detail["fixed"] == [] and detail["status"] == "failed"
    written = json.loads(Path(detail["drift_report"].removeprefix("file://")).read_text())
    assert written["status_before"] == "passed" and written["status_after"] == "failed"
