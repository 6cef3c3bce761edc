"""Policy gates: Docker's default policies evaluated locally on Scout data, or on registry data alone."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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

IMAGE_URL_KEY = "dockerhub_image_url"
ON_FAILURE = ("fail", "skip", "warn")
SUPPLY_CHAIN_POLICIES = ("supply-chain-attestations", "default-non-root-user", "copyleft-license")


class DockerHubImageLink(BaseOperatorLink):  # type: ignore[misc]
    """The gated image's page (Docker Hub for Docker Hub images); the URL is pushed to XCom by the gate."""

    name = "Image on Docker Hub"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = XCom.get_value(ti_key=ti_key, key=IMAGE_URL_KEY)
        return str(url) if url else ""


def image_page_url(registry_host: str, repository: str, tag: str | None, digest: str) -> str:
    from airflow_provider_dockerhub.client.core.reference import is_docker_hub_registry

    if is_docker_hub_registry(registry_host):
        namespace, _, name = repository.partition("/")
        if namespace == "library":
            return f"https://hub.docker.com/_/{name}"
        return f"https://hub.docker.com/layers/{repository}/{tag or 'latest'}/images/{digest.replace(':', '-')}"
    return f"https://{registry_host}/v2/{repository}/manifests/{digest}"


class _PolicyGate(DockerHubBaseOperator):
    """Shared by both gates: evaluate, compare with a baseline, decide, report."""

    template_fields: Sequence[str] = ("image", "baseline", "platform", "policies", "dockerhub_conn_id")
    default_policies: tuple[str, ...] | None = None
    operator_extra_links = (DockerHubImageLink(),)

    def __init__(
        self,
        *,
        image: str,
        platform: str | None = None,
        policies: Sequence[str] | str | None = None,
        policy_config: Mapping[str, Mapping[str, Any]] | None = None,
        allow_list: Sequence[Any] = (),
        baseline: str | None = None,
        on_failure: str = "fail",
        unknown_ok: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
        self.image = image
        self.platform = platform
        self.policies = policies
        self.policy_config = dict(policy_config or {})
        self.allow_list = list(allow_list)
        self.baseline = baseline
        self.on_failure = on_failure
        self.unknown_ok = unknown_ok

    def evidence(self, reference: str) -> ImageEvidence:
        raise NotImplementedError

    def _evaluate(self, reference: str) -> PolicyReport:
        from airflow_provider_dockerhub.client.policy.engine import evaluate

        policies = self.policies if self.policies is not None else self.default_policies
        return evaluate(self.evidence(reference), policies, self.policy_config, self.allow_list)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.policy.engine import prepare

        policies = self.policies if self.policies is not None else self.default_policies
        prepare(policies, self.policy_config, self.allow_list)  # bad arguments are refused before any request
        try:
            registry = self.hook.registry
            ref = registry.parse_image(self.image)  # validated before any request
            report = self._evaluate(self.image)
            baseline = self._evaluate(self.baseline) if self.baseline else None
            host = self.hook.get_config().registry_host
        finally:
            self.hook.close()
        failures = report.failures(baseline, unknown_ok=self.unknown_ok)
        self.log.info("Policy report for %s:\n%s", self.image, report.summary())
        if baseline is not None:
            self.log.info("Baseline %s: %s; worse now: %s", self.baseline, baseline.status, failures or "nothing")
        url = image_page_url(host, ref.repository, ref.tag, report.digest)
        context["ti"].xcom_push(key=IMAGE_URL_KEY, value=url)
        result = {
            "image": self.image,
            "digest": report.digest,
            "passed": not failures,
            "failures": failures,
            "baseline": self.baseline,
            "report": report.to_json(),
        }
        json.dumps(result)  # XCom values are JSON primitives: fail here, not in the XCom backend
        if failures:
            message = f"{self.image} fails policies {failures}" + (f" (worse than {self.baseline})" if baseline else "")
            if self.on_failure == "fail":
                raise AirflowFailException(message)
            if self.on_failure == "skip":
                raise AirflowSkipException(message)
            self.log.warning("%s (on_failure='warn': continuing)", message)
        return result


class DockerHubScoutPolicyGateOperator(_PolicyGate):
    """Gate an image on Docker Scout's default policies, evaluated locally (as ``docker scout policy`` now does).

    Vulnerability data comes from Scout (GraphQL, the connection's Hub token, ``organization`` or the connection's
    namespace); attestations, SBOM licences and the image user come from the registry. Each policy is compliant,
    non-compliant or unknown (no data, e.g. not indexed yet); unknown fails unless ``unknown_ok``.

    :param image: ``repo:tag`` or ``repo@digest`` (templated).
    :param platform: ``os/arch[/variant]``; required for a multi-platform image.
    :param policies: policy IDs (default: all five): ``fixable-vulnerabilities``, ``high-profile-vulnerabilities``,
        ``supply-chain-attestations``, ``default-non-root-user``, ``copyleft-license``.
    :param policy_config: per-policy settings, the CLI's keys, e.g. ``{"fixable-vulnerabilities":
        {"severities": ["CRITICAL"], "fixable_only": True, "grace_period_days": 7}}``.
    :param allow_list: CVE IDs or ``{"id", "expires", "reason"}``; expired entries stop suppressing.
    :param baseline: another reference (e.g. what production runs): fail only on policies that got worse.
    :param on_failure: ``fail`` (no retry), ``skip`` or ``warn``.

    Returns (XCom) ``{"image", "digest", "passed", "failures", "baseline", "report"}``.
    """

    def __init__(self, *, organization: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.organization = organization

    template_fields: Sequence[str] = (*_PolicyGate.template_fields, "organization")

    def evidence(self, reference: str) -> ImageEvidence:
        from airflow_provider_dockerhub.client.policy.from_registry import gather_registry_evidence
        from airflow_provider_dockerhub.client.policy.from_scout import merge_scout
        from airflow_provider_dockerhub.client.scout.api import ImageCoordinates

        registry = self.hook.registry
        ref = registry.parse_image(reference)
        evidence = gather_registry_evidence(registry, ref.repository, ref.reference, self.platform)
        config = self.hook.get_config()
        coords = ImageCoordinates.for_registry(config.registry_host, ref.repository, evidence.digest)
        return merge_scout(evidence, self.hook.scout.image(self.organization or config.namespace, coords))


class DockerHubSupplyChainGateOperator(_PolicyGate):
    """The same gate on registry data alone (attestations, SBOM licences, non-root user, provenance): works on any
    OCI registry and offline. Default policies: supply-chain attestations, default non-root user, copyleft."""

    default_policies = SUPPLY_CHAIN_POLICIES

    def evidence(self, reference: str) -> ImageEvidence:
        from airflow_provider_dockerhub.client.policy.from_registry import gather_registry_evidence

        registry = self.hook.registry
        ref = registry.parse_image(reference)
        return gather_registry_evidence(registry, ref.repository, ref.reference, self.platform)
