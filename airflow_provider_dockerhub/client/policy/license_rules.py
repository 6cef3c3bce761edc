"""The licence policies: "No copyleft licenses" (the CLI's built-in, ``copyleft-license``) and "No AGPL v3
licenses" (the dashboard's default, a separate policy), over the packages an SBOM or Scout lists. Pure: no I/O.

Docker documents the copyleft default only as "AGPL/GPL/LGPL/MPL/…" ("Packages under AGPL, GPL, LGPL, MPL, and
similar licenses", docker/docs ``scout/policy/local.md``); the exact list is not published. ``COPYLEFT_LICENSES``
is ours: those four families and the other reciprocal licences SPDX lists, every version and ``-only``/
``-or-later`` form, so an unlisted variant fails closed. Each report prints the list it checked.
"""

from __future__ import annotations

import re
from typing import Any

from .evidence import ImageEvidence
from .results import EvaluationContext, Outcome, counted, no_data

AGPL_LICENSES = ("AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later")


def _family(name: str, versions: tuple[str, ...], forms: bool = True) -> list[str]:
    out = []
    for version in versions:
        out.append(f"{name}-{version}")
        if forms:
            out += [f"{name}-{version}-only", f"{name}-{version}-or-later"]
    return out


COPYLEFT_LICENSES = tuple(
    _family("AGPL", ("1.0", "3.0"))
    + _family("GPL", ("1.0", "2.0", "3.0"))
    + ["GPL-2.0-with-classpath-exception", "GPL-2.0-with-GCC-exception", "GPL-3.0-with-GCC-exception"]
    + _family("LGPL", ("2.0", "2.1", "3.0"))
    + _family("MPL", ("1.0", "1.1", "2.0"), forms=False)
    + ["MPL-2.0-no-copyleft-exception"]
    + _family("EPL", ("1.0", "2.0"), forms=False)
    + _family("EUPL", ("1.0", "1.1", "1.2"), forms=False)
    + _family("CDDL", ("1.0", "1.1"), forms=False)
    + _family("OSL", ("1.0", "1.1", "2.0", "2.1", "3.0"), forms=False)
    + ["CPL-1.0", "CPAL-1.0", "SSPL-1.0", "MS-RL", "RPL-1.1", "RPL-1.5", "QPL-1.0", "Sleepycat", "CECILL-2.1"]
)
_SPDX_TOKEN = re.compile(r"[()\s]+")
# Debian's copyright files (and syft's deb SBOMs) write "GPL-2+" / "LGPL-2.1" where SPDX says "GPL-2.0-or-later".
_DEBIAN_GNU = re.compile(r"^(A|L)?GPL-(\d)(\.\d)?(\+)?$")


def normal_id(license_id: str) -> str:
    """One spelling per licence: upper case, ``-only`` dropped (``GPL-2.0`` is SPDX's deprecated ``GPL-2.0-only``),
    ``+`` as ``-OR-LATER``, Debian's ``GPL-2`` as ``GPL-2.0``."""
    text = license_id.strip().upper()
    gnu = _DEBIAN_GNU.match(text)
    if gnu:
        text = f"{gnu.group(1) or ''}GPL-{gnu.group(2)}{gnu.group(3) or '.0'}" + ("-OR-LATER" if gnu.group(4) else "")
    if text.endswith("+"):
        text = text[:-1] + "-OR-LATER"
    return text.removesuffix("-ONLY")


def _tokens(expression: str) -> list[str]:
    """The licence IDs of an SPDX expression as written: operators and ``WITH`` exceptions dropped."""
    tokens = [t for t in _SPDX_TOKEN.split(str(expression)) if t]
    return [
        t
        for i, t in enumerate(tokens)
        if t.upper() not in ("AND", "OR", "WITH") and not (i and tokens[i - 1].upper() == "WITH")
    ]


def license_ids(expression: str) -> set[str]:
    """License IDs in an SPDX expression, upper-cased (SPDX IDs match case-insensitively). ``WITH`` exceptions
    are dropped; ``X+`` also yields ``X-or-later``."""
    ids: set[str] = set()
    for token in _tokens(expression):
        upper = token.upper()
        ids.add(upper)
        if upper.endswith("+"):
            ids.update({upper[:-1], upper[:-1] + "-OR-LATER"})
    return ids


def _matched(expression: str, banned: set[str]) -> list[str]:
    """The IDs of ``expression`` that are banned, as the package spells them. Any banned ID in an ``OR`` counts:
    a package may be taken under either licence, and which one applies is not in the SBOM."""
    return sorted({t for t in _tokens(expression) if normal_id(t) in banned})


def check_licenses(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> Outcome:
    if evidence.packages is None:
        return no_data("no package list (SBOM)", evidence, "packages")
    if not evidence.packages and evidence.sbom_packages == 0:
        # An SBOM listing nothing proves nothing about licences (Scout: "no data"), it is not a clean bill.
        return "unknown", [], [], "no data: the SBOM lists no packages"
    banned = {normal_id(lic) for lic in cfg["licenses"]}
    ignored = {p.strip().casefold() for p in cfg["ignored_packages"]}
    violations: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for pkg in evidence.packages:
        key = (str(pkg.purl), str(pkg.name), str(pkg.version))
        matched = sorted({m for e in pkg.licenses for m in _matched(e, banned)})
        if not matched or key in seen:
            continue
        seen.add(key)
        expressions = [e for e in pkg.licenses if _matched(e, banned)]
        item = {
            "id": matched[0],
            "package": pkg.purl or pkg.name,
            "name": pkg.name,
            "version": pkg.version,
            "licenses": expressions,
            "matched": matched,
            "detail": f"{pkg.purl or pkg.name} is licensed {' / '.join(expressions)}",
        }
        names = {str(pkg.name).casefold(), str(pkg.purl).casefold(), str(pkg.purl).split("@", 1)[0].casefold()}
        if names & ignored:
            reason = "listed in the policy's ignored_packages"
            suppressed.append(
                {**item, "by": "ignored_packages", "suppression": {"source": "policy-config", "reason": reason}}
            )
        else:
            violations.append(item)
    status, violations, suppressed, message = counted(violations, suppressed, "packages with banned licenses")
    violations.sort(key=lambda i: str(i["package"]))  # by package: licences have no severity to rank by
    return status, violations, suppressed, message
