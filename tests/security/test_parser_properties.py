"""Property tests for the parsers that read what a server (or a user) hands us, beyond the table tests in
``tests/client``: the upload engine's ``Range``/``Content-Range`` handling, JWT claims, ``Retry-After``, image
references, token scopes and ``Link`` headers. Parsers of untrusted text must never raise anything but the typed
error they document, and printing then parsing a value must give the value back.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession, InvalidInputError
from airflow_provider_dockerhub.client.auth.tokens import jwt_claims
from airflow_provider_dockerhub.client.core.pagination import parse_link_header
from airflow_provider_dockerhub.client.core.reference import (
    DOCKER_HUB_ALIASES,
    ImageReference,
    Scope,
    parse_reference,
    validate_repository_name,
)
from airflow_provider_dockerhub.client.core.transport import parse_retry_after
from airflow_provider_dockerhub.client.registry.chunks import held_bytes as _held_bytes
from airflow_provider_dockerhub.client.registry.upload import PushResult

REG = "https://registry.example.com"

# -- Range: how many bytes an upload session holds ----------------------------------------------------------------


@given(st.one_of(st.none(), st.text(max_size=40)), st.integers(min_value=0, max_value=2**40))
def test_held_bytes_never_raises_and_is_never_negative(header: str | None, expected: int) -> None:
    held = _held_bytes(header, expected)
    assert held is None or (isinstance(held, int) and held >= 0)


@given(
    st.integers(min_value=1, max_value=2**50),
    st.integers(min_value=0, max_value=2**50),
    st.sampled_from(["", "bytes="]),
    st.sampled_from(["", " ", "\t"]),
)
def test_range_of_a_session_reads_back_as_its_size(last: int, expected: int, prefix: str, pad: str) -> None:
    # distribution answers ``Range: 0-<last byte held>``; the session then holds ``last + 1`` bytes.
    assert _held_bytes(f"{pad}{prefix}0-{last}{pad}", expected) == last + 1


@given(st.integers(min_value=0, max_value=2**40))
def test_range_0_0_is_empty_unless_we_had_sent_more(expected: int) -> None:
    # distribution writes 0-0 for an empty session and for a one-byte one: only "nothing or one byte sent" fits.
    assert _held_bytes("0-0", expected) == (0 if expected <= 1 else None)


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=0, max_value=2**40))
def test_range_not_starting_at_zero_is_not_trusted(start: int, end: int) -> None:
    assert _held_bytes(f"{start}-{end}", 0) is None


@given(st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=5))
def test_range_with_non_ascii_digits_is_not_trusted(digits: str) -> None:
    assume(not digits.isascii())
    assert _held_bytes(f"0-{digits}", 0) is None


class ModelRegistry:
    """A registry's upload sessions, strict like distribution: a PATCH must continue exactly where the session
    ends. ``fail`` = (PATCH number, bytes kept): that PATCH keeps only part of its body and answers 500."""

    def __init__(self, fail: tuple[int, int] | None) -> None:
        self.fail = fail
        self.sessions: dict[str, bytearray] = {}
        self.patches: list[tuple[str, int, int]] = []  # every PATCH received: (session, first byte, last byte)
        self.stored: list[tuple[str, int, int]] = []  # the byte ranges each session actually appended
        self.committed: bytes | None = None

    def location(self, sid: str) -> dict[str, str]:
        return {"Location": f"/v2/acme/app/blobs/uploads/{sid}?_state={len(self.sessions[sid])}"}

    def held_range(self, sid: str) -> dict[str, str]:
        size = len(self.sessions[sid])
        return {"Range": f"0-{max(0, size - 1)}"}  # distribution writes 0-0 for an empty session

    def start(self, request: httpx.Request) -> httpx.Response:
        sid = f"s{len(self.sessions)}"
        self.sessions[sid] = bytearray()
        return httpx.Response(202, headers=self.location(sid))

    def session(self, request: httpx.Request) -> str:
        return request.url.path.rsplit("/", 1)[1]

    def patch(self, request: httpx.Request) -> httpx.Response:
        sid, body = self.session(request), request.read()
        first, _, last = request.headers["Content-Range"].partition("-")
        start, end = int(first), int(last)
        assert int(request.headers["Content-Length"]) == len(body) == end - start + 1 > 0
        if start != len(self.sessions[sid]):
            return httpx.Response(416, headers=self.held_range(sid))
        self.patches.append((sid, start, end))
        if self.fail is not None and len(self.patches) - 1 == self.fail[0]:
            kept, self.fail = self.fail[1], None
            self.sessions[sid] += body[:kept]
            if kept:
                self.stored.append((sid, start, start + kept - 1))
            return httpx.Response(500)
        self.sessions[sid] += body
        self.stored.append((sid, start, end))
        return httpx.Response(202, headers={**self.location(sid), **self.held_range(sid)})

    def status(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            204, headers={**self.location(self.session(request)), **self.held_range(self.session(request))}
        )

    def commit(self, request: httpx.Request) -> httpx.Response:
        data = bytes(self.sessions[self.session(request)]) + request.read()
        served = "sha256:" + hashlib.sha256(data).hexdigest()
        if request.url.params["digest"] != served:
            return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID", "message": "digest invalid"}]})
        self.committed = data
        return httpx.Response(201, headers={"Docker-Content-Digest": served})


@st.composite
def uploads(draw: st.DrawFn) -> tuple[bytes, int, tuple[int, int] | None]:
    data = draw(st.binary(min_size=1, max_size=2048))
    chunk = draw(st.integers(min_value=1, max_value=len(data) + 8))
    chunks = math.ceil(len(data) / chunk)
    if not draw(st.booleans()):
        return data, chunk, None
    failing = draw(st.integers(min_value=0, max_value=chunks - 1))
    length = min(chunk, len(data) - failing * chunk)
    kept = draw(st.integers(min_value=0, max_value=length))
    # A session holding exactly one byte also answers "0-0": the client reads it as empty (see the docstring of
    # _held_bytes) and its resend from 0 is refused. Registries either keep nothing of a failed chunk or kill
    # the session (distribution), so that case is left out here.
    assume(not (failing == 0 and kept == 1))
    return data, chunk, (failing, kept)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uploads())
def test_content_ranges_cover_the_blob_exactly_once_even_after_a_failed_chunk(
    upload: tuple[bytes, int, tuple[int, int] | None],
) -> None:
    data, chunk, fail = upload
    model = ModelRegistry(fail)
    result = _push_with(model, data, chunk)
    assert model.committed == data
    assert result.digest == "sha256:" + hashlib.sha256(data).hexdigest() and result.size == len(data)
    # The committed session was written contiguously from 0 to the end: nothing skipped, nothing twice.
    stored = [(start, end) for sid, start, end in model.stored if sid == f"s{len(model.sessions) - 1}"]
    assert [start for start, _ in stored] == [0] + [end + 1 for _, end in stored[:-1]]
    assert stored[-1][1] == len(data) - 1
    assert all(end - start + 1 <= chunk for _, start, end in model.patches)
    resent = sum(end - start + 1 for _, start, end in model.patches) - len(data)
    assert 0 <= resent <= (len(data) if result.restarts else chunk if fail else 0)  # at most one chunk re-sent
    assert result.resumes + result.restarts == (1 if fail is not None else 0)


# -- JWT claims -------------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


def _segment(data: bytes, padded: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5), st.booleans(), st.text(max_size=20))
def test_jwt_claims_round_trip_any_json_object(claims: dict[str, Any], padded: bool, signature: str) -> None:
    header = _segment(b'{"alg":"RS256"}', padded)
    token = f"{header}.{_segment(json.dumps(claims).encode(), padded)}.{signature.replace('.', '')}"
    assert jwt_claims(token) == claims


@given(st.binary(max_size=64), st.booleans())
def test_jwt_claims_of_any_payload_bytes_is_a_dict(payload: bytes, padded: bool) -> None:
    claims = jwt_claims(f"h.{_segment(payload, padded)}.s")
    assert isinstance(claims, dict)
    try:
        decoded = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        decoded = None
    assert claims == (decoded if isinstance(decoded, dict) else {})


@given(st.lists(st.text(max_size=12), min_size=3, max_size=3))
def test_jwt_claims_of_any_three_segments_never_raises(parts: list[str]) -> None:
    assert isinstance(jwt_claims(".".join(p.replace(".", "") for p in parts)), dict)


# -- Retry-After ------------------------------------------------------------------------------------------------

NOW = 1_800_000_000.0


@given(st.text(max_size=60), st.floats(min_value=0, max_value=4e11))
def test_retry_after_never_raises_and_is_never_negative(text: str, at: float) -> None:
    delay = parse_retry_after(text, at=at)
    assert delay is None or (isinstance(delay, float) and delay >= 0 and not math.isnan(delay))


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["", ".0", ".25"]), st.sampled_from(["", " "]))
def test_retry_after_delay_seconds(seconds: int, fraction: str, pad: str) -> None:
    assert parse_retry_after(f"{pad}{seconds}{fraction}{pad}", at=NOW) == float(f"{seconds}{fraction}")


DATES = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))


@given(DATES, st.floats(min_value=0, max_value=4e11))
def test_retry_after_imf_fixdate_round_trips(when: datetime, at: float) -> None:
    when = when.replace(microsecond=0)
    text = email.utils.format_datetime(when, usegmt=True)  # "Sun, 06 Nov 1994 08:49:37 GMT"
    assert parse_retry_after(text, at=at) == pytest.approx(max(0.0, when.timestamp() - at), abs=1e-6)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2068, 12, 30)), st.integers(0, 10**6))
def test_retry_after_rfc850_date_round_trips(when: datetime, ahead: int) -> None:
    when = when.replace(microsecond=0, tzinfo=UTC)
    text = when.strftime("%A, %d-%b-%y %H:%M:%S GMT")  # the obsolete RFC 850 form, two-digit year
    at = when.timestamp() - ahead
    assert parse_retry_after(text, at=at) == pytest.approx(float(ahead), abs=1e-6)


@given(DATES, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_retry_after_dates_with_an_offset_mean_the_same_instant(when: datetime, minutes: int) -> None:
    when = when.replace(microsecond=0)
    assume(datetime(1970, 1, 2, tzinfo=UTC) < when + timedelta(minutes=minutes) < datetime(9999, 12, 30, tzinfo=UTC))
    shifted = when.astimezone(timezone(timedelta(minutes=minutes)))
    text = email.utils.format_datetime(shifted)
    assert parse_retry_after(text, at=0.0) == pytest.approx(when.timestamp(), abs=1e-6)


# -- image references -------------------------------------------------------------------------------------------

COMPONENT = st.from_regex(r"[a-z0-9]{1,6}(?:(?:\.|_|__|-{1,2})[a-z0-9]{1,6}){0,2}", fullmatch=True)
NAMES = st.lists(COMPONENT, min_size=1, max_size=4).map("/".join)
LABEL = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
PORTS = st.integers(min_value=1, max_value=65535).map(lambda p: f":{p}")
HOSTS = st.one_of(
    st.tuples(st.lists(LABEL, min_size=2, max_size=4).map(".".join), st.sampled_from(["", ":5000"]) | PORTS).map(
        "".join
    ),
    st.tuples(LABEL, PORTS).map("".join),  # a single label is a host only with a port
    st.sampled_from(["localhost", "localhost:5000", "[::1]", "[::1]:5000", "[2001:db8::1]:443", "127.0.0.1:5000"]),
    st.sampled_from(sorted(DOCKER_HUB_ALIASES)),
)
TAGS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True) | st.just("t" * 128)
DIGESTS = st.tuples(st.sampled_from(["sha256", "sha512"]), st.binary(max_size=16)).map(
    lambda pair: f"{pair[0]}:{hashlib.new(pair[0], pair[1]).hexdigest()}"
)


@st.composite
def references(draw: st.DrawFn) -> ImageReference:
    registry = draw(st.none() | HOSTS)
    hub = registry is None or registry.lower() in DOCKER_HUB_ALIASES
    repository = validate_repository_name(draw(NAMES), docker_hub=hub)
    first = repository.split("/", 1)[0]
    # Grammar: without a host, a first component with a dot (or "localhost") *is* the host, as in distribution.
    assume(registry is not None or ("." not in first and first != "localhost"))
    return ImageReference(registry, repository, draw(st.none() | TAGS), draw(st.none() | DIGESTS))


@given(references())
def test_image_reference_round_trips(ref: ImageReference) -> None:
    parsed = parse_reference(str(ref))
    assert parsed == ref
    assert parsed.reference == (ref.digest or ref.tag or "latest")


@given(st.text(max_size=80))
def test_parse_reference_raises_only_invalid_input(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidInputError:
        return
    assert parse_reference(str(ref)) == ref  # whatever parses, prints back to the same reference


# -- scopes -----------------------------------------------------------------------------------------------------

ACTION = st.text(min_size=1, max_size=8).filter(lambda a: "," not in a and ":" not in a)


@given(
    st.text(min_size=1, max_size=12).filter(lambda t: ":" not in t),
    st.text(min_size=1, max_size=30),  # a resource name may hold ':' (registry.example.com:5000/app)
    st.lists(ACTION, max_size=4).map(tuple),
)
def test_scope_round_trips(rtype: str, name: str, actions: tuple[str, ...]) -> None:
    scope = Scope(rtype, name, actions)
    assert Scope.parse(str(scope)) == scope


@given(st.text(max_size=60))
def test_scope_parse_raises_only_invalid_input(text: str) -> None:
    try:
        scope = Scope.parse(text)
    except InvalidInputError:
        return
    assert scope.type and scope.name and ":" not in scope.type and all(scope.actions)


# -- Link headers -----------------------------------------------------------------------------------------------


@given(st.one_of(st.none(), st.text(max_size=200)))
def test_parse_link_header_never_raises(text: str | None) -> None:
    links = parse_link_header(text)
    assert isinstance(links, dict)
    assert all(rel == rel.lower() and isinstance(target, str) for rel, target in links.items())
    assert all(f"<{target}>" in (text or "") for target in links.values())


REL = st.from_regex(r"[a-z][a-z.-]{0,8}", fullmatch=True)
TARGET = st.text(max_size=40).filter(lambda t: ">" not in t)


@given(st.lists(st.tuples(TARGET, st.lists(REL, min_size=1, max_size=2), st.booleans()), min_size=1, max_size=4))
def test_link_header_round_trips(links: list[tuple[str, list[str], bool]]) -> None:
    parts = []
    expected: dict[str, str] = {}
    for target, rels, quoted in links:
        value = f'"{" ".join(rels)}"' if quoted or len(rels) > 1 else rels[0]
        parts.append(f"<{target}>; title=x; rel={value}")
        for rel in rels:
            expected.setdefault(rel, target)
    assert parse_link_header(", ".join(parts)) == expected


def _push_with(model: ModelRegistry, data: bytes, chunk: int) -> PushResult:
    config = ClientConfig.from_fields(None, None, {"registry_url": REG, "allow_destructive": True})
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.post(f"{REG}/v2/acme/app/blobs/uploads/").mock(side_effect=model.start)
        uploads_re = rf"{REG}/v2/acme/app/blobs/uploads/s\d+"
        router.patch(url__regex=uploads_re).mock(side_effect=model.patch)
        router.get(url__regex=uploads_re).mock(side_effect=model.status)
        router.put(url__regex=uploads_re).mock(side_effect=model.commit)
        router.delete(url__regex=uploads_re).respond(204)
        with DockerHubSession(config, sleep=lambda _: None) as session:
            return session.registry.push_blob("acme/app", data, chunk_size=chunk)


def test_closed_gap_session_holding_one_byte_of_a_failed_first_chunk() -> None:
    # The registry kept 1 byte of the failed first chunk and says so the only way distribution can: "Range: 0-0".
    # The engine reads that as "empty", resends from 0, is refused with 416 and asks again, 8 times; a 416 after
    # a resume should make it open a new session instead.
    model = ModelRegistry((0, 1))
    _push_with(model, b"ab", 2)
    assert model.committed == b"ab"
