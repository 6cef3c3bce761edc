"""OpenVEX documents (https://openvex.dev) as suppressions: a statement whose status is ``not_affected`` or
``fixed`` suppresses its vulnerability (and aliases) for its subcomponents, or for the whole image when it names
none. ``affected`` and ``under_investigation`` suppress nothing. OpenVEX has no expiry. Pure: no I/O.

Both the v0.2.0 shape (``vulnerability: {name, aliases}``, ``products: [{"@id", subcomponents: [{"@id"}]}]``)
and the v0.0.x shape (strings) are read. The document reaches here attached to the image (an in-toto attestation
with predicate type ``https://openvex.dev/ns/...``, or an OCI referrer), which is what binds it to this image.
"""

from __future__ import annotations

from typing import Any

from .evidence import Suppression

VEX_PREDICATE_PREFIX = "https://openvex.dev/ns"
OPENVEX_MEDIA_TYPES = frozenset({"application/vnd.openvex+json", "application/openvex+json"})
SUPPRESSING = frozenset({"not_affected", "fixed"})
_IMAGE_PURLS = ("pkg:docker/", "pkg:oci/")


def is_openvex(predicate_type: str | None) -> bool:
    return str(predicate_type or "").startswith(VEX_PREDICATE_PREFIX)


def _ident(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("@id") or value.get("name") or "")
    return str(value or "")


def vex_suppressions(document: Any, where: str = "") -> list[Suppression]:
    """The suppressions of one OpenVEX document; a malformed document is a ``ValueError`` (the caller decides
    what an unreadable VEX means: it suppresses nothing)."""
    if not isinstance(document, dict) or not str(document.get("@context", "")).startswith(VEX_PREDICATE_PREFIX):
        raise ValueError("not an OpenVEX document (no https://openvex.dev/ns @context)")
    statements = document.get("statements")
    if not isinstance(statements, list):
        raise ValueError("OpenVEX 'statements' is not a list")
    author = str(document.get("author") or "") or None
    found: list[Suppression] = []
    for statement in statements:
        if not isinstance(statement, dict) or str(statement.get("status")) not in SUPPRESSING:
            continue
        vuln = statement.get("vulnerability")
        names = [_ident(vuln)] + ([_ident(a) for a in vuln.get("aliases") or []] if isinstance(vuln, dict) else [])
        names = [n for n in names if n]
        reason = str(statement.get("status"))
        detail = statement.get("justification") or statement.get("impact_statement") or statement.get("status_notes")
        reason += f": {detail}" if detail else ""
        if statement.get("justification") and statement.get("impact_statement"):
            reason += f" ({statement['impact_statement']})"
        packages: list[str | None] = []
        for product in statement.get("products") or []:
            subs = product.get("subcomponents") if isinstance(product, dict) else None
            scoped = [_ident(s) for s in subs or [] if _ident(s)]
            ident = _ident(product)
            if not scoped and ident.startswith("pkg:") and not ident.startswith(_IMAGE_PURLS):
                scoped = [ident]  # the product is a package itself, not the image
            packages += scoped or [None]
        for name in names:
            for package in packages or [None]:
                found.append(Suppression("vex", name, reason, None, package, author, where or None))
    return found
