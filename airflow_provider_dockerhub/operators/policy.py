"""Policy gates: Docker's default policies evaluated locally on Scout data, or on registry data alone.

A gate pins the reference to its digest first, then gates every platform of an index (``platforms="all"``, the
default) in one task: one combined verdict (any platform failing fails the gate), reported per platform. It
writes a JSON report, a markdown summary and a SARIF file to ``report_dir`` (an ``ObjectStoragePath``), logs a
table, and returns a small summary with the report's hash, which a promotion carries in its Asset event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSkipException,
    BaseOperatorLink,
    XCom,
)

from airflow_provider_dockerhub.operators.base import DockerHubBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_dockerhub.client.policy.engine import PolicyReport
    from airflow_provider_dockerhub.client.policy.evidence import ImageEvidence
    from airflow_provider_dockerhub.client.policy.ledger import Ledger
    from airflow_provider_dockerhub.client.policy.report import Finding, GateReport
    from airflow_provider_dockerhub.client.registry.media import Manifest

IMAGE_URL_KEY = "dockerhub_image_url"
ON_FAILURE = ("fail", "skip", "warn")
SUPPLY_CHAIN_POLICIES = ("supply-chain-attestations", "default-non-root-user", "copyleft-license")
REPORT_FILES = {"json": "gate-report.json", "markdown": "summary.md", "sarif": "results.sarif"}
GATED_RECORD = "gated.json"


class DockerHubImageLink(BaseOperatorLink):  # type: ignore[misc]
    """The gated image's page: Docker Hub's for a tag, Docker Scout's for a digest reference; no link at all for
    images of other registries (their web UIs differ; a raw API URL is not a page). The gate pushes the URL."""

    name = "Image on Docker Hub / Scout"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = XCom.get_value(ti_key=ti_key, key=IMAGE_URL_KEY)
        return str(url) if url else ""


def image_page_url(
    registry_host: str, repository: str, tag: str | None, digest: str, organization: str | None = None
) -> str | None:
    """Where people look at this image: Hub's layer page of ``tag`` at ``digest`` (a platform image); for a
    digest reference, Scout's page of the digest in ``organization``. ``None`` off Docker Hub, or for a digest
    reference without an organization: no link rather than a wrong one (never ``latest``)."""
    from airflow_provider_dockerhub.client.core.reference import is_docker_hub_registry

    if not is_docker_hub_registry(registry_host):
        return None
    if tag:
        return f"https://hub.docker.com/layers/{repository}/{quote(tag, safe='')}/images/{digest.replace(':', '-')}"
    if not organization:
        return None
    # The Scout dashboard's image URLs: .../images/host/hub.docker.com/repo/<ns>%2F<name>[/tag/<t>]/digest/<d>.
    return (
        f"https://scout.docker.com/reports/org/{quote(organization, safe='')}/images/host/hub.docker.com/repo/"
        f"{quote(repository, safe='')}/digest/{quote(digest, safe='')}"
    )


def storage_path(location: Any) -> Any:
    """An ``ObjectStoragePath`` from a URL string (templated) or an ``ObjectStoragePath``."""
    from airflow.sdk import ObjectStoragePath

    return location if isinstance(location, ObjectStoragePath) else ObjectStoragePath(str(location))


def report_location(report_dir: Any, repository: str, digest: str, report_hash: str) -> Any:
    """``<report_dir>/<repository>/<digest>/<report hash>/``: content-addressed, so a report is never replaced."""
    return storage_path(report_dir) / repository / digest.replace(":", "-") / report_hash.replace(":", "-")


def gated_record_path(report_dir: Any, repository: str, digest: str) -> Any:
    """The last gate verdict of a digest (``gated.json``), which a deploy checks before it trusts a digest."""
    return storage_path(report_dir) / repository / digest.replace(":", "-") / GATED_RECORD


def platform_targets(top: Manifest, wanted: Sequence[str] | None, where: str) -> list[tuple[str | None, str]]:
    """``(platform, image digest)`` of every platform to gate: for an index every real platform (attestation
    manifests are not platforms), or those ``wanted``; for a single image, itself."""
    from airflow_provider_dockerhub.client.core.errors import InvalidInputError
    from airflow_provider_dockerhub.client.registry.media import (
        Platform,
        child_descriptors,
        is_attestation,
        is_index,
        select_platform,
    )

    if not is_index(top):
        return [(wanted[0] if wanted and len(wanted) == 1 else None, top.digest)]
    if wanted:
        return [(str(Platform.of(e)), str(e["digest"])) for e in (select_platform(top, p, where) for p in wanted)]
    entries = [d for d in child_descriptors(top) if not is_attestation(d)]
    targets = [(str(Platform.of(e)) if Platform.of(e) else None, str(e.get("digest"))) for e in entries]
    if not targets:
        raise InvalidInputError(f"{where}: the index lists no platform image")
    if len({p for p, _ in targets}) != len(targets):
        raise InvalidInputError(f"{where}: several manifests for one platform: {[p for p, _ in targets]}")
    return targets


class _PolicyGate(DockerHubBaseOperator):
    """Shared by both gates: pin the digest, evaluate each platform, apply baseline and ledger, decide, report."""

    template_fields: Sequence[str] = (
        "image",
        "baseline",
        "platform",
        "platforms",
        "policies",
        "report_dir",
        "accepted_risks",
        "dockerhub_conn_id",
    )
    default_policies: tuple[str, ...] | None = None
    operator_extra_links = (DockerHubImageLink(),)

    def __init__(
        self,
        *,
        image: str,
        platform: str | None = None,
        platforms: str | Sequence[str] | None = None,
        policies: Sequence[str] | str | None = None,
        policy_config: Mapping[str, Any] | None = None,
        allow_list: Sequence[Any] = (),
        baseline: str | None = None,
        on_failure: str = "fail",
        unknown_ok: bool = False,
        report_dir: Any = None,
        accepted_risks: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
        if platform is not None and platforms not in (None, "all"):
            raise ValueError("pass platform= (one) or platforms= (several, or 'all'), not both")
        self.image = image
        self.platform = platform
        self.platforms = platforms
        self.policies = policies
        self.policy_config = policy_config
        self.allow_list = list(allow_list)
        self.baseline = baseline
        self.on_failure = on_failure
        self.unknown_ok = unknown_ok
        self.report_dir = report_dir
        self.accepted_risks = accepted_risks

    # -- evidence (the two gates differ only here) ---------------------------------------------------------

    def evidence(self, repository: str, reference: str, platform: str | None) -> ImageEvidence:
        raise NotImplementedError

    def organization(self) -> str | None:
        return None

    # -- the run -------------------------------------------------------------------------------------------

    def wanted_platforms(self) -> list[str] | None:
        """``None`` = every platform; else the list asked for (``platform=`` is the one-platform form)."""
        if self.platform is not None:  # "" is a malformed platform, refused before any request
            return [self.platform]
        chosen = self.platforms
        if chosen in (None, "", "all"):
            return None
        if isinstance(chosen, str):
            chosen = [p.strip() for p in chosen.split(",") if p.strip()]
        return list(chosen or []) or None

    def _evaluate(self, evidence: ImageEvidence) -> PolicyReport:
        from airflow_provider_dockerhub.client.policy.engine import evaluate

        policies = self.policies if self.policies is not None else self.default_policies
        return evaluate(evidence, policies, self.policy_config, self.allow_list)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.core.reference import registry_name
        from airflow_provider_dockerhub.client.policy.engine import prepare
        from airflow_provider_dockerhub.client.policy.report import (
            GateReport,
            PlatformOutcome,
            log_table,
            report_hash,
            xcom_summary,
        )
        from airflow_provider_dockerhub.client.registry.media import Platform, media_type_of

        policies = self.policies if self.policies is not None else self.default_policies
        prepare(policies, self.policy_config, self.allow_list)  # bad arguments are refused before any request
        wanted = self.wanted_platforms()
        for text in wanted or []:
            Platform.parse(text)
        ledger = self._load_ledger()
        try:
            registry = self.hook.registry
            config = self.hook.get_config()
            ref = registry.parse_image(self.image)
            top = registry.get_manifest(ref.repository, ref.reference)  # every platform is gated at this digest
            where = f"{ref.repository}@{top.digest}"
            outcomes = []
            baseline_top = self._baseline_top(registry)
            for platform, digest in platform_targets(top, wanted, self.image):
                report = self._evaluate(self.evidence(ref.repository, top.digest, platform))
                if report.digest != digest:  # the index changed under us, or a platform matched twice
                    raise AirflowFailException(f"{where}: {platform} resolved to {report.digest}, not {digest}")
                base = self._baseline_report(baseline_top, platform) if baseline_top is not None else None
                failures = report.failures(base, unknown_ok=self.unknown_ok)
                failures, accepted = apply_ledger(report, failures, base, ledger, ref.repository)
                outcomes.append(
                    PlatformOutcome(
                        platform or report.platform, digest, report, failures, accepted, base.digest if base else None
                    )
                )
        finally:
            self.hook.close()
        gate = GateReport(
            image=self.image,
            registry=registry_name(config.registry_url),
            repository=ref.repository,
            digest=top.digest,
            media_type=media_type_of(top),
            platforms=outcomes,
            evaluated_at=datetime.now(UTC).isoformat(),
            baseline=self.baseline,
            ledger=str(self.accepted_risks) if self.accepted_risks else None,
        )
        document = gate.document()
        digest_of_report = report_hash(document)
        paths = self._write_reports(gate, document, digest_of_report) if self.report_dir else {}
        self.log.info("%s", log_table(gate))
        if paths:
            self.log.info("Reports: %s (sha256 of the JSON report: %s)", paths, digest_of_report)
        first = outcomes[0].digest if len(outcomes) == 1 or not ref.digest else top.digest
        url = image_page_url(config.registry_host, ref.repository, ref.tag, first, self.organization())
        context["ti"].xcom_push(key=IMAGE_URL_KEY, value=url)
        result = xcom_summary(gate, report_hash_value=digest_of_report, paths=paths)
        self._decide(gate)
        return result

    def _decide(self, gate: GateReport) -> None:
        if gate.passed:
            return
        failing = [f"{p.platform or p.digest[:19]}: {', '.join(p.failures)}" for p in gate.platforms if p.failures]
        message = f"{self.image} fails policies on {'; '.join(failing)}"
        if self.baseline:
            message += f" (worse than {self.baseline})"
        if self.on_failure == "fail":
            raise AirflowFailException(message)
        if self.on_failure == "skip":
            raise AirflowSkipException(message)
        self.log.warning("%s (on_failure='warn': continuing)", message)

    # -- baseline and ledger -------------------------------------------------------------------------------

    def _baseline_top(self, registry: Any) -> tuple[str, Manifest] | None:
        if not self.baseline:
            return None
        ref = registry.parse_image(self.baseline)
        return ref.repository, registry.get_manifest(ref.repository, ref.reference)

    def _baseline_report(self, baseline: tuple[str, Manifest], platform: str | None) -> PolicyReport | None:
        """The baseline's report for the same platform (a single-platform baseline stands for every platform);
        ``None`` when the baseline has no such platform: then nothing is "no worse than production"."""
        from airflow_provider_dockerhub.client.registry.media import is_index

        repository, top = baseline
        if is_index(top) and platform is not None:
            try:
                platform_targets(top, [platform], self.baseline or "")
            except Exception:  # no such platform in the baseline: judge the platform on its own
                return None
        return self._evaluate(self.evidence(repository, top.digest, platform if is_index(top) else None))

    def _load_ledger(self) -> Ledger | None:
        from airflow_provider_dockerhub.client.policy.ledger import load_ledger

        return load_ledger(storage_path(self.accepted_risks)) if self.accepted_risks else None

    # -- reports -------------------------------------------------------------------------------------------

    def _write_reports(self, gate: GateReport, document: bytes, digest_of_report: str) -> dict[str, str]:
        import json

        from airflow_provider_dockerhub.client.policy.ledger import write_atomically
        from airflow_provider_dockerhub.client.policy.report import markdown, sarif

        folder = report_location(self.report_dir, gate.repository, gate.digest, digest_of_report)
        contents = {
            "json": document,
            "markdown": markdown(gate).encode(),
            "sarif": json.dumps(sarif(gate, _version()), indent=1).encode(),
        }
        paths = {}
        for kind, data in contents.items():
            path = folder / REPORT_FILES[kind]
            write_atomically(path, data)
            paths[kind] = str(path)
        record = {
            "digest": gate.digest,
            "repository": gate.repository,
            "status": gate.status,
            "passed": gate.passed,
            "report_hash": digest_of_report,
            "report": paths["json"],
            "evaluated_at": gate.evaluated_at,
        }
        write_atomically(gated_record_path(self.report_dir, gate.repository, gate.digest), json.dumps(record).encode())
        return paths


def apply_ledger(
    report: PolicyReport,
    failures: list[str],
    baseline: PolicyReport | None,
    ledger: Ledger | None,
    repository: str,
) -> tuple[list[str], list[Finding]]:
    """Failures left once the ledger's accepted risks are taken out, and the findings it accepted.

    A non-compliant policy stops failing when every finding that makes it fail (with a baseline: every finding
    the baseline does not have, the engine's identity diff) is covered by an active ledger record. "Unknown" is
    never accepted: no data is not a risk someone can accept.
    """
    from dataclasses import replace

    from airflow_provider_dockerhub.client.policy.report import findings

    if ledger is None:
        return failures, []
    now = datetime.now(UTC)
    new = report.diff(baseline).new if baseline is not None else report.violations()
    new_keys = {f.key for f in new}
    accepted: list[Finding] = []
    still: list[str] = []
    for policy_id in failures:
        result = report.result(policy_id)
        if result is None or result.status != "non_compliant":
            still.append(policy_id)
            continue
        open_ = False
        for engine_finding in (f for f in report.violations() if f.policy == policy_id):
            record = ledger.acceptance(engine_finding, repository, now)
            if record is not None:
                mine = next(f for f in findings(report) if f.key() == engine_finding.key and f.status == "violation")
                accepted.append(
                    replace(
                        mine,
                        status="accepted",
                        source="ledger",
                        reason=record.reason,
                        expires=record.expires,
                        accepted_by=record.accepted_by,
                    )
                )
            elif engine_finding.key in new_keys:
                open_ = True
        if open_ or not any(f.policy == policy_id for f in report.violations()):
            still.append(policy_id)
    return still, accepted


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("airflow-provider-dockerhub")
    except Exception:  # not installed as a distribution (a source checkout): the SARIF driver omits it
        return ""


class DockerHubScoutPolicyGateOperator(_PolicyGate):
    """Gate an image on Docker Scout's default policies, evaluated locally (as ``docker scout policy`` now does).

    Vulnerability data comes from Scout (GraphQL, the connection's Hub token, ``organization`` or the connection's
    namespace); attestations, SBOM licences and the image user come from the registry. Each policy is compliant,
    non-compliant or unknown (no data, e.g. not indexed yet); unknown fails unless ``unknown_ok``.

    :param image: ``repo:tag`` or ``repo@digest`` (templated); pinned to its digest before anything is read.
    :param platforms: ``"all"`` (default: every platform of an index, one verdict, reported per platform), or a
        list (``["linux/amd64", "linux/arm64"]``). ``platform`` is the one-platform form.
    :param policies: policy IDs (default: every built-in policy).
    :param policy_config: per-policy settings, the CLI's keys, or the CLI's policy-configuration file shape.
    :param allow_list: CVE IDs or ``{"id", "expires", "reason"}``; expired entries stop suppressing.
    :param baseline: another reference (e.g. what production runs): fail only on findings it does not have.
    :param accepted_risks: the accepted-risk ledger folder (``ObjectStoragePath`` or URL, see
        :class:`DockerHubAcceptRiskOperator`): findings it accepts do not fail the gate and are reported as such.
    :param report_dir: where the JSON report, ``summary.md`` and ``results.sarif`` go (``ObjectStoragePath`` or
        URL, e.g. ``s3://bucket/gates``, ``file:///...``); none written when not given.
    :param on_failure: ``fail`` (no retry), ``skip`` or ``warn``.

    Returns (XCom) a small summary: ``image``, ``digest`` (the index digest for an index, as the push and copy
    operators return), ``platforms`` (per platform: ``digest``, ``status``, ``failures``), ``status``,
    ``passed``, ``failures``, ``counts``, ``reports`` (paths), ``report_hash`` and per-policy statuses.
    """

    def __init__(self, *, organization: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.organization_name = organization

    template_fields: Sequence[str] = (*_PolicyGate.template_fields, "organization_name")

    def organization(self) -> str | None:
        return self.organization_name or self.hook.get_config().namespace

    def evidence(self, repository: str, reference: str, platform: str | None) -> ImageEvidence:
        from airflow_provider_dockerhub.client.policy.from_registry import gather_registry_evidence
        from airflow_provider_dockerhub.client.policy.from_scout import merge_scout
        from airflow_provider_dockerhub.client.scout.api import ImageCoordinates

        registry = self.hook.registry
        evidence = gather_registry_evidence(registry, repository, reference, platform)
        config = self.hook.get_config()
        coords = ImageCoordinates.for_registry(config.registry_host, repository, evidence.digest)
        organization = self.organization()
        details = None
        # Scout's base image only where the registry (provenance materials + a tag lookup) could not tell.
        if evidence.platform and (evidence.base_images is None or any(b.current is None for b in evidence.base_images)):
            details = self.hook.scout.base_image(organization, coords, evidence.platform)
        return merge_scout(evidence, self.hook.scout.image(organization, coords), details)


class DockerHubSupplyChainGateOperator(_PolicyGate):
    """The same gate on registry data alone (attestations, SBOM licences, non-root user, provenance): works on any
    OCI registry and offline. Default policies: supply-chain attestations, default non-root user, copyleft."""

    default_policies = SUPPLY_CHAIN_POLICIES

    def evidence(self, repository: str, reference: str, platform: str | None) -> ImageEvidence:
        from airflow_provider_dockerhub.client.policy.from_registry import gather_registry_evidence

        return gather_registry_evidence(self.hook.registry, repository, reference, platform)


class DockerHubAcceptRiskOperator(DockerHubBaseOperator):
    """Record accepted risks in the ledger a gate reads (``accepted_risks``): who accepted which finding, why,
    until when. Each risk is ``{"policy", "id" (CVE or licence), "purl" (default ``*``: any package), "reason",
    "expires" (ISO date or time; none: until revoked), "repository" (optional scope)}``.

    :param ledger: the ledger's folder, an ``ObjectStoragePath`` or URL (templated); each run adds one entry.
    :param accepted_by: who accepts (templated); default: the user who triggered the DAG run. Required one way or
        the other: an acceptance nobody signed is refused.

    Returns ``{"ledger", "revision", "accepted": [records]}``.
    """

    template_fields: Sequence[str] = ("ledger", "risks", "accepted_by")

    def __init__(
        self, *, ledger: Any, risks: Sequence[Mapping[str, Any]], accepted_by: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.ledger = ledger
        self.risks = risks
        self.accepted_by = accepted_by

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.policy.ledger import LedgerRecord, update_ledger

        dag_run = context.get("dag_run")
        who = self.accepted_by or getattr(dag_run, "triggering_user_name", None)
        if not who:
            raise AirflowFailException(
                "accepting a risk needs an acceptor: pass accepted_by= (or trigger the run as a user)"
            )
        now = datetime.now(UTC)
        records = [LedgerRecord.parse(r, accepted_by=str(who), now=now) for r in self.risks]
        ledger = update_ledger(storage_path(self.ledger), records, accepted_by=str(who), now=now)
        for record in records:
            self.log.info(
                "accepted %s %s in %s until %s by %s: %s",
                record.policy,
                record.id,
                record.package,
                record.expires or "revoked",
                record.accepted_by,
                record.reason,
            )
        return {"ledger": str(self.ledger), "revision": ledger.revision, "accepted": [r.to_json() for r in records]}
