"""The sentences of Docker's documentation the policy test vectors are derived from, one constant per sentence,
each ``"<URL> — <quoted sentence>"`` (docker/docs file and commit in docs/scout-policies.md). A vector cites the
constant it follows in its ``source`` field; ``OURS_*`` mark the choices made where Docker's documents are silent."""

from __future__ import annotations

POLICY = "https://docs.docker.com/scout/policy/"  # content/manuals/scout/policy/_index.md @ 2145a872
POLICY_2024 = "https://docs.docker.com/scout/policy/ (docker/docs 02e3b7bf)"  # the out-of-the-box policy names
LOCAL = "https://docs.docker.com/scout/policy/local/"  # content/manuals/scout/policy/local.md @ 7477e46c
SLSA = "https://docs.docker.com/build/metadata/attestations/slsa-provenance/"
SLSA_DEFINITIONS = "https://docs.docker.com/build/metadata/attestations/slsa-definitions/"
VEX = "https://docs.docker.com/scout/guides/vex/"  # content/manuals/scout/how-tos/create-exceptions-vex.md
SCHEMA = "shared/specs/docker-scout-schema.graphql (docker/hub-mcp src/scout/genql/schema.graphql)"

FIX_DEFINITION = (
    f"{POLICY_2024} — This policy is violated if an artifact is affected by one or more critical- or high-severity "
    "vulnerability, where a fix version is available."
)
FIX_SEVERITIES = f'{LOCAL} — `severities` | `["CRITICAL","HIGH"]` | Severity levels that count as a violation'
FIX_FIXABLE = f"{LOCAL} — `fixable_only` | `true` | When `true`, only vulnerabilities with a known fix count"
FIX_TYPES = f"{LOCAL} — `package_types` | `[]` | Allowlist of PURL package types to consider; empty means all"
FIX_GRACE = f"{LOCAL} — `grace_period_days` | `0` | Days a newly disclosed CVE is exempt"
FIX_AGE = f"{POLICY} — **Age**: The minimum number of days since the vulnerability was first published"
HP_LIST = (
    f"{POLICY} — The list includes the following vulnerabilities: ... CVE-2021-44228 (Log4Shell) ... "
    "CVE-2024-3094 (XZ backdoor)"
)
HP_KEV = (
    f"{POLICY} — When enabled, the policy flags images that contain vulnerabilities from the CISA KEV catalog. "
    "... Enabled by default."
)
HP_IGNORED = f"{LOCAL} — `ignored_cves` | `[]` | CVE IDs excluded from causing a failure"
HP_CVES = f"{LOCAL} — `cves` | curated list | CVE IDs considered high-profile"
OURS_ALIASES = (
    "ours (Docker lists CVE IDs only): https://github.com/advisories/GHSA-jfh8-c2jp-5v3q is CVE-2021-44228, "
    "GHSA-rxwq-x6h5-x525 is CVE-2024-3094, GHSA-qppj-fm5r-hxr3 is CVE-2023-44487"
)
COPYLEFT = f"{LOCAL} — No copyleft licenses | Packages under AGPL, GPL, LGPL, MPL, and similar licenses"
COPYLEFT_LICENSES = f"{LOCAL} — `licenses` | AGPL/GPL/LGPL/MPL/… | SPDX license IDs treated as copyleft"
COPYLEFT_IGNORED = f"{LOCAL} — `ignored_packages` | `[]` | Package URLs exempted from the check"
OURS_COPYLEFT = "ours (Docker's exact list is unpublished): every version and form of those families, fail closed"
AGPL = (
    f"{POLICY_2024} — The **No AGPL v3 licenses** policy requires that your artifacts don't contain packages "
    "distributed under an AGPLv3 license."
)
ATTESTATIONS = (
    f"{POLICY_2024} — This policy is violated if an artifact lacks either an SBOM attestation or a provenance "
    "attestation with max mode."
)
MAX_MODE = f"{SLSA_DEFINITIONS} — `buildConfig` ... Only included with `mode=max`."
MIN_DEFAULT = f"{SLSA} — Supported values are `mode=min` (default) and `mode=max`."
REQUIRED = (
    f"{LOCAL} — `required_attestations` | provenance and SBOM predicate types | Attestation predicate types that "
    "must be present"
)
OURS_EMPTY_SBOM = "ours (Docker is silent): an SBOM listing no packages, or a `{}` predicate, proves nothing: no data"
NON_ROOT = (
    f"{POLICY} — Images are non-compliant with this policy if they don't specify a non-root default user for the "
    "runtime stage."
)
NON_ROOT_EXPLICIT = (
    f"{POLICY} — For non-compliant images, evaluation results show whether or not the `root` user was set "
    "explicitly for the image."
)
NON_ROOT_CONFIG = (
    f"{POLICY} — This policy only checks for the default user of the image, as set in the image configuration blob."
)
OUTDATED = (
    f"{POLICY_2024} — It's violated when the tag you used to build your image points to a different digest than "
    "what you're using."
)
NO_BASE_DATA = f'{POLICY} — This "no data" state occurs when: Docker Scout doesn\'t know what base image tag you used'
NEEDS_PROVENANCE = f"{POLICY} — Your images need provenance attestations for this policy to successfully evaluate."
OURS_SCRATCH = "ours (Docker is silent): provenance that names no base image means FROM scratch: nothing to check"
APPROVED = (
    f"{POLICY} — This policy checks whether the base images used in your builds match any of the patterns "
    "specified in the policy configuration."
)
APPROVED_STAR = (
    f"{POLICY} — An asterisk (`*`) matches up until the character that follows, or until the end of the image "
    "reference."
)
APPROVED_DOCKER_IO = f"{POLICY} — Note that the `docker.io` prefix is required in order to match Docker Hub images."
APPROVED_DEFAULT = f"{POLICY} — Default: `[*]` (any reference is an allowed base image)"
APPROVED_OFFICIAL = f"{POLICY} — Allow all Docker Official Images | `docker.io/library/*`"
APPROVED_SLIM = f"{POLICY} — Allow slim tags of NodeJS images | `docker.io/library/node:*-slim`"
APPROVED_REPO_TAGS = f"{POLICY} — Allow tags of a specific repository | `docker.io/orgname/repository:*`"
APPROVED_REGISTRY = (
    f"{POLICY} — Allow images on a registry with hostname `registry.example.com` | `registry.example.com/*`"
)
DISTROS = (
    f"{POLICY} — Enabling this option may cause the policy to report no data if the operating system version "
    "cannot be determined."
)
DISTROS_DEFAULT = (
    f"{LOCAL} — `allowed_distros_only` | `true` | When enabled, base image must use an allowed OS distribution"
)
OURS_DISTROS = (
    f"{LOCAL} — `allowed_distros` | curated list — ours: the curated list is unpublished, so no data unless given"
)
CONFIG_ENABLED = (
    f"{LOCAL} — `policies[].enabled`: set to `false` to skip the policy. Policies not listed are enabled by default."
)
CONFIG_NAME = f"{LOCAL} — `policies[].name`: the policy's stable ID (see the following table)."
CONFIG_BODY = f"{LOCAL} — `policies[].config`: an object passed to the policy as `data.config`."
VEX_NOT_AFFECTED = f"{VEX} — Not affected: No remediation is required regarding this vulnerability."
VEX_FIXED = f"{VEX} — Fixed: These product versions contain a fix for the vulnerability."
VEX_AFFECTED = f"{VEX} — Affected: Actions are recommended to remediate or address this vulnerability."
VEX_INVESTIGATION = (
    f"{VEX} — Under investigation: It is not yet known whether these product versions are affected by the "
    "vulnerability."
)
EXCEPTION_FIELDS = (
    f"{SCHEMA} — type PkVulnerabilityException {{ author timestamp sourceType id type justification documentUrl "
    "status additionalDetails }} (no expiry field)"
)
OURS_NOT_SCANNED = "ours (Docker is silent): an image with no vulnerability data is no data, never a pass"
