"""Cold-start scenarios: every public ``RegistryClient`` method as the first request of a fresh session, on a
token-auth, a Basic and an open registry (and over TLS), for every identity (``cold_start_support``).

Each case seeds with a separate full-rights session, resets the token service's count, then opens a new
``DockerHubSession`` and makes exactly one call. It asserts the outcome (a verified result, or the typed error a
user must get, with the right hint), the token requests it cost and, where it is the point, which request went
first. The table of outcomes is written to ``bench/results/cold_start.md``. ``test_cold_start_process.py`` runs
a few of these in a real new process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dockerhub.client.registry.client import RegistryClient
from airflow_provider_dockerhub.client.registry.digest_watch import DigestWatch
from airflow_provider_dockerhub.testing.oci import OCI_MANIFEST, Image, digest
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
    Seed,
    Target,
    expect,
    judge,
    make_target,
    record,
    traffic,
)

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("cold_start_table")]

SECTION = "methods"


@dataclass
class Ctx:
    """One case: its target and identity, a unique name (tags, repositories, blob contents), a scratch dir,
    the seeder's registry client and what ``prepare`` left for ``call`` and ``verify``."""

    target: Target
    identity: str
    name: str
    tmp: Path
    seeder: RegistryClient
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> Seed:
        assert self.target.seed is not None
        return self.target.seed

    @property
    def config(self) -> bytes:
        return self.seed.image.config

    @property
    def layer(self) -> bytes:
        return self.seed.image.layer


Call = Callable[[RegistryClient, Ctx], Any]
Verify = Callable[[Any, Ctx], None]


@dataclass(frozen=True)
class Scenario:
    """``tokens``: token requests of a successful cold call on a token registry (one per scope set);
    ``denied``: those of a write by an identity that may pull but not push (a pull-only user, anonymous on a
    public repository), which mints its pull tokens before the write is refused. Any other refusal costs one:
    the first token already says no."""

    row: str
    method: str
    call: Call
    verify: Verify
    write: bool = False
    repository: bool = True
    sends: bool = True
    tokens: int = 1
    denied: int = 1
    first: str | None = None
    prepare: Callable[[Ctx], None] | None = None


def _push_image(c: Ctx) -> None:
    image = Image(files={"f": c.name.encode()})
    c.data["digest"] = c.seeder.put_manifest(REPOSITORY, c.name, *_blobs_of(c, image))


def _blobs_of(c: Ctx, image: Image) -> tuple[bytes, str]:
    for blob in image.blobs:
        c.seeder.push_blob(REPOSITORY, blob, digest=digest(blob))
    c.data["image"] = image
    return image.manifest, OCI_MANIFEST


def _stage_blobs(c: Ctx) -> None:
    _blobs_of(c, Image(files={"p": c.name.encode()}))


def _deleted(result: Any, c: Ctx) -> None:
    assert result == c.data["digest"]
    assert c.seeder.head_manifest(REPOSITORY, c.data["digest"]) is None


def _blob_there(result: Any, c: Ctx) -> None:
    expected = digest(c.data["blob"])
    assert getattr(result, "digest", result) == expected
    assert c.seeder.blob_exists(REPOSITORY, expected)


def _fetch(r: RegistryClient, c: Ctx) -> tuple[int, bytes]:
    pieces: list[bytes] = []
    size = r.fetch_blob(REPOSITORY, digest(c.layer), pieces.append)
    return size, b"".join(pieces)


def _download(r: RegistryClient, c: Ctx) -> tuple[int, bytes]:
    path = c.tmp / "layer.tar.gz"
    size = r.download_blob(REPOSITORY, digest(c.layer), path)
    return size, path.read_bytes()


def _copy(r: RegistryClient, c: Ctx) -> Any:
    c.data["destination"] = f"cold/copy-{c.name}"
    return r.copy_image(REPOSITORY, TAG, c.data["destination"], ["promoted"])


def _copied(result: Any, c: Ctx) -> None:
    assert result.digest == c.seed.digest
    assert c.seeder.resolve_digest(c.data["destination"], "promoted") == c.seed.digest


def _new_blob(c: Ctx) -> None:
    c.data["blob"] = f"blob of {c.name}".encode()


def _seed_blob(c: Ctx) -> None:
    _new_blob(c)
    c.data["digest"] = c.seeder.push_blob(REPOSITORY, c.data["blob"]).digest


def _blob_gone(result: Any, c: Ctx) -> None:
    assert result is None
    assert not c.seeder.blob_exists(REPOSITORY, c.data["digest"])


def _put_verified(result: Any, c: Ctx) -> None:
    assert result == digest(c.data["image"].manifest)
    assert c.seeder.resolve_digest(REPOSITORY, c.name) == result


SCENARIOS = [
    Scenario("ping", "ping", lambda r, c: r.ping(), lambda v, c: _is(v, c.target.auth != "open"), repository=False),
    Scenario(
        "head_manifest",
        "head_manifest",
        lambda r, c: r.head_manifest(REPOSITORY, TAG),
        lambda v, c: _is(v.digest, c.seed.digest),
        first="HEAD",
    ),
    Scenario(
        "resolve_digest",
        "resolve_digest",
        lambda r, c: r.resolve_digest(REPOSITORY, TAG),
        lambda v, c: _is(v, c.seed.digest),
    ),
    Scenario(
        "get_manifest",
        "get_manifest",
        lambda r, c: r.get_manifest(REPOSITORY, TAG),
        lambda v, c: _is((v.raw, v.digest), (c.seed.image.manifest, c.seed.digest)),
    ),
    Scenario(
        "put_manifest",
        "put_manifest",
        lambda r, c: r.put_manifest(REPOSITORY, c.name, c.data["image"].manifest, OCI_MANIFEST),
        _put_verified,
        write=True,
        first="PUT",
        prepare=_stage_blobs,
    ),
    Scenario("list_tags", "list_tags", lambda r, c: list(r.list_tags(REPOSITORY)), lambda v, c: _is(TAG in v, True)),
    Scenario(
        "blob_exists",
        "blob_exists",
        lambda r, c: r.blob_exists(REPOSITORY, digest(c.config)),
        lambda v, c: _is(v, True),
    ),
    Scenario(
        "upload_blob",
        "upload_blob",
        lambda r, c: r.upload_blob(REPOSITORY, c.data["blob"]),
        _blob_there,
        write=True,
        tokens=2,
        denied=2,
        prepare=_new_blob,
    ),
    Scenario(
        "delete_manifest (by digest)",
        "delete_manifest",
        lambda r, c: r.delete_manifest(REPOSITORY, c.data["digest"]),
        _deleted,
        write=True,
        first="DELETE",
        prepare=_push_image,
    ),
    Scenario(
        "delete_manifest (by tag)",
        "delete_manifest",
        lambda r, c: r.delete_manifest(REPOSITORY, c.name),
        _deleted,
        write=True,
        tokens=2,
        denied=2,
        first="HEAD",
        prepare=_push_image,
    ),
    Scenario(
        "delete_blob",
        "delete_blob",
        lambda r, c: r.delete_blob(REPOSITORY, c.data["digest"]),
        _blob_gone,
        write=True,
        first="DELETE",
        prepare=_seed_blob,
    ),
    Scenario("fetch_blob", "fetch_blob", _fetch, lambda v, c: _is(v, (len(c.layer), c.layer))),
    Scenario(
        "get_blob", "get_blob", lambda r, c: r.get_blob(REPOSITORY, digest(c.config)), lambda v, c: _is(v, c.config)
    ),
    Scenario(
        "referrers",
        "referrers",
        lambda r, c: r.referrers(REPOSITORY, c.seed.digest),
        lambda v, c: _is([d["digest"] for d in v], [c.seed.referrer]),
    ),
    Scenario(
        "platforms",
        "platforms",
        lambda r, c: r.platforms(REPOSITORY, TAG),
        lambda v, c: _is([(p["platform"], p["digest"]) for p in v], [("linux/amd64", c.seed.digest)]),
    ),
    Scenario(
        "get_config",
        "get_config",
        lambda r, c: r.get_config(REPOSITORY, TAG),
        lambda v, c: _is(v, json.loads(c.config)),
    ),
    Scenario(
        "inspect",
        "inspect",
        lambda r, c: r.inspect(REPOSITORY, TAG),
        lambda v, c: _is((v["digest"], v["config"]), (c.seed.digest, json.loads(c.config))),
    ),
    Scenario(
        "digest_state",
        "digest_state",
        lambda r, c: r.digest_state(DigestWatch(REPOSITORY, TAG, "equals", c.seed.digest)),
        lambda v, c: _is(v, (True, c.seed.digest)),
        first="HEAD",
    ),
    Scenario(
        "parse_image",
        "parse_image",
        lambda r, c: r.parse_image(f"{c.target.registry.host}/{REPOSITORY}:{TAG}"),
        lambda v, c: _is((v.repository, v.tag), (REPOSITORY, TAG)),
        sends=False,
        tokens=0,
    ),
    Scenario("download_blob", "download_blob", _download, lambda v, c: _is(v, (len(c.layer), c.layer))),
    # One scope set for the whole copy (pull,push on the destination plus pull on the source, for mounts and
    # for reading the source with the same token): one token, however many blobs and manifests.
    Scenario("copy_image", "copy_image", _copy, _copied, write=True, tokens=1, denied=1),
    Scenario(
        "blob_pusher",
        "blob_pusher",
        lambda r, c: r.run(r.blob_pusher(REPOSITORY, c.data["blob"], digest=digest(c.data["blob"])).push()),
        _blob_there,
        write=True,
        # The existence HEAD asks with the push's own pull,push scopes: one token for the whole push.
        tokens=1,
        denied=1,
        prepare=_new_blob,
    ),
    Scenario(
        "push_blob",
        "push_blob",
        lambda r, c: r.push_blob(REPOSITORY, c.data["blob"]),
        _blob_there,
        write=True,
        first="POST",
        prepare=_new_blob,
    ),
]


def _is(actual: Any, expected: Any) -> None:
    assert actual == expected


# Bugs these scenarios found, as (row, kind, identity) -> reason: strict, so a fix turns them red until removed.
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


def _static_na(kind: str, identity: str, scenario: Scenario) -> bool:
    """Combinations without meaning, known before any registry runs (``expect`` has the last word)."""
    if identity == GATE and not scenario.write:
        return True
    return identity == PULL_ONLY and kind not in PULL_ONLY_KINDS


def _cases() -> Iterator[Any]:
    for kind in KINDS:
        for scenario in SCENARIOS:
            for identity in IDENTITIES:
                if _static_na(kind, identity, scenario):
                    record(SECTION, scenario.row, kind, identity, Cell("n/a"))
                    continue
                bug = KNOWN_BUGS.get((scenario.row, kind, identity))
                marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
                yield pytest.param(kind, identity, scenario, marks=marks, id=f"{kind}-{identity}-{scenario.row}")


TABLE.declare(SECTION, [s.row for s in SCENARIOS])


def slug(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


@pytest.fixture(scope="module")
def targets(request: pytest.FixtureRequest) -> Callable[[str], Target]:
    """Each kind's seeded target, made on first use and kept for the module (an indirect parameter would be set
    up again for every case: pytest keys it by the whole parameter set)."""
    made: dict[str, Target] = {}
    return lambda kind: made[kind] if kind in made else made.setdefault(kind, make_target(kind, request))


@pytest.mark.parametrize(("kind", "identity", "scenario"), list(_cases()))
def test_cold_start(
    targets: Callable[[str], Target], kind: str, identity: str, scenario: Scenario, tmp_path: Path
) -> None:
    target = targets(kind)
    expected = expect(target, identity, write=scenario.write, repository=scenario.repository, sends=scenario.sends)
    if expected is None:
        record(SECTION, scenario.row, target, identity, Cell("n/a"))
        pytest.skip(f"{identity} has no meaning on {target.kind} (its token service has no per-user ACL)")
    with target.seeder() as seeder:
        c = Ctx(target, identity, slug(target.kind, identity, scenario.row), tmp_path, seeder.registry)
        if scenario.prepare is not None:
            scenario.prepare(c)
        target.reset_tokens()
        error: BaseException | None = None
        with target.session(identity) as session, traffic() as sent:
            try:
                result = scenario.call(session.registry, c)
            except Exception as exc:  # judged below: the typed error is the expected outcome of most cases
                error = exc
        tokens = target.token_requests()
        label, problems = judge(error, expected)
        record(SECTION, scenario.row, target, identity, Cell(label, tokens, len(sent.requests)))
        assert not problems, f"{scenario.row} on {target.kind} as {identity}: {problems}; sent {sent.requests}"
        if error is None:
            scenario.verify(result, c)
    assert tokens == expected_tokens(target, identity, scenario, error is None), target.token_scopes()
    if identity == GATE:
        assert sent.requests == [], "refused writes must be refused before any request"
    elif scenario.first is not None and scenario.sends:
        # The operation's own request opens the session: nothing learned the challenge before it.
        assert sent.first is not None and sent.first.startswith(scenario.first + " /v2/"), sent.requests


def expected_tokens(target: Target, identity: str, scenario: Scenario, succeeded: bool) -> int:
    if target.issuer is None or identity == GATE or not scenario.sends:
        return 0
    if succeeded:
        return scenario.tokens
    if identity == WRONG:
        return 1  # the token service refuses the credentials once; nothing retries a refused secret
    may_pull = identity == PULL_ONLY or (identity == ANONYMOUS and target.anonymous_may_pull)
    return scenario.denied if may_pull and scenario.write else 1


def test_every_public_method_has_a_scenario() -> None:
    """A method added to ``RegistryClient`` without a cold-start scenario fails here."""
    public = {name for name in vars(RegistryClient) if not name.startswith("_")}
    assert public == {s.method for s in SCENARIOS}
