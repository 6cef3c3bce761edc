"""A catalogue of bad inputs, each with the typed error it must raise and where it must be stopped.

* Inputs invalid on their face (names, tags, digests, references to another registry, path traversal in every
  path parameter, connection extras, SCIM files, OCI layouts, platforms, page sizes, allow-lists, operator
  arguments) run with httpx fully mocked by respx with **no route at all**, and with ``httpx.Client.send`` spied
  on: a single request fails the case loudly.
* Hub and SCIM path parameters are escaped rather than refused (except ``.``, ``..`` and control characters): for
  those the request that would be sent is captured, and it must carry the payload as one escaped path segment
  in place of a harmless value, with the same method and query.
* Malformed server replies (these do send requests) must end in a typed error after exactly one request to the
  misbehaving endpoint: no retry loop, no request to another host, no secret in the message.

The figures go to ``bench/results/bad_inputs.json`` when the module finishes.
"""

from __future__ import annotations

import base64
import json
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

import httpx
import pytest
import respx
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client import (
    ClientConfig,
    ConfigurationError,
    DigestMismatchError,
    DockerHubError,
    DockerHubSession,
    InvalidInputError,
    ProtocolError,
)
from airflow_provider_dockerhub.client.policy.engine import evaluate
from airflow_provider_dockerhub.client.policy.evidence import ImageEvidence
from airflow_provider_dockerhub.client.policy.from_registry import gather_registry_evidence
from airflow_provider_dockerhub.client.scout.api import ScoutGraphQLError
from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook
from airflow_provider_dockerhub.operators.hub import (
    DockerHubAuditLogExportOperator,
    DockerHubEnsureTeamMembersOperator,
)
from airflow_provider_dockerhub.operators.policy import (
    DockerHubScoutPolicyGateOperator,
    DockerHubSupplyChainGateOperator,
)
from airflow_provider_dockerhub.operators.registry import (
    DockerHubCopyImageOperator,
    DockerHubDeleteManifestOperator,
    DockerHubPushBlobOperator,
    DockerHubPushImageOperator,
)
from airflow_provider_dockerhub.operators.scim import DockerHubScimSyncOperator
from airflow_provider_dockerhub.sensors.registry import DockerHubDigestSensor
from airflow_provider_dockerhub.testing.fault_proxy import FaultProxy
from airflow_provider_dockerhub.testing.oci import OCI_MANIFEST, Image, digest, push_raw, write_layout
from airflow_provider_dockerhub.testing.registry import LocalRegistry

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "bad_inputs.json"
SECRET = "s3cr3t-Passw0rd"
URL_SECRET = "hunter2"
SCIM_TOKEN = "scim-Secret-Token"
HUB = "https://hub.docker.com"
REG = "https://registry.example.com"
SCOUT = "https://api.scout.docker.com"
GOOD = "sha256:" + "a" * 64
CONTEXT: dict[str, Any] = {}


# -- environment ----------------------------------------------------------------------------------------------


@dataclass
class Env:
    """What a case may use: a scratch directory, Airflow connections, and client sessions closed afterwards."""

    tmp: Path
    make_conn: Callable[..., str]
    sessions: list[DockerHubSession] = field(default_factory=list)

    def conn(self, *, login: str | None = "alice", **extra: Any) -> str:
        fields = {"namespace": "acme", "allow_destructive": True, "scim_token": SCIM_TOKEN, **extra}
        return self.make_conn("dh_case", login=login, password=SECRET if login else None, **fields)

    def session(self, **extra: Any) -> DockerHubSession:
        fields = {"allow_destructive": True, "scim_token": SCIM_TOKEN, **extra}
        session = DockerHubSession(ClientConfig.from_fields("alice", SECRET, fields), sleep=lambda _: None)
        self.sessions.append(session)
        return session


@pytest.fixture
def env(airflow_conn: Callable[..., str], tmp_path: Path) -> Iterator[Env]:
    environment = Env(tmp_path, airflow_conn)
    yield environment
    for session in environment.sessions:
        session.close()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Every request handed to httpx, sync or async: the proof of "no request" whatever respx or the code does."""
    seen: list[httpx.Request] = []
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def spy(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        seen.append(request)
        return sync_send(self, request, **kwargs)

    async def async_spy(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        seen.append(request)
        return await async_send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", spy)
    monkeypatch.setattr(httpx.AsyncClient, "send", async_spy)
    return seen


# -- the catalogue of inputs refused before any request -----------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Env], object]
    error: type[BaseException]
    fragment: str


def reg(call: Callable[[Any], object], **extra: Any) -> Callable[[Env], object]:
    """Run ``call`` on the registry client of a Docker Hub session (``extra``: more connection extras)."""
    return lambda env: call(env.session(**extra).registry)


def hub(call: Callable[[Any], object]) -> Callable[[Env], object]:
    return lambda env: call(env.session().hub)


def scim(call: Callable[[Any], object]) -> Callable[[Env], object]:
    return lambda env: call(env.session().scim)


def hook_call(call: Callable[[DockerHubHook], object], **extra: Any) -> Callable[[Env], object]:
    """Through the Airflow connection and the hook, as a task would."""

    def run(env: Env) -> object:
        with DockerHubHook(dockerhub_conn_id=env.conn(**extra)) as hook:
            return call(hook)

    return run


def operator(factory: Callable[[str], Any], **extra: Any) -> Callable[[Env], object]:
    """Build the operator for a connection with ``extra`` and execute it."""
    return lambda env: factory(env.conn(**extra)).execute(CONTEXT)


def scim_file(text: str, suffix: str = "csv", **kwargs: Any) -> Callable[[Env], object]:
    def run(env: Env) -> object:
        path = env.tmp / f"users.{suffix}"
        path.write_text(text)
        op = DockerHubScimSyncOperator(task_id="scim", source=str(path), dockerhub_conn_id=env.conn(), **kwargs)
        return op.execute(CONTEXT)

    return run


LAYOUT_IMAGE = Image(files={"catalogue.txt": b"a layout for the bad-input catalogue"})


def blob_path(root: Path, data: bytes) -> Path:
    return root / "blobs" / "sha256" / digest(data).split(":", 1)[1]


def layout(damage: Callable[[Path], object] | None = None, **push: Any) -> Callable[[Env], object]:
    """Write a valid OCI layout, damage it, and push it with DockerHubPushImageOperator."""

    def run(env: Env) -> object:
        image = LAYOUT_IMAGE
        root = write_layout(env.tmp / "layout", image.manifest, OCI_MANIFEST, [], image.blobs)
        if damage is not None:
            damage(root)
        options = {"tags": ["v1"], **push}
        op = DockerHubPushImageOperator(
            task_id="push", layout_path=str(root), repository="acme/app", dockerhub_conn_id=env.conn(), **options
        )
        return op.execute(CONTEXT)

    return run


def _second_manifest(root: Path) -> None:
    index = json.loads((root / "index.json").read_text())
    twin = dict(index["manifests"][0], annotations={"org.opencontainers.image.ref.name": "other"})
    index["manifests"].append(twin)
    (root / "index.json").write_text(json.dumps(index))


EVIDENCE = ImageEvidence("acme/app:1", GOOD)
LONG_TAG = "t" * 129

CASES: list[Case] = [
    # Repository names: malformed or mixed case.
    Case("name-mixed-case", reg(lambda r: r.resolve_digest("Acme/App", "v1")), InvalidInputError, "lower case"),
    Case("name-upper-namespace", reg(lambda r: r.head_manifest("ACME/app", "v1")), InvalidInputError, "lower case"),
    Case("name-empty", reg(lambda r: r.resolve_digest("", "v1")), InvalidInputError, "non-empty"),
    Case("name-trailing-slash", reg(lambda r: r.resolve_digest("acme/app/", "v1")), InvalidInputError, "invalid"),
    Case("name-double-slash", reg(lambda r: r.resolve_digest("acme//app", "v1")), InvalidInputError, "invalid"),
    Case("name-leading-dash", reg(lambda r: r.resolve_digest("-acme/app", "v1")), InvalidInputError, "invalid"),
    Case("name-triple-underscore", reg(lambda r: r.blob_exists("a___b", GOOD)), InvalidInputError, "invalid"),
    Case("name-with-tag", reg(lambda r: r.get_manifest("acme/app:v1", "v1")), InvalidInputError, "invalid"),
    Case("name-with-space", reg(lambda r: r.get_manifest("acme/my app", "v1")), InvalidInputError, "invalid"),
    Case("name-unicode", reg(lambda r: r.get_manifest("acme/appé", "v1")), InvalidInputError, "invalid"),
    Case("name-too-long", reg(lambda r: r.get_manifest("a/" + "b" * 254, "v1")), InvalidInputError, "longer than 255"),
    Case("name-not-a-string", reg(lambda r: r.get_manifest(None, "v1")), InvalidInputError, "non-empty string"),
    # Tags: over 128 characters or outside the grammar.
    Case("tag-129-chars", reg(lambda r: r.resolve_digest("acme/app", LONG_TAG)), InvalidInputError, "128 characters"),
    Case("tag-leading-dot", reg(lambda r: r.resolve_digest("acme/app", ".hidden")), InvalidInputError, "invalid tag"),
    Case("tag-leading-dash", reg(lambda r: r.get_manifest("acme/app", "-rc")), InvalidInputError, "invalid tag"),
    Case("tag-space", reg(lambda r: r.get_manifest("acme/app", "v 1")), InvalidInputError, "invalid tag"),
    Case("tag-unicode", reg(lambda r: r.get_manifest("acme/app", "vé")), InvalidInputError, "invalid tag"),
    Case("tag-empty", reg(lambda r: r.get_manifest("acme/app", "")), InvalidInputError, "invalid tag"),
    Case(
        "tag-129-on-push",
        reg(lambda r: r.put_manifest("acme/app", LONG_TAG, b"{}", OCI_MANIFEST)),
        InvalidInputError,
        "128 characters",
    ),
    # Digests: wrong algorithm, length or case.
    Case("digest-md5", reg(lambda r: r.blob_exists("acme/app", "md5:" + "a" * 32)), InvalidInputError, "algorithm"),
    Case("digest-sha1", reg(lambda r: r.get_blob("acme/app", "sha1:" + "a" * 40)), InvalidInputError, "algorithm"),
    Case("digest-short", reg(lambda r: r.blob_exists("acme/app", "sha256:abc")), InvalidInputError, "64 lower-case"),
    Case("digest-long", reg(lambda r: r.blob_exists("acme/app", GOOD + "a")), InvalidInputError, "64 lower-case hex"),
    Case(
        "digest-upper-case",
        reg(lambda r: r.delete_blob("acme/app", "sha256:" + "A" * 64)),
        InvalidInputError,
        "lower-case hex",
    ),
    Case(
        "digest-upper-algorithm",
        reg(lambda r: r.blob_exists("acme/app", "SHA256:" + "a" * 64)),
        InvalidInputError,
        "invalid digest",
    ),
    Case(
        "digest-sha512-with-64",
        reg(lambda r: r.blob_exists("acme/app", "sha512:" + "a" * 64)),
        InvalidInputError,
        "128 lower-case hex",
    ),
    Case(
        "digest-not-hex",
        reg(lambda r: r.referrers("acme/app", "sha256:" + "g" * 64)),
        InvalidInputError,
        "lower-case hex",
    ),
    Case("digest-no-colon", reg(lambda r: r.blob_exists("acme/app", "a" * 64)), InvalidInputError, "invalid digest"),
    Case(
        "digest-manifest-mismatch-on-push",
        reg(lambda r: r.put_manifest("acme/app", GOOD, b'{"schemaVersion":2}', OCI_MANIFEST)),
        DigestMismatchError,
        "digest mismatch",
    ),
    Case(
        "digest-sensor-equals-bad-digest",
        lambda env: DockerHubDigestSensor(
            task_id="wait", repository="acme/app", tag="v1", condition="equals", digest="sha256:XYZ"
        ).poke(CONTEXT),
        InvalidInputError,
        "invalid sha256 digest",
    ),
    # References naming a registry host the connection does not serve.
    Case("ref-ghcr-on-hub", reg(lambda r: r.ops.image("ghcr.io/x/y:1")), InvalidInputError, "names registry 'ghcr.io'"),
    Case("ref-localhost-on-hub", reg(lambda r: r.ops.image("localhost:5000/x/y")), InvalidInputError, "names registry"),
    Case(
        "ref-lookalike-hub-host",
        reg(lambda r: r.ops.image("registry-1.docker.io.evil.example/x/y:1")),
        InvalidInputError,
        "names registry",
    ),
    Case(
        "ref-hub-on-ghcr",
        reg(lambda r: r.ops.image("docker.io/library/alpine:3"), registry_url="https://ghcr.io"),
        InvalidInputError,
        "this connection serves 'ghcr.io'",
    ),
    Case(
        "ref-other-port",
        reg(lambda r: r.ops.image("registry.example.com:5001/x/y:1"), registry_url="https://registry.example.com:5000"),
        InvalidInputError,
        "names registry",
    ),
    Case(
        "copy-source-on-other-registry",
        operator(
            lambda c: DockerHubCopyImageOperator(
                task_id="copy", source="ghcr.io/x/y:1", destination="acme/app:2", dockerhub_conn_id=c
            )
        ),
        InvalidInputError,
        "names registry 'ghcr.io'",
    ),
    Case(
        "gate-image-on-other-registry",
        operator(
            lambda c: DockerHubSupplyChainGateOperator(task_id="gate", image="quay.io/x/y:1", dockerhub_conn_id=c)
        ),
        InvalidInputError,
        "names registry 'quay.io'",
    ),
    # Connection extras, read through the Airflow connection and the hook.
    Case(
        "extra-ftp-url",
        hook_call(lambda h: h.registry.ping(), registry_url="ftp://r.example"),
        ConfigurationError,
        "http(s)",
    ),
    Case(
        "extra-relative-url",
        hook_call(lambda h: h.registry.ping(), registry_url="not a url"),
        ConfigurationError,
        "URL",
    ),
    Case(
        "extra-url-with-credentials",
        hook_call(lambda h: h.registry.ping(), registry_url=f"https://bob:{URL_SECRET}@registry.example.com"),
        ConfigurationError,
        "credentials",
    ),
    Case(
        "extra-hub-url-with-credentials",
        hook_call(lambda h: h.hub.authenticate(), hub_url=f"https://bob:{URL_SECRET}@hub.example.com"),
        ConfigurationError,
        "credentials",
    ),
    Case(
        "extra-unparsable-url-with-credentials",
        hook_call(lambda h: h.registry.ping(), registry_url=f"https://bob:{URL_SECRET}@[::1"),
        ConfigurationError,
        "not a valid URL",
    ),
    Case(
        "extra-url-password-with-slash",
        hook_call(lambda h: h.registry.ping(), registry_url=f"https://bob:{URL_SECRET}/x@registry.example.com"),
        ConfigurationError,
        "not a valid URL",
    ),
    Case(
        "extra-url-password-with-hash",
        hook_call(lambda h: h.hub.authenticate(), hub_url=f"https://bob:{URL_SECRET}#x@hub.example.com"),
        ConfigurationError,
        "not a valid URL",
    ),
    Case(
        "extra-trusted-realm-with-credentials",
        hook_call(lambda h: h.registry.ping(), trusted_realms=f"https://bob:{URL_SECRET}@auth.example.com"),
        ConfigurationError,
        "credentials",
    ),
    Case(
        "extra-url-with-query",
        hook_call(lambda h: h.registry.ping(), registry_url="https://r.example/?x=1"),
        ConfigurationError,
        "query",
    ),
    Case(
        "extra-verify-missing-file",
        hook_call(lambda h: h.registry.ping(), verify="/nonexistent/ca-bundle.pem"),
        ConfigurationError,
        "does not exist",
    ),
    Case("extra-timeout-zero", hook_call(lambda h: h.registry.ping(), timeout=0), ConfigurationError, "'timeout'"),
    Case("extra-timeout-negative", hook_call(lambda h: h.registry.ping(), timeout=-5), ConfigurationError, "'timeout'"),
    Case("extra-timeout-text", hook_call(lambda h: h.registry.ping(), timeout="soon"), ConfigurationError, "'timeout'"),
    Case(
        "extra-connect-timeout-zero",
        hook_call(lambda h: h.registry.ping(), connect_timeout="0"),
        ConfigurationError,
        "'connect_timeout'",
    ),
    Case(
        "extra-max-retries-negative",
        hook_call(lambda h: h.registry.ping(), max_retries=-1),
        ConfigurationError,
        "'max_retries'",
    ),
    Case(
        "extra-allow-destructive-maybe",
        hook_call(lambda h: h.registry.ping(), allow_destructive="perhaps"),
        ConfigurationError,
        "true or false",
    ),
    Case(
        "extra-unknown-key",
        hook_call(lambda h: h.registry.ping(), registry_ulr="https://r.example"),
        ConfigurationError,
        "unknown connection extra",
    ),
    Case(
        "extra-trusted-realm-ftp",
        hook_call(lambda h: h.registry.ping(), trusted_realms="ftp://auth.example"),
        ConfigurationError,
        "http(s)",
    ),
    Case(
        "extra-hub-url-plain-http",
        hook_call(lambda h: h.hub.authenticate(), hub_url="http://hub.example.com"),
        ConfigurationError,
        "https",
    ),
    Case(
        "extra-scout-url-foreign",
        hook_call(lambda h: h.scout.graphql("query { ok }"), scout_url="https://scout.example.net"),
        ConfigurationError,
        "refusing to send the Docker Hub token",
    ),
    Case(
        "extra-no-scim-token",
        hook_call(lambda h: h.scim.service_provider_config(), scim_token=""),
        ConfigurationError,
        "scim_token",
    ),
    # SCIM users files.
    Case("scim-csv-no-username-column", scim_file("email,givenName\na@x.io,A\n"), InvalidInputError, "'userName'"),
    Case("scim-csv-empty", scim_file(""), InvalidInputError, "'userName' column"),
    Case(
        "scim-csv-duplicate-username",
        scim_file("userName\nann@example.com\nAnn@Example.com\n"),
        InvalidInputError,
        "duplicate userName",
    ),
    Case("scim-csv-bad-email", scim_file("userName\nnot-an-email\n"), InvalidInputError, "not an email address"),
    Case("scim-csv-email-no-tld", scim_file("userName\nann@localhost\n"), InvalidInputError, "not an email"),
    Case("scim-csv-two-at-signs", scim_file("userName\na@b@example.com\n"), InvalidInputError, "not an email"),
    Case("scim-csv-missing-username", scim_file("userName,givenName\n,Ann\n"), InvalidInputError, "missing"),
    Case(
        "scim-csv-bad-active-flag",
        scim_file("userName,active\nann@example.com,maybe\n"),
        InvalidInputError,
        "'active' is 'maybe', which is not in the native status vocabulary",
    ),
    Case("scim-json-not-a-list", scim_file('{"people": []}', "json"), InvalidInputError, "must be a list"),
    Case("scim-json-invalid", scim_file('[{"userName": "a@x.io"', "json"), InvalidInputError, "not valid JSON"),
    Case("scim-json-row-not-object", scim_file('["a@x.io"]', "json"), InvalidInputError, "expected an object"),
    Case("scim-unknown-format", scim_file("<users/>", "xml"), InvalidInputError, "unsupported users file format"),
    Case(
        "scim-users-bad-email",
        operator(lambda c: DockerHubScimSyncOperator(task_id="s", users=[{"userName": "ann"}], dockerhub_conn_id=c)),
        InvalidInputError,
        "not an email address",
    ),
    # OCI image layouts.
    Case("oci-no-marker", layout(lambda root: (root / "oci-layout").unlink()), InvalidInputError, "no 'oci-layout'"),
    Case(
        "oci-marker-version",
        layout(lambda root: (root / "oci-layout").write_text('{"imageLayoutVersion":"2.0.0"}')),
        InvalidInputError,
        "unsupported OCI layout version",
    ),
    Case(
        "oci-missing-layer-blob",
        layout(lambda root: blob_path(root, LAYOUT_IMAGE.layer).unlink()),
        InvalidInputError,
        "missing blob",
    ),
    Case(
        "oci-missing-manifest-blob",
        layout(lambda root: blob_path(root, LAYOUT_IMAGE.manifest).unlink()),
        InvalidInputError,
        "missing blob",
    ),
    Case(
        "oci-manifest-digest-mismatch",
        layout(lambda root: blob_path(root, LAYOUT_IMAGE.manifest).write_bytes(b'{"schemaVersion":2,"layers":[]}')),
        DigestMismatchError,
        "digest mismatch",
    ),
    Case(
        "oci-blob-size-mismatch",
        layout(lambda root: blob_path(root, LAYOUT_IMAGE.layer).write_bytes(LAYOUT_IMAGE.layer + b"x")),
        InvalidInputError,
        "the manifest says",
    ),
    Case(
        "oci-index-without-manifests",
        layout(lambda root: (root / "index.json").write_text('{"schemaVersion": 2}')),
        InvalidInputError,
        "no 'manifests' list",
    ),
    Case(
        "oci-index-not-json",
        layout(lambda root: (root / "index.json").write_text("{")),
        InvalidInputError,
        "index.json",
    ),
    Case("oci-two-manifests-no-ref-name", layout(_second_manifest), InvalidInputError, "pass ref_name"),
    Case("oci-unknown-ref-name", layout(ref_name="nope"), InvalidInputError, "0 matching manifests"),
    Case("oci-no-tags", layout(tags=[]), InvalidInputError, "at least one tag"),
    Case("oci-bad-tag", layout(tags=["v1", "bad tag"]), InvalidInputError, "invalid tag"),
    Case(
        "oci-path-is-a-file",
        lambda env: DockerHubPushImageOperator(
            task_id="push", layout_path=__file__, repository="acme/app", tags=["v1"], dockerhub_conn_id=env.conn()
        ).execute(CONTEXT),
        InvalidInputError,
        "not an OCI image layout",
    ),
    # Platforms.
    Case(
        "platform-os-only",
        reg(lambda r: r.get_config("acme/app", "v1", "linux")),
        InvalidInputError,
        "invalid platform",
    ),
    Case(
        "platform-four-parts",
        reg(lambda r: r.get_config("acme/app", "v1", "linux/arm64/v8/x")),
        InvalidInputError,
        "invalid platform",
    ),
    Case(
        "platform-empty-os", reg(lambda r: r.inspect("acme/app", "v1", "/amd64")), InvalidInputError, "invalid platform"
    ),
    Case(
        "platform-empty-variant",
        reg(lambda r: gather_registry_evidence(r, "acme/app", "v1", "linux/arm64/")),
        InvalidInputError,
        "invalid platform",
    ),
    Case(
        "platform-on-supply-chain-gate",
        operator(
            lambda c: DockerHubSupplyChainGateOperator(
                task_id="gate", image="acme/app:1", platform="windows", dockerhub_conn_id=c
            )
        ),
        InvalidInputError,
        "invalid platform",
    ),
    Case(
        "platform-on-scout-gate",
        operator(
            lambda c: DockerHubScoutPolicyGateOperator(
                task_id="gate", image="acme/app:1", platform="", dockerhub_conn_id=c
            )
        ),
        InvalidInputError,
        "invalid platform",
    ),
    # Page sizes.
    Case(
        "page-size-registry-zero",
        reg(lambda r: next(r.list_tags("acme/app", page_size=0))),
        InvalidInputError,
        "positive integer",
    ),
    Case(
        "page-size-registry-negative",
        reg(lambda r: next(r.list_tags("acme/app", page_size=-1))),
        InvalidInputError,
        "positive integer",
    ),
    Case(
        "page-size-registry-text",
        reg(lambda r: next(r.list_tags("acme/app", page_size="10"))),
        InvalidInputError,
        "positive integer",
    ),
    Case(
        "page-size-hub-zero",
        hub(lambda h: next(h.list_repositories("acme", page_size=0))),
        InvalidInputError,
        "page_size",
    ),
    Case(
        "page-size-hub-audit-negative",
        hub(lambda h: next(h.audit_logs("acme", page_size=-1))),
        InvalidInputError,
        "page_size",
    ),
    Case(
        "page-size-hub-text",
        hub(lambda h: next(h.list_members("acme", page_size="100"))),
        InvalidInputError,
        "page_size",
    ),
    Case(
        "page-size-hub-float", hub(lambda h: next(h.list_groups("acme", page_size=1.5))), InvalidInputError, "page_size"
    ),
    Case("page-size-scim-zero", scim(lambda s: next(s.list_users(page_size=0))), InvalidInputError, "1-200"),
    Case("page-size-scim-over-max", scim(lambda s: next(s.list_users(page_size=201))), InvalidInputError, "1-200"),
    Case(
        "page-size-audit-export-operator",
        lambda env: DockerHubAuditLogExportOperator(
            task_id="audit",
            destination=str(env.tmp / "events.jsonl"),
            account="acme",
            start="2026-01-01T00:00:00Z",
            end="2026-01-02T00:00:00Z",
            page_size=0,
            dockerhub_conn_id=env.conn(),
        ).execute(CONTEXT),
        InvalidInputError,
        "page_size",
    ),
    # Allow-lists and settings of the policy engine.
    Case(
        "allow-list-id-not-text",
        lambda env: evaluate(EVIDENCE, allow_list=[{"id": 5}]),
        InvalidInputError,
        "mapping with 'id'",
    ),
    Case(
        "allow-list-entry-number",
        lambda env: evaluate(EVIDENCE, allow_list=[42]),  # type: ignore[list-item]  # deliberately wrong
        InvalidInputError,
        "must be an ID or a mapping",
    ),
    Case(
        "allow-list-bad-expiry",
        lambda env: evaluate(EVIDENCE, allow_list=[{"id": "CVE-2024-1", "expires": "next tuesday"}]),
        InvalidInputError,
        "bad expiry",
    ),
    Case(
        "allow-list-expiry-number",
        lambda env: evaluate(EVIDENCE, allow_list=[{"id": "CVE-2024-1", "expires": 20260101}]),
        InvalidInputError,
        "expiry must be a date",
    ),
    Case(
        "allow-list-impossible-date",
        lambda env: evaluate(EVIDENCE, allow_list=[{"id": "CVE-2024-1", "expires": "2026-02-30"}]),
        InvalidInputError,
        "bad expiry",
    ),
    Case(
        "policy-unknown",
        lambda env: evaluate(EVIDENCE, policies=["no-such-policy"]),
        InvalidInputError,
        "unknown policy",
    ),
    Case(
        "policy-config-unknown-key",
        lambda env: evaluate(EVIDENCE, config={"fixable-vulnerabilities": {"severity": ["HIGH"]}}),
        InvalidInputError,
        "unknown config keys",
    ),
    Case(
        "policy-config-days-as-text",
        lambda env: evaluate(EVIDENCE, config={"fixable-vulnerabilities": {"grace_period_days": "7"}}),
        InvalidInputError,
        "number of days",
    ),
    Case(
        "policy-config-unknown-severity",
        lambda env: evaluate(EVIDENCE, config={"fixable-vulnerabilities": {"severities": ["CATASTROPHIC"]}}),
        InvalidInputError,
        "must be among",
    ),
    # Operator and client arguments.
    Case(
        "scim-sync-source-and-users",
        lambda env: DockerHubScimSyncOperator(task_id="s", source="users.csv", users=[]),
        ValueError,
        "exactly one of source or users",
    ),
    Case(
        "scim-sync-neither-source-nor-users",
        lambda env: DockerHubScimSyncOperator(task_id="s"),
        ValueError,
        "exactly one of source or users",
    ),
    Case(
        "gate-on-failure-unknown",
        lambda env: DockerHubSupplyChainGateOperator(task_id="g", image="acme/app:1", on_failure="explode"),
        ValueError,
        "on_failure must be one of",
    ),
    Case(
        "delete-confirmation-not-true",
        operator(
            lambda c: DockerHubDeleteManifestOperator(
                task_id="d",
                repository="acme/app",
                reference="v1",
                dry_run=False,
                confirm_delete="yes",  # type: ignore[arg-type]  # deliberately not True
                dockerhub_conn_id=c,
            )
        ),
        AirflowFailException,
        "confirm_delete=True",
    ),
    Case(
        "delete-reference-traversal",
        operator(
            lambda c: DockerHubDeleteManifestOperator(
                task_id="d", repository="acme/app", reference="../v1", dockerhub_conn_id=c
            )
        ),
        InvalidInputError,
        "invalid tag",
    ),
    Case(
        "push-blob-missing-file",
        lambda env: DockerHubPushBlobOperator(
            task_id="p", repository="acme/app", path=str(env.tmp / "absent.bin"), dockerhub_conn_id=env.conn()
        ).execute(CONTEXT),
        InvalidInputError,
        "is not a file",
    ),
    Case(
        "push-blob-negative-chunk",
        lambda env: DockerHubPushBlobOperator(
            task_id="p", repository="acme/app", path=__file__, chunk_size=-1, dockerhub_conn_id=env.conn()
        ).execute(CONTEXT),
        InvalidInputError,
        "chunk_size must be positive",
    ),
    Case(
        "push-blob-bad-expected-digest",
        lambda env: DockerHubPushBlobOperator(
            task_id="p", repository="acme/app", path=__file__, digest="sha256:xyz", dockerhub_conn_id=env.conn()
        ).execute(CONTEXT),
        InvalidInputError,
        "invalid sha256 digest",
    ),
    Case(
        "copy-destination-by-digest",
        operator(
            lambda c: DockerHubCopyImageOperator(
                task_id="c", source="acme/app:1", destination=f"acme/app@{GOOD}", dockerhub_conn_id=c
            )
        ),
        InvalidInputError,
        "must be repository:tag",
    ),
    Case(
        "copy-no-destination-tags",
        reg(lambda r: r.copy_image("acme/app", "v1", "acme/prod", [])),
        InvalidInputError,
        "at least one destination tag",
    ),
    Case(
        "sensor-unknown-condition",
        lambda env: DockerHubDigestSensor(task_id="w", repository="acme/app", tag="v1", condition="bogus").poke(
            CONTEXT
        ),
        InvalidInputError,
        "condition must be one of",
    ),
    Case(
        "sensor-changed-without-digest",
        lambda env: DockerHubDigestSensor(task_id="w", repository="acme/app", tag="v1", condition="changed").poke(
            CONTEXT
        ),
        InvalidInputError,
        "needs a digest",
    ),
    Case(
        "audit-export-empty-interval",
        lambda env: DockerHubAuditLogExportOperator(
            task_id="a",
            destination=str(env.tmp / "e.jsonl"),
            account="acme",
            start="2026-01-02T00:00:00Z",
            end="2026-01-01T00:00:00Z",
            dockerhub_conn_id=env.conn(),
        ).execute(CONTEXT),
        AirflowFailException,
        "empty interval",
    ),
    Case(
        "team-members-without-org",
        lambda env: DockerHubEnsureTeamMembersOperator(
            task_id="t", team="devs", members=["alice"], dockerhub_conn_id=env.conn(namespace="")
        ).execute(CONTEXT),
        AirflowFailException,
        "no org",
    ),
    Case(
        "hub-repository-name-with-slash",
        hub(lambda h: h.create_repository("acme", "a/b")),
        InvalidInputError,
        "must be one segment",
    ),
    Case(
        "hub-repository-name-upper",
        hub(lambda h: h.create_repository("acme", "App")),
        InvalidInputError,
        "lower case",
    ),
    Case(
        "hub-description-too-long",
        hub(lambda h: h.create_repository("acme", "app", description="d" * 101)),
        InvalidInputError,
        "100 characters",
    ),
    Case(
        "hub-ordering-unknown",
        hub(lambda h: h.list_repositories("acme", ordering="random")),
        InvalidInputError,
        "ordering must be one of",
    ),
    Case(
        "hub-token-scope-unknown",
        hub(lambda h: h.create_access_token("ci", ["repo:root"])),
        InvalidInputError,
        "non-empty subset",
    ),
    Case("hub-token-label-empty", hub(lambda h: h.create_access_token("", ["repo:read"])), InvalidInputError, "1-100"),
    Case(
        "hub-token-update-nothing",
        hub(lambda h: h.update_access_token("uuid-1")),
        InvalidInputError,
        "needs a label or is_active",
    ),
    Case(
        "hub-org-token-resource-type",
        hub(lambda h: h.create_org_access_token("acme", "ci", resources=[{"type": "TYPE_ALL"}])),
        InvalidInputError,
        "TYPE_REPO or TYPE_ORG",
    ),
    Case("hub-invite-nobody", hub(lambda h: h.bulk_invite("acme", [])), InvalidInputError, "at least one invitee"),
    Case(
        "hub-invite-role-unknown",
        hub(lambda h: h.bulk_invite("acme", ["x@example.com"], role="admin")),
        InvalidInputError,
        "role must be one of",
    ),
    Case(
        "hub-member-role-empty", hub(lambda h: h.update_member_role("acme", "bob", "")), InvalidInputError, "role must"
    ),
    Case(
        "hub-group-permission-unknown",
        hub(lambda h: h.grant_repository_group("acme", "app", 1, "root")),
        InvalidInputError,
        "permission must be one of",
    ),
    Case(
        "scim-create-user-not-email",
        scim(lambda s: s.create_user("bob")),
        InvalidInputError,
        "must be an email address",
    ),
    Case(
        "scim-sort-order-unknown",
        scim(lambda s: next(s.list_users(sort_order="up"))),
        InvalidInputError,
        "sort_order must be",
    ),
    Case(
        "manifest-as-parsed-object",
        reg(lambda r: r.put_manifest("acme/app", "v1", {"schemaVersion": 2}, OCI_MANIFEST)),
        InvalidInputError,
        "exact bytes",
    ),
    Case(
        "push-blob-unsupported-source",
        reg(lambda r: r.push_blob("acme/app", 12345)),
        InvalidInputError,
        "cannot push a int",
    ),
]

# -- path traversal in every path parameter -------------------------------------------------------------------

Call = Callable[[DockerHubSession, str], object]

# Every Hub and SCIM method with a path parameter, once per parameter; ``v`` goes where the parameter goes.
HUB_PATH_PARAMETERS: dict[str, Call] = {
    "list_repositories.namespace": lambda s, v: next(s.hub.list_repositories(v)),
    "get_repository.namespace": lambda s, v: s.hub.get_repository(v, "app"),
    "get_repository.repository": lambda s, v: s.hub.get_repository("acme", v),
    "repository_exists.namespace": lambda s, v: s.hub.repository_exists(v, "app"),
    "repository_exists.repository": lambda s, v: s.hub.repository_exists("acme", v),
    "create_repository.namespace": lambda s, v: s.hub.create_repository(v, "app"),
    "list_tags.namespace": lambda s, v: next(s.hub.list_tags(v, "app")),
    "list_tags.repository": lambda s, v: next(s.hub.list_tags("acme", v)),
    "get_tag.namespace": lambda s, v: s.hub.get_tag(v, "app", "v1"),
    "get_tag.repository": lambda s, v: s.hub.get_tag("acme", v, "v1"),
    "get_tag.tag": lambda s, v: s.hub.get_tag("acme", "app", v),
    "has_tags.namespace": lambda s, v: s.hub.has_tags(v, "app"),
    "has_tags.repository": lambda s, v: s.hub.has_tags("acme", v),
    "tag_exists.namespace": lambda s, v: s.hub.tag_exists(v, "app", "v1"),
    "tag_exists.repository": lambda s, v: s.hub.tag_exists("acme", v, "v1"),
    "tag_exists.tag": lambda s, v: s.hub.tag_exists("acme", "app", v),
    "update_immutable_tags.namespace": lambda s, v: s.hub.update_immutable_tags(v, "app", enabled=True),
    "update_immutable_tags.repository": lambda s, v: s.hub.update_immutable_tags("acme", v, enabled=True),
    "verify_immutable_tags.namespace": lambda s, v: s.hub.verify_immutable_tags(v, "app", "v.*"),
    "verify_immutable_tags.repository": lambda s, v: s.hub.verify_immutable_tags("acme", v, "v.*"),
    "grant_repository_group.namespace": lambda s, v: s.hub.grant_repository_group(v, "app", 1, "read"),
    "grant_repository_group.repository": lambda s, v: s.hub.grant_repository_group("acme", v, 1, "read"),
    "get_access_token.uuid": lambda s, v: s.hub.get_access_token(v),
    "update_access_token.uuid": lambda s, v: s.hub.update_access_token(v, is_active=False),
    "delete_access_token.uuid": lambda s, v: s.hub.delete_access_token(v),
    "list_org_access_tokens.org": lambda s, v: next(s.hub.list_org_access_tokens(v)),
    "create_org_access_token.org": lambda s, v: s.hub.create_org_access_token(v, "ci"),
    "get_org_access_token.org": lambda s, v: s.hub.get_org_access_token(v, "t1"),
    "get_org_access_token.token_id": lambda s, v: s.hub.get_org_access_token("acme", v),
    "update_org_access_token.org": lambda s, v: s.hub.update_org_access_token(v, "t1", is_active=False),
    "update_org_access_token.token_id": lambda s, v: s.hub.update_org_access_token("acme", v, is_active=False),
    "delete_org_access_token.org": lambda s, v: s.hub.delete_org_access_token(v, "t1"),
    "delete_org_access_token.token_id": lambda s, v: s.hub.delete_org_access_token("acme", v),
    "get_org_settings.org": lambda s, v: s.hub.get_org_settings(v),
    "update_org_settings.org": lambda s, v: s.hub.update_org_settings(v, restricted_images_enabled=True),
    "list_members.org": lambda s, v: next(s.hub.list_members(v)),
    "export_members_csv.org": lambda s, v: s.hub.export_members_csv(v),
    "update_member_role.org": lambda s, v: s.hub.update_member_role(v, "bob", "editor"),
    "update_member_role.username": lambda s, v: s.hub.update_member_role("acme", v, "editor"),
    "remove_member.org": lambda s, v: s.hub.remove_member(v, "bob"),
    "remove_member.username": lambda s, v: s.hub.remove_member("acme", v),
    "list_invites.org": lambda s, v: s.hub.list_invites(v),
    "delete_invite.invite_id": lambda s, v: s.hub.delete_invite(v),
    "resend_invite.invite_id": lambda s, v: s.hub.resend_invite(v),
    "list_groups.org": lambda s, v: next(s.hub.list_groups(v)),
    "create_group.org": lambda s, v: s.hub.create_group(v, "devs"),
    "get_group.org": lambda s, v: s.hub.get_group(v, "devs"),
    "get_group.group": lambda s, v: s.hub.get_group("acme", v),
    "update_group.org": lambda s, v: s.hub.update_group(v, "devs", description="d"),
    "update_group.group": lambda s, v: s.hub.update_group("acme", v, description="d"),
    "delete_group.org": lambda s, v: s.hub.delete_group(v, "devs"),
    "delete_group.group": lambda s, v: s.hub.delete_group("acme", v),
    "list_group_members.org": lambda s, v: next(s.hub.list_group_members(v, "devs")),
    "list_group_members.group": lambda s, v: next(s.hub.list_group_members("acme", v)),
    "add_group_member.org": lambda s, v: s.hub.add_group_member(v, "devs", "bob"),
    "add_group_member.group": lambda s, v: s.hub.add_group_member("acme", v, "bob"),
    "remove_group_member.org": lambda s, v: s.hub.remove_group_member(v, "devs", "bob"),
    "remove_group_member.group": lambda s, v: s.hub.remove_group_member("acme", v, "bob"),
    "remove_group_member.username": lambda s, v: s.hub.remove_group_member("acme", "devs", v),
    "list_audit_actions.account": lambda s, v: s.hub.list_audit_actions(v),
    "audit_logs.account": lambda s, v: next(s.hub.audit_logs(v)),
    "scim.get_user.user_id": lambda s, v: s.scim.get_user(v),
    "scim.replace_user.user_id": lambda s, v: s.scim.replace_user(v, active=False),
    "scim.resource_type.name": lambda s, v: s.scim.resource_type(v),
    "scim.schema.schema_id": lambda s, v: s.scim.schema(v),
}

# Every registry method with a repository, reference or digest in its path; all of these are refused.
REGISTRY_PATH_PARAMETERS: dict[str, tuple[str, Call]] = {
    "head_manifest.repository": ("repository", lambda s, v: s.registry.head_manifest(v, "v1")),
    "head_manifest.reference": ("tag", lambda s, v: s.registry.head_manifest("acme/app", v)),
    "resolve_digest.repository": ("repository", lambda s, v: s.registry.resolve_digest(v, "v1")),
    "resolve_digest.reference": ("tag", lambda s, v: s.registry.resolve_digest("acme/app", v)),
    "get_manifest.repository": ("repository", lambda s, v: s.registry.get_manifest(v, "v1")),
    "get_manifest.reference": ("tag", lambda s, v: s.registry.get_manifest("acme/app", v)),
    "put_manifest.repository": ("repository", lambda s, v: s.registry.put_manifest(v, "v1", b"{}", OCI_MANIFEST)),
    "put_manifest.reference": ("tag", lambda s, v: s.registry.put_manifest("acme/app", v, b"{}", OCI_MANIFEST)),
    "list_tags.repository": ("repository", lambda s, v: next(s.registry.list_tags(v))),
    "blob_exists.repository": ("repository", lambda s, v: s.registry.blob_exists(v, GOOD)),
    "blob_exists.digest": ("digest", lambda s, v: s.registry.blob_exists("acme/app", v)),
    "upload_blob.repository": ("repository", lambda s, v: s.registry.upload_blob(v, b"data")),
    "delete_manifest.repository": ("repository", lambda s, v: s.registry.delete_manifest(v, GOOD)),
    "delete_manifest.reference": ("tag", lambda s, v: s.registry.delete_manifest("acme/app", v)),
    "delete_blob.repository": ("repository", lambda s, v: s.registry.delete_blob(v, GOOD)),
    "delete_blob.digest": ("digest", lambda s, v: s.registry.delete_blob("acme/app", v)),
    "get_blob.repository": ("repository", lambda s, v: s.registry.get_blob(v, GOOD)),
    "get_blob.digest": ("digest", lambda s, v: s.registry.get_blob("acme/app", v)),
    "referrers.repository": ("repository", lambda s, v: s.registry.referrers(v, GOOD)),
    "referrers.digest": ("digest", lambda s, v: s.registry.referrers("acme/app", v)),
    "platforms.repository": ("repository", lambda s, v: s.registry.platforms(v, "v1")),
    "platforms.reference": ("tag", lambda s, v: s.registry.platforms("acme/app", v)),
    "get_config.repository": ("repository", lambda s, v: s.registry.get_config(v, "v1")),
    "get_config.reference": ("tag", lambda s, v: s.registry.get_config("acme/app", v)),
    "inspect.repository": ("repository", lambda s, v: s.registry.inspect(v, "v1")),
    "inspect.reference": ("tag", lambda s, v: s.registry.inspect("acme/app", v)),
    "push_blob.repository": ("repository", lambda s, v: s.registry.push_blob(v, b"data")),
    "push_blob.mount_from": ("repository", lambda s, v: s.registry.push_blob("acme/app", b"d", mount_from=v)),
    "copy_image.src_repository": ("repository", lambda s, v: s.registry.copy_image(v, "v1", "acme/prod", ["v1"])),
    "copy_image.src_reference": ("tag", lambda s, v: s.registry.copy_image("acme/app", v, "acme/prod", ["v1"])),
    "copy_image.dst_repository": ("repository", lambda s, v: s.registry.copy_image("acme/app", "v1", v, ["v1"])),
    "copy_image.tags": ("tag", lambda s, v: s.registry.copy_image("acme/app", "v1", "acme/prod", [v])),
}
REGISTRY_FRAGMENTS = {"repository": "invalid repository name", "tag": "invalid tag", "digest": "invalid digest"}

# Hub path segments are escaped, so these stay one segment; the others cannot be made safe and are refused.
ESCAPED_PAYLOADS = {"dotdot-slash": "../x", "encoded-dotdot-slash": "%2e%2e/x", "query": "x?y=1", "fragment": "x#y"}
REFUSED_SEGMENTS = {"dotdot": "..", "dot": ".", "nul": "x\x00y", "crlf": "x\r\ny"}
REGISTRY_PAYLOADS = {**ESCAPED_PAYLOADS, "dotdot": "..", "nul": "x\x00y"}


def with_payload(call: Call, payload: str) -> Callable[[Env], object]:
    return lambda env: call(env.session(), payload)


for _name, _call in HUB_PATH_PARAMETERS.items():
    for _kind, _payload in REFUSED_SEGMENTS.items():
        CASES.append(
            Case(
                f"hub-path-{_name}-{_kind}",
                with_payload(_call, _payload),
                InvalidInputError,
                "invalid path parameter",
            )
        )
for _name, (_param, _call) in REGISTRY_PATH_PARAMETERS.items():
    for _kind, _payload in REGISTRY_PAYLOADS.items():
        CASES.append(
            Case(
                f"registry-path-{_name}-{_kind}",
                with_payload(_call, _payload),
                InvalidInputError,
                REGISTRY_FRAGMENTS[_param],
            )
        )

ESCAPES: list[tuple[str, Call, str]] = [
    (f"{name}-{kind}", call, payload)
    for name, call in HUB_PATH_PARAMETERS.items()
    for kind, payload in ESCAPED_PAYLOADS.items()
]


# -- malformed server replies -----------------------------------------------------------------------------------


class Routes(NamedTuple):
    bad: respx.Route  # the endpoint that misbehaves: asked exactly once
    never: tuple[respx.Route, ...] = ()  # hosts the client must not be led to


@dataclass(frozen=True)
class Reply:
    id: str
    routes: Callable[[respx.MockRouter], Routes]
    action: Callable[[DockerHubSession], object]
    error: type[BaseException]
    fragment: str


def _jwt() -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': 'alice', 'exp': 4_102_444_800})}.c2ln"


def _bearer(realm: str = f"{REG}/token") -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="{realm}",service="registry.example.com"'}


def _manifest(router: respx.MockRouter, body: bytes, served: str | None, path: str = "manifests/v1") -> Routes:
    headers = {"Content-Type": OCI_MANIFEST, **({"Docker-Content-Digest": served} if served else {})}
    return Routes(router.get(f"{REG}/v2/acme/app/{path}").respond(200, content=body, headers=headers))


IMAGE = Image(files={"m": b"malformed replies"})
TRUE_MANIFEST = IMAGE.manifest
OTHER_BYTES = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}'
HTML = b"<!doctype html><html><body>Please log in to the captive portal</body></html>"
REPO_URL = f"{HUB}/v2/namespaces/acme/repositories/app"


def _upload(router: respx.MockRouter, post: httpx.Response, put: httpx.Response | None = None) -> Routes:
    router.head(url__regex=rf"{REG}/v2/acme/app/blobs/sha256:.*").respond(404)
    bad = router.post(f"{REG}/v2/acme/app/blobs/uploads/").mock(return_value=post)
    never = (router.route(host="evil.example").respond(202),)
    if put is not None:
        bad = router.put(url__regex=rf"{REG}/upload/1.*").mock(return_value=put)
    return Routes(bad, never)


def _tags_with_link(router: respx.MockRouter, link: str) -> Routes:
    bad = router.get(f"{REG}/v2/acme/app/tags/list").respond(200, json={"tags": ["a"]}, headers={"Link": link})
    return Routes(bad, (router.route(host="evil.example").respond(200, json={"tags": ["evil"]}),))


def _token_service(router: respx.MockRouter, status: int, **answer: Any) -> Routes:
    """``/v2/`` challenges for a token from the registry's own host, whose token service answers ``answer``."""
    router.get(f"{REG}/v2/").respond(401, headers=_bearer())
    return Routes(router.get(f"{REG}/token").respond(status, **answer))


def _config_not_json(router: respx.MockRouter) -> Routes:
    config = b"this is not JSON"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": 16},
            "layers": [],
        }
    ).encode()
    _manifest(router, manifest, digest(manifest))
    return Routes(router.get(f"{REG}/v2/acme/app/blobs/{digest(config)}").respond(200, content=config))


REPLIES: list[Reply] = [
    Reply(
        "hub-non-json-body",
        lambda r: Routes(r.get(REPO_URL).respond(200, content=HTML, headers={"Content-Type": "text/html"})),
        lambda s: s.hub.get_repository("acme", "app"),
        ProtocolError,
        "not valid JSON",
    ),
    Reply(
        "hub-truncated-json",
        lambda r: Routes(r.get(REPO_URL).respond(200, content=b'{"name": "app", "namesp')),
        lambda s: s.hub.get_repository("acme", "app"),
        ProtocolError,
        "not valid JSON",
    ),
    Reply(
        "hub-list-without-results",
        lambda r: Routes(r.get(f"{HUB}/v2/namespaces/acme/repositories").respond(200, json={"count": 3})),
        lambda s: list(s.hub.list_repositories("acme")),
        ProtocolError,
        "list answer without 'results'",
    ),
    Reply(
        "hub-mint-200-without-token",
        lambda r: Routes(r.post(f"{HUB}/v2/auth/token", name="mint-override").respond(200, json={"detail": "ok"})),
        lambda s: s.hub.get_repository("acme", "app"),
        ProtocolError,
        "answered without a token",
    ),
    Reply(
        "hub-mint-html",
        lambda r: Routes(
            r.post(f"{HUB}/v2/auth/token", name="mint-override").respond(
                200, content=HTML, headers={"Content-Type": "text/html"}
            )
        ),
        lambda s: s.hub.authenticate(),
        ProtocolError,
        "answered with non-JSON",
    ),
    Reply(
        "hub-create-auth-token-without-token",
        lambda r: Routes(r.post(f"{HUB}/v2/auth/token", name="mint-override").respond(200, json={})),
        lambda s: s.hub.create_auth_token("robot", "pat"),
        ProtocolError,
        "without access_token",
    ),
    Reply(
        "scim-html-body",
        lambda r: Routes(
            r.get(f"{HUB}/v2/scim/2.0/Users").respond(200, content=HTML, headers={"Content-Type": "text/html"})
        ),
        lambda s: list(s.scim.list_users()),
        ProtocolError,
        "not valid JSON",
    ),
    Reply(
        "scim-truncated-json",
        lambda r: Routes(r.get(f"{HUB}/v2/scim/2.0/ServiceProviderConfig").respond(200, content=b'{"schemas": [')),
        lambda s: s.scim.service_provider_config(),
        ProtocolError,
        "not valid JSON",
    ),
    Reply(
        "graphql-200-with-errors",
        lambda r: Routes(
            r.post(f"{SCOUT}/v1/graphql").respond(200, json={"data": None, "errors": [{"message": "boom"}]})
        ),
        lambda s: s.scout.graphql("query { ok }"),
        ScoutGraphQLError,
        "boom",
    ),
    Reply(
        "graphql-200-with-data-and-errors",
        lambda r: Routes(
            r.post(f"{SCOUT}/v1/graphql").respond(
                200, json={"data": {"ok": True}, "errors": [{"message": "partial", "extensions": {"code": "X"}}]}
            )
        ),
        lambda s: s.scout.graphql("query { ok }"),
        ScoutGraphQLError,
        "partial",
    ),
    Reply(
        "graphql-non-object",
        lambda r: Routes(r.post(f"{SCOUT}/v1/graphql").respond(200, json=[1, 2])),
        lambda s: s.scout.graphql("query { ok }"),
        ProtocolError,
        "not an object",
    ),
    Reply(
        "graphql-html",
        lambda r: Routes(
            r.post(f"{SCOUT}/v1/graphql").respond(200, content=HTML, headers={"Content-Type": "text/html"})
        ),
        lambda s: s.scout.graphql("query { ok }"),
        ProtocolError,
        "not valid JSON",
    ),
    Reply(
        "manifest-bytes-not-the-served-digest",
        lambda r: _manifest(r, OTHER_BYTES, digest(TRUE_MANIFEST)),
        lambda s: s.registry.get_manifest("acme/app", "v1"),
        DigestMismatchError,
        "digest mismatch",
    ),
    Reply(
        "manifest-bytes-not-the-asked-digest",
        lambda r: _manifest(r, OTHER_BYTES, None, f"manifests/{digest(TRUE_MANIFEST)}"),
        lambda s: s.registry.get_manifest("acme/app", digest(TRUE_MANIFEST)),
        DigestMismatchError,
        "digest mismatch",
    ),
    Reply(
        "manifest-too-large",
        lambda r: _manifest(r, b" " * (4 * 1024 * 1024 + 1), None),
        lambda s: s.registry.get_manifest("acme/app", "v1"),
        ProtocolError,
        "manifest of 4194305 bytes",
    ),
    Reply(
        "head-without-digest",
        lambda r: Routes(r.head(f"{REG}/v2/acme/app/manifests/v1").respond(200)),
        lambda s: s.registry.resolve_digest("acme/app", "v1"),
        ProtocolError,
        "no Docker-Content-Digest",
    ),
    Reply(
        "head-digest-other-than-asked",
        lambda r: Routes(
            r.head(f"{REG}/v2/acme/app/manifests/{GOOD}").respond(
                200, headers={"Docker-Content-Digest": digest(TRUE_MANIFEST)}
            )
        ),
        lambda s: s.registry.head_manifest("acme/app", GOOD),
        DigestMismatchError,
        "digest mismatch",
    ),
    Reply(
        "head-malformed-digest",
        lambda r: Routes(
            r.head(f"{REG}/v2/acme/app/manifests/v1").respond(200, headers={"Docker-Content-Digest": "sha256:zz"})
        ),
        lambda s: s.registry.resolve_digest("acme/app", "v1"),
        DockerHubError,
        "sha256:zz",
    ),
    Reply(
        "blob-bytes-not-its-digest",
        lambda r: Routes(r.get(f"{REG}/v2/acme/app/blobs/{GOOD}").respond(200, content=b"tampered")),
        lambda s: s.registry.get_blob("acme/app", GOOD),
        DigestMismatchError,
        "digest mismatch",
    ),
    Reply(
        "image-config-not-json",
        _config_not_json,
        lambda s: s.registry.get_config("acme/app", "v1"),
        ProtocolError,
        "config is not JSON",
    ),
    Reply(
        "tag-list-wrong-content-type",
        lambda r: Routes(
            r.get(f"{REG}/v2/acme/app/tags/list").respond(200, content=HTML, headers={"Content-Type": "text/html"})
        ),
        lambda s: list(s.registry.list_tags("acme/app")),
        ProtocolError,
        "tag list is not a JSON object",
    ),
    Reply(
        "referrers-not-json",
        lambda r: Routes(r.get(f"{REG}/v2/acme/app/referrers/{GOOD}").respond(200, content=b"nope")),
        lambda s: s.registry.referrers("acme/app", GOOD),
        ProtocolError,
        "referrers index is not JSON",
    ),
    Reply(
        "link-to-another-host",
        lambda r: _tags_with_link(r, '<https://evil.example/v2/acme/app/tags/list?n=1&last=a>; rel="next"'),
        lambda s: list(s.registry.list_tags("acme/app")),
        ProtocolError,
        "Link rel=next points to another host",
    ),
    Reply(
        "link-to-another-port",
        lambda r: _tags_with_link(r, '<https://registry.example.com:8443/v2/acme/app/tags/list?last=a>; rel="next"'),
        lambda s: list(s.registry.list_tags("acme/app")),
        ProtocolError,
        "another host",
    ),
    Reply(
        "token-service-200-without-token",
        lambda r: _token_service(r, 200, json={"expires_in": 300}),
        lambda s: s.registry.ping(),
        ProtocolError,
        "answered without a token",
    ),
    Reply(
        "token-service-html",
        lambda r: _token_service(r, 200, content=HTML, headers={"Content-Type": "text/html"}),
        lambda s: s.registry.ping(),
        ProtocolError,
        "answered with non-JSON",
    ),
    Reply(
        "token-service-json-array",
        lambda r: _token_service(r, 200, json=["token"]),
        lambda s: s.registry.ping(),
        ProtocolError,
        "non-object",
    ),
    Reply(
        "bearer-challenge-without-realm",
        lambda r: Routes(r.get(f"{REG}/v2/").respond(401, headers={"WWW-Authenticate": 'Bearer service="x"'})),
        lambda s: s.registry.ping(),
        ProtocolError,
        "Bearer challenge without a realm",
    ),
    Reply(
        "upload-without-location",
        lambda r: _upload(r, httpx.Response(202)),
        lambda s: s.registry.upload_blob("acme/app", b"blob"),
        ProtocolError,
        "no upload Location",
    ),
    Reply(
        "upload-location-on-another-host",
        lambda r: _upload(r, httpx.Response(202, headers={"Location": "https://evil.example/upload/1"})),
        lambda s: s.registry.upload_blob("acme/app", b"blob"),
        ProtocolError,
        "upload Location on another host",
    ),
    Reply(
        "upload-commit-digest-of-other-bytes",
        lambda r: _upload(
            r,
            httpx.Response(202, headers={"Location": "/upload/1?_state=abc"}),
            httpx.Response(201, headers={"Docker-Content-Digest": GOOD}),
        ),
        lambda s: s.registry.upload_blob("acme/app", b"blob"),
        DigestMismatchError,
        "digest mismatch",
    ),
]


# -- tallies --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tally() -> Iterator[dict[str, set[str]]]:
    """Cases that held, by kind; written to ``bench/results/bad_inputs.json`` when the module is done."""
    held: dict[str, set[str]] = {"no_request": set(), "escaped": set(), "malformed_replies": set()}
    yield held
    if len(held["no_request"]) + len(held["escaped"]) < len(CASES) + len(ESCAPES):
        return  # a filtered or failed run: its figures would understate the catalogue, so keep the last full ones
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    figures = {
        "inputs": len(CASES) + len(ESCAPES),
        "no_request": len(held["no_request"]),
        "escaped": len(held["escaped"]),
        "malformed_replies": len(held["malformed_replies"]),
    }
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


def assert_no_secret(error: BaseException) -> None:
    """Neither the message nor anything a task log prints with it (the chained causes) quotes a secret."""
    printed = "".join(traceback.TracebackException.from_exception(error).format())
    for secret in (SECRET, URL_SECRET, SCIM_TOKEN, base64.b64encode(f"alice:{SECRET}".encode()).decode()):
        assert secret not in printed


# -- the tests ------------------------------------------------------------------------------------------------


def test_the_catalogue_is_large_and_unambiguous() -> None:
    ids = [c.id for c in CASES] + [e[0] for e in ESCAPES] + [r.id for r in REPLIES]
    assert len(ids) == len(set(ids))
    assert len(CASES) + len(ESCAPES) >= 60
    assert all(c.fragment for c in CASES) and all(r.fragment for r in REPLIES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_refused_before_any_request(
    case: Case, env: Env, sent: list[httpx.Request], tally: dict[str, set[str]]
) -> None:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:  # no route: any request fails
        with pytest.raises(case.error) as info:
            case.run(env)
    assert case.fragment in str(info.value), str(info.value)
    assert sent == [] and router.calls.call_count == 0
    assert_no_secret(info.value)
    tally["no_request"].add(case.id)


class Captured(Exception):
    """Raised by the recording route instead of answering: the request that would have gone out."""

    def __init__(self, request: httpx.Request) -> None:
        super().__init__(f"captured {request.method} {request.url}")
        self.request = request


def capture(session: DockerHubSession, call: Call, value: str) -> httpx.Request:
    with pytest.raises(Captured) as info:
        call(session, value)
    return info.value.request


@pytest.mark.parametrize(("name", "call", "payload"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_hub_path_parameters_are_escaped_into_one_segment(
    name: str, call: Call, payload: str, env: Env, tally: dict[str, set[str]]
) -> None:
    def record(request: httpx.Request) -> httpx.Response:
        raise Captured(request)

    session = env.session(scim_token=SCIM_TOKEN)
    marker = "PARAMMARKER"
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        mint = router.post(f"{HUB}/v2/auth/token").respond(200, json={"token": _jwt()})
        route = router.route(host="hub.docker.com").mock(side_effect=record)
        harmless = capture(session, call, marker)
        attacked = capture(session, call, payload)
    assert route.call_count == 2
    if name.startswith("scim."):  # SCIM goes out with the SCIM token, never a Hub JWT
        assert not mint.called and attacked.headers["authorization"] == f"Bearer {SCIM_TOKEN}"
    escaped = quote(payload, safe="")
    assert attacked.method == harmless.method
    assert attacked.url.raw_path == harmless.url.raw_path.replace(marker.encode(), escaped.encode())
    assert attacked.url.query == harmless.url.query and attacked.url.fragment == ""
    segments, expected = attacked.url.raw_path.split(b"/"), harmless.url.raw_path.split(b"/")
    assert len(segments) == len(expected)  # the payload did not add, remove or climb a segment
    assert [unquote(s.decode()) for s in segments] == [unquote(s.decode()).replace(marker, payload) for s in expected]
    tally["escaped"].add(name)


@pytest.mark.parametrize("case", REPLIES, ids=lambda r: r.id)
def test_malformed_reply_is_a_typed_error_after_one_request(case: Reply, env: Env, tally: dict[str, set[str]]) -> None:
    session = env.session(registry_url=REG)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        routes = case.routes(router)
        if not any(r.name == "mint-override" for r in router.routes):
            router.post(f"{HUB}/v2/auth/token").respond(200, json={"token": _jwt()})
        with pytest.raises(case.error) as info:
            case.action(session)
    assert case.fragment in str(info.value), str(info.value)
    assert routes.bad.call_count == 1, "a malformed answer must not be asked for again"
    assert all(not r.called for r in routes.never)
    assert_no_secret(info.value)
    tally["malformed_replies"].add(case.id)


# -- the same, from a real registry through FaultProxy ----------------------------------------------------------


@pytest.fixture(scope="module")
def pushed(token_registry: LocalRegistry) -> str:
    config = ClientConfig.from_fields(
        "alice", "alice-secret", {"registry_url": token_registry.url, "allow_destructive": True}
    )
    with DockerHubSession(config) as session:
        return push_raw(session.registry, "sec/app", IMAGE, "v1")


@pytest.fixture
def token_proxy(token_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(token_registry.url) as fault_proxy:
        yield fault_proxy


def _proxied(token_proxy: FaultProxy) -> DockerHubSession:
    extra = {"registry_url": token_proxy.url, "allow_destructive": True}
    return DockerHubSession(ClientConfig.from_fields("alice", "alice-secret", extra), sleep=lambda _: None)


@pytest.mark.registry
def test_real_registry_manifest_that_does_not_match_its_digest(
    pushed: str, token_proxy: FaultProxy, tally: dict[str, set[str]]
) -> None:
    headers = {"Docker-Content-Digest": pushed, "Content-Type": OCI_MANIFEST}
    token_proxy.respond("GET", r"/v2/sec/app/manifests/v1$", 200, OTHER_BYTES, headers=headers)
    with _proxied(token_proxy) as session, pytest.raises(DigestMismatchError) as info:
        session.registry.get_manifest("sec/app", "v1")
    assert info.value.expected == pushed and info.value.actual == digest(OTHER_BYTES)
    assert [r for r in token_proxy.requests if "/manifests/" in r.path] == [("GET", "/v2/sec/app/manifests/v1", 200)]
    with _proxied(token_proxy) as session:  # the real bytes still verify
        assert session.registry.get_manifest("sec/app", "v1").digest == pushed
    tally["malformed_replies"].add("real-registry-manifest-digest-mismatch")


@pytest.mark.registry
def test_real_registry_upload_without_location(
    pushed: str, token_proxy: FaultProxy, tally: dict[str, set[str]]
) -> None:
    token_proxy.respond("POST", r"/v2/sec/app/blobs/uploads/$", 202)
    with _proxied(token_proxy) as session, pytest.raises(ProtocolError, match="no upload Location"):
        session.registry.upload_blob("sec/app", b"a blob nobody has pushed yet")
    posts = [r for r in token_proxy.requests if r.method == "POST"]
    assert posts == [("POST", "/v2/sec/app/blobs/uploads/", 202)]
    assert not any(r.method in ("PATCH", "PUT") for r in token_proxy.requests)
    tally["malformed_replies"].add("real-registry-upload-without-location")


# -- gaps this catalogue found and that are now closed: bad input stopped before any request, or a clear error --


def test_closed_gap_policy_gate_validates_its_allow_list_before_any_request(env: Env) -> None:
    op = DockerHubSupplyChainGateOperator(
        task_id="gate", image="acme/app:1", allow_list=[{"id": 5}], dockerhub_conn_id=env.conn()
    )
    with respx.mock(assert_all_mocked=True), pytest.raises(InvalidInputError, match="mapping with 'id'"):
        op.execute(CONTEXT)


def test_closed_gap_scim_sync_validates_max_deactivations_before_any_request(env: Env) -> None:
    op = DockerHubScimSyncOperator(
        task_id="scim", users=[{"userName": "ann@example.com"}], max_deactivations=-1, dockerhub_conn_id=env.conn()
    )
    with respx.mock(assert_all_mocked=True), pytest.raises(InvalidInputError, match="max_deactivations"):
        op.execute(CONTEXT)


def test_closed_gap_unparsable_link_target_is_a_protocol_error(env: Env) -> None:
    session = env.session(registry_url=REG)
    with respx.mock(assert_all_mocked=True) as router:
        page = router.get(f"{REG}/v2/acme/app/tags/list").respond(
            200, json={"tags": ["a"]}, headers={"Link": '<http://[::1>; rel="next"'}
        )
        with pytest.raises(ProtocolError):
            list(session.registry.list_tags("acme/app"))
    assert page.call_count == 1


def test_closed_gap_manifest_served_as_html_is_a_protocol_error(env: Env) -> None:
    # A captive portal answering 200 text/html to a manifest GET by tag (no digest to check it against).
    session = env.session(registry_url=REG)
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{REG}/v2/acme/app/manifests/v1").respond(200, content=HTML, headers={"Content-Type": "text/html"})
        with pytest.raises(ProtocolError):
            session.registry.platforms("acme/app", "v1")
