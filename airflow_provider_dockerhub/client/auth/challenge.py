"""``WWW-Authenticate`` parsing per RFC 7235 §4.1 / RFC 9110 §11.6.1 (pure).

A header holds one or more challenges: ``scheme [token68 | auth-param *("," auth-param)]``, challenges themselves
separated by commas. Values are tokens or quoted strings, and a quoted string may contain commas and escaped
quotes; registries rely on that (``scope="repository:a/b:pull,push"``), which is why a split on ``,`` is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.reference import Scope

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # noqa: S105 - the RFC 9110 "token" grammar
_TOKEN_RE = re.compile(_TOKEN)
_TOKEN68_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_OWS = re.compile(r"[ \t]*")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case
    params: dict[str, str] = field(default_factory=dict)  # names lower case
    token68: str | None = None

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def scopes(self) -> tuple[Scope, ...]:
        """The challenge's scopes: space-separated in one ``scope`` parameter (token spec, scope.md)."""
        text = self.params.get("scope", "")
        scopes = []
        for item in text.split():
            try:
                scopes.append(Scope.parse(item))
            except ValueError:
                continue  # an unknown scope form only loses us a hint; the token request still names ours
        return tuple(scopes)


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ows(self) -> None:
        self.pos = _OWS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        m = pattern.match(self.text, self.pos)
        if m:
            self.pos = m.end()
        return m


def _param_follows(cur: _Cursor) -> bool:
    """Is the next item ``name = value`` (a parameter) rather than a new challenge's scheme?"""
    m = _TOKEN_RE.match(cur.text, cur.pos)
    if not m:
        return False
    after = _OWS.match(cur.text, m.end()).end()  # type: ignore[union-attr]
    if cur.text[after : after + 1] != "=":
        return False
    # "name=value" has a value after "="; token68 padding ("YWI=" or "YWI==") is followed by "=", "," or the end.
    value_start = _OWS.match(cur.text, after + 1).end()  # type: ignore[union-attr]
    return cur.text[value_start : value_start + 1] not in ("", ",", "=")


def _parse_value(cur: _Cursor) -> str | None:
    if cur.peek() == '"':
        m = cur.match(_QUOTED_RE)
        return re.sub(r"\\(.)", r"\1", m.group(1)) if m else None
    m = cur.match(_TOKEN_RE)
    return m.group(0) if m else None


def parse_challenges(header: str) -> list[Challenge]:
    """Parse one ``WWW-Authenticate`` value into its challenges; malformed trailing input is ignored."""
    cur = _Cursor(header)
    challenges: list[Challenge] = []
    while True:
        cur.skip_ows()
        while cur.peek() == ",":
            cur.pos += 1
            cur.skip_ows()
        scheme = cur.match(_TOKEN_RE)
        if not scheme:
            break
        params: dict[str, str] = {}
        token68: str | None = None
        cur.skip_ows()
        if not _param_follows(cur):
            start = cur.pos
            t68 = cur.match(_TOKEN68_RE)
            cur.skip_ows()
            if t68 and (cur.at_end() or cur.peek() == ","):
                token68 = t68.group(0)
            else:
                cur.pos = start
        while token68 is None and _param_follows(cur):
            name = cur.match(_TOKEN_RE)
            assert name is not None
            cur.skip_ows()
            cur.pos += 1  # "="
            cur.skip_ows()
            value = _parse_value(cur)
            if value is None:
                return [*challenges, Challenge(scheme.group(0).lower(), params)]
            params.setdefault(name.group(0).lower(), value)
            cur.skip_ows()
            if cur.peek() != ",":
                break
            cur.pos += 1
            cur.skip_ows()
        challenges.append(Challenge(scheme.group(0).lower(), params, token68))
        cur.skip_ows()
        if cur.at_end():
            break
    return challenges


def parse_www_authenticate(values: Iterable[str]) -> list[Challenge]:
    """All challenges of all ``WWW-Authenticate`` header lines of one response, in order."""
    result: list[Challenge] = []
    for value in values:
        result.extend(parse_challenges(value))
    return result


def pick_challenge(challenges: list[Challenge]) -> Challenge | None:
    """Prefer Bearer (token auth) over Basic, like Docker's own clients; ignore schemes we cannot answer."""
    for wanted in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == wanted:
                return challenge
    return None
