"""Image push and cross-registry copy over a shaped WAN link: the provider against ``skopeo copy --all
--preserve-digests``, at 0, 20 and 50 ms added round-trip time, with a per-connection bandwidth cap.

Setup: two real registries (Debian's ``docker-registry`` 2.8, token auth from one ``TokenIssuer``), each behind
its own ``ShapingProxy`` (``airflow_provider_dockerhub/testing/shaping_proxy.py``; this kernel has no netem), and
the token realm behind a third, so every request pays the RTT. The image is an OCI layout of ``--platforms``
platforms x ``--layers`` gzip layers of random bytes (sizes from ``LAYER_MIB``) plus one base layer all
platforms share, about 250 MiB in all; the copy reads it from the source registry, where it is pushed once,
untimed.

Each run is a fresh process, timed from spawn to exit by the parent (the provider's interpreter start and
imports included; skopeo's too), its peak RSS and CPU read by GNU ``time``, its token requests counted at the
issuer. The shaping proxy passes non-HTTP bytes through untouched, so skopeo's HTTPS probe of a plain-HTTP
registry fails at once, as on a real network, instead of waiting for its 10 s TLS handshake timeout. Every
run writes to a repository of its own, so no blob is already there and the bytes travel; skopeo gets a fresh
``$HOME`` and its blob-info cache is removed before each run, so it cannot turn uploads into cross-repository
mounts from earlier runs. Rounds go round-robin over every (RTT, tool, operation); the medians of ``--rounds``
(>= 3) are compared. ``today`` is the provider at ``--baseline`` (the sequential engine before issue 14,
exported with ``git archive``), at 0 ms only.

    python bench/wan_transfer.py [--rounds 3] [--rtts 0 20 50] [--rate-mbps 200] [--baseline e4e1559]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchutil import QUIET_REGISTRY, machine_info, median, write_result

MIB = 1024 * 1024
LAYER_MIB = (24, 16, 12, 8, 6, 4, 2, 1)  # per platform; a few large layers and a tail of small ones, as in real images
BASE_MIB = 32
USER, PASSWORD = "bench", "bench-secret"
ROOT = Path(__file__).resolve().parent.parent


def child(spec: dict[str, Any]) -> None:
    """One provider run (in a fresh interpreter): push the layout or copy the image; prints its own seconds."""
    started = time.perf_counter()
    from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession

    def session(url: str) -> DockerHubSession:
        extra = {"registry_url": url, "allow_destructive": True}
        return DockerHubSession(ClientConfig.from_fields(USER, PASSWORD, extra))

    options = {} if spec.get("sequential_api") else {"max_concurrent_blobs": spec["concurrency"]}
    with session(spec["destination"]) as dst:
        if spec["operation"] == "push":
            from airflow_provider_dockerhub.client.registry.layout import push_layout

            push_layout(dst.registry, spec["layout"], spec["repository"], ["v1"], **options)
        else:
            with session(spec["source"]) as src:
                src.registry.copy_image(
                    spec.get("source_repository", "src/app"),
                    "v1",
                    spec["repository"],
                    ["v1"],
                    destination=dst.registry,
                    **options,
                )
    print(json.dumps({"seconds": time.perf_counter() - started}))


@dataclass
class World:
    source: Any  # LocalRegistry
    destination: Any
    source_proxy: Any  # ShapingProxy
    destination_proxy: Any
    realm_proxy: Any
    issuer: Any
    layout: Path

    def shape(self, rtt_ms: float, rate: float) -> None:
        for proxy in (self.source_proxy, self.destination_proxy, self.realm_proxy):
            proxy.rtt, proxy.rate = rtt_ms / 1000, rate


class ProxiedRealm:
    """Token auth whose realm is the issuer behind a shaping proxy (the token request pays the RTT too)."""

    def __init__(self, issuer: Any, realm: str) -> None:
        self.issuer, self.realm = issuer, realm

    def configure(self, workdir: Path) -> dict[str, Any]:
        from airflow_provider_dockerhub.testing.registry import TokenAuth

        section = TokenAuth(self.issuer).configure(workdir)
        section["token"]["realm"] = self.realm
        return section


def build_layout(directory: Path, platforms: int, layers: int) -> tuple[Path, int]:
    from airflow_provider_dockerhub.testing.oci import OCI_INDEX, OCI_MANIFEST, canonical, descriptor, write_layout
    from airflow_provider_dockerhub.testing.oci.documents import image_index, image_manifest

    def random_layer(mib: int) -> bytes:
        return gzip.compress(os.urandom(mib * MIB), compresslevel=1, mtime=0)

    base = random_layer(BASE_MIB)
    blobs, manifests, entries = [base], [], []
    for p in range(platforms):
        arch = ("amd64", "arm64", "ppc64le", "s390x")[p % 4]
        own = [random_layer(LAYER_MIB[i % len(LAYER_MIB)]) for i in range(layers)]
        config = canonical({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
        manifest = image_manifest(config, [base, *own])
        manifests.append(manifest)
        blobs.extend([config, *own])
        entries.append(descriptor(OCI_MANIFEST, manifest, platform={"os": "linux", "architecture": arch}))
    path = write_layout(directory / "layout", image_index(entries), OCI_INDEX, manifests, blobs)
    return path, sum(len(b) for b in blobs)


def timed(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``command`` under GNU ``time``, which forks it from its own small process: the command's peak RSS is
    its own (a child exec'd straight from this big parent would start with this process's peak,
    ``_benchutil.clean_spawn``); wall time measured here, spawn to exit."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        timing = ["/usr/bin/time", "-f", "%M %U %S", "-o", report.name]
        proc = subprocess.run([*timing, *command], capture_output=True, env=env, check=False)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace")[-2000:]
            raise RuntimeError(f"{command[:3]} failed ({proc.returncode}): {tail}")
        max_kib, user, system = report.read().split()[-3:]
    result: dict[str, Any] = {"seconds": seconds, "peak_rss_mib": round(int(max_kib) / 1024, 1)}
    result["cpu_s"] = round(float(user) + float(system), 2)
    lines = proc.stdout.decode().strip().splitlines()
    if lines and lines[-1].startswith("{"):
        result["inner_seconds"] = json.loads(lines[-1])["seconds"]
    return result


def run_provider(world: World, operation: str, repository: str, concurrency: int, baseline: Path | None) -> Any:
    spec = {
        "operation": operation,
        "repository": repository,
        "layout": str(world.layout),
        "source": world.source_proxy.url,
        "destination": world.destination_proxy.url,
        "concurrency": concurrency,
        "sequential_api": baseline is not None,
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = str(baseline) if baseline is not None else str(ROOT)
    return timed([sys.executable, __file__, "--child", json.dumps(spec)], env)


# As root, skopeo keeps its blob-info cache here whatever $HOME says; it remembers which repositories of a
# registry hold a blob and would mount it from an earlier run's repository instead of uploading it.
SKOPEO_ROOT_CACHE = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")


def run_skopeo(world: World, operation: str, repository: str, home: Path) -> Any:
    home.mkdir(parents=True, exist_ok=True)
    SKOPEO_ROOT_CACHE.unlink(missing_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    dest = f"docker://{world.destination_proxy.host}/{repository}:v1"
    source = f"oci:{world.layout}:latest" if operation == "push" else f"docker://{world.source_proxy.host}/src/app:v1"
    command = ["skopeo", "copy", "--all", "--preserve-digests", "--dest-tls-verify=false"]
    command += [f"--dest-creds={USER}:{PASSWORD}"]
    if operation == "copy":
        command += ["--src-tls-verify=false", f"--src-creds={USER}:{PASSWORD}"]
    return timed([*command, source, dest], env)


def ensure_skopeo() -> str:
    if shutil.which("skopeo") is None:  # Debian's package, as the issue asks
        subprocess.run(
            ["apt-get", "install", "-y", "skopeo"], check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        )
    out = subprocess.run(["skopeo", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def uptime() -> str:
    """The load averages (1, 5, 15 min), as ``uptime`` prints them: other sessions share this machine."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rtts", type=float, nargs="+", default=[0, 20, 50])
    parser.add_argument("--rate-mbps", type=float, default=200.0, help="per-connection cap, Mbit/s")
    parser.add_argument("--platforms", type=int, default=3)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--baseline", default="e4e1559", help="commit of 'today' (empty: skip)")
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    from airflow_provider_dockerhub.testing.registry import LocalRegistry
    from airflow_provider_dockerhub.testing.shaping_proxy import ShapingProxy
    from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

    skopeo = ensure_skopeo()
    rate = args.rate_mbps * 1e6 / 8
    load_before = uptime()
    with tempfile.TemporaryDirectory(prefix="bench-wan-") as tmp_name:
        tmp = Path(tmp_name)
        baseline: Path | None = None
        if args.baseline:
            baseline = tmp / "baseline"
            baseline.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.baseline, "airflow_provider_dockerhub"],
                capture_output=True,
                check=True,
            )
            subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive.stdout, check=True)
        layout, total = build_layout(tmp, args.platforms, args.layers)
        with TokenIssuer(users={USER: PASSWORD}) as issuer, ShapingProxy(f"127.0.0.1:{issuer.port}") as realm:
            realm_url = issuer.realm.replace(f"127.0.0.1:{issuer.port}", realm.host)
            auth = ProxiedRealm(issuer, realm_url)
            with (
                LocalRegistry(tmp / "src", auth=auth, config_overrides=QUIET_REGISTRY) as src,  # type: ignore[arg-type]
                LocalRegistry(tmp / "dst", auth=auth, config_overrides=QUIET_REGISTRY) as dst,  # type: ignore[arg-type]
                ShapingProxy(src.host) as src_proxy,
                ShapingProxy(dst.host) as dst_proxy,
            ):
                world = World(src, dst, src_proxy, dst_proxy, realm, issuer, layout)
                world.shape(0, rate)
                seed = {"operation": "push", "repository": "src/app", "layout": str(layout), "concurrency": 6}
                seed |= {"destination": src_proxy.url, "source": src_proxy.url}
                timed([sys.executable, __file__, "--child", json.dumps(seed)], {**os.environ, "PYTHONPATH": str(ROOT)})
                runs = rounds(world, args, rate, baseline, tmp)
                flat = rss_flatness(world, tmp, rate)
    summary = summarize(runs, args.rtts)
    load_after = uptime()
    data = {
        "machine": machine_info() | {"skopeo": skopeo},
        "load_before": load_before,
        "load_after": load_after,
        "image_bytes": total,
        "platforms": args.platforms,
        "layers": args.layers,
        "rate_mbps": args.rate_mbps,
        "concurrency": args.concurrency,
        "runs": runs,
        "summary": summary,
        "copy_rss_flatness": flat,
    }
    write_result("wan_transfer", data)
    print(
        f"image {total / MIB:.0f} MiB, {args.platforms} platforms x {args.layers} layers + base; cap "
        f"{args.rate_mbps:g} Mbit/s per connection; load {load_before} -> {load_after}"
    )
    for line in summary["lines"]:
        print(line)
    print(
        f"copy peak RSS: {flat['small_peak_rss_mib']} MiB for a {flat['small_image_mib']} MiB image vs "
        f"{flat['large_peak_rss_mib']} MiB for {flat['large_image_mib']} MiB (goal: <= {flat['goal_mib']} MiB, flat)"
    )


def rss_flatness(world: World, tmp: Path, rate: float) -> dict[str, Any]:
    """The provider's copy peak RSS for a small image next to the large one, at 0 ms, once each."""
    world.shape(0, rate)
    small, small_bytes = build_layout(tmp / "small", 1, 2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    seed = {"operation": "push", "repository": "src/small", "layout": str(small), "concurrency": 6}
    seed |= {"destination": world.source_proxy.url, "source": world.source_proxy.url}
    timed([sys.executable, __file__, "--child", json.dumps(seed)], env)
    measured: dict[str, Any] = {"goal_mib": 6 * 2 * 64 + 64}  # concurrent blobs x 2 chunks + 64 MiB
    large_bytes = sum(p.stat().st_size for p in (world.layout / "blobs" / "sha256").iterdir())
    for name, repository, size in (("small", "src/small", small_bytes), ("large", "src/app", large_bytes)):
        spec = {"operation": "copy", "repository": f"bench/rss-{name}", "source_repository": repository}
        spec |= {"source": world.source_proxy.url, "destination": world.destination_proxy.url, "concurrency": 6}
        spec["layout"] = ""
        result = timed([sys.executable, __file__, "--child", json.dumps(spec)], env)
        measured[f"{name}_peak_rss_mib"] = result["peak_rss_mib"]
        measured[f"{name}_image_mib"] = round(size / MIB)
    return measured


def rounds(world: World, args: Any, rate: float, baseline: Path | None, tmp: Path) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    plan: list[tuple[float, str, str]] = []
    for rtt in args.rtts:
        for operation in ("push", "copy"):
            plan += [(rtt, "provider", operation), (rtt, "skopeo", operation)]
            if rtt == 0 and baseline is not None:
                plan.append((rtt, "today", operation))
    for round_number in range(args.rounds):
        order = plan if round_number % 2 == 0 else list(reversed(plan))
        for rtt, tool, operation in order:
            world.shape(rtt, rate)
            repository = f"bench/{tool}-{operation}-{int(rtt)}-{round_number}"
            world.issuer.reset()
            if tool == "skopeo":
                result = run_skopeo(world, operation, repository, tmp / "home" / repository.replace("/", "_"))
            else:
                result = run_provider(
                    world, operation, repository, args.concurrency, baseline if tool == "today" else None
                )
            result |= {"rtt_ms": rtt, "tool": tool, "operation": operation, "round": round_number}
            result["token_requests"] = world.issuer.count
            runs.append(result)
            print(
                f"  rtt {rtt:g} ms {tool:8} {operation}: {result['seconds']:.2f} s, "
                f"{result['peak_rss_mib']} MiB peak, {result['token_requests']} token requests",
                flush=True,
            )
    return runs


def summarize(runs: list[dict[str, Any]], rtts: list[float]) -> dict[str, Any]:
    lines: list[str] = []
    table: dict[str, Any] = {}
    for rtt in rtts:
        for operation in ("push", "copy"):

            def pick(tool: str, key: str, operation: str = operation, rtt: float = rtt) -> list[float]:
                return [r[key] for r in runs if (r["tool"], r["operation"], r["rtt_ms"]) == (tool, operation, rtt)]

            provider, skopeo, today = pick("provider", "seconds"), pick("skopeo", "seconds"), pick("today", "seconds")
            row = {
                "provider_s": round(median(provider), 2),
                "skopeo_s": round(median(skopeo), 2),
                "ratio": round(median(provider) / median(skopeo), 3),
                "provider_peak_rss_mib": max(pick("provider", "peak_rss_mib")),
                "skopeo_peak_rss_mib": max(pick("skopeo", "peak_rss_mib")),
                "provider_tokens": sorted(set(pick("provider", "token_requests"))),
                "skopeo_tokens": sorted(set(pick("skopeo", "token_requests"))),
            }
            if today:
                row["today_s"] = round(median(today), 2)
                row["vs_today"] = round(median(provider) / median(today), 3)
            table[f"{operation}@{rtt:g}ms"] = row
            lines.append(
                f"{operation} at {rtt:g} ms: provider {row['provider_s']} s vs skopeo {row['skopeo_s']} s = "
                f"{row['ratio']}x; peak RSS {row['provider_peak_rss_mib']} vs {row['skopeo_peak_rss_mib']} MiB; "
                f"tokens {row['provider_tokens']} vs {row['skopeo_tokens']}"
                + (f"; today {row['today_s']} s ({row['vs_today']}x)" if today else "")
            )
    return {"table": table, "lines": lines}


if __name__ == "__main__":
    main()
