"""Cold start in a real new process: a few registry operations as the first request a fresh Python process makes
(``subprocess.run([sys.executable, "-c", ...])``), on every registry kind. Nothing in this process (no cached
challenge, no token, no import-time state) can have warmed it up. The manifest DELETE by digest is here above
all: it failed on every authenticated registry when it was the first request (its 401 challenge was never
answered, and the user was told to check a correct password).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_dockerhub.testing.oci import Image, digest, push_raw
from tests.integration.registry.cold_start_support import (
    ANONYMOUS,
    FULL,
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
)

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("cold_start_table")]

SECTION = "process"

# The child records what it sends (as the in-process scenarios do) and reports the outcome as JSON: the error's
# class names (its MRO, so the parent can check the typed error) and message, or the call's value.
CHILD = r"""
import json, sys
import httpx

sent = []
original = httpx.Client.send

def send(client, request, **kwargs):
    sent.append(f"{request.method} {request.url.path}")
    return original(client, request, **kwargs)

httpx.Client.send = send

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession

spec = json.loads(sys.argv[1])
out = {}
try:
    with DockerHubSession(ClientConfig.from_fields(spec["login"], spec["password"], spec["extra"])) as session:
        registry = session.registry
        if spec["op"] == "delete_manifest":
            out["value"] = registry.delete_manifest(spec["repository"], spec["reference"])
        elif spec["op"] == "push_blob":
            out["value"] = registry.push_blob(spec["repository"], spec["data"].encode()).digest
        else:
            out["value"] = registry.head_manifest(spec["repository"], spec["reference"]).digest
except Exception as exc:
    out = {"error": [cls.__name__ for cls in type(exc).__mro__], "message": str(exc)}
out["sent"] = sent
print(json.dumps(out))
"""

OPERATIONS = {"delete_manifest (by digest)": "DELETE", "push_blob": "POST", "head_manifest": "HEAD"}
TABLE.declare(SECTION, list(OPERATIONS))


class ChildError(Exception):
    """The child's exception, rebuilt by class name for ``judge`` (which matches on the class)."""


def rebuild(out: dict[str, Any]) -> BaseException | None:
    if "error" not in out:
        return None
    from airflow_provider_dockerhub import client

    for name in out["error"]:
        cls = getattr(client, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            # Its class and message are what ``judge`` reads; the HTTP fields stay in the child.
            error = cls.__new__(cls)
            Exception.__init__(error, out["message"])
            return error
    return ChildError(f"{out['error'][0]}: {out['message']}")


@pytest.fixture(scope="module")
def targets(request: pytest.FixtureRequest) -> Callable[[str], Target]:
    """Each kind's seeded target, made on first use and kept for the module."""
    made: dict[str, Target] = {}
    return lambda kind: made[kind] if kind in made else made.setdefault(kind, make_target(kind, request))


# Each child costs ~0.7 s on this machine: every operation with full rights on every kind, and on the token
# registry the three refusals a user meets first (the in-process scenarios cover the rest of the matrix).
REFUSALS = {("push_blob", PULL_ONLY), ("delete_manifest (by digest)", ANONYMOUS), ("head_manifest", WRONG)}


def _cases() -> Iterator[Any]:
    for kind in KINDS:
        for row in OPERATIONS:
            for identity in IDENTITIES:
                if identity == FULL or (kind == "token" and (row, identity) in REFUSALS):
                    yield pytest.param(kind, identity, row, id=f"{kind}-{identity}-{row}")
                else:
                    meaningless = (identity == PULL_ONLY and kind not in PULL_ONLY_KINDS) or (
                        identity == GATE and row == "head_manifest"
                    )
                    record(SECTION, row, kind, identity, Cell("n/a" if meaningless else "not run here"))


@pytest.mark.parametrize(("kind", "identity", "row"), list(_cases()))
def test_first_request_of_a_new_process(targets: Callable[[str], Target], kind: str, identity: str, row: str) -> None:
    target = targets(kind)
    write = row != "head_manifest"
    expected = expect(target, identity, write=write)
    if expected is None:
        record(SECTION, row, target, identity, Cell("n/a"))
        pytest.skip(f"{identity} has no meaning on {target.kind} (its token service has no per-user ACL)")
    login, password = target.credentials(identity)
    name = f"process-{target.kind}-{identity.replace(' ', '-')}"
    spec: dict[str, Any] = {"login": login, "password": password, "repository": REPOSITORY, "reference": TAG}
    spec["extra"] = {"registry_url": target.registry.url, "allow_destructive": True, **target.extra}
    with target.seeder() as seeder:
        if row.startswith("delete_manifest"):
            spec["op"], spec["reference"] = (
                "delete_manifest",
                push_raw(seeder.registry, REPOSITORY, Image(files={"p": name.encode()}), name),
            )
        elif row == "push_blob":
            spec["op"], spec["data"] = "push_blob", f"pushed by {name}"
        else:
            spec["op"] = "head_manifest"
        target.reset_tokens()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, timeout=60, check=False
        )
        assert child.returncode == 0, child.stderr[-2000:]
        out = json.loads(child.stdout)
        tokens = target.token_requests()
        label, problems = judge(rebuild(out), expected)
        record(SECTION, row, target, identity, Cell(label, tokens, len(out["sent"])))
        assert not problems, f"{row} on {target.kind} as {identity}: {problems}; sent {out['sent']}"
        # The operation's own request is the first the process sends: nothing warmed the session up.
        assert out["sent"][0].startswith(f"{OPERATIONS[row]} /v2/"), out["sent"]
        if "value" in out:
            if spec["op"] == "delete_manifest":
                assert out["value"] == spec["reference"]
                assert seeder.registry.head_manifest(REPOSITORY, spec["reference"]) is None
            elif spec["op"] == "push_blob":
                assert out["value"] == digest(spec["data"].encode())
                assert seeder.registry.blob_exists(REPOSITORY, out["value"])
            else:
                assert target.seed is not None and out["value"] == target.seed.digest
    # One token for the operation's scope set, or the one refused mint; none without a token service.
    assert tokens == (1 if target.issuer is not None else 0), target.token_scopes()
