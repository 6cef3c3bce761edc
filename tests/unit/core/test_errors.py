"""Mapping HTTP answers of the three APIs (registry, Hub, SCIM) onto the typed error tree."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from airflow_provider_dockerhub.client.core.errors import (
    MAX_ERROR_BODY,
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DockerHubError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    UnsupportedOperationError,
    describe_server_error,
    error_class_for,
    error_from_response,
    raise_for_response,
    redacted_path,
)

REGISTRY = "https://registry-1.docker.io"
HUB = "https://hub.docker.com"


def answer(
    status: int,
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    json_body: object = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = httpx.Request(method, url)
    if json_body is not None:
        return httpx.Response(status, json=json_body, request=request, headers=headers)
    return httpx.Response(status, content=body or b"", request=request, headers=headers)


def test_registry_manifest_unknown() -> None:
    response = answer(
        404,
        f"{REGISTRY}/v2/library/nginx/manifests/nope",
        json_body={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": "nope"}]},
    )
    error = error_from_response(response)
    assert type(error) is NotFoundError
    assert error.status == 404
    assert error.code == "MANIFEST_UNKNOWN"
    assert error.codes == ("MANIFEST_UNKNOWN",)
    assert error.server_message == "manifest unknown"
    assert error.method == "GET"
    assert error.path == "registry-1.docker.io/v2/library/nginx/manifests/nope"
    message = str(error)
    for part in ("GET", "/v2/library/nginx/manifests/nope", "404", "MANIFEST_UNKNOWN", "manifest unknown"):
        assert part in message
    assert (
        message
        == "GET registry-1.docker.io/v2/library/nginx/manifests/nope -> HTTP 404: MANIFEST_UNKNOWN: manifest unknown"
    )


def test_registry_several_errors_keep_every_code() -> None:
    body = {
        "errors": [
            {"code": "DENIED", "message": "requested access to the resource is denied"},
            {"code": "UNAUTHORIZED", "message": "authentication required"},
            {"message": "no code here"},
        ]
    }
    error = error_from_response(answer(401, f"{REGISTRY}/v2/a/b/blobs/uploads/", method="POST", json_body=body))
    assert type(error) is AuthenticationError
    assert error.code == "DENIED"
    assert error.codes == ("DENIED", "UNAUTHORIZED")
    assert error.server_message == ("requested access to the resource is denied; authentication required; no code here")
    # A bare 401 does not say the password is wrong (a pull-only identity pushing gets one too): only the auth flow
    # that saw the challenge knows, and it says so with refuse().
    assert "did not accept this request's authorization" in str(error)
    assert "check the connection's login" not in str(error)


def test_hub_detail_and_message() -> None:
    body = {"detail": "Object not found", "message": "object not found", "errinfo": {}}
    error = error_from_response(answer(404, f"{HUB}/v2/repositories/acme/missing/", json_body=body))
    assert type(error) is NotFoundError
    assert error.code is None
    assert error.codes == ()
    assert error.server_message == "Object not found"  # detail first: it is the human-readable one
    assert str(error) == "GET hub.docker.com/v2/repositories/acme/missing/ -> HTTP 404: Object not found"


def test_hub_message_only() -> None:
    error = error_from_response(answer(403, f"{HUB}/v2/orgs/acme/members", json_body={"message": "forbidden"}))
    assert type(error) is PermissionDeniedError
    assert error.server_message == "forbidden"
    assert "lacks permission" in str(error)


def test_hub_value_error_with_text() -> None:
    body = {"fields": {"name": ["This field may not be blank."]}, "text": "ValueError: name is required"}
    error = error_from_response(answer(400, f"{HUB}/v2/repositories/", method="POST", json_body=body))
    assert type(error) is BadRequestError
    assert error.server_message == "ValueError: name is required"


def test_hub_value_error_fields_only() -> None:
    body = {"fields": {"name": ["This field may not be blank."]}}
    error = error_from_response(answer(400, f"{HUB}/v2/repositories/", method="POST", json_body=body))
    assert error.server_message is not None
    assert json.loads(error.server_message) == body["fields"]


def test_hub_rate_limit_body() -> None:
    body = {"detail": "Rate limit exceeded", "error": False}
    error = error_from_response(answer(429, f"{HUB}/v2/auditlogs/acme", json_body=body), retry_after=12.0)
    assert type(error) is RateLimitedError
    assert error.retry_after == 12.0
    assert error.server_message == "Rate limit exceeded"


def test_scim_error() -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "invalidValue",
        "detail": "userName is not a valid email",
    }
    error = error_from_response(answer(400, f"{HUB}/v2/scim/2.0/Users", method="POST", json_body=body))
    assert type(error) is BadRequestError
    assert error.code == "invalidValue"
    assert error.codes == ("invalidValue",)
    assert error.server_message == "userName is not a valid email"
    expected = "POST hub.docker.com/v2/scim/2.0/Users -> HTTP 400: invalidValue: userName is not a valid email"
    assert str(error) == expected


def test_structured_detail_is_serialised() -> None:
    error = error_from_response(answer(422, f"{HUB}/v2/x", json_body={"detail": [{"loc": ["body"], "msg": "bad"}]}))
    assert type(error) is BadRequestError
    assert error.server_message is not None
    assert json.loads(error.server_message) == [{"loc": ["body"], "msg": "bad"}]


def test_graphql_style_errors_without_codes() -> None:
    error = error_from_response(
        answer(400, "https://api.scout.docker.com/v1/graphql", method="POST", json_body={"errors": [{"message": "x"}]})
    )
    assert error.code is None
    assert error.server_message == "x"


@pytest.mark.parametrize(
    ("body", "expected_message"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "<html><body>502 Bad Gateway</body></html>"),
        (b'{"errors": [{"code": "UNKN', '{"errors": [{"code": "UNKN'),  # truncated JSON
        (b"  plain text  \n", "plain text"),
        (b"\xff\xfe\x00garbage", "\ufffd\ufffd\x00garbage"),
    ],
    ids=["html", "truncated-json", "plain", "binary"],
)
def test_non_json_bodies_become_the_message(body: bytes, expected_message: str) -> None:
    error = error_from_response(answer(502, f"{REGISTRY}/v2/", body=body))
    assert type(error) is ServerError
    assert error.code is None
    assert error.server_message == expected_message


def test_long_non_json_body_is_cut() -> None:
    error = error_from_response(answer(500, f"{REGISTRY}/v2/", body=b"x" * 10_000))
    assert error.server_message is not None
    assert len(error.server_message) <= 300


def test_huge_json_body_is_not_parsed_beyond_the_limit() -> None:
    body = json.dumps({"detail": "y" * (MAX_ERROR_BODY * 2)}).encode()
    error = error_from_response(answer(500, f"{HUB}/v2/x", body=body))
    assert type(error) is ServerError
    assert error.server_message is not None
    assert len(error.server_message) <= 300  # read as (truncated) text, never as the whole body


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b'"a string"', b"42", b'{"errors": []}', b"{}"])
def test_empty_or_shapeless_bodies(body: bytes) -> None:
    error = error_from_response(answer(404, f"{REGISTRY}/v2/a/b/tags/list", body=body))
    assert type(error) is NotFoundError
    assert error.code is None
    assert error.codes == ()
    assert str(error).startswith("GET registry-1.docker.io/v2/a/b/tags/list -> HTTP 404")


def test_head_has_no_body_to_describe() -> None:
    response = answer(404, f"{REGISTRY}/v2/library/nginx/manifests/x", method="HEAD")
    error = error_from_response(response)
    assert type(error) is NotFoundError
    assert error.method == "HEAD"
    assert error.code is None
    assert error.server_message == "(a HEAD answer has no body)"
    assert str(error).startswith("HEAD registry-1.docker.io/v2/library/nginx/manifests/x -> HTTP 404")


def test_405_is_unsupported_operation() -> None:
    body = {"errors": [{"code": "UNSUPPORTED", "message": "The operation is unsupported."}]}
    response = answer(405, f"{REGISTRY}/v2/a/b/manifests/sha256:{'a' * 64}", method="DELETE", json_body=body)
    error = error_from_response(response)
    assert type(error) is UnsupportedOperationError
    assert error.code == "UNSUPPORTED"
    assert "does not support this operation" in str(error)


def test_409_is_conflict() -> None:
    error = error_from_response(
        answer(409, f"{HUB}/v2/repositories/", method="POST", json_body={"message": "repository already exists"})
    )
    assert type(error) is ConflictError
    assert error.server_message == "repository already exists"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_server_error(status: int) -> None:
    error = error_from_response(answer(status, f"{REGISTRY}/v2/"))
    assert type(error) is ServerError
    assert error.status == status


def test_429_is_rate_limited() -> None:
    body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "You have reached your pull rate limit."}]}
    error = error_from_response(answer(429, f"{REGISTRY}/v2/library/alpine/manifests/latest", json_body=body))
    assert type(error) is RateLimitedError
    assert error.code == "TOOMANYREQUESTS"
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, UnsupportedOperationError),
        (409, ConflictError),
        (418, ApiError),
        (422, BadRequestError),
        (429, RateLimitedError),
        (500, ServerError),
    ],
)
def test_error_class_for(status: int, cls: type[ApiError]) -> None:
    assert error_class_for(status) is cls
    assert issubclass(cls, DockerHubError)


def test_the_query_never_reaches_the_message() -> None:
    url = f"{REGISTRY}/v2/team/app/blobs/uploads/6c2d?_state=secret-state-token&digest=sha256:abc"
    error = error_from_response(answer(400, url, method="PUT", json_body={"errors": [{"code": "DIGEST_INVALID"}]}))
    assert "secret-state-token" not in str(error)
    assert "_state" not in str(error)
    assert "?" not in error.path
    assert error.path == "registry-1.docker.io/v2/team/app/blobs/uploads/6c2d"


def test_userinfo_never_reaches_the_message() -> None:
    url = httpx.URL("https://user:hunter2@registry.example.com:5000/v2/?token=abc#frag")
    assert redacted_path(url) == "registry.example.com:5000/v2/"


def test_default_port_is_not_shown() -> None:
    assert redacted_path(httpx.URL("https://registry.example.com:443/v2/")) == "registry.example.com/v2/"
    assert redacted_path(httpx.URL("http://127.0.0.1:5000/v2/x")) == "127.0.0.1:5000/v2/x"


def test_describe_server_error_directly() -> None:
    assert describe_server_error(b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}') == (
        "NAME_UNKNOWN",
        "repository name not known",
        ("NAME_UNKNOWN",),
    )
    assert describe_server_error(b'{"error_description": "bad creds"}') == (None, "bad creds", ())
    assert describe_server_error(b"") == (None, None, ())


def test_raise_for_response() -> None:
    ok = answer(202, f"{REGISTRY}/v2/a/b/blobs/uploads/", method="POST")
    raise_for_response(ok)
    raise_for_response(answer(404, f"{REGISTRY}/v2/x"), expected={200, 404})
    with pytest.raises(ConflictError):
        raise_for_response(answer(409, f"{HUB}/v2/x", method="POST"))
    with pytest.raises(ApiError):
        raise_for_response(answer(200, f"{REGISTRY}/v2/"), expected={204})


class _Body(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b'{"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry"}]}'


@pytest.mark.parametrize(
    "prepare",
    [
        pytest.param(lambda r: None, id="unread"),
        pytest.param(lambda r: list(r.iter_bytes()), id="iterated"),
        pytest.param(lambda r: r.close(), id="closed-unread"),
    ],
)
def test_streamed_responses_map_to_an_api_error(prepare: Callable[[httpx.Response], object]) -> None:
    """A streamed error answer (blob download) must map to the typed error, not crash with ResponseNotRead."""
    response = httpx.Response(
        404, stream=_Body(), request=httpx.Request("GET", f"{REGISTRY}/v2/a/b/blobs/sha256:{'a' * 64}")
    )
    prepare(response)
    error = error_from_response(response)
    assert type(error) is NotFoundError
    assert error.status == 404


def test_streamed_response_that_was_read_keeps_the_details() -> None:
    response = httpx.Response(404, stream=_Body(), request=httpx.Request("GET", f"{REGISTRY}/v2/a/b/blobs/x"))
    response.read()
    error = error_from_response(response)
    assert error.code == "BLOB_UNKNOWN"
    assert error.server_message == "blob unknown to registry"


def test_a_certificate_that_does_not_verify_is_not_transient() -> None:
    """The next try meets the same certificate: a sensor must fail, not poll through a CA misconfiguration."""
    import httpx

    from airflow_provider_dockerhub.client.core.errors import (
        CertificateVerificationError,
        TransportError,
        is_transient,
    )

    cause = httpx.ConnectError("certificate verify failed")
    assert is_transient(TransportError("GET", "registry.example.com/v2/", cause)) is True
    assert is_transient(CertificateVerificationError("GET", "registry.example.com/v2/", cause)) is False
