"""Identity-provider exports as desired SCIM users: Okta, Microsoft Entra ID, Google Workspace, a SCIM
ListResponse, this provider's own shape, or any CSV through a column mapping. Pure (text in, users out).

Each preset is the IdP's own export format, header for header; docs/idp-exports.md cites where each comes from
and why each status means active or inactive. Files are decoded as ``utf-8-sig``, so the byte-order mark Excel
writes at the start of a CSV is not read as part of the first column's name.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import InvalidInputError
from .scim_sync import DesiredUser, desired_users, make_user, unique

FIELDS = ("user_name", "given_name", "family_name", "display_name", "status", "external_id", "groups")


@dataclass(frozen=True)
class IdpFormat:
    """How one IdP's CSV export maps onto a SCIM user.

    ``columns``: each field's header in the export (the first one present wins; headers are compared without
    surrounding spaces and case-insensitively). ``statuses``: the status column's vocabulary (lower-cased)
    mapped to active (``True``) or inactive; a value outside it is refused, never guessed. ``signature``: the
    headers whose presence identifies the export (for ``idp="auto"``)."""

    name: str
    columns: Mapping[str, tuple[str, ...]]
    statuses: Mapping[str, bool]
    signature: tuple[str, ...]
    empty_status: bool | None = None  # what an empty status cell means; None refuses it
    group_separator: str = ";"
    source: str = ""

    def with_overrides(
        self, column_map: Mapping[str, str] | None, status_values: Mapping[str, bool] | None
    ) -> IdpFormat:
        columns = dict(self.columns)
        for name, header in (column_map or {}).items():
            if name not in FIELDS:
                raise InvalidInputError(f"column_map: unknown field {name!r} (fields: {', '.join(FIELDS)})")
            if not isinstance(header, str) or not header.strip():
                raise InvalidInputError(f"column_map: the {name!r} column must be a header name")
            columns[name] = (header,)
        statuses = dict(self.statuses)
        for value, active in (status_values or {}).items():
            if not isinstance(active, bool):
                raise InvalidInputError(f"status_values: {value!r} must map to true (active) or false")
            statuses[str(value).strip().lower()] = active
        signature = tuple(columns["user_name"][:1]) if column_map else self.signature
        return IdpFormat(self.name, columns, statuses, signature, self.empty_status, self.group_separator, self.source)


# Okta lifecycle states (Okta Users API "User status"). Active: the person holds an account, possibly mid-way
# through activation (PROVISIONED), a password reset (RECOVERY), an expired password or a temporary lock-out.
# Inactive: not yet activated (STAGED: e.g. a future hire, who should not take a paid seat yet), suspended, or
# deactivated (DEPROVISIONED).
OKTA_STATUSES = {
    "active": True,
    "provisioned": True,
    "recovery": True,
    "password_expired": True,
    "locked_out": True,
    "staged": False,
    "suspended": False,
    "deprovisioned": False,
}

OKTA = IdpFormat(
    "okta",
    # The Okta report CSV (Reports > Okta Password Health: User, Login, Status, ...); firstName/lastName/email/
    # status are the Okta profile attribute names, which Okta's user CSV template and API use.
    {
        "user_name": ("Login", "login", "Username"),
        "given_name": ("firstName", "First name"),
        "family_name": ("lastName", "Last name"),
        "display_name": ("User", "displayName"),
        "status": ("Status",),
        "external_id": ("id", "Okta ID"),
        "groups": ("Groups",),
    },
    OKTA_STATUSES,
    ("login", "status"),
    source="https://help.okta.com/en-us/content/topics/reports/okta-password-health-report.htm",
)

ENTRA = IdpFormat(
    "entra",
    # Microsoft Entra admin center: Users > All users > Download users.
    {
        "user_name": ("userPrincipalName",),
        "given_name": ("givenName",),
        "family_name": ("surname",),
        "display_name": ("displayName",),
        "status": ("accountEnabled",),
        "external_id": ("objectId",),
        "groups": ("groups",),
    },
    {"true": True, "false": False},
    ("userPrincipalName", "accountEnabled"),
    source="https://learn.microsoft.com/en-us/entra/identity/users/users-bulk-download",
)

GOOGLE = IdpFormat(
    "google",
    # Google Admin console: Directory > Users > Download users (the bulk-update CSV's headers).
    {
        "user_name": ("Email Address [Required]",),
        "given_name": ("First Name [Required]",),
        "family_name": ("Last Name [Required]",),
        "display_name": (),
        "status": ("Status [READ ONLY]",),
        "external_id": ("Employee ID",),
        "groups": (),
    },
    {"active": True, "suspended": False},
    ("Email Address [Required]", "Status [READ ONLY]"),
    source="https://support.google.com/a/answer/7348070",
)

NATIVE = IdpFormat(
    "native",
    # This provider's own shape (SCIM attribute names), and the base of a ``column_map``.
    {
        "user_name": ("userName", "user_name"),
        "given_name": ("givenName", "given_name"),
        "family_name": ("familyName", "family_name"),
        "display_name": ("displayName",),
        "status": ("active",),
        "external_id": ("externalId",),
        "groups": ("groups",),
    },
    {
        **{v: True for v in ("true", "1", "yes", "y", "active")},
        **{v: False for v in ("false", "0", "no", "n", "inactive", "disabled")},
    },
    ("userName",),
    empty_status=True,
)

PRESETS: dict[str, IdpFormat] = {f.name: f for f in (OKTA, ENTRA, GOOGLE, NATIVE)}
IDPS = (*PRESETS, "scim")


@dataclass
class _Header:
    names: list[str]
    by_key: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_key = {n.strip().lower(): n for n in self.names if n is not None}

    def find(self, candidates: Sequence[str]) -> str | None:
        for candidate in candidates:
            if (name := self.by_key.get(candidate.strip().lower())) is not None:
                return name
        return None


def decode(data: bytes | str) -> str:
    """Text of an export: ``utf-8-sig`` (a leading BOM is dropped, as Excel writes one)."""
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"the users file is not UTF-8 (export it as CSV UTF-8): {exc}") from exc
    return data.removeprefix("\ufeff")


def detect(header: Sequence[str]) -> IdpFormat:
    found = _Header(list(header))
    for preset in (GOOGLE, ENTRA, OKTA, NATIVE):
        if all(found.find((column,)) for column in preset.signature):
            return preset
    raise InvalidInputError(
        "the CSV has no 'userName' column, nor the user column of a known IdP export ('Login' for Okta, "
        "'userPrincipalName' for Entra ID, 'Email Address [Required]' for Google Workspace) "
        f"(columns: {sorted(found.by_key.values())}); pass idp= ({', '.join(PRESETS)}) or a column_map naming "
        "at least the user_name column"
    )


def _status(preset: IdpFormat, value: Any, row: int, column: str) -> bool:
    text = str(value if value is not None else "").strip()
    if not text:
        if preset.empty_status is None:
            raise InvalidInputError(f"row {row}: the {column!r} cell is empty")
        return preset.empty_status
    active = preset.statuses.get(text.lower())
    if active is None:
        known = ", ".join(sorted(preset.statuses))
        raise InvalidInputError(
            f"row {row}: {column!r} is {text!r}, which is not in the {preset.name} status vocabulary ({known}); "
            "map it with status_values={...: true|false}"
        )
    return active


def parse_csv(
    text: str,
    preset: IdpFormat | None,
    column_map: Mapping[str, str] | None = None,
    status_values: Mapping[str, bool] | None = None,
) -> list[DesiredUser]:
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    preset = preset or (NATIVE if column_map else detect(header))
    if column_map or status_values:
        preset = preset.with_overrides(column_map, status_values)
    found = _Header(header)
    columns = {name: found.find(candidates) for name, candidates in preset.columns.items()}
    if columns["user_name"] is None:
        raise InvalidInputError(
            f"the CSV has no {' or '.join(repr(c) for c in preset.columns['user_name'])} column for the "
            f"{preset.name} format (columns: {sorted(c.strip() for c in header)})"
        )
    if preset.empty_status is None and columns["status"] is None:
        raise InvalidInputError(f"the {preset.name} export has no {preset.columns['status'][0]!r} column")
    users = []
    for number, row in enumerate(reader, start=1):
        if None in row:
            raise InvalidInputError(f"row {number}: more cells than the header has columns")
        if not any((v or "").strip() for v in row.values()):
            continue  # a blank line (spreadsheets leave them at the end)
        fields: dict[str, Any] = {
            name: row.get(column) for name, column in columns.items() if column and name not in ("status", "groups")
        }
        status_column = columns["status"]
        fields["active"] = _status(
            preset, row.get(status_column) if status_column else None, number, status_column or ""
        )
        if columns["groups"]:
            cell = row.get(columns["groups"]) or ""
            fields["groups"] = [g for g in cell.split(preset.group_separator) if g.strip()]
        users.append((number, make_user(number, fields)))
    return unique(users)


def _scim_resources(data: Any) -> list[Any] | None:
    if isinstance(data, dict):
        items = data.get("Resources", data.get("resources"))
        if isinstance(items, list) and (data.get("schemas") or "totalResults" in data):
            return items
    if isinstance(data, list) and data and all(isinstance(u, dict) and "schemas" in u for u in data):
        return data
    return None


def parse_scim(resources: list[Any]) -> list[DesiredUser]:
    """SCIM 2.0 User resources (RFC 7643 §4.1), e.g. an IdP's ``GET /Users`` ListResponse saved to a file."""
    users = []
    for number, item in enumerate(resources, start=1):
        if not isinstance(item, dict):
            raise InvalidInputError(f"resource {number}: expected a SCIM User object")
        raw_name = item.get("name")
        name: dict[str, Any] = raw_name if isinstance(raw_name, dict) else {}
        active = item.get("active", True)
        if not isinstance(active, bool):
            raise InvalidInputError(f"resource {number}: 'active' must be a JSON boolean, got {active!r}")
        groups = [g.get("display") or g.get("value") for g in item.get("groups") or [] if isinstance(g, dict)]
        fields = {
            "user_name": item.get("userName"),
            "given_name": name.get("givenName"),
            "family_name": name.get("familyName"),
            "display_name": item.get("displayName"),
            "external_id": item.get("externalId"),
            "active": active,
            "groups": [g for g in groups if isinstance(g, str)],
        }
        users.append((number, make_user(number, fields)))
    return unique(users)


def parse_export(
    data: bytes | str,
    *,
    fmt: str,
    idp: str | None = None,
    column_map: Mapping[str, str] | None = None,
    status_values: Mapping[str, bool] | None = None,
) -> list[DesiredUser]:
    """Desired users from an export. ``fmt``: ``csv`` or ``json``. ``idp``: a preset (``okta``, ``entra``,
    ``google``, ``native``, ``scim``) or ``None``/``"auto"`` to recognise it from the header (CSV) or shape
    (JSON). ``column_map`` maps fields (``user_name``, ``given_name``, ``family_name``, ``display_name``,
    ``status``, ``external_id``, ``groups``) to the headers of any other CSV; ``status_values`` adds to the
    status vocabulary."""
    if idp not in (None, "auto", *IDPS):
        raise InvalidInputError(f"unknown idp {idp!r}: use one of {', '.join(IDPS)} (or a column_map)")
    text = decode(data)
    if fmt == "json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"the users file is not valid JSON: {exc}") from exc
        resources = _scim_resources(doc)
        if idp == "scim" or (idp in (None, "auto") and resources is not None):
            if resources is None:
                raise InvalidInputError("not a SCIM ListResponse (no 'Resources' list with 'schemas')")
            return parse_scim(resources)
        if idp not in (None, "auto", "native"):
            raise InvalidInputError(f"the {idp} preset reads CSV exports, not JSON")
        if isinstance(doc, dict) and isinstance(doc.get("users"), list):
            doc = doc["users"]
        if not isinstance(doc, list):
            raise InvalidInputError("a JSON users file must be a list of objects (or {'users': [...]})")
        return desired_users(doc)
    if fmt != "csv":
        raise InvalidInputError(f"unsupported users file format {fmt!r}: use csv or json")
    if idp == "scim":
        raise InvalidInputError("the scim preset reads a JSON ListResponse, not CSV")
    preset = PRESETS.get(idp or "") if idp not in (None, "auto") else None
    return parse_csv(text, preset, column_map, status_values)
