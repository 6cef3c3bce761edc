"""SCIM 2.0 users (with the filter grammar) and SCIM's static documents. Not for production."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .records import EMAIL_RE, JSON, Clock, HubError, rfc3339

SCIM_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass(slots=True)
class ScimUser:
    id: str
    user_name: str
    given_name: str
    family_name: str
    display_name: str
    active: bool
    created: float
    modified: float
    groups: list[str] = field(default_factory=list)


ScimPredicate = Callable[[ScimUser], bool]

_SCIM_ATTRS: dict[str, Callable[[ScimUser], object]] = {
    "id": lambda u: u.id,
    "username": lambda u: u.user_name,
    "displayname": lambda u: u.display_name,
    "active": lambda u: u.active,
    "name.givenname": lambda u: u.given_name,
    "name.familyname": lambda u: u.family_name,
    "emails": lambda u: u.user_name,
    "emails.value": lambda u: u.user_name,
    "meta.created": lambda u: rfc3339(u.created, micro=False),
    "meta.lastmodified": lambda u: rfc3339(u.modified, micro=False),
}
_SCIM_TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()]+)')
_SCIM_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")


def _scim_invalid(detail: str) -> HubError:
    return HubError(400, detail, scim_type="invalidFilter")


class _FilterParser:
    """RFC 7644 §3.4.2.2 filters over the attributes above: ``eq ne co sw ew gt ge lt le pr and or not ()``."""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            match = _SCIM_TOKEN.match(text, pos)
            if match is None:
                raise _scim_invalid(f"cannot parse filter at {text[pos:]!r}")
            self.tokens.append(match.group(1))
            pos = match.end()
        self.pos = 0

    def parse(self) -> ScimPredicate:
        predicate = self._or()
        if self.pos != len(self.tokens):
            raise _scim_invalid(f"unexpected {self.tokens[self.pos]!r} in filter")
        return predicate

    def _peek(self) -> str | None:
        return self.tokens[self.pos].lower() if self.pos < len(self.tokens) else None

    def _next(self) -> str:
        if self.pos >= len(self.tokens):
            raise _scim_invalid("filter ends too early")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def _or(self) -> ScimPredicate:
        left = self._and()
        while self._peek() == "or":
            self._next()
            right = self._and()
            left = _either(left, right)
        return left

    def _and(self) -> ScimPredicate:
        left = self._not()
        while self._peek() == "and":
            self._next()
            right = self._not()
            left = _both(left, right)
        return left

    def _not(self) -> ScimPredicate:
        if self._peek() == "not":
            self._next()
            inner = self._atom()
            return lambda u: not inner(u)
        return self._atom()

    def _atom(self) -> ScimPredicate:
        if self._peek() == "(":
            self._next()
            inner = self._or()
            if self._next() != ")":
                raise _scim_invalid("missing ')' in filter")
            return inner
        attr = self._next().lower().removeprefix(SCIM_USER_SCHEMA.lower() + ":")
        getter = _SCIM_ATTRS.get(attr)
        if getter is None:
            raise _scim_invalid(f"unsupported filter attribute {attr!r}")
        op = self._next().lower()
        if op == "pr":
            return lambda u: getter(u) not in (None, "")
        if op not in _SCIM_OPS:
            raise _scim_invalid(f"unsupported filter operator {op!r}")
        raw = self._next()
        try:
            value = json.loads(raw) if raw.startswith('"') or raw in ("true", "false", "null") else float(raw)
        except ValueError:
            raise _scim_invalid(f"bad filter value {raw!r}") from None
        return _compare(getter, op, value)


def _either(a: ScimPredicate, b: ScimPredicate) -> ScimPredicate:
    return lambda u: a(u) or b(u)


def _both(a: ScimPredicate, b: ScimPredicate) -> ScimPredicate:
    return lambda u: a(u) and b(u)


def _compare(getter: Callable[[ScimUser], object], op: str, value: object) -> ScimPredicate:
    def norm(v: object) -> object:
        return v.lower() if isinstance(v, str) else v  # userName and friends are caseExact=false

    want = norm(value)

    def test(user: ScimUser) -> bool:
        have = norm(getter(user))
        if op == "eq":
            return have == want
        if op == "ne":
            return have != want
        if not isinstance(have, str) or not isinstance(want, str):
            return False
        if op == "co":
            return want in have
        if op == "sw":
            return have.startswith(want)
        if op == "ew":
            return have.endswith(want)
        return {"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op]

    return test


class ScimStore:
    """SCIM 2.0 Users of the emulator's SCIM-enabled organization."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.users: dict[str, ScimUser] = {}
        self._by_name: dict[str, str] = {}
        # The organization's verified domains (None: every domain counts as verified). Docker provisions only
        # users of a verified domain; a create outside them is refused in the spec's scim_bad_request shape.
        self.verified_domains: set[str] | None = None

    def get(self, user_id: str) -> ScimUser:
        user = self.users.get(user_id)
        if user is None:
            raise HubError(404, f"User {user_id} not found")
        return user

    def create(self, user_name: Any, name: Any) -> ScimUser:
        if not isinstance(user_name, str) or not EMAIL_RE.match(user_name):
            raise HubError(400, "userName must be an email address", scim_type="invalidValue")
        if user_name.lower() in self._by_name:
            raise HubError(409, f"User {user_name} already exists", scim_type="uniqueness")
        domain = user_name.rsplit("@", 1)[-1].lower()
        if self.verified_domains is not None and domain not in self.verified_domains:
            raise HubError(
                400, f"the domain {domain} is not a verified domain of the organization", scim_type="invalidValue"
            )
        given, family = _names(name)
        display = re.sub(r"[^a-z0-9]", "", user_name.split("@")[0].lower()) or "user"
        taken = {u.display_name for u in self.users.values()}
        base, n = display, 1
        while display in taken:
            n += 1
            display = f"{base}{n}"
        now = self.clock()
        user = ScimUser(str(uuid.uuid4()), user_name, given, family, display, True, now, now, ["company"])
        self.users[user.id] = user
        self._by_name[user_name.lower()] = user.id
        return user

    def replace(self, user_id: str, name: Any, enabled: Any) -> ScimUser:
        user = self.get(user_id)
        if name is not None:
            given, family = _names(name)
            # Omitted name parts are kept: "We will only ever change the name, but not clear it."
            user.given_name = given or user.given_name
            user.family_name = family or user.family_name
        # The trap the spec documents: ``enabled`` defaults to false, so omitting it deactivates the user.
        user.active = enabled is True
        user.modified = self.clock()
        return user

    def insert_first(self, user_name: str) -> ScimUser:
        """A new user listed before every other one (``insert_during_paging``: it shifts every later offset)."""
        user = self.create(user_name, {"givenName": "Inserted", "familyName": "During Paging"})
        self.users = {user.id: user, **{k: v for k, v in self.users.items() if k != user.id}}
        return user

    def seed(self, n: int, domain: str, active: bool) -> list[str]:
        ids = []
        for i in range(n):
            user = self.create(f"user{len(self.users) + 1:06d}@{domain}", {"givenName": "User", "familyName": str(i)})
            user.active = active
            ids.append(user.id)
        return ids

    def list(self, filter_text: str | None, sort_by: str | None, sort_order: str | None) -> list[ScimUser]:
        users: Iterable[ScimUser] = self.users.values()
        if filter_text:
            predicate = _FilterParser(filter_text).parse()
            users = [u for u in users if predicate(u)]
        result = list(users)
        if sort_by:
            getter = _SCIM_ATTRS.get(sort_by.lower())
            if getter is None:
                raise HubError(400, f"cannot sort by {sort_by!r}", scim_type="invalidValue")
            result.sort(key=lambda u: str(getter(u)).lower(), reverse=sort_order == "descending")
        return result

    @staticmethod
    def user_json(user: ScimUser, base_url: str, attributes: Sequence[str] = ()) -> JSON:
        body: JSON = {
            "schemas": [SCIM_USER_SCHEMA],
            "id": user.id,
            "userName": user.user_name,
            "name": {"givenName": user.given_name, "familyName": user.family_name},
            "displayName": user.display_name,
            "active": user.active,
            "emails": [{"value": user.user_name, "display": user.user_name, "primary": True}],
            "groups": [{"value": g, "display": g} for g in user.groups],
            "meta": {
                "resourceType": "User",
                "location": f"{base_url}/v2/scim/2.0/Users/{user.id}",
                "created": rfc3339(user.created, micro=False),
                "lastModified": rfc3339(user.modified, micro=False),
            },
        }
        if attributes:
            wanted = {a.split(".")[0].lower() for a in attributes} | {"schemas", "id"}
            body = {k: v for k, v in body.items() if k.lower() in wanted}
        return body


def _names(name: Any) -> tuple[str, str]:
    if not isinstance(name, dict):
        return "", ""
    given, family = name.get("givenName"), name.get("familyName")
    return (given if isinstance(given, str) else ""), (family if isinstance(family, str) else "")


# -- static documents (the spec's example values; the spec file is not needed at run time) ----------------------

SCIM_SERVICE_PROVIDER_CONFIG: JSON = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    "documentationUri": "",
    "patch": {"supported": False},
    "bulk": {"supported": False},
    "filter": {"supported": True, "maxResults": 99999},
    "changePassword": {"supported": False},
    "sort": {"supported": True},
    "etag": {"supported": False},
    # An object, not RFC 7643's array: the spec's shape.
    "authenticationSchemes": {
        "name": "OAuth 2.0 Bearer Token",
        "description": (
            "The OAuth 2.0 Bearer Token Authentication scheme. OAuth enables clients to access protected resources "
            'by obtaining an access token, which is defined in RFC 6750 as "a string representing an access '
            "authorization issued to the client\", rather than using the resource owner's credentials directly."
        ),
        "specUri": "http://tools.ietf.org/html/rfc6750",
        "type": "oauthbearertoken",
    },
}

SCIM_RESOURCE_TYPES: list[JSON] = [
    {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "description": "User",
        "endpoint": "/Users",
        "schema": SCIM_USER_SCHEMA,
    }
]


def _attr(name: str, type_: str = "string", **overrides: Any) -> JSON:
    attribute: JSON = {
        "name": name,
        "type": type_,
        "multiValued": False,
        "description": "",
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    attribute.update(overrides)
    return attribute


SCIM_SCHEMAS: list[JSON] = [
    {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": SCIM_USER_SCHEMA,
        "name": "User",
        "description": "User Account",
        "attributes": [
            _attr(
                "userName",
                description=(
                    "Unique identifier for the User, typically used by the user to directly authenticate to the "
                    "service provider. Each User MUST include a non-empty userName value. This identifier MUST be "
                    "unique across the service provider's entire set of Users."
                ),
                required=True,
                uniqueness="server",
            ),
            _attr(
                "name",
                "complex",
                description="The components of the user's name.",
                subAttributes=[
                    _attr("givenName", description="The given name of the User."),
                    _attr("familyName", description="The family name of the User."),
                ],
            ),
            _attr("displayName", description="The username in Docker (the Docker ID).", mutability="readOnly"),
            _attr("active", "boolean", description="The user's administrative status."),
            _attr(
                "emails",
                "complex",
                multiValued=True,
                description="Email addresses for the user.",
                subAttributes=[_attr("value"), _attr("display"), _attr("primary", "boolean")],
            ),
            _attr(
                "groups",
                "complex",
                multiValued=True,
                description="A list of groups to which the user belongs.",
                mutability="readOnly",
                subAttributes=[_attr("value"), _attr("display")],
            ),
        ],
    }
]
