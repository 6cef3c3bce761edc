"""Shared machinery of the cold-start scenario tests (``test_cold_start*.py`` here and in ``integration/airflow``).

A cold start is a fresh session (or hook) whose very first request is the operation under test: no earlier HEAD
has learned the registry's challenge, no token is cached. Warm-up requests hide bugs (the manifest DELETE by
digest failed on every authenticated registry for exactly that reason), so every scenario here starts cold.

What lives here: the registry kinds and identities, the rule that says what each identity must get, a token
service with a per-user ACL (the sandbox's has none), the HTTP request counter, and the collector that writes
``bench/results/cold_start.md`` when the session ends.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_dockerhub.client import (
    AuthenticationError,
    ClientConfig,
    DestructiveOperationRefused,
    DockerHubSession,
    PermissionDeniedError,
)
from airflow_provider_dockerhub.client.core.errors import PASSWORD_HINT
from airflow_provider_dockerhub.testing.oci import Image, digest, push_raw, push_referrers, referrer_artifact
from airflow_provider_dockerhub.testing.registry import BasicAuth, LocalRegistry, TokenAuth
from airflow_provider_dockerhub.testing.tls import make_test_ca
from airflow_provider_dockerhub.testing.token_issuer import Access, TokenIssuer

RESULTS_PATH = Path(__file__).resolve().parents[3] / "bench" / "results" / "cold_start.md"

REPOSITORY = "cold/app"
TAG = "v1"

# Registry kinds, in table order. The TLS ones come from fixtures of tests/integration/registry/conftest.py.
KINDS = ("token", "basic", "open", "tls-token", "tls-basic")
FULL, PULL_ONLY, ANONYMOUS, WRONG, GATE = "full", "pull-only", "anonymous", "wrong password", "no allow_destructive"
IDENTITIES = (FULL, PULL_ONLY, ANONYMOUS, WRONG, GATE)

ALICE = ("alice", "alice-secret")
READER = ("reader", "reader-secret")
TLS_FIXTURES = {"tls-token": "tls_token_registry", "tls-basic": "tls_basic_registry"}
# Only this kind's token service (``acl_registry``) knows a pull-only user: Basic and open registries have no
# such concept, and the TLS token service (the shared fixture) grants every user everything.
PULL_ONLY_KINDS = ("token",)


class AclTokenIssuer(TokenIssuer):
    """The sandbox token service plus a per-user ACL: users in ``pull_only`` are granted ``pull`` at most, as a
    Docker Hub read-only access token is. The sandbox's issuer grants every user whatever it asks for."""

    def __init__(self, users: dict[str, str], *, pull_only: frozenset[str], **options: Any) -> None:
        super().__init__(users, **options)
        self.pull_only = pull_only

    def grant(self, user: str | None, scopes: tuple[str, ...]) -> list[Access]:
        granted = super().grant(user, scopes)
        if user not in self.pull_only:
            return granted
        narrowed = [{**entry, "actions": [a for a in entry["actions"] if a == "pull"]} for entry in granted]
        return [entry for entry in narrowed if entry["actions"]]


@dataclass
class Target:
    """One registry kind under test: its registry, its token service (``None`` for Basic and open), the
    connection extra a client needs (a CA bundle over TLS), and what its seed put there."""

    kind: str
    registry: LocalRegistry
    issuer: TokenIssuer | None
    extra: dict[str, Any] = field(default_factory=dict)
    seed: Seed | None = None

    @property
    def auth(self) -> str:
        """``token``, ``basic`` or ``open``: what decides the outcome (TLS changes the transport only)."""
        return self.kind.removeprefix("tls-")

    @property
    def has_acl(self) -> bool:
        return isinstance(self.issuer, AclTokenIssuer)

    @property
    def anonymous_may_pull(self) -> bool:
        public = self.issuer.public_repositories if self.issuer is not None else None
        return public is None or REPOSITORY in public

    def credentials(self, identity: str) -> tuple[str | None, str | None]:
        if identity == PULL_ONLY:
            return READER
        if identity == ANONYMOUS:
            return None, None
        if identity == WRONG:
            return ALICE[0], "not-the-password"
        return ALICE

    def config(self, identity: str) -> ClientConfig:
        login, password = self.credentials(identity)
        extra = {"registry_url": self.registry.url, "allow_destructive": identity != GATE, **self.extra}
        return ClientConfig.from_fields(login, password, extra)

    def conn_fields(self, identity: str) -> dict[str, Any]:
        """Keyword arguments for the ``airflow_conn`` fixture: the same identity as an Airflow connection."""
        login, password = self.credentials(identity)
        fields: dict[str, Any] = {"registry_url": self.registry.url, "allow_destructive": identity != GATE}
        fields.update(self.extra)
        if login is not None:
            fields["login"], fields["password"] = login, password
        return fields

    def session(self, identity: str) -> DockerHubSession:
        return DockerHubSession(self.config(identity))

    def seeder(self) -> DockerHubSession:
        """A separate session with every right: prepares a scenario and checks its effect, never the one tested."""
        return self.session(FULL)

    def token_requests(self) -> int:
        return self.issuer.count if self.issuer is not None else 0

    def token_scopes(self) -> str:
        """The scope sets of the token requests since the last reset, for failure messages."""
        requests = self.issuer.requests if self.issuer is not None else []
        return "; ".join(" ".join(r.scopes) or "(no scope)" for r in requests)

    def reset_tokens(self) -> None:
        if self.issuer is not None:
            self.issuer.reset()


@dataclass(frozen=True)
class Seed:
    """What every target holds before its scenarios run: ``cold/app:v1`` and one referrer of it."""

    image: Image
    digest: str
    referrer: str


def seed(target: Target) -> Target:
    image = Image(files={"cold.txt": f"cold start on {target.kind}".encode()})
    with target.seeder() as session:
        pushed = push_raw(session.registry, REPOSITORY, image, TAG)
        artifact = referrer_artifact(image.manifest, "application/vnd.example.sbom", [("text/plain", b"sbom", None)])
        push_referrers(session.registry, REPOSITORY, pushed, [artifact])
    target.seed = Seed(image, pushed, digest(artifact[0]))
    return target


@contextlib.contextmanager
def acl_registry(workdir: str | os.PathLike[str]) -> Iterator[LocalRegistry]:
    """A token registry of its own: its token service grants ``reader`` only ``pull`` and treats every
    repository as private (anonymous gets nothing), which the shared ``token_registry`` cannot."""
    issuer = AclTokenIssuer(dict([ALICE, READER]), pull_only=frozenset({READER[0]}), public_repositories=frozenset())
    with issuer, LocalRegistry(Path(workdir), auth=TokenAuth(issuer)) as registry:
        yield registry


@contextlib.contextmanager
def tls_registries(workdir: Path) -> Iterator[dict[str, Any]]:
    """``test_ca``, ``tls_token_registry`` and ``tls_basic_registry`` as ``tests/integration/registry/conftest.py``
    makes them, for directories that conftest does not reach (the operator scenarios)."""
    ca = make_test_ca(workdir / "ca")
    files = ca.issue(workdir / "server")
    with (
        TokenIssuer(users=dict([ALICE]), tls=files) as issuer,
        LocalRegistry(workdir / "tls-token", auth=TokenAuth(issuer), tls=files) as token,
        LocalRegistry(workdir / "tls-basic", auth=BasicAuth(dict([ALICE])), tls=files) as basic,
    ):
        yield {"test_ca": ca, "tls_token_registry": token, "tls_basic_registry": basic}


def make_target(kind: str, request: pytest.FixtureRequest) -> Target:
    """The seeded target of ``kind`` from the fixtures in reach: ``acl_token_registry`` (the test module's),
    the root conftest's ``basic_registry``/``open_registry``, and the TLS fixtures where they exist."""
    if kind in TLS_FIXTURES:
        try:
            registry = request.getfixturevalue(TLS_FIXTURES[kind])
            ca = request.getfixturevalue("test_ca")
        except pytest.FixtureLookupError:
            pytest.skip(f"TLS fixtures ({TLS_FIXTURES[kind]}, test_ca) are not defined for this directory")
        extra: dict[str, Any] = {"registry_ca_bundle": str(ca.certificate)}
    else:
        registry = request.getfixturevalue("acl_token_registry" if kind == "token" else f"{kind}_registry")
        extra = {}
    issuer = registry.auth.issuer if isinstance(registry.auth, TokenAuth) else None
    return seed(Target(kind, registry, issuer, extra))


# -- what each identity must get -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """The outcome a user must see: ``error`` is ``None`` for success; ``hint`` must be in the message and
    ``not_hint`` must not (a pull-only identity is never told to check its password)."""

    error: type[BaseException] | None = None
    hint: str | None = None
    not_hint: str | None = None

    def label(self) -> str:
        if self.error is None:
            return "ok"
        if self.error is AuthenticationError:
            return (
                "AuthenticationError (password hint)"
                if self.hint == PASSWORD_HINT
                else "AuthenticationError (login hint)"
            )
        return self.error.__name__


NOT_APPLICABLE = None


def expect(target: Target, identity: str, *, write: bool, repository: bool = True, sends: bool = True) -> Expect | None:
    """The rule of the whole matrix. ``write``: needs push/delete (and ``allow_destructive``); ``repository``:
    needs a repository scope (``ping`` does not); ``sends``: makes any request at all (``parse_image`` does not).
    ``None``: the combination has no meaning (no pull-only user on Basic/open, the gate on a read)."""
    if identity == GATE:
        return Expect(DestructiveOperationRefused) if write else NOT_APPLICABLE
    if identity == PULL_ONLY and not target.has_acl:
        return NOT_APPLICABLE
    if not sends or target.auth == "open":
        # An open registry never challenges, so no credential is ever sent: a wrong one cannot fail.
        return Expect()
    if identity == WRONG:
        return Expect(AuthenticationError, hint=PASSWORD_HINT)
    if identity == ANONYMOUS:
        if target.auth == "basic":
            return Expect(AuthenticationError, hint="set the connection's login", not_hint="password")
        if not repository or (not write and target.anonymous_may_pull):
            return Expect()
        return Expect(PermissionDeniedError, hint="anonymous access may not", not_hint="password")
    if identity == PULL_ONLY and write:
        return Expect(PermissionDeniedError, hint="identity 'reader' may not", not_hint="password")
    return Expect()


def find_error(error: BaseException, wanted: type[BaseException]) -> BaseException | None:
    """``wanted`` in ``error`` or its causes: the Airflow layer turns permanent errors into
    ``AirflowFailException`` raised *from* the client's typed error."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, wanted):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


# -- counting what a cold start sends --------------------------------------------------------------------------


@dataclass
class Traffic:
    requests: list[str] = field(default_factory=list)

    @property
    def first(self) -> str | None:
        return self.requests[0] if self.requests else None


@contextlib.contextmanager
def traffic() -> Iterator[Traffic]:
    """Every request any sync httpx client sends inside the block (registry and token service alike), as
    ``METHOD path``: the driver sends through ``httpx.Client.send``, so this sees what goes on the wire."""
    seen = Traffic()
    original = httpx.Client.send
    lock = threading.Lock()

    def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        with lock:
            seen.requests.append(f"{request.method} {request.url.path}")
        return original(client, request, **kwargs)

    setattr(httpx.Client, "send", send)  # noqa: B010 - a class attribute swapped for the block, then restored
    try:
        yield seen
    finally:
        setattr(httpx.Client, "send", original)  # noqa: B010


# -- the results table -----------------------------------------------------------------------------------------

SECTIONS = {
    "methods": "RegistryClient methods (a fresh DockerHubSession each)",
    "operators": "Registry operators and the digest sensor (a fresh DockerHubHook from an AIRFLOW_CONN_* each)",
    "process": 'The first request of a new Python process (`subprocess.run([sys.executable, "-c", ...])`)',
}


@dataclass
class Cell:
    result: str
    tokens: int | None = None
    requests: int | None = None

    def render(self) -> str:
        if self.tokens is None:
            return self.result
        return f"{self.result} · {self.tokens} tok / {self.requests} req"


class Table:
    """Rows declared by the test modules at import, cells filled in by the tests; what did not run says so."""

    def __init__(self) -> None:
        self.rows: dict[str, list[str]] = {}
        self.cells: dict[tuple[str, str, str, str], Cell] = {}
        self.lock = threading.Lock()
        self.announced = False

    def declare(self, section: str, rows: list[str]) -> None:
        self.rows[section] = list(rows)

    def put(self, section: str, row: str, kind: str, identity: str, cell: Cell) -> None:
        with self.lock:
            self.cells[(section, row, kind, identity)] = cell

    def render(self) -> str:
        lines = [
            "# Cold-start scenarios",
            "",
            "Written by `tests/integration/registry/test_cold_start.py` and",
            "`tests/integration/airflow/test_cold_start_operators.py` (do not edit). Each cell is one operation as the",
            "first request of a fresh session: the outcome, the token requests it cost (token service count) and the",
            "HTTP requests it sent (token requests included). `n/a`: the identity has no meaning there (a pull-only",
            "user exists only where the token service has a per-user ACL, the `token` kind; a read has no write to",
            "gate). Identities: full = alice (push/pull), pull-only = a user the token service grants only `pull`,",
            "anonymous = no login (every repository private on the",
            "`token` registry, public on `tls-token`), wrong password = alice with a wrong secret, no",
            "allow_destructive = alice on a connection without `allow_destructive` (refused before any request).",
            "",
        ]
        for section in (s for s in SECTIONS if s in self.rows):  # fixed order, whatever the import order
            rows = self.rows[section]
            lines += [f"## {SECTIONS[section]}", ""]
            for kind in KINDS:
                lines += [f"### {kind}", "", "| operation | " + " | ".join(IDENTITIES) + " |"]
                lines.append("|---" * (len(IDENTITIES) + 1) + "|")
                for row in rows:
                    cells = [self.cells.get((section, row, kind, i), Cell("not run")).render() for i in IDENTITIES]
                    lines.append(f"| `{row}` | " + " | ".join(cells) + " |")
                lines.append("")
        return "\n".join(lines)

    def write(self) -> Path:
        RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_PATH.write_text(self.render())
        return RESULTS_PATH


TABLE = Table()


def write_table(request: pytest.FixtureRequest) -> None:
    """At the session's end (every module using it writes the same content: all that ran), with its path."""
    path = TABLE.write()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or TABLE.announced:
        return
    TABLE.announced = True
    # Teardown output is captured (and dropped for a passing test): the path is for the reader of the run.
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        reporter.write_line(f"\ncold-start table: {path}")


def record(section: str, row: str, target: Target | str, identity: str, cell: Cell) -> None:
    TABLE.put(section, row, target if isinstance(target, str) else target.kind, identity, cell)


def judge(error: BaseException | None, expected: Expect) -> tuple[str, list[str]]:
    """The outcome in the table's words, and what is wrong with it (empty: as expected). A mismatch shows
    both in the table, so a bug marked xfail stays visible there too."""
    problems: list[str] = []
    if error is None:
        actual = "ok"
        if expected.error is not None:
            problems.append(f"succeeded, expected {expected.error.__name__}")
    elif expected.error is not None and (typed := find_error(error, expected.error)) is not None:
        actual = expected.label()
        message = str(typed)
        if expected.hint is not None and expected.hint not in message:
            problems.append(f"{expected.hint!r} not in {message!r}")
        if expected.not_hint is not None and expected.not_hint in message:
            problems.append(f"{expected.not_hint!r} in {message!r}")
        if problems:
            actual = f"{type(typed).__name__} (wrong hint)"
    else:
        actual = type(error).__name__
        problems.append(f"{type(error).__name__}: {error}")
    label = actual if not problems else f"**{actual}** (expected {expected.label()})"
    return label, problems
