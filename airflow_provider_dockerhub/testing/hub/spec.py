"""The official Hub spec, repaired in memory, and request/response validation against it. Not for production.

Given ``spec_path``, :class:`~airflow_provider_dockerhub.testing.hub.HubEmulator` validates every request against
the spec (parameters and bodies, via openapi-core, after the repairs listed in :data:`SPEC_WORKAROUNDS`). The spec
file is never needed at run time: without it there is no validation, and openapi-core is not imported.

Request bodies are also held to the properties the spec declares (``strict_body``, on by default): the spec
leaves ``additionalProperties`` unsaid, which OpenAPI reads as "anything goes", and the live API silently drops
fields it does not know, so a misspelled optional field (``is_privat``) would quietly keep its default. The
emulator answers it with 400 instead, naming the field.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.responses import Response

from .http import SCIM_MEDIA_TYPE, HubRequest

JSON = dict[str, Any]


SPEC_WORKAROUNDS: tuple[str, ...] = (
    "Response status keys are a mix of strings and YAML integers (200:); all are turned into strings.",
    "GetRepository and CheckRepository 200 responses lack the required `description`; an empty one is added.",
    "AuthCreateAccessToken's 401 has `description` next to `$ref`; the sibling is dropped.",
    "CreateRepository's security names `BearerAuth`, an undefined scheme; it is read as `bearerAuth`.",
    "`/v2/orgs/{name}/access-tokens` does not declare its `name` path parameter; it is added.",
    "orgAccessTokenResource (`type`, `path`, `scopes`) and createOrgAccessTokenRequest.label use property-level "
    "`required: true` (invalid in OpenAPI 3.0); they become the objects' `required` lists.",
    "`team_repo` has `allOf: [$ref: '#/components/responses/team_repo']`, a dangling reference to a response; "
    "the allOf is dropped.",
    "`error.errinfo` and `ValueError.fields` are `type: object` with `items`; the `items` are dropped.",
    "The `search` query parameter of GET /v2/orgs/{org_name}/members is typed integer; it is a string.",
    "immutable_tags_verify_request.regex carries a repository-name pattern with doubled backslashes that rejects "
    "the spec's own example `v.*` (and any rule using regex syntax); the pattern is dropped (the emulator checks "
    "that the regex compiles instead).",
    "scim_user_schemas puts `minItems: 1` on the string items instead of the array; it is moved to the array.",
    "GET /v2/orgs/{org_name}/members declares its 200 as an array of page objects; it is one page object.",
    "`tag.images` is typed as one `image` object (the live Hub sends a list); either is accepted.",
    "`next`/`previous` of the PAT, OAT, group, group-member and org-member pages are non-nullable strings, yet "
    "the last page has no next page (the PAT and group examples even show null); they are made nullable.",
    "`accessToken.expires_at` is non-nullable although a PAT without expiry has none; it is made nullable.",
    "PUT /v2/orgs/{org_name}/members/{username} accepts `editor`, but `org_member.role` lacks `Editor` (added "
    "upstream on 2026-09-01); it is added.",
    "CheckRepository (HEAD) declares a response body; HEAD responses are not body-validated.",
    "GET /v2/orgs/{org_name}/members/export declares a JSON Schema array under text/csv; only the media type of "
    "that response is checked. Its `required` list names a `Role` column where its properties say `Permission`; "
    "the CSV has `Permission`.",
    "The tag endpoints declare no 401 and the audit-log endpoints no 401/403/404 (only `default: rpcStatus`); "
    "the emulator still answers them, audit errors carrying the rpcStatus fields `code`/`message`/`details`.",
)


def find_hub_spec() -> str | None:
    """``<repo>/../shared/specs/docker-hub-api.yaml`` if it exists (a source checkout next to the shared specs)."""
    repo = Path(__file__).resolve().parents[3]
    candidate = repo.parent / "shared" / "specs" / "docker-hub-api.yaml"
    return str(candidate) if candidate.is_file() else None


def load_hub_spec(path: str | Path) -> JSON:
    """The spec parsed from YAML, with the repairs of :data:`SPEC_WORKAROUNDS` applied (a private copy)."""
    return copy.deepcopy(cached_spec(str(Path(path).resolve())))


@functools.lru_cache(maxsize=4)
def cached_spec(path: str) -> JSON:
    # Parsing the 4,000-line YAML costs ~0.4 s; emulators built from the same file share one read-only copy.
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader, picked at run time
    return sanitize_spec(raw)


def _nullable(schema: JSON, *names: str) -> None:
    for name in names:
        if name in schema.get("properties", {}):
            schema["properties"][name]["nullable"] = True


def sanitize_spec(raw: Mapping[str, Any]) -> JSON:
    """A repaired deep copy of the parsed spec: see :data:`SPEC_WORKAROUNDS` for each change and why."""
    spec: JSON = copy.deepcopy(dict(raw))
    for item in spec["paths"].values():
        for method, op in item.items():
            if method not in ("get", "head", "post", "put", "patch", "delete") or not isinstance(op, dict):
                continue
            responses = {str(k): v for k, v in op.get("responses", {}).items()}
            for status, resp in responses.items():
                if "$ref" in resp:
                    responses[status] = {"$ref": resp["$ref"]}
                else:
                    resp.setdefault("description", "")
            op["responses"] = responses
            if "security" in op:
                op["security"] = [
                    {("bearerAuth" if k == "BearerAuth" else k): v for k, v in req.items()} for req in op["security"]
                ]
    spec["paths"]["/v2/orgs/{name}/access-tokens"].setdefault(
        "parameters", [{"in": "path", "name": "name", "required": True, "schema": {"type": "string"}}]
    )
    schemas = spec["components"]["schemas"]
    for name in ("orgAccessTokenResource", "createOrgAccessTokenRequest"):
        schema = schemas[name]
        lifted = [k for k, v in schema["properties"].items() if v.pop("required", None) is True]
        schema["required"] = sorted(set(schema.get("required", [])) | set(lifted))
    schemas["team_repo"].pop("allOf", None)
    schemas["error"]["properties"]["errinfo"].pop("items", None)
    schemas["ValueError"]["properties"]["fields"].pop("items", None)
    spec["components"]["parameters"]["search"]["schema"] = {"type": "string"}
    schemas["immutable_tags_verify_request"]["properties"]["regex"].pop("pattern", None)
    schemas["scim_user_schemas"]["items"].pop("minItems", None)
    schemas["scim_user_schemas"]["minItems"] = 1
    members = spec["paths"]["/v2/orgs/{org_name}/members"]["get"]["responses"]["200"]["content"]["application/json"]
    members["schema"] = {"$ref": "#/components/schemas/org_member_paginated"}
    image_ref = schemas["tag"]["properties"]["images"]
    schemas["tag"]["properties"]["images"] = {
        "anyOf": [{"$ref": image_ref["$ref"]}, {"type": "array", "items": {"$ref": image_ref["$ref"]}}]
    }
    for name in ("getAccessTokensResponse", "getOrgAccessTokensResponse", "org_member_paginated"):
        _nullable(schemas[name], "next", "previous")
    for path in ("/v2/orgs/{org_name}/groups", "/v2/orgs/{org_name}/groups/{group_name}/members"):
        _nullable(
            spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"], "next", "previous"
        )
    _nullable(schemas["accessToken"], "expires_at")
    role = schemas["org_member"]["properties"]["role"]
    role["enum"] = [*role["enum"], "Editor"]
    return spec


# -- spec validation (openapi-core, imported only when a spec is given) ---------------------------------------


@dataclass
class _OARequest:
    host_url: str
    path: str
    method: str
    parameters: Any
    content_type: str
    body: bytes | None


@dataclass
class _OAResponse:
    status_code: int
    content_type: str
    headers: Mapping[str, str]
    data: bytes | None


_REQUIRED_RE = re.compile(r"^'(.+)' is a required property$")


def _describe(exc: BaseException) -> list[tuple[str, str]]:
    """(field, message) pairs for one openapi-core error, naming the parameter or the body location."""
    name = getattr(exc, "name", None)
    location = getattr(exc, "location", None)
    cause = exc.__cause__
    schema_errors = list(getattr(cause, "schema_errors", None) or [])
    prefix = f"{location} parameter {name!r}" if name and location else "request body"
    if not schema_errors:
        detail = f"{exc}: {cause}" if cause is not None and str(cause) not in str(exc) else str(exc)
        return [(str(name) if name else "non_field_errors", detail)]
    found = []
    for err in schema_errors:
        where = "/".join(str(p) for p in getattr(err, "absolute_path", ()))
        message = str(getattr(err, "message", err))
        missing = _REQUIRED_RE.match(message)
        key = name or (f"{where}/{missing.group(1)}".lstrip("/") if missing else where) or "non_field_errors"
        found.append((str(key), f"{prefix}{' at /' + where if where else ''}: {message}"))
    return found


class SpecChecker:
    """Request (and optionally response) validation against a repaired spec, tolerant of the listed defects."""

    def __init__(self, spec: JSON, *, strict_query: bool = True, strict_body: bool = True) -> None:
        from jsonschema_path import SchemaPath
        from openapi_core.deserializing.media_types.util import json_loads
        from openapi_core.validation.request.validators import V30RequestBodyValidator, V30RequestParametersValidator
        from openapi_core.validation.response.validators import V30ResponseValidator

        self.spec = spec
        self.strict_query = strict_query
        self.strict_body = strict_body
        self.server = str(spec["servers"][0]["url"]).rstrip("/")
        path = SchemaPath.from_dict(spec)
        extra: Any = {SCIM_MEDIA_TYPE: json_loads}
        self._params = V30RequestParametersValidator(path, extra_media_type_deserializers=extra)
        self._body = V30RequestBodyValidator(path, extra_media_type_deserializers=extra)
        self._response = V30ResponseValidator(path, extra_media_type_deserializers=extra)
        self.query_names: dict[tuple[str, str], frozenset[str]] = {}
        self.body_schemas: dict[tuple[str, str], JSON] = {}
        for template, item in spec["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method in ("get", "head", "post", "put", "patch", "delete"):
                    content: JSON = self._resolve(op.get("requestBody") or {}).get("content") or {}
                    media: JSON = next(iter(content.values()), {})
                    body = media.get("schema")
                    if body is not None:
                        self.body_schemas[(method.upper(), template)] = body
                    params = [self._resolve(p) for p in [*shared, *op.get("parameters", [])]]
                    names = frozenset(p["name"] for p in params if p.get("in") == "query")
                    self.query_names[(method.upper(), template)] = names

    def _resolve(self, node: JSON) -> JSON:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def _undeclared(self, instance: Any, schema: JSON, where: str) -> list[tuple[str, str]]:
        """Body properties the schema does not declare, as (location, name), for schemas that leave
        ``additionalProperties`` unsaid: the spec declares every field a client may send, so an undeclared one is
        a typo (``is_privat``) the real API would silently drop, leaving its default in place."""
        schema = self._resolve(schema)
        if isinstance(instance, list) and "items" in schema:
            return [p for i, v in enumerate(instance) for p in self._undeclared(v, schema["items"], f"{where}/{i}")]
        if not isinstance(instance, dict):
            return []
        branches = [self._resolve(b) for b in schema.get("allOf", [])]
        alternatives = [self._resolve(b) for b in [*schema.get("anyOf", []), *schema.get("oneOf", [])]]
        if alternatives:
            # Undeclared only if no alternative declares it; nested objects are checked against the first match.
            results = [
                self._undeclared(instance, {**schema, "anyOf": [], "oneOf": [], "allOf": [a]}, where)
                for a in alternatives
            ]
            return min(results, key=len)
        declared: dict[str, JSON] = {}
        open_ended = False
        for part in [schema, *branches]:
            declared.update(part.get("properties") or {})
            if "additionalProperties" in part and part["additionalProperties"] is not False:
                open_ended = True
        if not declared and not branches:
            return []  # a free-form object (``type: object`` alone)
        found: list[tuple[str, str]] = []
        for name, value in instance.items():
            if name in declared:
                found.extend(self._undeclared(value, declared[name], f"{where}/{name}"))
            elif not open_ended:
                found.append((where or "/", name))
        return found

    def operations(self) -> set[tuple[str, str]]:
        return set(self.query_names)

    def _request(self, request: HubRequest) -> _OARequest:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers as WHeaders
        from werkzeug.datastructures import ImmutableMultiDict

        parameters = RequestParameters(
            query=ImmutableMultiDict(request.query.multi_items()),
            header=WHeaders(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )
        content_type = request.headers.get("content-type", "").lower()
        return _OARequest(
            self.server, request.raw_path, request.method.lower(), parameters, content_type, request.body or None
        )

    def request_errors(self, template: str, request: HubRequest) -> list[tuple[str, str]]:
        """(field, message) for every way ``request`` departs from the operation ``template`` of the spec."""
        oa_request = self._request(request)
        found: list[tuple[str, str]] = []
        for exc in [*self._params.iter_errors(oa_request), *self._body.iter_errors(oa_request)]:
            for pair in _describe(exc):
                if pair not in found:
                    found.append(pair)
        schema = self.body_schemas.get((request.method, template))
        if self.strict_body and schema is not None and request.body:
            try:
                instance = json.loads(request.body)
            except ValueError:
                instance = None  # malformed JSON is the body validator's finding, already in ``found``
            for where, name in self._undeclared(instance, schema, ""):
                found.append(
                    (name, f"request body{' at ' + where if where else ''}: property {name!r} is not declared")
                )
        if self.strict_query:
            declared = self.query_names.get((request.method, template), frozenset())
            for name in dict.fromkeys(request.query.keys()):
                if name not in declared:
                    found.append((name, f"query parameter {name!r} is not declared by the spec for this operation"))
        return found

    def response_errors(self, request: HubRequest, response: Response) -> list[str]:
        from openapi_core.templating.responses.exceptions import ResponseNotFound

        content_type = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        if request.method == "HEAD" or content_type == "text/csv":
            return []  # see SPEC_WORKAROUNDS: HEAD bodies and the CSV export are not body-validated
        oa_response = _OAResponse(
            response.status_code, content_type, dict(response.headers), bytes(response.body) or None
        )
        errors = []
        for exc in self._response.iter_errors(self._request(request), oa_response):
            if isinstance(exc, ResponseNotFound):
                continue  # an undeclared status (e.g. 401 on the tag endpoints) has no schema to check
            cause = exc.__cause__
            details = [str(getattr(e, "message", e)) for e in getattr(cause, "schema_errors", None) or []]
            errors.append(f"{exc}: {'; '.join(details) or cause}")
        return errors
