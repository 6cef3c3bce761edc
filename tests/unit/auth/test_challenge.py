"""``WWW-Authenticate`` parsing: real-world headers, challenge choice, scopes, and parser properties."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dockerhub.client.auth.challenge import (
    Challenge,
    parse_challenges,
    parse_www_authenticate,
    pick_challenge,
)
from airflow_provider_dockerhub.client.core.reference import Scope

HUB_CHALLENGE = (
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
    'scope="repository:samalba/my-app:pull,push"'
)
LOCAL_REALM = 'Bearer realm="http://127.0.0.1:5001/token",service="registry.local"'


# (header, expected challenges as (scheme, params, token68))
HEADER_TABLE = [
    pytest.param(
        HUB_CHALLENGE,
        [
            (
                "bearer",
                {
                    "realm": "https://auth.docker.io/token",
                    "service": "registry.docker.io",
                    "scope": "repository:samalba/my-app:pull,push",
                },
                None,
            )
        ],
        id="docker-hub",
    ),
    pytest.param(
        LOCAL_REALM,
        [("bearer", {"realm": "http://127.0.0.1:5001/token", "service": "registry.local"}, None)],
        id="distribution-ping",
    ),
    pytest.param(
        LOCAL_REALM + ',scope="registry:catalog:*"',
        [
            (
                "bearer",
                {"realm": "http://127.0.0.1:5001/token", "service": "registry.local", "scope": "registry:catalog:*"},
                None,
            )
        ],
        id="distribution-catalog",
    ),
    pytest.param(
        LOCAL_REALM + ',scope="repository:bench/mountdst:pull,push repository:bench/auth:pull"',
        [
            (
                "bearer",
                {
                    "realm": "http://127.0.0.1:5001/token",
                    "service": "registry.local",
                    "scope": "repository:bench/mountdst:pull,push repository:bench/auth:pull",
                },
                None,
            )
        ],
        id="distribution-mount-two-scopes",
    ),
    pytest.param(
        LOCAL_REALM + ',scope="repository:bench/auth:pull,push",error="insufficient_scope"',
        [
            (
                "bearer",
                {
                    "realm": "http://127.0.0.1:5001/token",
                    "service": "registry.local",
                    "scope": "repository:bench/auth:pull,push",
                    "error": "insufficient_scope",
                },
                None,
            )
        ],
        id="insufficient-scope",
    ),
    pytest.param(
        LOCAL_REALM + ',scope="repository:bench/auth:pull",error="invalid_token"',
        [
            (
                "bearer",
                {
                    "realm": "http://127.0.0.1:5001/token",
                    "service": "registry.local",
                    "scope": "repository:bench/auth:pull",
                    "error": "invalid_token",
                },
                None,
            )
        ],
        id="invalid-token",
    ),
    pytest.param('Basic realm="basic-realm"', [("basic", {"realm": "basic-realm"}, None)], id="htpasswd-basic"),
    pytest.param(
        'Basic realm="x", Bearer realm="y",service="z"',
        [("basic", {"realm": "x"}, None), ("bearer", {"realm": "y", "service": "z"}, None)],
        id="two-challenges",
    ),
    pytest.param(
        'Bearer realm="say \\"hi\\"",service="back\\\\slash"',
        [("bearer", {"realm": 'say "hi"', "service": "back\\slash"}, None)],
        id="escaped-quotes-and-backslash",
    ),
    pytest.param(
        'Bearer realm="a\\bc"',
        [("bearer", {"realm": "abc"}, None)],
        id="quoted-pair-of-ordinary-char",
    ),
    pytest.param(
        '  Bearer \t realm = "r" ,   service="s"  ,scope="repository:a/b:pull"  ',
        [("bearer", {"realm": "r", "service": "s", "scope": "repository:a/b:pull"}, None)],
        id="odd-whitespace",
    ),
    pytest.param(
        "Bearer realm=https-realm,service=registry.example.com",
        [("bearer", {"realm": "https-realm", "service": "registry.example.com"}, None)],
        id="unquoted-token-values",
    ),
    pytest.param("Negotiate abc==", [("negotiate", {}, "abc==")], id="token68"),
    pytest.param(
        'Negotiate abc==, Basic realm="r"',
        [("negotiate", {}, "abc=="), ("basic", {"realm": "r"}, None)],
        id="token68-then-basic",
    ),
    pytest.param(
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
        [
            (
                "bearer",
                {"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:user/image:pull"},
                None,
            )
        ],
        id="ghcr",
    ),
    pytest.param(
        'Bearer realm="https://quay.io/v2/auth",service="quay.io"',
        [("bearer", {"realm": "https://quay.io/v2/auth", "service": "quay.io"}, None)],
        id="quay",
    ),
    pytest.param(
        'Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"',
        [
            (
                "basic",
                {"realm": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/", "service": "ecr.amazonaws.com"},
                None,
            )
        ],
        id="ecr",
    ),
    pytest.param('bearer realm="r"', [("bearer", {"realm": "r"}, None)], id="lower-case-scheme"),
    pytest.param('BEARER REALM="r",Service="s"', [("bearer", {"realm": "r", "service": "s"}, None)], id="upper-case"),
    pytest.param('Bearer realm="first", realm="second"', [("bearer", {"realm": "first"}, None)], id="duplicate-param"),
    pytest.param("Bearer", [("bearer", {}, None)], id="scheme-only"),
    pytest.param("", [], id="empty"),
    pytest.param("   ", [], id="blank"),
    pytest.param('"""', [], id="garbage-quotes"),
    pytest.param("=== ,,, ;;", [], id="garbage-punctuation"),
    pytest.param(
        'Bearer service="s", realm="unterminated',
        [("bearer", {"service": "s"}, None)],
        id="unterminated-quote-drops-params",
    ),
]


@pytest.mark.parametrize(("header", "expected"), HEADER_TABLE)
def test_parse_challenges_table(header: str, expected: list[tuple[str, dict[str, str], str | None]]) -> None:
    parsed = parse_challenges(header)
    assert [(c.scheme, c.params, c.token68) for c in parsed] == expected


def test_docker_hub_challenge_properties() -> None:
    (challenge,) = parse_challenges(HUB_CHALLENGE)
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.service == "registry.docker.io"
    assert challenge.error is None
    assert challenge.scopes == (Scope("repository", "samalba/my-app", ("pull", "push")),)


def test_error_property() -> None:
    (challenge,) = parse_challenges(LOCAL_REALM + ',error="insufficient_scope"')
    assert challenge.error == "insufficient_scope"


def test_garbage_after_valid_challenge_keeps_what_was_parsed() -> None:
    parsed = parse_challenges('Bearer realm="r",service="s" ]]]] @@@')
    assert [(c.scheme, c.params) for c in parsed] == [("bearer", {"realm": "r", "service": "s"})]


def test_token68_with_single_padding_is_not_a_parameter() -> None:
    """RFC 7235 token68 may end in one '=' (base64 of a 2-byte remainder); ``YWI=`` cannot be an auth-param,
    whose value must be a non-empty token or quoted string. The challenge after it must not be lost."""
    parsed = parse_challenges('Negotiate YWI=, Basic realm="r"')
    assert [(c.scheme, c.params, c.token68) for c in parsed] == [
        ("negotiate", {}, "YWI="),
        ("basic", {"realm": "r"}, None),
    ]


def test_parse_www_authenticate_concatenates_lines_in_order() -> None:
    challenges = parse_www_authenticate(['Basic realm="basic-realm"', "Negotiate abc==", HUB_CHALLENGE])
    assert [c.scheme for c in challenges] == ["basic", "negotiate", "bearer"]
    assert challenges[2].realm == "https://auth.docker.io/token"


def test_parse_www_authenticate_no_lines() -> None:
    assert parse_www_authenticate([]) == []


@pytest.mark.parametrize(
    ("headers", "expected_scheme", "expected_realm"),
    [
        (['Basic realm="x", Bearer realm="y",service="z"'], "bearer", "y"),
        (['Basic realm="x"', 'Bearer realm="y"'], "bearer", "y"),
        (['Bearer realm="y"', 'Basic realm="x"'], "bearer", "y"),
        (["Negotiate abc==", 'Basic realm="x"'], "basic", "x"),
        (['Digest realm="d",nonce="n"', 'Basic realm="x"'], "basic", "x"),
        (['Bearer realm="first"', 'Bearer realm="second"'], "bearer", "first"),
    ],
)
def test_pick_challenge_prefers_bearer_then_basic(
    headers: list[str], expected_scheme: str, expected_realm: str
) -> None:
    chosen = pick_challenge(parse_www_authenticate(headers))
    assert chosen is not None
    assert (chosen.scheme, chosen.realm) == (expected_scheme, expected_realm)


@pytest.mark.parametrize("headers", [[], ["Negotiate abc=="], ['Digest realm="d",nonce="n"', "NTLM"], [""]])
def test_pick_challenge_ignores_unknown_schemes(headers: list[str]) -> None:
    assert pick_challenge(parse_www_authenticate(headers)) is None


@pytest.mark.parametrize(
    ("scope_param", "expected"),
    [
        ("repository:samalba/my-app:pull,push", (Scope("repository", "samalba/my-app", ("pull", "push")),)),
        (
            "repository:bench/mountdst:pull,push repository:bench/auth:pull",
            (
                Scope("repository", "bench/mountdst", ("pull", "push")),
                Scope("repository", "bench/auth", ("pull",)),
            ),
        ),
        ("registry:catalog:*", (Scope("registry", "catalog", ("*",)),)),
        (
            "repository:localhost:5000/foo/bar:pull",
            (Scope("repository", "localhost:5000/foo/bar", ("pull",)),),
        ),
        (
            "repository:registry.example.com:443/team/app:pull,delete",
            (Scope("repository", "registry.example.com:443/team/app", ("pull", "delete")),),
        ),
        ("repository(plugin):vieux/sshfs:pull", (Scope("repository(plugin)", "vieux/sshfs", ("pull",)),)),
        # Unparseable items are skipped, not fatal.
        ("nonsense repository:a/b:pull", (Scope("repository", "a/b", ("pull",)),)),
        ("", ()),
    ],
)
def test_challenge_scopes(scope_param: str, expected: tuple[Scope, ...]) -> None:
    challenge = Challenge("bearer", {"realm": "r", "scope": scope_param})
    assert challenge.scopes == expected


def test_challenge_without_scope_has_no_scopes() -> None:
    assert Challenge("bearer", {"realm": "r"}).scopes == ()


# -- properties ---------------------------------------------------------------------------------------------

# Anything a quoted-string may hold once escaped: visible ASCII, space, tab, and non-ASCII (obs-text / UTF-8).
_quotable = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"),
        whitelist_characters='\t ,"\\=;',
    ),
    max_size=40,
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(realm=_quotable, service=_quotable, scope=_quotable)
def test_quoted_values_round_trip(realm: str, service: str, scope: str) -> None:
    header = f"Bearer realm={_quote(realm)},service={_quote(service)},scope={_quote(scope)}"
    (challenge,) = parse_challenges(header)
    assert challenge.scheme == "bearer"
    assert challenge.params == {"realm": realm, "service": service, "scope": scope}


@given(basic_realm=_quotable, realm=_quotable, service=_quotable, sep=st.sampled_from([",", ", ", " , ", ",\t"]))
def test_quoted_values_round_trip_across_challenges(basic_realm: str, realm: str, service: str, sep: str) -> None:
    header = f"Basic realm={_quote(basic_realm)}{sep}Bearer realm={_quote(realm)}{sep}service={_quote(service)}"
    parsed = parse_challenges(header)
    assert [(c.scheme, c.params) for c in parsed] == [
        ("basic", {"realm": basic_realm}),
        ("bearer", {"realm": realm, "service": service}),
    ]
    chosen = pick_challenge(parsed)
    assert chosen is not None
    assert chosen.realm == realm


_token = st.from_regex(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", fullmatch=True)


@given(scheme=_token, params=st.dictionaries(_token, _quotable, min_size=1, max_size=5))
def test_arbitrary_param_names_round_trip(scheme: str, params: dict[str, str]) -> None:
    # Parameter names are case-insensitive; the first of two names equal ignoring case wins.
    expected: dict[str, str] = {}
    for name, value in params.items():
        expected.setdefault(name.lower(), value)
    header = scheme + " " + ", ".join(f"{name}={_quote(value)}" for name, value in params.items())
    (challenge,) = parse_challenges(header)
    assert challenge.scheme == scheme.lower()
    assert challenge.params == expected


@settings(max_examples=500)
@given(st.text())
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    challenges = parse_challenges(text)
    assert isinstance(challenges, list)
    for challenge in challenges:
        assert challenge.scheme == challenge.scheme.lower()
        assert challenge.scheme
        assert all(name == name.lower() for name in challenge.params)
        assert isinstance(challenge.scopes, tuple)  # never raises either
    assert pick_challenge(challenges) in [*challenges, None]


@given(st.lists(st.sampled_from(['"', "\\", ",", "=", " ", "a", "Bearer", "realm", "==", "\t"]), max_size=60))
def test_parser_never_raises_on_adversarial_fragments(parts: list[str]) -> None:
    assert isinstance(parse_challenges("".join(parts)), list)


@pytest.mark.parametrize(
    "text",
    [
        '"' * 20_000,
        "\\" * 20_000,
        'Bearer realm="' + "\\a" * 10_000,
        "a=" * 10_000,
        "Bearer " + "x=y," * 5_000,
        ", " * 10_000,
        "a " * 10_000,
    ],
    ids=["quotes", "backslashes", "unterminated-escapes", "param-chain", "many-params", "commas", "schemes"],
)
def test_parser_terminates_quickly_on_long_pathological_input(text: str) -> None:
    started = time.perf_counter()
    parse_challenges(text)
    assert time.perf_counter() - started < 2.0
