"""Names, tags, digests, references, scopes and path segments: validated before any request is built."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_dockerhub.client.core.errors import InvalidInputError
from airflow_provider_dockerhub.client.core.reference import (
    MAX_NAME_LENGTH,
    ImageReference,
    Scope,
    digest_of,
    is_digest,
    is_docker_hub_registry,
    merge_scopes,
    parse_reference,
    path_segment,
    repository_scope,
    sha256_digest,
    validate_digest,
    validate_repository_name,
    validate_tag,
    validate_tag_or_digest,
)

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8
VALIDATED_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")


# -- repository names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nginx", "nginx"),
        ("library/nginx", "library/nginx"),
        ("bitnami/redis", "bitnami/redis"),
        ("a/b/c/d", "a/b/c/d"),
        ("my.app", "my.app"),
        ("my_app", "my_app"),
        ("my__app", "my__app"),
        ("my-app", "my-app"),
        ("my---app", "my---app"),
        ("0abc/9xyz", "0abc/9xyz"),
    ],
)
def test_valid_repository_names(name: str, expected: str) -> None:
    assert validate_repository_name(name) == expected


@pytest.mark.parametrize(
    ("name", "docker_hub", "expected"),
    [
        ("nginx", True, "library/nginx"),
        ("library/nginx", True, "library/nginx"),
        ("bitnami/redis", True, "bitnami/redis"),
        ("nginx", False, "nginx"),
    ],
)
def test_docker_hub_library_mapping(name: str, docker_hub: bool, expected: str) -> None:
    assert validate_repository_name(name, docker_hub=docker_hub) == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "a/../b",
        "../etc",
        "a..b",
        "%2e%2e/x",
        "a%2Fb",
        "a?b",
        "a#b",
        "a b",
        "a//b",
        "/a",
        "a/",
        "-a",
        "a-",
        "_a",
        "a.",
        "a___b",
        "a._b",
        "a:b",
        "a@b",
        "ñame",
        "a" * (MAX_NAME_LENGTH + 1),
    ],
)
def test_invalid_repository_names(name: str) -> None:
    with pytest.raises(InvalidInputError):
        validate_repository_name(name)


@pytest.mark.parametrize("name", ["Nginx", "Library/nginx", "bitnami/Redis", "MYAPP"])
def test_mixed_case_names_are_refused_with_a_hint(name: str) -> None:
    with pytest.raises(InvalidInputError, match="names are lower case"):
        validate_repository_name(name)


def test_name_length_counts_the_library_prefix() -> None:
    name = "a" * (MAX_NAME_LENGTH - len("library/"))
    assert validate_repository_name(name, docker_hub=True) == "library/" + name
    with pytest.raises(InvalidInputError, match="longer than"):
        validate_repository_name(name + "a", docker_hub=True)


@pytest.mark.parametrize("value", [None, 42, b"nginx"])
def test_non_string_names_are_refused(value: object) -> None:
    with pytest.raises(InvalidInputError):
        validate_repository_name(value)  # type: ignore[arg-type]


# -- tags ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "1.25-alpine", "_private", "A", "Release_2024.01-rc1", "a" * 128])
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    "tag",
    ["", ".hidden", "-dash", "a/b", "a:b", "a?b", "a#b", "a b", "a@b", "%2e%2e", "é", "tag\n", "../x"],
)
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid tag"):
        validate_tag(tag)


def test_129_character_tag_is_refused_and_says_why() -> None:
    with pytest.raises(InvalidInputError, match="longer than 128 characters") as info:
        validate_tag("a" * 129)
    assert "a" * 129 not in str(info.value)  # long input is shortened in the message


@pytest.mark.parametrize("value", [None, 1, ["latest"]])
def test_non_string_tags_are_refused(value: object) -> None:
    with pytest.raises(InvalidInputError):
        validate_tag(value)  # type: ignore[arg-type]


# -- digests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("digest", [SHA256, SHA512, sha256_digest(b""), digest_of(b"x", "sha512")])
def test_valid_digests(digest: str) -> None:
    assert validate_digest(digest) == digest


@pytest.mark.parametrize(
    ("digest", "message"),
    [
        ("sha256:" + "a" * 63, "64 lower-case hex"),
        ("sha256:" + "a" * 65, "64 lower-case hex"),
        ("sha256:" + "A" * 64, "lower-case hex"),
        ("sha256:" + "g" * 64, "lower-case hex"),
        ("sha512:" + "a" * 64, "128 lower-case hex"),
        ("md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
        ("sha384:" + "a" * 96, "unsupported digest algorithm"),
        ("SHA256:" + "a" * 64, "invalid digest"),
        ("sha256:", "invalid digest"),
        ("sha256", "invalid digest"),
        (":" + "a" * 64, "invalid digest"),
        ("sha256:" + "a" * 64 + "/../x", "invalid digest"),
        ("", "invalid digest"),
    ],
)
def test_invalid_digests(digest: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        validate_digest(digest)


def test_digest_helpers() -> None:
    assert sha256_digest(b"hello") == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    assert digest_of(b"hello", "sha512") == "sha512:" + hashlib.sha512(b"hello").hexdigest()
    assert is_digest(SHA256)
    assert not is_digest("latest")
    assert validate_tag_or_digest("latest") == "latest"
    assert validate_tag_or_digest(SHA256) == SHA256
    # Looks like a digest, so it is validated as one (and is not silently accepted as a tag).
    with pytest.raises(InvalidInputError, match="sha256"):
        validate_tag_or_digest("sha256:abc")


# -- references ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", ImageReference(None, "library/nginx")),
        ("nginx:1.25", ImageReference(None, "library/nginx", "1.25")),
        ("library/nginx", ImageReference(None, "library/nginx")),
        ("bitnami/redis:7", ImageReference(None, "bitnami/redis", "7")),
        ("docker.io/nginx", ImageReference("docker.io", "library/nginx")),
        ("index.docker.io/nginx", ImageReference("index.docker.io", "library/nginx")),
        ("registry-1.docker.io/nginx:latest", ImageReference("registry-1.docker.io", "library/nginx", "latest")),
        ("registry.hub.docker.com/library/nginx", ImageReference("registry.hub.docker.com", "library/nginx")),
        ("Docker.IO/nginx", ImageReference("Docker.IO", "library/nginx")),
        ("docker.io/bitnami/redis", ImageReference("docker.io", "bitnami/redis")),
        ("localhost:5000/x", ImageReference("localhost:5000", "x")),
        ("localhost/x:1", ImageReference("localhost", "x", "1")),
        ("quay.io/etcd", ImageReference("quay.io", "etcd")),
        ("ghcr.io/owner/image:v1", ImageReference("ghcr.io", "owner/image", "v1")),
        ("example.com:443/team/app:v1", ImageReference("example.com:443", "team/app", "v1")),
        ("[::1]:5000/a", ImageReference("[::1]:5000", "a")),
        ("[::1]/a:t", ImageReference("[::1]", "a", "t")),
        ("MyRegistry/foo", ImageReference("MyRegistry", "foo")),
        (f"nginx@{SHA256}", ImageReference(None, "library/nginx", None, SHA256)),
        (f"nginx:1.25@{SHA256}", ImageReference(None, "library/nginx", "1.25", SHA256)),
        (f"localhost:5000/x:1@{SHA512}", ImageReference("localhost:5000", "x", "1", SHA512)),
    ],
)
def test_parse_reference(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "docker_hub", "repository"),
    [
        ("nginx", False, "nginx"),
        ("localhost:5000/x", True, "library/x"),
        ("docker.io/nginx", False, "nginx"),
    ],
)
def test_parse_reference_docker_hub_override(text: str, docker_hub: bool, repository: str) -> None:
    assert parse_reference(text, docker_hub=docker_hub).repository == repository


@pytest.mark.parametrize(
    ("ref", "reference", "text"),
    [
        (ImageReference(None, "library/nginx"), "latest", "library/nginx"),
        (ImageReference("quay.io", "a/b", "v1"), "v1", "quay.io/a/b:v1"),
        (ImageReference(None, "a", "v1", SHA256), SHA256, f"a:v1@{SHA256}"),
        (ImageReference("localhost:5000", "x", None, SHA256), SHA256, f"localhost:5000/x@{SHA256}"),
    ],
)
def test_image_reference_reference_and_str(ref: ImageReference, reference: str, text: str) -> None:
    assert ref.reference == reference  # the digest wins over the tag: it pins the content
    assert str(ref) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        " nginx",
        "nginx ",
        "Nginx",
        "nginx:",
        "nginx:-bad",
        "nginx:" + "a" * 129,
        "nginx@sha256:abc",
        f"nginx@{SHA256.upper()}",
        "nginx@md5:" + "a" * 32,
        "/nginx",
        "nginx/",
        "a..b/c",
        "exa_mple.com/x",
        "http://registry.example.com/x",
        "registry.example.com:99999x/x",
        "%2e%2e/x",
        "x/../y",
    ],
)
def test_parse_reference_refuses(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_reference(text)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("docker.io", True),
        ("DOCKER.IO", True),
        ("index.docker.io", True),
        ("registry-1.docker.io", True),
        ("registry.hub.docker.com", True),
        ("quay.io", False),
        ("docker.io.evil.com", False),
        ("localhost:5000", False),
    ],
)
def test_is_docker_hub_registry(host: str, expected: bool) -> None:
    assert is_docker_hub_registry(host) is expected


# -- scopes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repository:library/alpine:pull", Scope("repository", "library/alpine", ("pull",))),
        ("repository:samalba/my-app:pull,push", Scope("repository", "samalba/my-app", ("pull", "push"))),
        ("repository:localhost:5000/foo/bar:pull", Scope("repository", "localhost:5000/foo/bar", ("pull",))),
        (
            "repository:registry.example.com:8443/a/b:pull,push,delete",
            Scope("repository", "registry.example.com:8443/a/b", ("pull", "push", "delete")),
        ),
        ("registry:catalog:*", Scope("registry", "catalog", ("*",))),
        ("repository:a/b:", Scope("repository", "a/b", ())),
        ("repository:a/b:pull,,push", Scope("repository", "a/b", ("pull", "push"))),
    ],
)
def test_scope_parse(text: str, expected: Scope) -> None:
    assert Scope.parse(text) == expected


@pytest.mark.parametrize("text", ["", "repository", "repository:a/b", ":a/b:pull", "repository::pull", "::"])
def test_scope_parse_refuses(text: str) -> None:
    with pytest.raises(InvalidInputError):
        Scope.parse(text)


@pytest.mark.parametrize(
    "text", ["repository:library/alpine:pull", "repository:localhost:5000/foo/bar:pull,push", "registry:catalog:*"]
)
def test_scope_str_round_trips(text: str) -> None:
    assert str(Scope.parse(text)) == text


def test_repository_scope() -> None:
    assert str(repository_scope("a/b", "pull", "push")) == "repository:a/b:pull,push"


def test_merge_scopes_merges_actions_per_resource() -> None:
    dst = repository_scope("team/dst", "push")
    src = repository_scope("team/src", "pull")
    merged = merge_scopes([dst], [repository_scope("team/dst", "pull"), src])
    assert merged == (repository_scope("team/dst", "pull", "push"), src)


def test_merge_scopes_keeps_first_resource_first() -> None:
    """For a cross-repository mount the push target must come first (some registries read only the first)."""
    target = repository_scope("z/target", "pull", "push")
    source = repository_scope("a/source", "pull")
    assert merge_scopes([target], [source])[0] == target
    assert merge_scopes([target, source], [source])[0] == target
    assert merge_scopes([source], [target])[0] == source


def test_merge_scopes_orders_actions_canonically() -> None:
    a = Scope("repository", "a/b", ("*", "delete", "zzz", "push", "pull"))
    b = Scope("repository", "a/b", ("pull", "zzz", "push", "*", "delete"))
    assert (
        merge_scopes([a]) == merge_scopes([b]) == (Scope("repository", "a/b", ("pull", "push", "delete", "*", "zzz")),)
    )


def test_merge_scopes_is_deterministic_and_drops_duplicates() -> None:
    groups: tuple[list[Scope], ...] = ([repository_scope("a/b", "push", "pull")], [repository_scope("a/b", "pull")], [])
    first = merge_scopes(*groups)
    assert first == merge_scopes(*groups) == (repository_scope("a/b", "pull", "push"),)
    assert merge_scopes() == ()


def test_merge_scopes_distinguishes_resource_types() -> None:
    merged = merge_scopes([Scope("registry", "catalog", ("*",))], [Scope("repository", "catalog", ("pull",))])
    assert [(s.type, s.name) for s in merged] == [("registry", "catalog"), ("repository", "catalog")]


_scope_strategy = st.builds(
    lambda name, actions: repository_scope(name, *actions),
    st.sampled_from(["a/b", "c/d", "localhost:5000/x", "e"]),
    st.lists(st.sampled_from(["pull", "push", "delete", "*"]), max_size=4),
)


@given(st.lists(st.lists(_scope_strategy, max_size=4), min_size=1, max_size=4))
def test_merge_scopes_properties(groups: list[list[Scope]]) -> None:
    merged = merge_scopes(*groups)
    flat = [scope for group in groups for scope in group]
    keys = [(s.type, s.name) for s in merged]
    assert len(keys) == len(set(keys))  # one entry per resource
    assert keys == list(dict.fromkeys((s.type, s.name) for s in flat))  # in first-seen order
    for scope in merged:
        wanted = {a for s in flat if (s.type, s.name) == (scope.type, scope.name) for a in s.actions}
        assert set(scope.actions) == wanted
        assert len(scope.actions) == len(wanted)
    # Reordering actions inside the inputs never changes the result (equal sets -> equal cache keys).
    reversed_actions = [[Scope(s.type, s.name, s.actions[::-1]) for s in group] for group in groups]
    assert merge_scopes(*reversed_actions) == merged


# -- path segments ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("myorg", "myorg"),
        ("../settings", "..%2Fsettings"),
        ("a/b", "a%2Fb"),
        ("a b", "a%20b"),
        ("?x=1", "%3Fx%3D1"),
        ("#frag", "%23frag"),
        ("%2e%2e", "%252e%252e"),
        ("...", "..."),
        (".hidden", ".hidden"),
        ("ünï", "%C3%BCn%C3%AF"),
    ],
)
def test_path_segment_escapes(value: str, expected: str) -> None:
    assert path_segment(value) == expected


@pytest.mark.parametrize("value", ["../settings", "a/b", "%2e%2e", "./x", "a/../../b"])
def test_escaped_segment_stays_one_segment_in_an_httpx_url(value: str) -> None:
    url = httpx.URL("https://hub.docker.com/v2/orgs/" + path_segment(value) + "/members")
    segments = url.raw_path.decode().split("/")
    assert segments[:3] == ["", "v2", "orgs"]
    assert segments[4:] == ["members"]
    assert unquote(segments[3]) == value


@pytest.mark.parametrize("value", [".", "..", "", "a\x00b", "a\rb", "a\nb"])
def test_path_segment_refuses(value: str) -> None:
    with pytest.raises(InvalidInputError):
        path_segment(value, "namespace")


def test_path_segment_names_the_parameter_in_errors() -> None:
    with pytest.raises(InvalidInputError, match="namespace"):
        path_segment("..", "namespace")
    with pytest.raises(InvalidInputError):
        path_segment(None)  # type: ignore[arg-type]


@given(st.text(min_size=1).filter(lambda s: s not in {".", ".."} and not any(c in s for c in "\x00\r\n")))
def test_path_segment_property(value: str) -> None:
    escaped = path_segment(value)
    assert "/" not in escaped
    assert escaped not in {".", ".."}
    assert unquote(escaped) == value


# -- grammar properties -------------------------------------------------------------------------------------

_component = st.from_regex(r"[a-z0-9]{1,8}(?:(?:\.|_|__|-{1,3})[a-z0-9]{1,8}){0,3}", fullmatch=True)
_name = st.lists(_component, min_size=1, max_size=5).map("/".join).filter(lambda n: len(n) <= MAX_NAME_LENGTH - 8)


@given(_name)
def test_any_name_from_the_grammar_validates(name: str) -> None:
    assert validate_repository_name(name) == name
    hub = validate_repository_name(name, docker_hub=True)
    assert hub == (name if "/" in name else f"library/{name}")


@given(_name, st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", fullmatch=True))
def test_any_grammar_reference_parses_back(name: str, tag: str) -> None:
    ref = parse_reference(f"registry.example.com:5000/{name}:{tag}")
    assert ref == ImageReference("registry.example.com:5000", name, tag)


@given(st.text(max_size=300))
def test_validated_names_never_carry_traversal_or_upper_case(text: str) -> None:
    try:
        name = validate_repository_name(text)
    except InvalidInputError:
        return
    assert name == name.lower()
    assert ".." not in name and "//" not in name and "%" not in name
    assert not name.startswith("/") and not name.endswith("/")
    assert len(name) <= MAX_NAME_LENGTH


@given(st.binary(max_size=64), st.sampled_from(["sha256", "sha512"]))
def test_computed_digests_validate(data: bytes, algorithm: str) -> None:
    digest = digest_of(data, algorithm)
    assert validate_digest(digest) == digest
    assert VALIDATED_DIGEST.fullmatch(digest)


@given(
    st.one_of(
        st.text(max_size=140),
        st.builds(
            lambda a, e: f"{a}:{e}", st.sampled_from(["sha256", "sha512", "md5", "SHA256"]), st.text(max_size=130)
        ),
        st.builds(
            lambda a, e: f"{a}:{e}",
            st.sampled_from(["sha256", "sha512"]),
            st.text(alphabet="0123456789abcdefABCDEF", min_size=60, max_size=130),
        ),
    )
)
def test_whatever_validates_as_a_digest_matches_the_strict_regex(text: str) -> None:
    try:
        digest = validate_digest(text)
    except InvalidInputError:
        return
    assert VALIDATED_DIGEST.fullmatch(digest)
