"""The accepted-risk ledger: who accepted which finding (policy, CVE or licence, package purl), why, and until
when, kept in object storage so every worker and every retry sees the same decisions.

A gate reads it as a baseline source: a finding whose identity (the engine's: policy, ID, package purl of any
version) an active record covers is *accepted* (listed in the report with the acceptor and the reason) instead of
failing the gate; an expired record accepts nothing.

The ledger is a folder (an object-store prefix) of append-only entries, one object per update, named by time and
a random suffix: an update never rewrites what another wrote, so two writers at once cannot lose each other's
records (object stores offer no compare-and-swap that a read-modify-write of one file would need). Each entry is
written whole, to a temporary sibling renamed into place (``os.replace`` on a file system; one PUT on an object
store), so readers never see half of one. Nothing is deleted: a newer record for the same identity supersedes an
older one (a revocation is a record that expired), so the folder is also the audit trail.

Storage is any pathlib-like object (``airflow.sdk.ObjectStoragePath`` in the Airflow layer, ``pathlib.Path`` in
tests): the client stays free of Airflow.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from ..core.errors import InvalidInputError
from .evidence import purl_identity
from .findings import AcceptedRisk, Finding
from .suppress import parse_expiry

LEDGER_SCHEMA = "airflow-provider-dockerhub/accepted-risks/v1"
ANY_PACKAGE = "*"
ENTRY_SUFFIX = ".json"


class StoragePath(Protocol):
    """What the ledger needs of a path (``ObjectStoragePath`` and ``pathlib.Path`` both have it)."""

    @property
    def parent(self) -> Any: ...
    @property
    def name(self) -> str: ...
    def exists(self) -> bool: ...
    def read_bytes(self) -> bytes: ...
    def write_bytes(self, data: bytes) -> Any: ...
    def with_name(self, name: str) -> Any: ...
    def replace(self, target: Any) -> Any: ...
    def iterdir(self) -> Any: ...
    def __truediv__(self, name: str) -> Any: ...


def _parse_time(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        # A bare day accepts through the end of that day (UTC), as the allow-list's dates do.
        return datetime(value.year, value.month, value.day, 23, 59, 59, tzinfo=UTC)
    # The same reading as the allow-list's expiries (suppress.parse_expiry): a bare day or an RFC 3339 instant.
    parsed = parse_expiry(str(value), what)
    return _parse_time(parsed, what)


@dataclass(frozen=True)
class LedgerRecord:
    """One decision: ``policy``'s finding ``id`` in ``package`` (a purl, any version; ``*``: any package) is
    accepted by ``accepted_by`` for ``reason`` until ``expires`` (``None``: until superseded), optionally only
    in ``repository``. Identity matching is the engine's (:class:`findings.AcceptedRisk`)."""

    policy: str
    id: str
    package: str
    reason: str
    accepted_by: str
    accepted_at: str
    expires: str | None = None
    repository: str | None = None

    def key(self) -> tuple[str, str, str, str | None]:
        return (self.policy, self.id.strip().upper(), purl_identity(self.package), self.repository)

    def active(self, now: datetime) -> bool:
        until = _parse_time(self.expires, f"accepted risk {self.id}")
        return until is None or now <= until

    def as_accepted_risk(self) -> AcceptedRisk:
        package = None if self.package == ANY_PACKAGE else self.package
        return AcceptedRisk(self.id, self.policy, package, self.reason, self.expires, self.accepted_by)

    def covers(self, finding: Finding, repository: str | None, now: datetime) -> bool:
        if not self.active(now) or (self.repository and repository and self.repository != repository):
            return False
        return self.as_accepted_risk().matches(finding)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(
        cls, data: Mapping[str, Any], *, accepted_by: str | None = None, now: datetime | None = None
    ) -> LedgerRecord:
        """A record from a mapping (operator argument, the stored file); ``accepted_by``/``now`` fill new ones."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"an accepted risk must be a mapping, got {data!r}")
        missing = [k for k in ("policy", "id", "reason") if not str(data.get(k) or "").strip()]
        if missing:
            raise InvalidInputError(f"accepted risk {dict(data)!r} lacks {missing}: who accepts what must say why")
        who = str(data.get("accepted_by") or accepted_by or "").strip()
        if not who:
            raise InvalidInputError(f"accepted risk {data['id']}: no acceptor recorded (accepted_by)")
        expires = _parse_time(data.get("expires"), f"accepted risk {data['id']}")
        moment = _parse_time(data.get("accepted_at"), "accepted_at") or now or datetime.now(UTC)
        return cls(
            policy=str(data["policy"]).strip(),
            id=str(data["id"]).strip(),
            package=str(data.get("package") or data.get("purl") or ANY_PACKAGE).strip(),
            reason=str(data["reason"]).strip(),
            accepted_by=who,
            accepted_at=moment.isoformat(),
            expires=expires.isoformat() if expires else None,
            repository=str(data["repository"]).strip() if data.get("repository") else None,
        )


@dataclass
class Ledger:
    """Every decision ever recorded, in order; the last record for an identity is the one in force."""

    records: list[LedgerRecord] = field(default_factory=list)
    revision: int = 0

    def in_force(self) -> dict[tuple[str, str, str, str | None], LedgerRecord]:
        latest: dict[tuple[str, str, str, str | None], LedgerRecord] = {}
        for record in self.records:
            latest[record.key()] = record
        return latest

    def acceptance(self, finding: Finding, repository: str | None, now: datetime) -> LedgerRecord | None:
        """The active record covering this finding, if any (a named package and repository win over ``*``)."""
        candidates = [r for r in self.in_force().values() if r.covers(finding, repository, now)]
        candidates.sort(key=lambda r: (r.package == ANY_PACKAGE, r.repository is None))
        return candidates[0] if candidates else None

    def active(self, now: datetime) -> list[LedgerRecord]:
        return [r for r in self.in_force().values() if r.active(now)]

    def accepted_record(self, now: datetime) -> dict[str, Any]:
        """The engine's accepted-risk baseline (``PolicyReport.failures(baseline=...)``) of the active records."""
        return {"accepted": [r.as_accepted_risk().to_json() for r in self.active(now)]}

    def to_json(self) -> dict[str, Any]:
        return {"schema": LEDGER_SCHEMA, "revision": self.revision, "records": [r.to_json() for r in self.records]}

    def document(self) -> bytes:
        return json.dumps(self.to_json(), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: Any) -> Ledger:
        if not isinstance(data, Mapping) or data.get("schema") != LEDGER_SCHEMA:
            raise InvalidInputError(f"not an accepted-risk ledger (schema {LEDGER_SCHEMA!r} expected)")
        records = [LedgerRecord.parse(r) for r in data.get("records") or []]
        return cls(records, int(data.get("revision") or 0))


def load_ledger(path: StoragePath) -> Ledger:
    """Every entry under ``path``, oldest first; an absent folder is an empty ledger (nothing accepted yet)."""
    if not path.exists():
        return Ledger()
    entries = sorted(
        (p for p in path.iterdir() if p.name.endswith(ENTRY_SUFFIX) and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    ledger = Ledger()
    for entry in entries:
        try:
            data = json.loads(entry.read_bytes())
        except ValueError as exc:
            raise InvalidInputError(f"accepted-risk ledger entry {entry} is not JSON: {exc}") from exc
        ledger.records.extend(Ledger.from_json(data).records)
        ledger.revision += 1
    return ledger


def write_atomically(path: StoragePath, data: bytes) -> None:
    """Write ``data`` to a sibling temporary object, then rename it over ``path``."""
    parent = path.parent
    mkdir = getattr(parent, "mkdir", None)
    if callable(mkdir):
        mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    temporary.write_bytes(data)
    try:
        temporary.replace(path)
    except Exception:
        unlink = getattr(temporary, "unlink", None)
        if callable(unlink):
            unlink(missing_ok=True)
        raise


def update_ledger(
    path: StoragePath,
    add: Iterable[Mapping[str, Any] | LedgerRecord],
    *,
    accepted_by: str,
    now: datetime | None = None,
) -> Ledger:
    """Append decisions (each with its acceptor) as one new entry; returns the ledger as it now reads."""
    moment = now or datetime.now(UTC)
    new = [
        r if isinstance(r, LedgerRecord) else LedgerRecord.parse(r, accepted_by=accepted_by, now=moment) for r in add
    ]
    if not new:
        raise InvalidInputError("no accepted risks given")
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(8)}{ENTRY_SUFFIX}"
    write_atomically(path / name, Ledger(new).document())
    return load_ledger(path)
