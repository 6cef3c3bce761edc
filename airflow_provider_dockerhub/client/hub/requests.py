"""The Hub API's request plumbing, shared by every resource's flows: URLs, auth, the destructive gate, error mapping,
paging and secret masking.

Paths are built from escaped segments only (``path_segment``), so a parameter like ``../settings`` can never turn
into another endpoint (dockerhub-api 0.2.0, the package this provider replaces,
interpolated them unescaped). Every write needs the connection's ``allow_destructive``,
checked before the request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from ..core.errors import (
    AuthenticationError,
    InvalidInputError,
    ProtocolError,
    json_body,
    raise_for_response,
    redacted_path,
)
from ..core.flow import Acquire, Flow
from ..core.pagination import Page, Pages, Params, hub_page
from ..core.pagination import item_key as default_item_key
from ..core.reference import path_segment
from ..state import SessionState

M = TypeVar("M", bound=BaseModel)

HUB_PAGE_SIZE = 100  # the API's maximum: fewer requests against the per-minute rate limit
DELETED = (200, 202, 204)  # what a successful DELETE (or a resend) may answer


class TwoFactorRequired(AuthenticationError):
    """The deprecated login answered "second factor required": pass ``login_2fa_token`` to ``login_2fa``."""

    def __init__(self, login_2fa_token: str, detail: str = "") -> None:
        super().__init__("POST", "/v2/users/login", 401, server_message=detail or "two-factor code required")
        self.login_2fa_token = login_2fa_token


def iso(value: datetime | str | None) -> str | None:
    """A timestamp as the API writes it (``...Z``); strings pass through as given."""
    if value is None or isinstance(value, str):
        return value
    return value.isoformat().replace("+00:00", "Z")


def without_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def choice(name: str, value: str | None, allowed: frozenset[str]) -> str | None:
    """``value`` if it is one of ``allowed`` (or ``None``); refused before any request otherwise."""
    if value is not None and value not in allowed:
        raise InvalidInputError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


class HubRequests:
    """Request plumbing of the Hub API v2; the resource flows (``RepositoryFlows``...) are written on top of it."""

    def __init__(self, state: SessionState) -> None:
        state.check_hub_url()
        self.state = state
        self.base = httpx.URL(state.config.hub_url)

    def url(self, *segments: str) -> httpx.URL:
        # A path in hub_url (a proxy mounting the API under /dockerhub, say) prefixes every endpoint, as it
        # prefixes the token mint: the credentials and the calls must reach the same place.
        prefix = self.base.path.rstrip("/")
        return self.base.copy_with(path=prefix + "/v2" + "".join("/" + path_segment(s) for s in segments))

    def request(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json_data: Any = None,
        accept: str = "application/json",
    ) -> Flow[httpx.Response]:
        clean = without_none(params or {})
        # Optional body fields are left out rather than sent as null: the API reads null as a value for some.
        body = without_none(json_data) if isinstance(json_data, dict) else json_data
        request = httpx.Request(method, url, params=clean or None, json=body, headers={"Accept": accept})
        return self.state.hub_auth.request_flow(request)

    def call(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json_data: Any = None,
        expected: tuple[int, ...] = (200,),
    ) -> Flow[Any]:
        if method not in ("GET", "HEAD"):
            self.state.require_destructive(f"{method} {url.path}")
        response = yield from self.request(method, url, params=params, json_data=json_data)
        raise_for_response(response, expected)
        if response.status_code == 204 or not response.content or method == "HEAD":
            return None
        return json_body(response)

    def read_only_post(self, url: httpx.URL, body: Any, expected: tuple[int, ...] = (200,)) -> Flow[Any]:
        """A POST that changes nothing (a verification, a dry run): not gated by ``allow_destructive``."""
        response = yield from self.request("POST", url, json_data=body)
        raise_for_response(response, expected)
        return json_body(response)

    def call_unauthenticated(self, method: str, url: httpx.URL, json_data: Any) -> Flow[Any]:
        """The auth endpoints: sent without a token and never replayed (see ``HubAuth``). Tokens in the answer
        (``token``, ``access_token``, ``login_2fa_token``) are masked before anyone can log them."""
        response = yield from self.request(method, url, json_data=json_data)
        body = json_body(response) if response.content else None
        for key in ("token", "access_token", "refresh_token", "login_2fa_token"):
            if isinstance(body, dict) and isinstance(body.get(key), str) and body[key]:
                self.state.on_secret(body[key])
        if response.status_code == 401 and isinstance(body, dict) and body.get("login_2fa_token"):
            raise TwoFactorRequired(str(body["login_2fa_token"]), str(body.get("detail") or ""))
        raise_for_response(response, (200, 201))
        return body

    def exists(self, url: httpx.URL) -> Flow[bool]:
        """HEAD: ``True``/``False`` for 200/404; anything else (401, 403, 5xx) is an error, never "absent"."""
        response = yield from self.request("HEAD", url)
        if response.status_code == 404:
            return False
        raise_for_response(response, (200,))
        return True

    def page(self, url: httpx.URL, key: str, params: Params) -> Flow[Page]:
        """One page of a list (``page``/``page_size``): its items, the next page's parameters and the advertised
        total (``count``/``total``; the audit log has none). The loop in ``core.pagination`` decides the end."""
        response = yield from self.request("GET", url, params=params)
        if response.status_code == 404 and int(params.get("page", 1)) > 1:
            # Django REST paginators answer a page past the end with 404 "Invalid page.": an empty page.
            return Page([], None)
        raise_for_response(response, (200,))
        body = json_body(response)
        if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
            body = body[0]  # the spec types the members page as an array of pages; accept both
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ProtocolError("GET", redacted_path(url), f"list answer without {key!r}")
        return hub_page(body, items, params)

    def listing(
        self,
        model: type[M],
        segments: Sequence[str],
        params: Params,
        key: str = "results",
        *,
        item_key: Callable[[Any], Hashable] | None = None,
        window: int | None = None,
    ) -> Pages[M]:
        """A paged list of ``model``; ``page_size`` is checked here, when the listing is asked for. ``item_key``
        and ``window`` tune duplicate detection (see :class:`Pages`)."""
        url = self.url(*segments)
        first = without_none(params)
        if type(first.get("page_size")) is not int or first["page_size"] < 1:
            raise InvalidInputError(f"page_size must be a positive integer, got {first.get('page_size')!r}")
        return Pages(
            first,
            lambda p: self.page(url, key, p),
            model.model_validate,
            key=item_key or default_item_key,
            window=window,
            page_size=first["page_size"],
            path=redacted_path(url),
        )

    def secret(self, model: M) -> M:
        """A token value the API returns once (PAT/OAT creation) is masked like every derived secret."""
        token = getattr(model, "token", None)
        if token:
            self.state.on_secret(token)
        return model

    def authenticate(self) -> Flow[None]:
        """Mint (or reuse) the Hub JWT: proves the credentials with one call and no side effect."""
        from ..auth.hub import HubTokenSource

        yield Acquire(self.state.hub_tokens, HubTokenSource.KEY)
