"""Policy configuration in either shape the gate accepts: the provider's ``{policy ID: settings}`` dict, or the
Scout CLI's ``--policy-config`` file (docker/docs ``scout/policy/local.md``, "Configure built-in policies")::

    {"policies": [{"name": "fixable-vulnerabilities", "config": {"severities": ["CRITICAL"]}},
                  {"name": "no-stale-base-images", "enabled": false}],
     "debug": false}

``policies[].name`` is the stable ID, ``enabled: false`` skips the policy ("Policies not listed are enabled by
default"), ``config`` is the policy's settings. ``debug`` only switches Rego ``print()`` output in the CLI and is
ignored here; ``weight`` only orders the CLI's report and is ignored too. A name that is not a built-in policy
(a custom Rego policy) is refused: this gate cannot evaluate Rego, and skipping it silently would pass an image
the CLI might fail. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..core.errors import InvalidInputError
from .rules import policy_named

# docker/docs once showed "no-copyleft-licenses" in an example of the same page (docs issue #25934).
_ALIASES = {"no-copyleft-licenses": "copyleft-license"}
_ENTRY_KEYS = frozenset({"name", "enabled", "config", "weight"})


def is_cli_shape(config: object) -> bool:
    return isinstance(config, Mapping) and isinstance(config.get("policies"), list)


def parse_policy_config(config: Mapping[str, Any] | str | None) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """``(settings by policy ID, disabled policy IDs)`` from either shape (or its JSON text)."""
    if config is None:
        return {}, set()
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError as exc:
            raise InvalidInputError(f"policy config is not JSON: {exc}") from exc
    if not isinstance(config, Mapping):
        raise InvalidInputError(f"policy config must be a mapping, got {type(config).__name__}")
    if not is_cli_shape(config):
        settings: dict[str, dict[str, Any]] = {}
        for key, value in config.items():
            if not isinstance(value, Mapping):
                raise InvalidInputError(f"policy config for {key!r} must be a mapping, got {value!r}")
            settings[policy_named(_ALIASES.get(str(key), str(key)) or str(key)).id] = dict(value)
        return settings, set()
    unknown = set(config) - {"policies", "debug"}
    if unknown:
        raise InvalidInputError(f"policy config file: unknown keys {sorted(unknown)}; known: policies, debug")
    settings, disabled = {}, set()
    for number, entry in enumerate(config["policies"]):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise InvalidInputError(f"policy config file: policies[{number}] needs a 'name', got {entry!r}")
        extra = set(entry) - _ENTRY_KEYS
        if extra:
            raise InvalidInputError(f"policy config file: policies[{number}] has unknown keys {sorted(extra)}")
        name = str(_ALIASES.get(entry["name"], entry["name"]))
        try:
            pid = policy_named(name).id
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"policy config file names {entry['name']!r}, which is not a built-in policy; custom Rego policies "
                "are not evaluated by this gate"
            ) from exc
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidInputError(f"policy config file: {entry['name']}.enabled must be true or false")
        body = entry.get("config") or {}
        if not isinstance(body, Mapping):
            raise InvalidInputError(f"policy config file: {entry['name']}.config must be an object")
        settings[pid] = dict(body)
        if not enabled:
            disabled.add(pid)
    return settings, disabled
