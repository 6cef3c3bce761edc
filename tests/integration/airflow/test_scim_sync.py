"""DockerHubScimSyncOperator through real Airflow connections against the Hub emulator, in every adversarial mode.

The nightly job is the same in each mode: 250 provisioned users, an IdP export that drops 10 of them, renames 3,
brings one back and hires 5. What is asserted is exact: the changes planned and applied per user, the SCIM users
afterwards (every one of them), and a re-run that changes nothing. The emulator validates requests and responses
against Docker's spec; in ``insert_during_paging`` a user of another domain appears mid-listing (out of scope).

In ``ignore_page`` the server answers the first page to every ``startIndex``: no client can list more users than
one page holds, so for 251 users the exact outcome is a refusal before any change (a plan from a partial listing
would deactivate the unseen); listings of one page (the other tests) complete in every mode.
"""

# ruff: noqa: F811 - pytest fixtures imported from scim_fixtures are redefined as test arguments
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dockerhub.client.core.pagination import ListingError
from airflow_provider_dockerhub.operators.scim import DockerHubScimSyncOperator
from airflow_provider_dockerhub.testing.hub import HubEmulator
from tests.integration.airflow.scim_fixtures import (  # noqa: F401 - fixtures
    RESULTS,
    UNLISTABLE,
    conn,
    emulators,
    hub,
    mode_of,
    seeded,
    state,
    write_csv,
    writes,
)


def nightly(hub: HubEmulator, tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str, bool]]]:
    """The scenario: its export and the exact end state it must produce."""
    hub.seed_scim_users(250)  # user000001..250, active
    hub.seed_scim_users(1, active=False)  # user000251, deprovisioned earlier
    rows = [seeded(i, givenName="Renamed") if i <= 3 else seeded(i) for i in range(1, 241)]
    rows.append(seeded(251))
    rows += [{"userName": f"hire{i}@example.com", "givenName": "New", "familyName": f"Hire{i}"} for i in range(5)]
    expected = {r["userName"]: (r["givenName"], r["familyName"], True) for r in rows}
    expected.update({f"user{i:06d}@example.com": ("User", str(i - 1), False) for i in range(241, 251)})
    return write_csv(tmp_path / "users.csv", rows), expected


def test_nightly_sync_is_exact_in_every_mode(
    hub: HubEmulator, conn: Callable[..., str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source, expected = nightly(hub, tmp_path)
    mode = mode_of(request)
    op = DockerHubScimSyncOperator(
        task_id="scim",
        source=str(source),
        managed_domains=["example.com"],
        allow_deactivation=True,
        dockerhub_conn_id=conn(),
    )
    want = {"create": 5, "update": 3, "reactivate": 1, "deactivate": 10}
    if mode in UNLISTABLE:
        before = state(hub)
        with pytest.raises(ListingError, match="does not advance"):
            op.execute({})
        assert writes(hub) == [] and state(hub) == before
        RESULTS[mode] = {"expected": 0, "changed": 0, "exact": True}
        return
    result = op.execute({})
    assert {k: result[k] for k in want} == want
    assert result["done"] == {**want, "failed": 0}
    assert sorted(writes(hub)) == sorted([("POST", "/Users")] * 5 + [("PUT", "/Users/{id}")] * 14)
    assert len(result["changes"]) == 19 and all(c["outcome"] != "failed" for c in result["changes"])
    assert state(hub) == expected, "every SCIM user is exactly what the export says"
    assert hub.tokens_issued == 0, "SCIM goes with the SCIM token only: no Hub JWT is minted"

    hub.reset_log()
    again = DockerHubScimSyncOperator(
        task_id="scim", source=str(source), managed_domains=["example.com"], dockerhub_conn_id=conn()
    ).execute({})
    assert {k: again[k] for k in want} == dict.fromkeys(want, 0)
    assert writes(hub) == [] and state(hub) == expected
    RESULTS[mode] = {"expected": sum(want.values()), "changed": sum(result["done"][k] for k in want), "exact": True}


def test_dry_run_writes_a_plan_the_apply_is_pinned_to(
    hub: HubEmulator, conn: Callable[..., str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source, expected = nightly(hub, tmp_path)
    before = state(hub)
    plan_file = tmp_path / "plans" / "run-1.json"
    dry_run = DockerHubScimSyncOperator(
        task_id="plan",
        source=str(source),
        managed_domains=["example.com"],
        dry_run=True,
        plan_path=f"file://{plan_file}",
        dockerhub_conn_id=conn(),
    )
    if mode_of(request) in UNLISTABLE:
        with pytest.raises(ListingError):
            dry_run.execute({})
        assert not plan_file.exists(), "no plan from a partial listing"
        return
    dry = dry_run.execute({})
    assert writes(hub) == [] and state(hub) == before
    assert dry["plan_path"] == f"file://{plan_file}" and len(dry["plan_sha256"]) == 64
    document = json.loads(plan_file.read_text())
    assert {c["kind"] for c in document["changes"]} == {"create", "update", "reactivate", "deactivate"}
    assert dry["report_path"].endswith("run-1.report.json")
    assert [(c["user_name"], c["kind"]) for c in dry["changes"]][:2] == [
        ("user000241@example.com", "deactivate"),
        ("user000242@example.com", "deactivate"),
    ]
    json.dumps(dry)  # JSON primitives only

    apply = DockerHubScimSyncOperator(
        task_id="apply",
        plan_path=dry["plan_path"],
        plan_sha256=dry["plan_sha256"],
        allow_deactivation=True,
        dockerhub_conn_id=conn(),
    ).execute({})
    assert apply["applied"] is True and apply["plan_sha256"] == dry["plan_sha256"]
    assert apply["done"] == {"create": 5, "update": 3, "reactivate": 1, "deactivate": 10, "failed": 0}
    assert state(hub) == expected
    report = json.loads(Path(apply["report_path"].removeprefix("file://")).read_text())
    assert len(report["results"]) == 19 and {r["outcome"] for r in report["results"]} == {
        "created",
        "updated",
        "reactivated",
        "deactivated",
    }


def test_a_pinned_apply_refuses_a_changed_file_or_drifted_users(
    hub: HubEmulator, conn: Callable[..., str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    hub.seed_scim_users(20)
    users = [seeded(i) for i in range(1, 20)]  # user000020 leaves
    plan_file = tmp_path / "plan.json"
    # 20 users fit in one page, so this runs in every mode, ignore_page included.
    dry = DockerHubScimSyncOperator(
        task_id="plan", users=users, dry_run=True, plan_path=str(plan_file), dockerhub_conn_id=conn()
    ).execute({})

    def apply(sha: str) -> dict[str, Any]:
        return DockerHubScimSyncOperator(
            task_id="apply",
            plan_path=str(plan_file),
            plan_sha256=sha,
            allow_deactivation=True,
            dockerhub_conn_id=conn(),
        ).execute({})

    tampered = plan_file.read_bytes().replace(b"user000020", b"user000019")
    plan_file.write_bytes(tampered)
    hub.reset_log()
    with pytest.raises(AirflowFailException, match="not the pinned"):
        apply(dry["plan_sha256"])
    assert hub.requests == [], "refused before any request"

    plan_file.write_bytes(tampered.replace(b"user000019", b"user000020"))
    leaver = next(u for u in hub.scim.users.values() if u.user_name == "user000020@example.com")
    leaver.given_name = "Renamed by hand"  # the reviewed plan deactivated a user in another state
    with pytest.raises(AirflowFailException, match="drifted") as caught:
        apply(dry["plan_sha256"])
    assert "user000020@example.com" in str(caught.value)
    assert writes(hub) == [] and leaver.active is True

    leaver.given_name = "User"
    done = apply(dry["plan_sha256"])
    assert done["done"]["deactivate"] == 1 and leaver.active is False
    again = apply(dry["plan_sha256"])  # a retried apply: already in place, nothing sent
    assert again["done"]["deactivate"] == 0 and writes(hub) == [("PUT", "/Users/{id}")]


def test_the_example_dag_plans_then_applies_the_pinned_plan(
    airflow_db: str, airflow_conn: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shutil
    import subprocess
    import sys

    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(Path(__file__).resolve().parents[3] / "example_dags" / "dockerhub_scim_sync.py", dags)
    with HubEmulator(users={"alice": "alice-pat"}, orgs=("acme",), scim_token="scim-token") as emulator:
        emulator.seed_scim_users(8, domain="acme.example")
        emulator.scim.create("ci-bot@acme.example", {"givenName": "CI", "familyName": "Bot"})  # not in the IdP
        rows = [seeded(i) for i in range(1, 8)]  # user000008 left
        rows = [{**r, "userName": r["userName"].replace("example.com", "acme.example")} for r in rows]
        rows.append({"userName": "new.hire@acme.example", "givenName": "New", "familyName": "Hire"})
        source = write_csv(tmp_path / "users.csv", rows)
        monkeypatch.setenv("AIRFLOW_VAR_DOCKERHUB_SCIM_CSV", f"file://{source}")
        monkeypatch.setenv("AIRFLOW_VAR_DOCKERHUB_SCIM_PLANS", f"file://{tmp_path}/plans")
        extra = {"hub_url": emulator.url, "namespace": "acme", "scim_token": "scim-token", "allow_destructive": True}
        airflow_conn("dockerhub_default", login="alice", password="alice-pat", **extra)
        airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
        env = dict(os.environ, AIRFLOW__CORE__DAGS_FOLDER=str(dags))
        done = subprocess.run(
            [airflow, "dags", "test", "dockerhub_scim_sync"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        users = {u.user_name: u.active for u in emulator.scim.users.values()}
    assert users["user000008@acme.example"] is False and users["new.hire@acme.example"] is True
    assert users["ci-bot@acme.example"] is True, "protected_users: the service account is never deactivated"
    (plan_file,) = (tmp_path / "plans").glob("*[0-9].json")
    report = json.loads(plan_file.with_name(plan_file.stem + ".report.json").read_text())
    assert {(r["user_name"], r["outcome"]) for r in report["results"]} == {
        ("user000008@acme.example", "deactivated"),
        ("new.hire@acme.example", "created"),
    }
