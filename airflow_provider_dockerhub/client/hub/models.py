"""Pydantic models of the Docker Hub API's answers: lenient (unknown fields kept, nulls accepted), typed where
users need it. The spec has known errors (see docs/hub-spec-defects.md), so models are hand-written, not
generated, and every field has a default."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class HubModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """JSON primitives only (for XCom)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ImmutableTagsSettings(HubModel):
    enabled: bool = False
    rules: list[str] = Field(default_factory=list)


class Permissions(HubModel):
    read: bool | None = None
    write: bool | None = None
    admin: bool | None = None


class Repository(HubModel):
    """``repository_info`` (get/create) and ``repository_list_entry`` (list) share these fields."""

    name: str = ""
    namespace: str = ""
    repository_type: str | None = None
    status: int | None = None
    status_description: str | None = None
    description: str | None = None
    full_description: str | None = None
    is_private: bool = False
    star_count: int | None = None
    pull_count: int | None = None
    last_updated: datetime | None = None
    last_modified: datetime | None = None
    date_registered: datetime | None = None
    storage_size: int | None = None
    permissions: Permissions | None = None
    immutable_tags_settings: ImmutableTagsSettings | None = None


class TagImage(HubModel):
    architecture: str | None = None
    os: str | None = None
    variant: str | None = None
    digest: str | None = None
    size: int | None = None
    status: str | None = None
    last_pulled: datetime | None = None
    last_pushed: datetime | None = None


class Tag(HubModel):
    id: int | None = None
    name: str = ""
    full_size: int | None = None
    digest: str | None = None
    status: str | None = None
    last_updated: datetime | None = None
    last_updater_username: str | None = None
    tag_last_pulled: datetime | None = None
    tag_last_pushed: datetime | None = None
    images: list[TagImage] = Field(default_factory=list)

    @field_validator("images", mode="before")
    @classmethod
    def _images_as_list(cls, value: Any) -> Any:
        # The spec types `images` as one object; the API (and the field's name) say a list. Accept both.
        if value is None:
            return []
        return [value] if isinstance(value, dict) else value


class RepositoryGroup(HubModel):
    group_name: str | None = None
    group_id: int | None = None
    permission: str | None = None


class AccessToken(HubModel):
    uuid: str = ""
    token_label: str | None = None
    scopes: list[str] = Field(default_factory=list)
    is_active: bool = True
    created_at: datetime | None = None
    last_used: datetime | None = None
    expires_at: datetime | None = None
    generated_by: str | None = None
    client_id: str | None = None
    token: str | None = Field(default=None, repr=False)  # the secret: returned only at creation


class OrgAccessTokenResource(HubModel):
    type: str | None = None
    path: str | None = None
    scopes: list[str] = Field(default_factory=list)


class OrgAccessToken(HubModel):
    id: str = ""
    label: str | None = None
    description: str | None = None
    created_by: str | None = None
    is_active: bool = True
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    resources: list[OrgAccessTokenResource] = Field(default_factory=list)
    token: str | None = Field(default=None, repr=False)


class RestrictedImages(HubModel):
    enabled: bool = False
    allow_official_images: bool = True
    allow_verified_publishers: bool = True


class OrgSettings(HubModel):
    restricted_images: RestrictedImages | None = None


class OrgMember(HubModel):
    id: str | None = None
    username: str = ""
    full_name: str | None = None
    email: str | None = None
    role: str | None = None
    type: str | None = None
    groups: list[str] = Field(default_factory=list)
    is_guest: bool | None = None
    date_joined: datetime | None = None
    last_logged_in_at: datetime | None = None
    last_seen_at: datetime | None = None


class Invite(HubModel):
    id: str = ""
    inviter_username: str | None = None
    invitee: str | None = None
    org: str | None = None
    team: str | None = None
    created_at: datetime | None = None


class BulkInviteEntry(HubModel):
    invitee: str = ""
    status: str | None = None
    invite: Invite | None = None


class Group(HubModel):
    id: int | None = None
    uuid: str | None = None
    name: str = ""
    description: str | None = None
    member_count: int | None = None


class AuditLog(HubModel):
    account: str | None = None
    action: str = ""
    name: str | None = None
    actor: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None
    action_description: str | None = None


class ScimName(HubModel):
    given_name: str | None = Field(default=None, alias="givenName")
    family_name: str | None = Field(default=None, alias="familyName")


class ScimEmail(HubModel):
    value: str = ""
    display: str | None = None
    primary: bool | None = None


class ScimUser(HubModel):
    id: str = ""
    user_name: str = Field(default="", alias="userName")
    name: ScimName | None = None
    display_name: str | None = Field(default=None, alias="displayName")
    active: bool = True
    emails: list[ScimEmail] = Field(default_factory=list)
    groups: list[dict[str, Any]] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
