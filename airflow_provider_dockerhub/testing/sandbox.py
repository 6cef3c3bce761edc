"""The offline sandbox: a real local registry with token auth, plus the Docker Hub / SCIM / Scout emulator.

Everything listens on 127.0.0.1. One ``dockerhub`` connection serves all of it: the registry (Debian's
``docker-registry``, distribution 2.8) behind a token issuer, and the emulator as ``hub_url`` and ``scout_url``.
The emulator indexes images pushed to the registry the way Scout would: it reads their SBOM attestation from the
registry and matches packages against a small built-in advisory table.

Run it for your own DAG tests (``python -m airflow_provider_dockerhub.testing.sandbox --help``) or use
:class:`Sandbox` from Python. It is a test double: a subset of the real services, with seeded demo data.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow_provider_dockerhub.testing.hub import HubEmulator, find_hub_spec
from airflow_provider_dockerhub.testing.registry import LocalRegistry, TokenAuth
from airflow_provider_dockerhub.testing.scout_emulator import EmulatedImage, package, vulnerability
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

log = logging.getLogger(__name__)

LOGIN = "alice"
SECRET = "dckr_pat_sandbox"  # a sandbox credential, valid only against these local services
ORG = "acme"
SCIM_TOKEN = "scim-sandbox-token"

# name -> vulnerabilities, for the emulator's Scout "indexing" of pushed images.
ADVISORIES: dict[str, list[dict[str, Any]]] = {
    "openssl": [vulnerability("CVE-2024-0727", "MEDIUM", fixed_by="3.0.13", score=5.5)],
    "busybox": [vulnerability("CVE-2023-42366", "LOW", score=3.3)],
    "log4j-core": [vulnerability("CVE-2021-44228", "CRITICAL", fixed_by="2.15.0", score=10.0, cisa_exploited=True)],
}


class Sandbox:
    """Start with ``with Sandbox(workdir) as sandbox:``; ``sandbox.connection`` is the ``dockerhub`` connection."""

    def __init__(self, workdir: str | Path | None = None, *, spec_path: str | None = None, seed: bool = True) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="dockerhub-sandbox-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.issuer = TokenIssuer(users={LOGIN: SECRET}, service="sandbox-registry")
        self.registry: LocalRegistry | None = None
        self.emulator = HubEmulator(
            spec_path=spec_path or find_hub_spec(), users={LOGIN: SECRET}, orgs=(ORG,), scim_token=SCIM_TOKEN
        )
        self.emulator.scout.resolver = self._index_from_registry
        self.seed = seed

    def start(self) -> Sandbox:
        self.issuer.start()
        self.registry = LocalRegistry(self.workdir / "registry", auth=TokenAuth(self.issuer)).start()
        self.emulator.start()
        if self.seed:
            self._seed()
        return self

    def stop(self) -> None:
        self.emulator.stop()
        if self.registry is not None:
            self.registry.stop()
        self.issuer.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connection(self) -> dict[str, Any]:
        assert self.registry is not None, "start() the sandbox first"
        return {
            "conn_type": "dockerhub",
            "login": LOGIN,
            "password": SECRET,
            "extra": {
                "registry_url": self.registry.url,
                "hub_url": self.emulator.url,
                "scout_url": self.emulator.url,
                "namespace": ORG,
                "scim_token": SCIM_TOKEN,
                "allow_destructive": True,
            },
        }

    def secrets(self) -> list[str]:
        """Every secret in play: the credential, the SCIM token, and every token the services issued so far."""
        return [SECRET, SCIM_TOKEN, *self.emulator.issued_tokens, *self.issuer.issued_tokens]

    def info(self) -> dict[str, Any]:
        return {"connection": self.connection, "workdir": str(self.workdir), "scim_csv": str(self.scim_csv)}

    @property
    def scim_csv(self) -> Path:
        return self.workdir / "identity" / "docker-users.csv"

    def _seed(self) -> None:
        """Demo data: SCIM users (one of which the CSV drops), audit events over the last days, the users CSV."""
        self.emulator.seed_scim_users(8, domain="acme.example")
        now = datetime.now(UTC).replace(microsecond=0)
        self.emulator.seed_audit_events(ORG, 3 * 24 * 6, start=now - timedelta(days=3), step_seconds=600)
        # The IdP export: user000008 has left (deactivate), user000003 changed name (update), one new hire (create).
        rows = [f"user{i:06d}@acme.example,User,{i - 1}" for i in range(1, 8) if i != 3]
        rows += ["user000003@acme.example,User,Renamed", "new.hire@acme.example,New,Hire"]
        self.scim_csv.parent.mkdir(parents=True, exist_ok=True)
        self.scim_csv.write_text("userName,givenName,familyName\n" + "\n".join(rows) + "\n")
        self._seed_nightlies(now)

    def _seed_nightlies(self, now: datetime, days: int = 10, every: int = 3) -> None:
        """``acme/nightly:nightly-YYYYMMDD`` builds created over the last weeks, for the housekeeping example."""
        from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
        from airflow_provider_dockerhub.client.registry.layout import push_layout
        from airflow_provider_dockerhub.testing.oci import ImageSpec, build_oci_layout

        assert self.registry is not None
        config = ClientConfig.from_fields(LOGIN, SECRET, {"registry_url": self.registry.url, "allow_destructive": True})
        with DockerHubSession(config) as session:
            for age in range(0, days * every, every):
                created = now - timedelta(days=age)
                spec = ImageSpec(files={"app/run": f"nightly {created:%Y%m%d}".encode()}, created=created)
                layout = build_oci_layout(self.workdir / "nightlies" / f"{age}", [spec], attestations=False)
                push_layout(session.registry, layout.path, "acme/nightly", [f"nightly-{created:%Y%m%d}"])

    def _index_from_registry(self, host: str, repository: str, digest: str) -> EmulatedImage | None:
        """What Scout does on push: build the package list from the image's SBOM, then match advisories.

        The SBOM is looked for wherever it can be attached: BuildKit's attestation manifests in the index that
        lists the image (found through the repository's tags, as buildx pushes an index under a tag), and OCI
        referrers of the image and of that index. An image without a readable SBOM is never ``INDEXED`` (this
        sandbox does not scan layers, so it would report "no packages" for an image it did not look into):
        it is ``INDEXING_UNAVAILABLE``, and a broken SBOM is ``INDEXING_FAILED``. An index digest is not an
        image: Scout indexes the platform images an index lists, so the sandbox knows none for it.
        """
        from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
        from airflow_provider_dockerhub.client.core.errors import DockerHubError
        from airflow_provider_dockerhub.client.policy.from_registry import gather_registry_evidence
        from airflow_provider_dockerhub.client.registry.media import is_index

        if self.registry is None or host != self.registry.host:
            return None
        config = ClientConfig.from_fields(LOGIN, SECRET, {"registry_url": self.registry.url})
        try:
            with DockerHubSession(config) as session:
                registry = session.registry
                if is_index(registry.get_manifest(repository, digest)):
                    return None
                parent = self._parent_index(registry, repository, digest)
                if parent is not None:
                    evidence = gather_registry_evidence(registry, repository, *parent)
                else:
                    evidence = gather_registry_evidence(registry, repository, digest)
        except DockerHubError as exc:  # not pushed (or unreadable): unknown to "Scout", as at Docker
            log.info("sandbox Scout cannot index %s@%s: %s", repository, digest, exc)
            return None
        if evidence.digest != digest:
            log.warning("sandbox Scout: %s@%s resolved to %s in its index", repository, digest, evidence.digest)
            return None
        where = f"{repository}@{digest[:19]}"
        if evidence.packages is None:
            state = "INDEXING_UNAVAILABLE" if evidence.sbom is False else "INDEXING_FAILED"
            log.info("sandbox Scout: %s not indexed (%s): %s", where, state, evidence.sources.get("packages"))
            return EmulatedImage(host, repository, digest, sbom_state=state, organization=ORG)
        packages = [
            package(
                p.purl or f"pkg:generic/{p.name}@{p.version}",
                licenses=list(p.licenses),
                vulnerabilities=affecting(p.name, p.version),
            )
            for p in evidence.packages
        ]
        log.info("sandbox Scout: indexed %s from %s", where, evidence.sources.get("packages"))
        # Report INDEXING for a couple of polls first, so sensors really wait (and defer).
        return EmulatedImage(host, repository, digest, packages=packages, polls_until_indexed=2, organization=ORG)

    @staticmethod
    def _parent_index(registry: Any, repository: str, digest: str, limit: int = 200) -> tuple[str, str] | None:
        """``(index digest, platform)`` of a tagged index listing ``digest``, tags read in reverse name order (at
        most ``limit``, so a repository with many tags costs a bounded number of requests)."""
        from airflow_provider_dockerhub.client.registry.media import Platform, child_descriptors, is_index

        for number, tag in enumerate(sorted(registry.list_tags(repository), reverse=True)):
            if number >= limit:
                break
            top = registry.get_manifest(repository, tag)
            if not is_index(top):
                continue
            for entry in child_descriptors(top):
                platform = Platform.of(entry)
                if entry.get("digest") == digest and platform is not None:
                    return top.digest, str(platform)
        return None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:6])


def affecting(name: str, version: str) -> list[dict[str, Any]]:
    """The advisories of the built-in table that affect ``name`` at ``version`` (older than the fix)."""
    found = []
    for advisory in ADVISORIES.get(name, []):
        fixed = advisory.get("fixedBy")
        if fixed and version and _version_key(version) >= _version_key(fixed):
            continue
        found.append(advisory)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the offline Docker Hub sandbox until interrupted.")
    parser.add_argument("--workdir", help="where the registry stores data and the demo files go")
    parser.add_argument("--info-file", help="write the connection and paths as JSON here once ready")
    parser.add_argument("--no-seed", action="store_true", help="start empty")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Sandbox(args.workdir, seed=not args.no_seed) as sandbox:
        info = json.dumps(sandbox.info(), indent=2)
        if args.info_file:
            tmp = f"{args.info_file}.tmp"
            Path(tmp).write_text(info)
            os.replace(tmp, args.info_file)
        print(info, flush=True)
        secrets_file = sandbox.workdir / "secrets-in-play.json"
        # Kept current for secret scans (scripts/demo.py): tokens are issued while DAGs run.
        while not stop.wait(1.0):
            secrets_file.write_text(json.dumps(sandbox.secrets()))
        secrets_file.write_text(json.dumps(sandbox.secrets()))


if __name__ == "__main__":
    main()
