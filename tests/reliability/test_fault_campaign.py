"""Reliability under faults: a seeded fault-injection campaign, with figures.

Fault-injecting proxies stand between the client and everything it talks to: a real ``docker-registry`` 2.8 with
token auth; the token issuer behind it (the registry's challenge realm points at the issuer's proxy, so clients
mint tokens through faults too); a second door to the same registry (a different base URL makes image copies
stream instead of mount); and the Docker Hub / SCIM emulator. ``random.Random(SEED)`` deals the faults - cuts
before, inside and after request bodies, 5xx bursts, 429s with ``Retry-After`` as seconds and as an HTTP-date,
replies held past the client's read timeout, tokens expiring mid-operation - over blob pushes, image copies,
digest waits and paginated listings.

Every operation runs under a wall-clock bound and must either complete with its result verified against the
source (blob pulled back, digest resolved, listing equal to the seeded items without duplicates) or fail with a
typed ``DockerHubError`` naming the request. Whatever the outcome, no partial or corrupt blob may be stored, and no
non-idempotent request may be re-sent after the server may have acted on it (checked on every ``httpx`` send, and
in the proxy and emulator logs). Retry sleeps are recorded instead of slept. The tally goes to
``bench/results/reliability.json``, which ``scripts/reliability_report.py`` turns into ``RELIABILITY.md``.

Replay a run with ``RELIABILITY_SEED=<seed> pytest tests/reliability``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import io
import json
import math
import os
import random
import re
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import httpx
import pytest

from airflow_provider_dockerhub.client import ClientConfig, DockerHubError, DockerHubSession
from airflow_provider_dockerhub.client.auth.tokens import jwt_claims
from airflow_provider_dockerhub.client.core import flow as flow_module
from airflow_provider_dockerhub.client.core.errors import DigestMismatchError
from airflow_provider_dockerhub.client.registry.digest_watch import DigestWatch, digest_state
from airflow_provider_dockerhub.client.registry.upload import MAX_RESTARTS, PushResult, UploadFailedError
from airflow_provider_dockerhub.testing.fault_proxy import Fault, FaultProxy
from airflow_provider_dockerhub.testing.hub import HubEmulator, Injection
from airflow_provider_dockerhub.testing.oci import Image, MultiPlatform, digest, push_multi, push_raw
from airflow_provider_dockerhub.testing.registry import LocalRegistry, TokenAuth
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

pytestmark = pytest.mark.registry

T = TypeVar("T")

SEED = int(os.environ.get("RELIABILITY_SEED", "1789"))
KiB, MiB = 1024, 1024 * 1024
CHUNK = MiB
PUSH_SIZES = (100 * KiB, 3 * MiB, 9 * MiB)
CLIENT_TIMEOUT = 1.0  # the client's connect/read/write timeout, small so that held replies time out quickly
HOLD = 1.5  # how long a "delay" fault holds a reply: past CLIENT_TIMEOUT, so the client gives up on it
MAX_RETRIES = 4
MAX_RETRY_WAIT = 30.0
OP_TIMEOUT = 40.0  # wall-clock bound on one operation: reaching it means a retry loop that does not end
USER, SECRET, SCIM_TOKEN = "alice", "alice-pat", "scim-token"
RESULTS_PATH = Path(__file__).resolve().parents[2] / "bench" / "results" / "reliability.json"

FAULT_KINDS = (
    "cut_before_body",
    "cut_after_body_bytes",
    "cut_response",
    "http_5xx",
    "http_429_seconds",
    "http_429_date",
    "delay_past_timeout",
    "token_expiry",
)
REGISTRY_ERROR = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the fault campaign"}]}'
HUB_ERROR = b'{"detail":"injected by the fault campaign","message":"injected by the fault campaign"}'
TOKEN_PATH = r"^/token$"

Area = Literal["push", "copy", "digest_wait", "listing", "non_idempotent"]
Expect = Literal["complete", "fail"]
MenuEntry = tuple[str, str, str]  # (fault kind, HTTP method, what it targets)


def http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


def anchored(prefix: str, tail: str = "") -> str:
    """A path regex for the fault rules: ``prefix`` literally, then ``tail``."""
    return "^" + re.escape(prefix) + tail


def fault_weight(entry: MenuEntry) -> int:
    """How many failed attempts an entry can cost one request: a 5xx burst up to 3, any other fault 1."""
    return 3 if entry[0] == "http_5xx" else 1


def struck_request(entry: MenuEntry) -> tuple[str, str] | None:
    """Which request an entry strikes; ``None`` for a PATCH chunk, since every resume sends a new request."""
    method, target = entry[1], entry[2]
    if method == "PATCH":
        return None
    return method, "page" if target in ("proxy", "emulator") else target


def deal(
    rng: random.Random, menu: Sequence[MenuEntry], hands: int, per_hand: int = 2, *, bounded: bool = True
) -> list[list[MenuEntry]]:
    """Fault plans for ``hands`` operations: the shuffled menu dealt round-robin (so every entry is played), then
    topped up with random entries to ``per_hand``. With ``bounded``, the faults aimed at one request add up to at
    most MAX_RETRIES failed attempts: such a plan must be absorbed, and an operation failing under it is a bug."""
    dealt: list[list[MenuEntry]] = [[] for _ in range(hands)]

    def fits(hand: list[MenuEntry], entry: MenuEntry) -> bool:
        key = struck_request(entry)
        if entry in hand:
            return False
        if not bounded or key is None:
            return True
        load = sum(fault_weight(e) for e in hand if struck_request(e) == key)
        return load + fault_weight(entry) <= MAX_RETRIES

    for i, entry in enumerate(rng.sample(list(menu), len(menu))):
        hand = next((h for j in range(hands) if fits(h := dealt[(i + j) % hands], entry)), None)
        if hand is not None:
            hand.append(entry)
    for hand in dealt:
        for _ in range(50):
            if len(hand) >= per_hand:
                break
            entry = rng.choice(list(menu))
            if fits(hand, entry):
                hand.append(entry)
    return dealt


# -- bookkeeping ----------------------------------------------------------------------------------------------


@dataclass
class OpRecord:
    area: str
    name: str
    faults: list[str]
    outcome: str  # completed / failed_cleanly / failed_unclearly / failed_untyped
    error: str | None
    attempts: int
    retry_wait_s: float


@dataclass
class Tally:
    seed: int
    started: float = field(default_factory=time.monotonic)
    faults: Counter[str] = field(default_factory=Counter)
    faults_by_area: dict[str, Counter[str]] = field(default_factory=dict)
    proxy_faults: int = 0
    emulator_injections: int = 0
    token_expiries: int = 0
    ops: list[OpRecord] = field(default_factory=list)
    corrupt_accepted: int = 0
    payload_bytes: int = 0
    bytes_resent_client: int = 0
    bytes_extra_upstream: int = 0
    bytes_failed_upstream: int = 0
    retry_waits: list[float] = field(default_factory=list)
    max_attempts: int = 0
    resends: int = 0  # non-idempotent requests re-sent after the server may have acted: must stay 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (area, what went wrong)

    def as_json(self, proxies_injected: int) -> dict[str, Any]:
        by_area: dict[str, Counter[str]] = {}
        for op in self.ops:
            by_area.setdefault(op.area, Counter())["attempted"] += 1
            by_area[op.area][op.outcome] += 1
        outcomes = Counter(op.outcome for op in self.ops)
        errors = Counter((op.error or "").split(":", 1)[0] for op in self.ops if op.error)
        return {
            "generated_by": "pytest tests/reliability",
            "seed": self.seed,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_time_s": round(time.monotonic() - self.started, 1),
            "client": {
                "timeout_s": CLIENT_TIMEOUT,
                "fault_hold_s": HOLD,
                "max_retries": MAX_RETRIES,
                "max_retry_wait_s": MAX_RETRY_WAIT,
                "chunk_size": CHUNK,
                "push_sizes": list(PUSH_SIZES),
            },
            "faults": {
                "total": sum(self.faults.values()),
                "by_kind": {kind: self.faults[kind] for kind in FAULT_KINDS},
                "by_area": {area: dict(counts) for area, counts in self.faults_by_area.items()},
                "proxy_rules_fired": self.proxy_faults,
                "proxy_faults_injected": proxies_injected,
                "emulator_injections": self.emulator_injections,
                "token_expiries": self.token_expiries,
            },
            "operations": {
                "attempted": len(self.ops),
                "completed": outcomes["completed"],
                "failed_cleanly": outcomes["failed_cleanly"],
                "failed_unclearly": outcomes["failed_unclearly"] + outcomes["failed_untyped"],
                "corrupt_accepted": self.corrupt_accepted,
                "non_idempotent_resent": self.resends,
                "unexpected": len(self.problems),
                "by_area": {area: dict(counts) for area, counts in by_area.items()},
                "failures_by_error": dict(errors),
            },
            "bytes": {
                "payload_pushed": self.payload_bytes,
                "resent_by_client": self.bytes_resent_client,
                "extra_at_registry": self.bytes_extra_upstream,
                "sent_by_failed_pushes": self.bytes_failed_upstream,
            },
            "retry_wait": {
                "total_s": round(sum(self.retry_waits), 3),
                "sleeps": len(self.retry_waits),
                "longest_s": round(max(self.retry_waits, default=0.0), 3),
            },
            "max_attempts": self.max_attempts,
            "problems": [f"{area}: {text}" for area, text in self.problems],
            "operations_log": [asdict(op) for op in self.ops],
        }


class SendLog:
    """Every ``httpx`` send, keyed by the request object: the transport retries by sending the *same* request again
    (and a new chunk is a new request), so this counts attempts per request, and catches a re-sent non-idempotent
    request whatever the server did with it."""

    # A re-send is safe only after an answer that says "not acted upon" (401 challenge, 429) or a connection that
    # never opened. A PATCH chunk is never re-sent: its body is a one-shot stream, the engine resumes instead.
    SAFE_BEFORE_RESEND: dict[str, frozenset[str]] = {
        "POST": frozenset({"401", "429", "ConnectError", "ConnectTimeout", "PoolTimeout"}),
        "PATCH": frozenset(),
    }

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[int, tuple[httpx.Request, list[str]]] = {}
        self._violations: list[str] = []

    def before(self, request: httpx.Request) -> list[str]:
        with self._lock:
            _, outcomes = self._seen.setdefault(id(request), (request, []))
            safe = self.SAFE_BEFORE_RESEND.get(request.method)
            if outcomes and safe is not None and outcomes[-1] not in safe:
                self._violations.append(f"{request.method} {request.url.path} re-sent after {outcomes}")
            return outcomes

    def after(self, outcomes: list[str], outcome: str) -> None:
        with self._lock:
            outcomes.append(outcome)

    def take(self) -> tuple[int, list[str]]:
        """(most sends of one request, violations) since the last call; forgets the requests."""
        with self._lock:
            attempts = max((len(o) for _, o in self._seen.values()), default=0)
            violations, self._violations = self._violations, []
            self._seen.clear()
        return attempts, violations


class AsyncioForDriver:
    """Stands in for the ``asyncio`` module inside ``client.flow``: the async driver's retry sleeps are recorded and
    skipped, like the sync driver's ``sleep=``, so a Retry-After of seconds costs the trigger runs no wall time."""

    Lock = asyncio.Lock
    Semaphore = asyncio.Semaphore  # the driver's in-flight limit

    def __init__(self, waits: list[float], real_sleep: Callable[[float], Any]) -> None:
        self.waits = waits
        self._real_sleep = real_sleep

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self._real_sleep(0)


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def bounded(work: Callable[[], Any], seconds: float, name: str) -> Outcome:
    """Run ``work`` in a thread and wait at most ``seconds``: a retry loop that never ends fails the campaign
    instead of hanging it."""
    outcome = Outcome()

    def target() -> None:
        try:
            outcome.value = work()
        except BaseException as exc:  # judged by the caller: typed, clean, expected?
            outcome.error = exc

    thread = threading.Thread(target=target, name=f"campaign {name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{name}: still running after {seconds} s - an unbounded retry loop?")
    return outcome


def is_clean(exc: DockerHubError) -> bool:
    """A failure a user can act on: it names the request (method and path), or, for the push engine's own
    verdicts, what it pushed where."""
    method, path = getattr(exc, "method", None), getattr(exc, "path", None)
    if method and path:
        return f"{method} {path}" in str(exc)
    if isinstance(exc, UploadFailedError):
        return str(exc).startswith("push to ")
    if isinstance(exc, DigestMismatchError):
        return "digest mismatch" in str(exc)
    return False


# -- the world ------------------------------------------------------------------------------------------------


@dataclass
class World:
    issuer: TokenIssuer
    token_proxy: FaultProxy
    registry: LocalRegistry
    reg_proxy: FaultProxy
    reg_proxy2: FaultProxy  # a second door to the same registry: copies between doors stream instead of mount
    hub: HubEmulator
    hub_proxy: FaultProxy

    @property
    def proxies(self) -> tuple[FaultProxy, ...]:
        return (self.token_proxy, self.reg_proxy, self.reg_proxy2, self.hub_proxy)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        issuer = stack.enter_context(TokenIssuer(users={USER: SECRET}))
        token_proxy = stack.enter_context(FaultProxy(f"127.0.0.1:{issuer.port}"))
        # The challenge realm is what clients mint from: pointing it at the proxy puts token requests under faults.
        realm = {"auth": {"token": {"realm": token_proxy.url + "/token"}}}
        registry = stack.enter_context(
            LocalRegistry(tmp_path_factory.mktemp("campaign-registry"), TokenAuth(issuer), config_overrides=realm)
        )
        reg_proxy = stack.enter_context(FaultProxy(registry.host))
        reg_proxy2 = stack.enter_context(FaultProxy(registry.host))
        hub = stack.enter_context(HubEmulator(users={USER: SECRET}, orgs=("acme", "scratch"), scim_token=SCIM_TOKEN))
        hub_proxy = stack.enter_context(FaultProxy(hub.url))
        hub.seed_repositories("acme", 47, prefix="svc")
        hub.seed_audit_events("acme", 130)
        hub.seed_scim_users(75)
        yield World(issuer, token_proxy, registry, reg_proxy, reg_proxy2, hub, hub_proxy)


@pytest.fixture(scope="module")
def sends() -> Iterator[SendLog]:
    """Wraps ``httpx.Client.send`` / ``AsyncClient.send``: the one place every attempt passes, whichever flow or
    driver sent it, so re-sends are judged on what the client did rather than on what a proxy happened to see."""
    log = SendLog()
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def counted_send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        outcomes = log.before(request)
        try:
            response = sync_send(self, request, **kwargs)
        except Exception as exc:
            log.after(outcomes, type(exc).__name__)
            raise
        log.after(outcomes, str(response.status_code))
        return response

    async def counted_async_send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        outcomes = log.before(request)
        try:
            response = await async_send(self, request, **kwargs)
        except Exception as exc:
            log.after(outcomes, type(exc).__name__)
            raise
        log.after(outcomes, str(response.status_code))
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx.Client, "send", counted_send)
        patch.setattr(httpx.AsyncClient, "send", counted_async_send)
        yield log


class Campaign:
    """Arms faults, runs operations under them, judges the outcomes and keeps the tally."""

    def __init__(self, world: World, sends: SendLog) -> None:
        self.world = world
        self.sends = sends
        self.rng = random.Random(SEED)
        self.tally = Tally(SEED)
        self.async_waits: list[float] = []
        self._armed: list[tuple[str, Fault | Injection]] = []
        self._expiries = 0
        self.area = "setup"  # the area of the operation being judged, for the problems it leaves
        direct = {"registry_url": world.registry.url, "hub_url": world.hub.url, "scim_token": SCIM_TOKEN}
        # Checks go around the proxies (and with default timeouts): what is stored, not what the faults let through.
        self.verifier = DockerHubSession(ClientConfig.from_fields(USER, SECRET, {**direct, "allow_destructive": True}))

    def close(self) -> None:
        self.verifier.close()

    def session(
        self, waits: list[float], *, registry_url: str | None = None, on_secret: Callable[[str], None] | None = None
    ) -> DockerHubSession:
        extra = {
            "registry_url": registry_url or self.world.reg_proxy.url,
            "hub_url": self.world.hub_proxy.url,
            "scim_token": SCIM_TOKEN,
            "allow_destructive": True,
            "timeout": CLIENT_TIMEOUT,
            "connect_timeout": CLIENT_TIMEOUT,
            "max_retries": MAX_RETRIES,
            "max_retry_wait": MAX_RETRY_WAIT,
        }
        return DockerHubSession(ClientConfig.from_fields(USER, SECRET, extra), sleep=waits.append, on_secret=on_secret)

    # -- faults ---------------------------------------------------------------------------------------------

    def arm(
        self,
        proxy: FaultProxy,
        kind: str,
        method: str,
        path_re: str,
        *,
        n: int = 1,
        times: int = 1,
        nbytes: int = 0,
        status: int | None = None,
        retry_after: str | None = None,
        body: bytes = REGISTRY_ERROR,
    ) -> Fault:
        json_type = {"Content-Type": "application/json"}
        if kind == "cut_before_body":
            rule = proxy.cut_before_body(method, path_re, n=n, times=times)
        elif kind == "cut_after_body_bytes":
            rule = proxy.cut_after_body_bytes(method, path_re, nbytes, n=n, times=times)
        elif kind == "cut_response":
            rule = proxy.cut_response(method, path_re, n=n, times=times)
        elif kind == "http_5xx":
            code = status or self.rng.choice((500, 502, 503))
            rule = proxy.respond(method, path_re, code, body, headers=json_type, n=n, times=times)
        elif kind in ("http_429_seconds", "http_429_date"):
            if retry_after is None:
                wait = self.rng.randint(1, 5)
                retry_after = str(wait) if kind == "http_429_seconds" else http_date(wait + 1)
            headers = {**json_type, "Retry-After": retry_after}
            rule = proxy.respond(method, path_re, 429, body, headers=headers, n=n, times=times)
        elif kind == "delay_past_timeout":
            rule = proxy.delay(method, path_re, HOLD, n=n, times=times)
        else:
            raise AssertionError(f"unknown fault kind {kind}")
        self._armed.append((kind, rule))
        return rule

    def arm_hub(
        self, kind: str, path_re: str, *, method: str = "*", times: int = 1, retry_after: str | None = None
    ) -> Injection:
        """A fault answered by the emulator itself (with its rate-limit headers, as Docker Hub sends them)."""
        hub = self.world.hub
        if kind == "http_5xx":
            rule = hub.fail(path_re, self.rng.choice((500, 502, 503)), times, method=method)
        elif kind in ("http_429_seconds", "http_429_date"):
            if retry_after is None:
                wait = self.rng.randint(1, 5)
                retry_after = str(wait) if kind == "http_429_seconds" else http_date(wait + 1)
            rule = hub.rate_limit(path_re, times, retry_after, method=method)
        else:
            raise AssertionError(f"the emulator does not inject {kind}")
        self._armed.append((kind, rule))
        return rule

    def expire_hub_tokens(self) -> None:
        self.world.hub.expire_tokens()
        self._expiries += 1

    def note_token_expiry(self) -> None:
        self._expiries += 1

    def disarm(self, area: str) -> list[str]:
        """Clear every pending rule and count what fired during the operation."""
        fired: list[str] = []
        for kind, rule in self._armed:
            fired.extend([kind] * rule.hits)
            if isinstance(rule, Fault):
                self.tally.proxy_faults += rule.hits
            else:
                self.tally.emulator_injections += rule.hits
        fired.extend(["token_expiry"] * self._expiries)
        self.tally.token_expiries += self._expiries
        for proxy in self.world.proxies:
            proxy.clear()
        for injection in list(self.world.hub.injections):
            injection.remaining = 0
        self.world.issuer.clear_faults()
        self._armed.clear()
        self._expiries = 0
        self.tally.faults.update(fired)
        self.tally.faults_by_area.setdefault(area, Counter()).update(fired)
        return fired

    # -- judging --------------------------------------------------------------------------------------------

    def problem(self, text: str) -> None:
        self.tally.problems.append((self.area, text))

    def check(self, ok: bool, text: str) -> None:
        if not ok:
            self.problem(text)

    def integrity(self, ok: bool, text: str) -> None:
        """A stored result that does not match its source: the one thing that must never happen."""
        if not ok:
            self.tally.corrupt_accepted += 1
            self.problem("CORRUPT: " + text)

    def run(
        self,
        area: Area,
        name: str,
        operation: Callable[[list[float]], T],
        *,
        expect: Expect = "complete",
        verify: Callable[[T], None] = lambda _: None,
        after_failure: Callable[[DockerHubError], None] = lambda _: None,
    ) -> OpRecord:
        waits: list[float] = []
        self.area = area
        _, stray = self.sends.take()  # the checks and set-up since the last operation are not this one's attempts
        self.tally.resends += len(stray)
        for violation in stray:
            self.problem(f"before {name}: non-idempotent request re-sent: {violation}")
        outcome = bounded(lambda: operation(waits), OP_TIMEOUT, name)
        fired = self.disarm(area)
        attempts, violations = self.sends.take()
        self.tally.retry_waits.extend(waits)
        self.tally.max_attempts = max(self.tally.max_attempts, attempts)
        self.tally.resends += len(violations)
        for violation in violations:
            self.problem(f"{name}: non-idempotent request re-sent: {violation}")
        record = OpRecord(area, name, fired, "completed", None, attempts, round(sum(waits), 3))
        self.tally.ops.append(record)
        error = outcome.error
        if error is None:
            self.check(expect == "complete", f"{name}: completed, but was planned to fail (faults {fired})")
            verify(outcome.value)
            return record
        record.error = f"{type(error).__name__}: {error}"
        if not isinstance(error, DockerHubError):
            record.outcome = "failed_untyped"
            self.problem(f"{name}: untyped failure\n" + "".join(traceback.format_exception(error))[-2000:])
            return record
        record.outcome = "failed_cleanly" if is_clean(error) else "failed_unclearly"
        self.check(is_clean(error), f"{name}: the error does not name the request: {error!r}")
        self.check(expect == "fail", f"{name}: expected to complete under faults {fired}, failed: {error!r}")
        after_failure(error)
        return record

    def assert_no_problems(self, area: str) -> None:
        problems = [text for where, text in self.tally.problems if where == area]
        assert not problems, f"seed {SEED}: {len(problems)} problem(s):\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def campaign(world: World, sends: SendLog) -> Iterator[Campaign]:
    # Shown with any failure (and again, uncaptured, by the last test): the seed is what replays a run.
    print(f"fault campaign seed: {SEED} (replay with RELIABILITY_SEED={SEED})")
    runner = Campaign(world, sends)
    yield runner
    runner.close()


# -- blob pushes ----------------------------------------------------------------------------------------------

PUSH_MENU: tuple[MenuEntry, ...] = (
    ("cut_before_body", "PATCH", "session"),
    ("cut_after_body_bytes", "PATCH", "session"),
    ("cut_response", "PATCH", "session"),
    ("http_5xx", "PATCH", "session"),
    ("http_429_seconds", "PATCH", "session"),
    ("http_429_date", "PATCH", "session"),
    ("delay_past_timeout", "PATCH", "session"),
    ("cut_response", "PUT", "session"),
    ("http_5xx", "PUT", "session"),
    ("delay_past_timeout", "PUT", "session"),
    ("http_5xx", "HEAD", "blob"),
    ("cut_response", "HEAD", "blob"),
    ("http_429_seconds", "POST", "start"),
    ("http_429_date", "POST", "start"),
    ("http_5xx", "GET", "token"),
    ("http_429_date", "GET", "token"),
    ("cut_before_body", "GET", "token"),
    ("delay_past_timeout", "GET", "token"),
)


def registry_target(c: Campaign, repository: str, target: str) -> tuple[FaultProxy, str]:
    if target == "token":
        return c.world.token_proxy, TOKEN_PATH
    blobs = f"/v2/{repository}/blobs/"
    regex = {
        "session": anchored(blobs + "uploads/", "[^/]+$"),
        "start": anchored(blobs + "uploads/", "$"),
        "blob": anchored(blobs, "sha256:"),
    }[target]
    return c.world.reg_proxy, regex


class StallingSource:
    """Blob bytes whose reader stalls once, at ``stall_at``, until ``until()`` has passed, then calls ``then()``:
    a slow producer that outlives the registry token of the push."""

    def __init__(self, data: bytes, stall_at: int, until: Callable[[], float], then: Callable[[], None]) -> None:
        self.data = data
        self.size: int | None = len(data)
        self.stall_at = stall_at
        self._until = until
        self._then = then
        self._stalled = False

    @property
    def seekable(self) -> bool:
        return True

    def open_at(self, offset: int) -> IO[bytes]:
        if offset >= self.stall_at and not self._stalled:
            self._stalled = True
            time.sleep(max(0.0, self._until() - time.time()))
            self._then()
        stream = io.BytesIO(self.data)
        stream.seek(offset)
        return stream


def check_stored(c: Campaign, repository: str, payload: bytes, *, must_exist: bool, cuts: Sequence[int]) -> None:
    """What the registry holds for ``payload``: the blob with exactly these bytes, or nothing; never a prefix."""
    registry = c.verifier.registry
    full = digest(payload)
    present = registry.blob_exists(repository, full)
    if must_exist:
        c.integrity(present, f"{repository}: pushed blob {full} is missing")
    if present:
        try:
            pulled: bytes | None = registry.get_blob(repository, full, max_size=len(payload))
        except DigestMismatchError:
            pulled = None
        c.integrity(pulled == payload, f"{repository}: blob {full} does not hold the pushed bytes")
    for cut in sorted(set(cuts)):
        if 0 < cut < len(payload):
            prefix = digest(payload[:cut])
            c.integrity(not registry.blob_exists(repository, prefix), f"{repository}: a {cut}-byte prefix was stored")


def run_push(
    c: Campaign,
    area: Area,
    name: str,
    repository: str,
    payload: bytes,
    *,
    source: Any = None,
    claimed: str | None = None,
    cuts: Sequence[int] = (),
    expect: Expect = "complete",
    on_secret: Callable[[str], None] | None = None,
) -> OpRecord:
    proxy = c.world.reg_proxy
    upstream_before, records_before = proxy.bytes_upstream, len(proxy.requests)
    measured: dict[str, int] = {}
    cut_points = [*cuts, min(CHUNK, len(payload)) // 2, CHUNK]

    def operation(waits: list[float]) -> PushResult:
        try:
            with c.session(waits, on_secret=on_secret) as session:
                return session.registry.push_blob(
                    repository,
                    payload if source is None else source,
                    digest=claimed or digest(payload),
                    chunk_size=CHUNK,
                )
        finally:
            measured["upstream"] = proxy.bytes_upstream - upstream_before

    def verify(result: PushResult) -> None:
        c.integrity(result.digest == digest(payload), f"{name}: reported digest {result.digest}, pushed other bytes")
        c.integrity(result.size == len(payload), f"{name}: reported size {result.size}, pushed {len(payload)}")
        check_stored(c, repository, payload, must_exist=True, cuts=cut_points)
        records = proxy.requests[records_before:]
        patches = [r for r in records if r.method == "PATCH"]
        committed = patches[-1].path
        # A chunk the registry processed (answered, or answered into a cut) must not reach it again: every chunk
        # of the committed session arrives exactly once, and no PATCH meets a range it already holds (416).
        reached = sum(1 for r in patches if r.path == committed and r.outcome in (202, "cut_response"))
        c.check(reached == math.ceil(len(payload) / CHUNK), f"{name}: {reached} chunks reached the committed session")
        c.check(all(r.outcome != 416 for r in records), f"{name}: a chunk was replayed onto a range already held")
        extra = measured["upstream"] - len(payload)
        c.check(
            0 <= extra <= result.bytes_resent, f"{name}: {extra} extra bytes upstream vs {result.bytes_resent} resent"
        )
        c.tally.payload_bytes += len(payload)
        c.tally.bytes_resent_client += result.bytes_resent
        c.tally.bytes_extra_upstream += extra

    def after_failure(_: DockerHubError) -> None:
        check_stored(c, repository, payload, must_exist=False, cuts=cut_points)
        if claimed:
            c.integrity(
                not c.verifier.registry.blob_exists(repository, claimed), f"{name}: stored under a wrong digest"
            )
        c.tally.bytes_failed_upstream += measured.get("upstream", 0)

    return c.run(area, name, operation, expect=expect, verify=verify, after_failure=after_failure)


def test_blob_pushes_under_faults(campaign: Campaign) -> None:
    c, rng = campaign, campaign.rng
    hands = deal(rng, PUSH_MENU, 12)
    for i, hand in enumerate(hands):
        size = PUSH_SIZES[i % len(PUSH_SIZES)]
        repository = f"campaign/push-{i}"
        payload = rng.randbytes(size)
        chunks = math.ceil(size / CHUNK)
        cuts: list[int] = []
        for kind, method, target in hand:
            proxy, regex = registry_target(c, repository, target)
            n = rng.randint(1, chunks) if method == "PATCH" else 1
            nbytes = rng.randint(1, min(size, CHUNK) - 1)
            times = rng.randint(1, 3) if kind == "http_5xx" else 1
            c.arm(proxy, kind, method, regex, n=n, times=times, nbytes=nbytes)
            if kind == "cut_after_body_bytes":
                cuts.append((n - 1) * CHUNK + nbytes)
        run_push(
            c, "push", f"push {size // KiB} KiB #{i} under {[k for k, _, _ in hand]}", repository, payload, cuts=cuts
        )

    # A token that expires mid-push: registry 2.8 accepts a token until exp + 60 s (clock-skew leeway), so this
    # offset leaves it 1-2 s of life, while the client, reading expires_in, believes it good for the full ttl. The
    # source stalls before the second chunk until the registry rejects the token, then lets good tokens be minted.
    issuer = c.world.issuer
    minted: list[str] = []
    mints_before = issuer.count
    issuer.exp_offset = -(issuer.ttl + 60) + 2

    def registry_expiry() -> float:
        expiries = [jwt_claims(token).get("exp") for token in minted]
        return max((float(e) for e in expiries if isinstance(e, int | float)), default=time.time() - 60) + 60.05

    def heal() -> None:
        issuer.exp_offset = 0

    payload = rng.randbytes(3 * MiB)
    c.note_token_expiry()
    source = StallingSource(payload, CHUNK, registry_expiry, heal)
    name = "push 3072 KiB with its token expiring mid-push"
    run_push(c, "push", name, "campaign/push-expiry", payload, source=source, on_secret=minted.append)
    c.check(issuer.count - mints_before >= 2, f"{name}: the client never minted a new token")

    # Faults past every bound must end in a clear error, not a longer wait.
    payload = rng.randbytes(3 * MiB)
    nbytes = rng.randint(1, CHUNK - 1)
    proxy, regex = registry_target(c, "campaign/push-restarts", "session")
    c.arm(proxy, "cut_after_body_bytes", "PATCH", regex, nbytes=nbytes, times=MAX_RESTARTS + 1)
    name = "push cut mid-chunk on every session"
    run_push(c, "push", name, "campaign/push-restarts", payload, cuts=[nbytes], expect="fail")

    payload = rng.randbytes(100 * KiB)
    proxy, regex = registry_target(c, "campaign/push-head-503", "blob")
    c.arm(proxy, "http_5xx", "HEAD", regex, times=MAX_RETRIES + 1, status=503)
    record = run_push(
        c, "push", "push whose HEAD answers 503 forever", "campaign/push-head-503", payload, expect="fail"
    )
    c.check(record.attempts == MAX_RETRIES + 1, f"HEAD retried {record.attempts - 1} times, not {MAX_RETRIES}")

    payload = rng.randbytes(100 * KiB)
    proxy, regex = registry_target(c, "campaign/push-429-long", "start")
    c.arm(proxy, "http_429_seconds", "POST", regex, retry_after="3600")
    record = run_push(c, "push", "push told to retry in an hour", "campaign/push-429-long", payload, expect="fail")
    c.check(record.retry_wait_s == 0, f"a Retry-After beyond max_retry_wait was slept: {record.retry_wait_s} s")

    # The mismatch case: bytes pushed under a digest they do not have are never stored, under either digest.
    payload = rng.randbytes(3 * MiB)
    proxy, regex = registry_target(c, "campaign/push-mismatch", "session")
    c.arm(proxy, "cut_before_body", "PATCH", regex, n=2)
    claimed = digest(rng.randbytes(64))
    run_push(c, "push", "push under a wrong digest", "campaign/push-mismatch", payload, claimed=claimed, expect="fail")
    c.assert_no_problems("push")


# -- image copies ---------------------------------------------------------------------------------------------

COPY_COMMON: tuple[MenuEntry, ...] = (
    ("http_5xx", "GET", "src_manifest"),
    ("cut_response", "GET", "src_manifest"),
    ("delay_past_timeout", "GET", "src_manifest"),
    ("http_429_date", "GET", "src_manifest"),
    ("http_5xx", "HEAD", "dst_blob"),
    ("cut_before_body", "HEAD", "dst_blob"),
    ("http_429_seconds", "POST", "dst_upload"),
    ("http_5xx", "PUT", "dst_manifest"),
    ("cut_response", "PUT", "dst_manifest"),
    ("delay_past_timeout", "PUT", "dst_manifest"),
    ("http_429_seconds", "PUT", "dst_manifest"),
    ("http_5xx", "GET", "token"),
)
COPY_STREAM_MENU = (
    *COPY_COMMON,
    ("http_5xx", "GET", "src_blob"),
    ("cut_response", "GET", "src_blob"),
    ("delay_past_timeout", "GET", "src_blob"),
    ("cut_before_body", "PATCH", "dst_session"),
    ("cut_after_body_bytes", "PATCH", "dst_session"),
    ("cut_response", "PATCH", "dst_session"),
)
# A mount POST answered 5xx is a declined mount: the copier falls back to uploading the blob.
COPY_MOUNT_MENU = (*COPY_COMMON, ("http_5xx", "POST", "dst_upload"))


@dataclass
class SourceImage:
    repository: str
    digest: str
    top: bytes
    children: list[bytes]
    blobs: list[bytes]


@pytest.fixture(scope="module")
def source_images(campaign: Campaign) -> list[SourceImage]:
    rng, registry = campaign.rng, campaign.verifier.registry
    images: list[SourceImage] = []
    for j, size in enumerate((200 * KiB, 1536 * KiB, 2560 * KiB)):
        image = Image(files={"payload.bin": rng.randbytes(size)})
        repository = f"src/app-{j}"
        images.append(
            SourceImage(repository, push_raw(registry, repository, image, "v1"), image.manifest, [], image.blobs)
        )
    multi = MultiPlatform(
        [Image(files={"a.bin": rng.randbytes(300 * KiB)}), Image(architecture="arm64", files={"b": rng.randbytes(99)})]
    )
    pushed = push_multi(registry, "src/multi", multi, "v1")
    images.append(SourceImage("src/multi", pushed, multi.index, multi.manifests, multi.blobs))
    return images


def copy_target(c: Campaign, src: SourceImage, dst: str, mode: str, target: str) -> tuple[FaultProxy, str]:
    src_proxy = c.world.reg_proxy if mode == "mount" else c.world.reg_proxy2
    table = {
        "src_manifest": (src_proxy, anchored(f"/v2/{src.repository}/manifests/")),
        "src_blob": (src_proxy, anchored(f"/v2/{src.repository}/blobs/sha256:")),
        "dst_blob": (c.world.reg_proxy, anchored(f"/v2/{dst}/blobs/sha256:")),
        "dst_upload": (c.world.reg_proxy, anchored(f"/v2/{dst}/blobs/uploads/", "$")),
        "dst_session": (c.world.reg_proxy, anchored(f"/v2/{dst}/blobs/uploads/", "[^/]+$")),
        "dst_manifest": (c.world.reg_proxy, anchored(f"/v2/{dst}/manifests/")),
        "token": (c.world.token_proxy, TOKEN_PATH),
    }
    return table[target]


def run_copy(
    c: Campaign, area: Area, name: str, *, src: SourceImage, dst: str, mode: str, expect: Expect, **options: Any
) -> OpRecord:
    tags = ["v1", "promoted"]

    def operation(waits: list[float]) -> Any:
        with c.session(waits) as dst_session, c.session(waits, registry_url=c.world.reg_proxy2.url) as src_session:
            if mode == "mount":  # one client for both ends: blobs are mounted across repositories
                return dst_session.registry.copy_image(src.repository, "v1", dst, tags, chunk_size=CHUNK, **options)
            return src_session.registry.copy_image(
                src.repository, "v1", dst, tags, destination=dst_session.registry, chunk_size=CHUNK, **options
            )

    def verify(result: Any) -> None:
        registry = c.verifier.registry
        c.integrity(result.digest == src.digest, f"{name}: copied digest {result.digest} is not the source's")
        for tag in tags:
            c.integrity(registry.resolve_digest(dst, tag) == src.digest, f"{name}: {dst}:{tag} resolves elsewhere")
        c.integrity(registry.get_manifest(dst, src.digest).raw == src.top, f"{name}: top manifest bytes differ")
        for child in src.children:
            c.integrity(registry.head_manifest(dst, digest(child)) is not None, f"{name}: child manifest missing")
        for blob in src.blobs:
            check_stored(c, dst, blob, must_exist=True, cuts=())

    def after_failure(_: DockerHubError) -> None:
        registry = c.verifier.registry
        for tag in tags:
            head = registry.head_manifest(dst, tag)
            c.integrity(head is None or head.digest == src.digest, f"{name}: {dst}:{tag} points at other content")
        for blob in src.blobs:
            check_stored(c, dst, blob, must_exist=False, cuts=())

    return c.run(area, name, operation, expect=expect, verify=verify, after_failure=after_failure)


def test_image_copies_under_faults(campaign: Campaign, source_images: list[SourceImage]) -> None:
    c, rng = campaign, campaign.rng
    modes = ["mount", "stream"] * 4
    hands = {
        "mount": iter(deal(rng, COPY_MOUNT_MENU, 4, per_hand=3)),
        "stream": iter(deal(rng, COPY_STREAM_MENU, 4, per_hand=3)),
    }
    for i, mode in enumerate(modes):
        src = source_images[i % len(source_images)]
        dst = f"campaign/copy-{i}"
        hand = next(hands[mode])
        blobs = len(src.blobs) + len(src.children)
        for kind, method, target in hand:
            proxy, regex = copy_target(c, src, dst, mode, target)
            n = 1 if target == "token" else rng.randint(1, min(blobs, 3))
            times = rng.randint(1, 3) if kind == "http_5xx" and method != "POST" else 1
            c.arm(proxy, kind, method, regex, n=n, times=times, nbytes=rng.randint(1, 256))
        name = f"copy {src.repository} ({mode}) #{i} under {[k for k, _, _ in hand]}"
        run_copy(c, "copy", name, src=src, dst=dst, mode=mode, expect="complete")

    src = source_images[0]
    proxy, regex = copy_target(c, src, "campaign/copy-unavailable", "stream", "src_manifest")
    c.arm(proxy, "http_5xx", "GET", regex, times=MAX_RETRIES + 1, status=503)
    name = "copy from a source answering 503 forever"
    run_copy(c, "copy", name, src=src, dst="campaign/copy-unavailable", mode="stream", expect="fail")
    c.assert_no_problems("copy")


# -- digest waits ---------------------------------------------------------------------------------------------

WAIT_MENU: tuple[MenuEntry, ...] = (
    ("http_5xx", "HEAD", "manifest"),
    ("http_429_seconds", "HEAD", "manifest"),
    ("http_429_date", "HEAD", "manifest"),
    ("cut_response", "HEAD", "manifest"),
    ("cut_before_body", "HEAD", "manifest"),
    ("delay_past_timeout", "HEAD", "manifest"),
    ("http_5xx", "GET", "token"),
    ("cut_response", "GET", "token"),
)
WAIT_REPO = "wait/app"


def wait_target(c: Campaign, tag: str, target: str) -> tuple[FaultProxy, str]:
    if target == "token":
        return c.world.token_proxy, TOKEN_PATH
    return c.world.reg_proxy, anchored(f"/v2/{WAIT_REPO}/manifests/{tag}", "$")


def arm_wait(c: Campaign, tag: str, hand: Sequence[MenuEntry], max_n: int) -> list[Fault]:
    rules = []
    for kind, method, target in hand:
        proxy, regex = wait_target(c, tag, target)
        n = 1 if target == "token" else c.rng.randint(1, max_n)
        times = c.rng.randint(1, 3) if kind == "http_5xx" else 1
        rules.append(c.arm(proxy, kind, method, regex, n=n, times=times))
    return rules


def test_digest_waits_under_faults(
    campaign: Campaign, monkeypatch: pytest.MonkeyPatch, airflow_conn: Callable[..., str]
) -> None:
    c, rng, registry = campaign, campaign.rng, campaign.verifier.registry
    stable = push_raw(registry, WAIT_REPO, Image(files={"v": b"stable"}), "stable")
    moved = push_raw(registry, WAIT_REPO, Image(files={"v": b"next"}), "next")
    watches = [
        (DigestWatch(WAIT_REPO, "stable", "exists"), (True, stable)),
        (DigestWatch(WAIT_REPO, "stable", "equals", stable), (True, stable)),
        (DigestWatch(WAIT_REPO, "stable", "changed", stable), (False, stable)),
        (DigestWatch(WAIT_REPO, "missing", "exists"), (False, None)),
        (DigestWatch(WAIT_REPO, "next", "changed", stable), (True, moved)),
        (DigestWatch(WAIT_REPO, "next", "equals", stable), (False, moved)),
    ]
    for (watch, expected), hand in zip(watches, deal(rng, WAIT_MENU, len(watches)), strict=True):
        arm_wait(c, watch.tag, hand, max_n=2)

        def poke(waits: list[float], watch: DigestWatch = watch) -> tuple[bool, str | None]:
            with c.session(waits) as session:
                return session.registry.run(digest_state(session.registry.ops, watch))

        def same(state: tuple[bool, str | None], expected: tuple[bool, str | None] = expected) -> None:
            c.integrity(state == expected, f"digest_wait: {state} instead of {expected}")

        name = f"digest_state {watch.condition} {watch.tag} under {[k for k, _, _ in hand]}"
        c.run("digest_wait", name, poke, verify=same)

    # Past the bounds: a 503 storm exhausts the retries; an hour's Retry-After is refused without sleeping.
    watch = DigestWatch(WAIT_REPO, "stable", "exists")
    proxy, regex = wait_target(c, "stable", "manifest")
    c.arm(proxy, "http_5xx", "HEAD", regex, times=MAX_RETRIES + 1, status=503)

    def poke_once(waits: list[float]) -> tuple[bool, str | None]:
        with c.session(waits) as session:
            return session.registry.run(digest_state(session.registry.ops, watch))

    record = c.run("digest_wait", "digest_state under a 503 storm", poke_once, expect="fail")
    c.check(record.attempts == MAX_RETRIES + 1, f"digest_wait: HEAD sent {record.attempts} times under a 503 storm")
    c.arm(proxy, "http_429_date", "HEAD", regex, retry_after=http_date(3600))
    record = c.run("digest_wait", "digest_state told to retry in an hour", poke_once, expect="fail")
    c.check(record.retry_wait_s == 0, f"digest_wait: slept {record.retry_wait_s} s on a Retry-After of an hour")

    # A sync poll loop (what the sensor's poke does) while the tag appears between two polls.
    appear_after = rng.randint(2, 4)
    arm_wait(c, "appears-sync", deal(rng, WAIT_MENU[:6], 1, per_hand=3)[0], max_n=2 * appear_after + 2)
    image = Image(files={"v": rng.randbytes(32)})

    def poll(waits: list[float]) -> tuple[str | None, str]:
        watch = DigestWatch(WAIT_REPO, "appears-sync", "exists")
        pushed = ""
        with c.session(waits) as session:
            for attempt in range(30):
                if attempt == appear_after:
                    pushed = push_raw(c.verifier.registry, WAIT_REPO, image, "appears-sync")
                met, current = session.registry.run(digest_state(session.registry.ops, watch))
                if met:
                    c.check(attempt >= appear_after, "digest_wait: the tag was seen before it was pushed")
                    return current, pushed
        raise AssertionError("the tag never appeared")

    c.run("digest_wait", "poll loop while the tag appears", poll, verify=lambda r: c.integrity(r[0] == r[1], f"{r}"))

    # The deferrable path: DockerHubDigestTrigger on an event loop, the tag appearing mid-wait. Its retry sleeps are
    # recorded through the driver's asyncio; its own poll interval stays real (and short).
    monkeypatch.setattr(flow_module, "asyncio", AsyncioForDriver(c.async_waits, asyncio.sleep))
    conn_id = airflow_conn(
        "reliability_wait",
        login=USER,
        password=SECRET,
        registry_url=c.world.reg_proxy.url,
        timeout=CLIENT_TIMEOUT,
        connect_timeout=CLIENT_TIMEOUT,
        max_retries=MAX_RETRIES,
        max_retry_wait=MAX_RETRY_WAIT,
    )
    for k, hand in enumerate(deal(rng, WAIT_MENU[:6], 2, per_hand=4, bounded=False)):
        tag = f"appears-async-{k}"
        rules = arm_wait(c, tag, hand, max_n=6)
        image = Image(files={"v": rng.randbytes(32)})
        run_trigger(c, conn_id, tag, image=image, rules=rules, kinds=[kind for kind, _, _ in hand])
    c.assert_no_problems("digest_wait")


def run_trigger(c: Campaign, conn_id: str, tag: str, *, image: Image, rules: list[Fault], kinds: list[str]) -> None:
    from airflow_provider_dockerhub.triggers.registry import DockerHubDigestTrigger  # imports Airflow: only here

    pushed: dict[str, str] = {}

    def push_when_faults_spent() -> None:
        # The tag appears only once every armed fault has fired, so all of them land on the wait.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(rule.remaining > 0 for rule in rules):
            time.sleep(0.02)
        pushed["digest"] = push_raw(c.verifier.registry, WAIT_REPO, image, tag)

    def operation(waits: list[float]) -> dict[str, Any]:
        async def first_event() -> dict[str, Any]:
            trigger = DockerHubDigestTrigger(
                dockerhub_conn_id=conn_id, repository=WAIT_REPO, tag=tag, condition="exists", poll_interval=0.05
            )
            event = await asyncio.wait_for(trigger.run().__anext__(), OP_TIMEOUT - 10)
            return dict(event.payload)

        recorded = len(c.async_waits)
        pusher = threading.Thread(target=push_when_faults_spent, daemon=True)
        pusher.start()
        try:
            return asyncio.run(first_event())
        finally:
            pusher.join(20)
            waits.extend(c.async_waits[recorded:])

    def verify(payload: dict[str, Any]) -> None:
        # Transient faults are the trigger's to poll through: an error event under them is a failed plan.
        if payload.get("status") != "success":
            c.problem(f"trigger waiting for {tag} gave up under transient faults: {payload}")
            return
        expected = {"status": "success", "digest": pushed.get("digest")}
        c.integrity(payload == expected, f"digest_wait: trigger event {payload}, expected {expected}")

    c.run("digest_wait", f"trigger waits for {tag} under {kinds}", operation, verify=verify)


# -- paginated Hub listings -----------------------------------------------------------------------------------

LIST_MENU: tuple[MenuEntry, ...] = (
    ("http_5xx", "GET", "emulator"),
    ("http_429_seconds", "GET", "emulator"),
    ("http_429_date", "GET", "emulator"),
    ("http_5xx", "GET", "proxy"),
    ("cut_response", "GET", "proxy"),
    ("cut_before_body", "GET", "proxy"),
    ("delay_past_timeout", "GET", "proxy"),
    ("token_expiry", "GET", "emulator"),
    ("http_429_seconds", "POST", "hub_token"),
)


@dataclass(frozen=True)
class Listing:
    name: str
    path_re: str
    page_size: int
    items: Callable[[DockerHubSession], Iterator[str]]


LISTINGS = (
    Listing(
        "repositories",
        r"^/v2/namespaces/acme/repositories$",
        10,
        lambda s: (r.name for r in s.hub.list_repositories("acme", page_size=10)),
    ),
    Listing(
        "audit_logs",
        r"^/v2/auditlogs/acme$",
        25,
        lambda s: (e.model_dump_json() for e in s.hub.audit_logs("acme", page_size=25)),
    ),
    Listing("scim_users", r"^/v2/scim/2.0/Users$", 20, lambda s: (str(u.id) for u in s.scim.list_users(page_size=20))),
)


def run_listing(
    c: Campaign, name: str, listing: Listing, *, expected: list[str], hand: Sequence[MenuEntry], expect: Expect
) -> OpRecord:
    rng = c.rng
    pages = math.ceil(len(expected) / listing.page_size)
    midway: dict[int, list[Callable[[], Any]]] = {}
    for kind, method, where in hand:
        if where == "proxy":
            times = rng.randint(1, 3) if kind == "http_5xx" else 1
            c.arm(
                c.world.hub_proxy, kind, method, listing.path_re, n=rng.randint(1, pages), times=times, body=HUB_ERROR
            )
        elif where == "hub_token":
            c.arm(c.world.hub_proxy, kind, method, r"^/v2/auth/token$", body=HUB_ERROR)
        else:
            # Emulator faults strike the next request, so they are armed mid-listing: they land on a later page.
            at = rng.randrange(0, len(expected) - listing.page_size)
            if kind == "token_expiry":
                action: Callable[[], Any] = c.expire_hub_tokens
            else:
                times = rng.randint(1, 3) if kind == "http_5xx" else 1

                def action(kind: str = kind, method: str = method, times: int = times) -> Any:
                    return c.arm_hub(kind, listing.path_re, method=method, times=times)

            midway.setdefault(at, []).append(action)

    def operation(waits: list[float]) -> list[str]:
        seen: list[str] = []
        with c.session(waits) as session:
            for item in listing.items(session):
                for action in midway.get(len(seen), []):
                    action()
                seen.append(item)
        return seen

    def verify(seen: list[str]) -> None:
        c.integrity(len(set(seen)) == len(seen), f"{name}: {len(seen) - len(set(seen))} duplicate item(s)")
        c.integrity(seen == expected, f"{name}: {len(seen)} items, not the {len(expected)} seeded ones")

    return c.run("listing", name, operation, expect=expect, verify=verify)


def test_paginated_listings_under_faults(campaign: Campaign) -> None:
    c, rng = campaign, campaign.rng
    with DockerHubSession(
        ClientConfig.from_fields(USER, SECRET, {"hub_url": c.world.hub.url, "scim_token": SCIM_TOKEN})
    ) as direct:
        expected = {listing.name: list(listing.items(direct)) for listing in LISTINGS}
    assert [len(expected[x.name]) for x in LISTINGS] == [47, 130, 75], "the seeded data changed"
    scim_menu = [entry for entry in LIST_MENU if entry[2] != "hub_token" and entry[0] != "token_expiry"]
    deals = {
        listing.name: iter(deal(rng, scim_menu if listing.name == "scim_users" else LIST_MENU, 4, per_hand=2))
        for listing in LISTINGS
    }
    for round_ in range(4):
        for listing in LISTINGS:
            hand = next(deals[listing.name])
            name = f"list {listing.name} #{round_} under {[k for k, _, _ in hand]}"
            run_listing(c, name, listing, expected=expected[listing.name], hand=hand, expect="complete")

    # Past the bounds: a 503 storm on page 3, and an hour's Retry-After mid-listing; both end in a clear error.
    repositories, audit = LISTINGS[0], LISTINGS[1]
    hub_proxy, storm = c.world.hub_proxy, MAX_RETRIES + 1
    c.arm(hub_proxy, "http_5xx", "GET", repositories.path_re, n=3, times=storm, status=503, body=HUB_ERROR)
    name = "list repositories under a 503 storm"
    run_listing(c, name, repositories, expected=expected["repositories"], hand=(), expect="fail")

    def long_wait(waits: list[float]) -> list[str]:
        seen: list[str] = []
        with c.session(waits) as session:
            for item in audit.items(session):
                if len(seen) == 30:
                    c.arm_hub("http_429_seconds", audit.path_re, retry_after="3600")
                seen.append(item)
        return seen

    c.run("listing", "list audit_logs told to retry in an hour", long_wait, expect="fail")
    c.assert_no_problems("listing")


# -- non-idempotent requests ----------------------------------------------------------------------------------


def test_non_idempotent_requests_are_never_replayed(campaign: Campaign, source_images: list[SourceImage]) -> None:
    c, rng, hub = campaign, campaign.rng, campaign.world.hub
    create_path = "/v2/namespaces/scratch/repositories"

    def posts(name: str) -> int:
        return sum(
            1
            for r in hub.requests
            if r.method == "POST" and r.path == create_path and (r.body or {}).get("name") == name
        )

    def exists(name: str) -> bool:
        with DockerHubSession(ClientConfig.from_fields(USER, SECRET, {"hub_url": hub.url})) as direct:
            return direct.hub.repository_exists("scratch", name)

    def create(name: str) -> Callable[[list[float]], Any]:
        def operation(waits: list[float]) -> Any:
            with c.session(waits) as session:
                return session.hub.create_repository("scratch", name)

        return operation

    # (name, how the POST is hurt, expected outcome, POSTs the emulator should see, repository created?)
    plans: list[tuple[str, Callable[[], Any], Expect, int, bool]] = [
        ("ni-cut", lambda: c.arm(c.world.hub_proxy, "cut_response", "POST", f"^{create_path}$"), "fail", 1, True),
        ("ni-503", lambda: c.arm_hub("http_5xx", f"^{create_path}$", method="POST"), "fail", 1, False),
        ("ni-429", lambda: c.arm_hub("http_429_seconds", f"^{create_path}$", method="POST"), "complete", 2, True),
        (
            "ni-slow",
            lambda: c.arm(c.world.hub_proxy, "delay_past_timeout", "POST", f"^{create_path}$"),
            "fail",
            1,
            True,
        ),
    ]
    for name, hurt, expect, sent, created in plans:
        hurt()
        c.run("non_idempotent", f"create repository {name}", create(name), expect=expect)
        c.check(posts(name) == sent, f"non_idempotent: {name}: the emulator saw {posts(name)} POSTs, not {sent}")
        c.check(exists(name) == created, f"non_idempotent: {name}: repository exists={not created}, not {created}")

    c.arm(c.world.hub_proxy, "cut_response", "POST", r"^/v2/scim/2.0/Users$")

    def create_user(waits: list[float]) -> Any:
        with c.session(waits) as session:
            return session.scim.create_user("ni-cut@example.com")

    c.run("non_idempotent", "SCIM create user, reply lost", create_user, expect="fail")
    scim_posts = sum(1 for r in hub.requests if r.method == "POST" and r.path == "/v2/scim/2.0/Users")
    c.check(scim_posts == 1, f"non_idempotent: the SCIM user POST reached the emulator {scim_posts} times")

    # Registry: the POST that opens an upload session (or mounts a blob) is not replayed after a lost reply or a 5xx.
    proxy = c.world.reg_proxy
    for repository, kind in (("campaign/ni-post-cut", "cut_response"), ("campaign/ni-post-503", "http_5xx")):
        start = registry_target(c, repository, "start")[1]
        c.arm(proxy, kind, "POST", start, status=503)
        before = len(proxy.requests)
        name = f"push with upload POST hit by {kind}"
        run_push(c, "non_idempotent", name, repository, rng.randbytes(100 * KiB), expect="fail")
        sent = sum(1 for r in proxy.requests[before:] if r.method == "POST")
        c.check(sent == 1, f"non_idempotent: {repository}: the upload POST was sent {sent} times")

    src, dst = source_images[0], "campaign/ni-mount"
    c.arm(proxy, "cut_response", "POST", copy_target(c, src, dst, "mount", "dst_upload")[1])
    before = len(proxy.requests)
    # One blob at a time, so that every POST counted is the lost one or its replay (a concurrent copy would
    # also send the other blob's mount POST).
    run_copy(
        c,
        "non_idempotent",
        "copy whose mount POST reply is lost",
        src=src,
        dst=dst,
        mode="mount",
        expect="fail",
        max_concurrent_blobs=1,
    )
    sent = sum(1 for r in proxy.requests[before:] if r.method == "POST")
    c.check(sent == 1, f"non_idempotent: the mount POST was sent {sent} times")

    # A chunk whose reply was lost was processed: the engine resumes after it rather than sending it again.
    payload = rng.randbytes(3 * MiB)
    c.arm(proxy, "cut_response", "PATCH", registry_target(c, "campaign/ni-patch", "session")[1], n=2)
    run_push(c, "non_idempotent", "push whose second chunk reply is lost", "campaign/ni-patch", payload)
    c.assert_no_problems("non_idempotent")


# -- the figures ----------------------------------------------------------------------------------------------


def test_campaign_totals_and_figures(campaign: Campaign, capsys: pytest.CaptureFixture[str]) -> None:
    c = campaign
    injected = sum(proxy.faults_injected for proxy in c.world.proxies)
    figures = c.tally.as_json(injected)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(figures, indent=2) + "\n")
    faults, ops = figures["faults"], figures["operations"]
    with capsys.disabled():
        print(
            f"\nfault campaign seed {SEED}: {faults['total']} faults, {ops['attempted']} operations "
            f"({ops['completed']} completed, {ops['failed_cleanly']} failed cleanly, "
            f"{ops['corrupt_accepted']} corrupt), figures in {RESULTS_PATH}"
        )
    # The tally counts what fired, rule by rule; the proxies count it on their side. They must agree.
    assert c.tally.proxy_faults == injected
    assert faults["total"] >= 50, f"only {faults['total']} faults were injected"
    assert all(faults["by_kind"][kind] > 0 for kind in FAULT_KINDS), faults["by_kind"]
    assert {op.area for op in c.tally.ops} >= {"push", "copy", "digest_wait", "listing", "non_idempotent"}
    assert ops["corrupt_accepted"] == 0
    assert ops["completed"] + ops["failed_cleanly"] == ops["attempted"]
    assert not c.tally.problems, "\n".join(f"{area}: {text}" for area, text in c.tally.problems)
