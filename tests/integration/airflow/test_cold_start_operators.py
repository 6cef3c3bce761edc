"""Cold-start scenarios for the registry operators and the digest sensor's ``poke``: each runs on a fresh
``DockerHubHook`` built from an ``AIRFLOW_CONN_*`` connection (a connection id of its own, so not even the
sensor's process-wide poke hook is warm), against the token, Basic, open and TLS registries, for every identity.

Same rule and table as the client methods (``tests/integration/registry/cold_start_support.py``): the outcome
a user must see (the Airflow layer raises ``AirflowFailException`` *from* the client's typed error for
permanent failures; the typed error is looked for in the chain), the token requests it cost, and that a refused
write sent nothing.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import airflow_provider_dockerhub.operators.registry as registry_operators
import airflow_provider_dockerhub.sensors.registry as registry_sensors
from airflow_provider_dockerhub.operators.registry import (
    DockerHubCopyImageOperator,
    DockerHubDeleteManifestOperator,
    DockerHubPushBlobOperator,
    DockerHubPushImageOperator,
)
from airflow_provider_dockerhub.sensors.registry import DockerHubDigestSensor
from airflow_provider_dockerhub.testing.oci import OCI_MANIFEST, Image, digest, push_raw, write_layout
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from tests.integration.registry.cold_start_support import (
    ANONYMOUS,
    GATE,
    IDENTITIES,
    KINDS,
    PULL_ONLY,
    PULL_ONLY_KINDS,
    REPOSITORY,
    TABLE,
    TAG,
    WRONG,
    Cell,
    Target,
    expect,
    judge,
    make_target,
    record,
    tls_registries,
    traffic,
)

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("cold_start_table")]

SECTION = "operators"


@dataclass
class Ctx:
    target: Target
    name: str
    conn_id: str
    tmp: Path
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """``run`` builds the operator (or sensor) on ``c.conn_id`` and runs it; ``tokens``/``denied`` as for the
    client methods: a successful cold run, and a write refused to an identity that may pull."""

    row: str
    operator: type
    run: Callable[[Ctx], Any]
    verify: Callable[[Any, Ctx, Any], None]
    write: bool = False
    tokens: int = 1
    denied: int = 1
    prepare: Callable[[Ctx, Any], None] | None = None


def context() -> dict[str, Any]:
    return {"outlet_events": defaultdict(lambda: SimpleNamespace(extra=None))}


def _push_blob(c: Ctx) -> Any:
    path = c.tmp / "blob"
    path.write_bytes(c.data["blob"])
    op = DockerHubPushBlobOperator(task_id="push", repository=REPOSITORY, path=str(path), dockerhub_conn_id=c.conn_id)
    return op.execute(context())


def _push_blob_from_storage(c: Ctx) -> Any:
    """The same push, the file and the resume state in object storage (``file://``, as a shared volume)."""
    path = c.tmp / "blob"
    path.write_bytes(c.data["blob"])
    op = DockerHubPushBlobOperator(
        task_id="push",
        repository=REPOSITORY,
        path=f"file://{path}",
        resume_store=f"file://{c.tmp}/resume",
        dockerhub_conn_id=c.conn_id,
    )
    return op.execute({**context(), **run_identity()})


def run_identity() -> dict[str, Any]:
    """What a resume store keys its state by: the task instance's dag, run, task and map index."""
    return {"ti": SimpleNamespace(dag_id="cold", run_id="manual__1", task_id="push", map_index=-1)}


def _push_image(c: Ctx, storage: bool = False) -> Any:
    image = c.data["image"] = Image(files={"o": c.name.encode()})
    layout = write_layout(c.tmp / "layout", image.manifest, OCI_MANIFEST, [], image.blobs)
    op = DockerHubPushImageOperator(
        task_id="push",
        layout_path=f"file://{layout}" if storage else str(layout),
        repository=REPOSITORY,
        tags=[c.name],
        registry=c.target.registry.host,
        resume_store=f"file://{c.tmp}/resume" if storage else None,
        dockerhub_conn_id=c.conn_id,
    )
    return op.execute({**context(), **run_identity()} if storage else context())


def _copy(c: Ctx) -> Any:
    c.data["destination"] = f"cold/opcopy-{c.name}"
    op = DockerHubCopyImageOperator(
        task_id="copy",
        source=f"{REPOSITORY}:{TAG}",
        destination=f"{c.data['destination']}:promoted",
        registry=c.target.registry.host,
        dockerhub_conn_id=c.conn_id,
    )
    return op.execute(context())


def _delete(reference: Callable[[Ctx], str], dry_run: bool) -> Callable[[Ctx], Any]:
    def run(c: Ctx) -> Any:
        op = DockerHubDeleteManifestOperator(
            task_id="delete",
            repository=REPOSITORY,
            reference=reference(c),
            confirm_delete=True,
            dry_run=dry_run,
            dockerhub_conn_id=c.conn_id,
        )
        return op.execute(context())

    return run


def _poke(c: Ctx) -> Any:
    assert c.target.seed is not None
    sensor = DockerHubDigestSensor(
        task_id="wait",
        repository=REPOSITORY,
        tag=TAG,
        condition="equals",
        digest=c.target.seed.digest,
        dockerhub_conn_id=c.conn_id,
    )
    return sensor.poke({})


def _seed_image(c: Ctx, seeder: Any) -> None:
    c.data["digest"] = push_raw(seeder, REPOSITORY, Image(files={"d": c.name.encode()}), c.name)


def _new_blob(c: Ctx, seeder: Any) -> None:
    c.data["blob"] = f"operator blob of {c.name}".encode()


def _deleted(out: Any, c: Ctx, seeder: Any) -> None:
    assert (out["digest"], out["deleted"]) == (c.data["digest"], True)
    assert seeder.head_manifest(REPOSITORY, c.data["digest"]) is None


def _dry_run(out: Any, c: Ctx, seeder: Any) -> None:
    assert c.target.seed is not None
    assert (out["digest"], out["deleted"], out["dry_run"]) == (c.target.seed.digest, False, True)
    assert seeder.head_manifest(REPOSITORY, TAG) is not None


def _blob_pushed(out: Any, c: Ctx, seeder: Any) -> None:
    assert out["digest"] == digest(c.data["blob"]) and out["size"] == len(c.data["blob"])
    assert seeder.blob_exists(REPOSITORY, out["digest"])


def _image_pushed(out: Any, c: Ctx, seeder: Any) -> None:
    assert out["digest"] == digest(c.data["image"].manifest)
    assert seeder.resolve_digest(REPOSITORY, c.name) == out["digest"]


def _copied(out: Any, c: Ctx, seeder: Any) -> None:
    assert c.target.seed is not None
    assert out["digest"] == c.target.seed.digest
    assert seeder.resolve_digest(c.data["destination"], "promoted") == out["digest"]


def _poked(out: Any, c: Ctx, seeder: Any) -> None:
    assert c.target.seed is not None
    assert (out.is_done, out.xcom_value) == (True, c.target.seed.digest)


SCENARIOS = [
    Scenario(
        "DockerHubPushBlobOperator",
        DockerHubPushBlobOperator,
        _push_blob,
        _blob_pushed,
        write=True,
        prepare=_new_blob,
    ),
    # A transfer asks everything (HEADs, uploads, manifest PUTs; for a copy within one registry also the source
    # reads and mounts) with its one scope set: one token.
    Scenario(
        "DockerHubPushBlobOperator (storage)",
        DockerHubPushBlobOperator,
        _push_blob_from_storage,
        _blob_pushed,
        write=True,
        prepare=_new_blob,
    ),
    Scenario("DockerHubPushImageOperator", DockerHubPushImageOperator, _push_image, _image_pushed, True, 1, 1),
    Scenario(
        "DockerHubPushImageOperator (storage)",
        DockerHubPushImageOperator,
        lambda c: _push_image(c, storage=True),
        _image_pushed,
        True,
        1,
        1,
    ),
    Scenario("DockerHubCopyImageOperator", DockerHubCopyImageOperator, _copy, _copied, True, 1, 1),
    Scenario(
        "DockerHubDeleteManifestOperator (dry run)",
        DockerHubDeleteManifestOperator,
        _delete(lambda c: TAG, dry_run=True),
        _dry_run,
    ),
    Scenario(
        "DockerHubDeleteManifestOperator (by digest)",
        DockerHubDeleteManifestOperator,
        _delete(lambda c: c.data["digest"], dry_run=False),
        _deleted,
        write=True,
        prepare=_seed_image,
    ),
    Scenario(
        "DockerHubDeleteManifestOperator (by tag)",
        DockerHubDeleteManifestOperator,
        _delete(lambda c: c.name, dry_run=False),
        _deleted,
        write=True,
        tokens=2,
        denied=2,
        prepare=_seed_image,
    ),
    Scenario("DockerHubDigestSensor.poke", DockerHubDigestSensor, _poke, _poked),
]

TABLE.declare(SECTION, [s.row for s in SCENARIOS])

# Bugs these scenarios found, as (row, kind, identity) -> reason: strict, so a fix turns them red until removed.
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


def _cases() -> Iterator[Any]:
    for kind in KINDS:
        for scenario in SCENARIOS:
            for identity in IDENTITIES:
                if (identity == GATE and not scenario.write) or (identity == PULL_ONLY and kind not in PULL_ONLY_KINDS):
                    record(SECTION, scenario.row, kind, identity, Cell("n/a"))
                    continue
                bug = KNOWN_BUGS.get((scenario.row, kind, identity))
                marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
                yield pytest.param(kind, identity, scenario, marks=marks, id=f"{kind}-{identity}-{scenario.row}")


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The TLS fixtures of tests/integration/registry/conftest.py do not reach this directory: the same here."""
    with tls_registries(tmp_path_factory.mktemp("cold-operators-tls")) as servers:
        yield servers


@pytest.fixture(scope="module")
def test_ca(tls_servers: dict[str, Any]) -> Any:
    return tls_servers["test_ca"]


@pytest.fixture(scope="module")
def tls_token_registry(tls_servers: dict[str, Any]) -> LocalRegistry:
    registry: LocalRegistry = tls_servers["tls_token_registry"]
    return registry


@pytest.fixture(scope="module")
def tls_basic_registry(tls_servers: dict[str, Any]) -> LocalRegistry:
    registry: LocalRegistry = tls_servers["tls_basic_registry"]
    return registry


@pytest.fixture(scope="module")
def targets(request: pytest.FixtureRequest) -> Callable[[str], Target]:
    """Each kind's seeded target, made on first use and kept for the module."""
    made: dict[str, Target] = {}
    return lambda kind: made[kind] if kind in made else made.setdefault(kind, make_target(kind, request))


@pytest.mark.parametrize(("kind", "identity", "scenario"), list(_cases()))
def test_operator_cold_start(
    *,
    targets: Callable[[str], Target],
    airflow_conn: Callable[..., str],
    kind: str,
    identity: str,
    scenario: Scenario,
    tmp_path: Path,
) -> None:
    target = targets(kind)
    expected = expect(target, identity, write=scenario.write)
    if expected is None:
        record(SECTION, scenario.row, target, identity, Cell("n/a"))
        pytest.skip(f"{identity} has no meaning on {target.kind} (its token service has no per-user ACL)")
    name = "-".join(f"{kind} {identity} {scenario.row}".lower().replace("(", "").replace(")", "").split())
    name = name.replace(".", "-")
    conn_id = airflow_conn(f"cold_{name.replace('-', '_')}", **target.conn_fields(identity))
    c = Ctx(target, name, conn_id, tmp_path)
    with target.seeder() as seeder:
        if scenario.prepare is not None:
            scenario.prepare(c, seeder.registry)
        target.reset_tokens()
        error: BaseException | None = None
        with traffic() as sent:
            try:
                out = scenario.run(c)
            except Exception as exc:  # judged below: the typed error is the expected outcome of most cases
                error = exc
        tokens = target.token_requests()
        label, problems = judge(error, expected)
        record(SECTION, scenario.row, target, identity, Cell(label, tokens, len(sent.requests)))
        assert not problems, f"{scenario.row} on {kind} as {identity}: {problems}; sent {sent.requests}"
        if error is None:
            scenario.verify(out, c, seeder.registry)
    if identity == GATE:
        assert sent.requests == [], "refused writes must be refused before any request"
    assert tokens == expected_tokens(target, identity, scenario, error is None), target.token_scopes()


def expected_tokens(target: Target, identity: str, scenario: Scenario, succeeded: bool) -> int:
    if target.issuer is None or identity == GATE:
        return 0
    if succeeded:
        return scenario.tokens
    if identity == WRONG:
        return 1
    may_pull = identity == PULL_ONLY or (identity == ANONYMOUS and target.anonymous_may_pull)
    return scenario.denied if may_pull and scenario.write else 1


def test_every_registry_operator_has_a_scenario() -> None:
    """An operator or sensor added to the registry modules without a cold-start scenario fails here."""
    defined = {
        cls
        for module in (registry_operators, registry_sensors)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and hasattr(cls, "execute")
    }
    assert defined == {s.operator for s in SCENARIOS}
