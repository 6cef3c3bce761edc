"""The accepted-risk ledger: records need a reason and an acceptor, expire at the end of their day, match by the
engine's identity (any version of the package), the newest record for an identity is in force, nothing is deleted,
and concurrent writers do not lose each other's records."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airflow_provider_dockerhub.client.core.errors import InvalidInputError
from airflow_provider_dockerhub.client.policy.findings import Finding
from airflow_provider_dockerhub.client.policy.ledger import LedgerRecord, load_ledger, update_ledger

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
LOG4SHELL = Finding(
    "high-profile-vulnerabilities",
    "violation",
    "CVE-2021-44228",
    "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
)
RISK = {
    "policy": "high-profile-vulnerabilities",
    "id": "cve-2021-44228",
    "package": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.0",
    "reason": "JndiLookup removed",
    "expires": "2026-06-01",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [({"reason": ""}, "lacks"), ({"policy": None}, "lacks"), ({"expires": "next tuesday"}, "not a date")],
)
def test_a_record_must_say_what_why_and_until_when(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        LedgerRecord.parse({**RISK, **change}, accepted_by="carol", now=NOW)


def test_a_record_must_name_its_acceptor() -> None:
    with pytest.raises(InvalidInputError, match="no acceptor"):
        LedgerRecord.parse(RISK, now=NOW)


def test_matching_is_by_identity_and_a_day_lasts_until_its_end(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    ledger = update_ledger(path, [RISK], accepted_by="carol", now=NOW)
    (record,) = ledger.records
    assert record.accepted_by == "carol" and record.accepted_at == NOW.isoformat()
    assert ledger.acceptance(LOG4SHELL, "acme/app", NOW) == record  # another version of the same package
    assert ledger.acceptance(LOG4SHELL, "acme/app", datetime(2026, 6, 1, 23, 59, tzinfo=UTC)) == record
    assert ledger.acceptance(LOG4SHELL, "acme/app", datetime(2026, 6, 2, 0, 0, 1, tzinfo=UTC)) is None
    other = Finding("fixable-vulnerabilities", "violation", LOG4SHELL.id, LOG4SHELL.package)
    assert ledger.acceptance(other, "acme/app", NOW) is None  # another policy's finding


def test_the_newest_record_is_in_force_and_nothing_is_deleted(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    update_ledger(path, [{**RISK, "expires": "2027-01-01"}], accepted_by="carol", now=NOW)
    update_ledger(path, [{**RISK, "expires": "2026-01-01", "reason": "revoked"}], accepted_by="dave", now=NOW)
    ledger = load_ledger(path)
    assert ledger.revision == 2 and len(ledger.records) == 2
    assert ledger.acceptance(LOG4SHELL, None, NOW) is None  # the revocation supersedes the acceptance
    entries = sorted(path.iterdir())
    assert [json.loads(e.read_text())["records"][0]["accepted_by"] for e in entries] == ["carol", "dave"]
    assert {json.loads(e.read_text())["schema"] for e in entries} == {"airflow-provider-dockerhub/accepted-risks/v1"}


def test_repository_scope(tmp_path: Path) -> None:
    ledger = update_ledger(tmp_path / "l", [{**RISK, "repository": "acme/api"}], accepted_by="c", now=NOW)
    assert ledger.acceptance(LOG4SHELL, "acme/app", NOW) is None
    assert ledger.acceptance(LOG4SHELL, "acme/api", NOW) is not None


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger"

    def writer(name: str) -> None:
        for number in range(8):
            update_ledger(path, [{**RISK, "id": f"CVE-2026-{name}{number}"}], accepted_by=name, now=NOW)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("1", "2", "3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger = load_ledger(path)
    assert sorted(r.id for r in ledger.records) == sorted(f"CVE-2026-{n}{i}" for n in "123" for i in range(8))
    assert ledger.revision == 24 and all(p.suffix == ".json" and not p.name.startswith(".") for p in path.iterdir())
