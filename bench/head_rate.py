"""Manifest HEAD rate: the provider's ``registry.head_manifest`` against a bare reused ``httpx.Client``.

Method (shared/reference/registry-baseline.md §4): a small OCI image (86-byte-ish config, no layers) is pushed to
``bench/small:v1``; each configuration then sends N sequential HEADs (default 1000) on one reused session or
client, after 20 untimed warm-up requests; reps go round-robin (default 3). The bare client sends the same
``Accept`` header (the provider's ``MANIFEST_ACCEPT``) and checks 200 + ``Docker-Content-Digest``; the provider
call validates and returns the digest. Two registries: unauthenticated, and token auth (``TokenIssuer``), where
the provider mints one token in its warm-up and the bare client sends a token fetched once; the issuer's request
count during the timed loops shows the token cache at work (expected 0).

    python bench/head_rate.py [--quick] [--requests 1000] [--reps 3] [--profile]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchutil import (
    OCI_MANIFEST,
    QUIET_REGISTRY,
    MachineCpu,
    cpu_seconds,
    machine_info,
    median,
    small_image,
    wait_quiet,
    write_result,
)

REPO = "bench/small"
TAG = "v1"
GOAL_RATIO = 0.9
WARMUP = 20
USER, PASSWORD = "bench", "bench-secret"
# A loop during which other processes (other sessions share this machine) used more CPU than this is repeated.
DISTURBED_CPU_S = 0.1
DISTURBED_FRACTION = 0.05
MAX_ATTEMPTS = 4


def push_small_image(url: str, login: str | None, password: str | None) -> str:
    from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession

    config_blob, manifest = small_image("head-rate")
    config = ClientConfig.from_fields(login, password, {"registry_url": url, "allow_destructive": True})
    with DockerHubSession(config) as session:
        session.registry.upload_blob(REPO, config_blob)
        return session.registry.put_manifest(REPO, TAG, manifest, OCI_MANIFEST)


def provider_loop(url: str, login: str | None, password: str | None, digest: str) -> Callable[[int], None]:
    """A warmed-up provider session; the returned function sends ``n`` HEADs through it."""
    from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession

    config = ClientConfig.from_fields(login, password, {"registry_url": url})
    session = DockerHubSession(config)
    registry = session.registry

    def run(n: int) -> None:
        for _ in range(n):
            head = registry.head_manifest(REPO, TAG)
            if head is None or head.digest != digest:
                raise RuntimeError(f"unexpected HEAD result {head!r}")

    run(WARMUP)
    return run


def bare_loop(url: str, token: str | None, digest: str) -> Callable[[int], None]:
    """A warmed-up bare ``httpx.Client``; the returned function sends ``n`` HEADs through it."""
    import httpx

    from airflow_provider_dockerhub.client.registry.media import MANIFEST_ACCEPT

    headers = {"Accept": MANIFEST_ACCEPT}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    client = httpx.Client(timeout=30)
    target = f"{url}/v2/{REPO}/manifests/{TAG}"

    def run(n: int) -> None:
        for _ in range(n):
            response = client.head(target, headers=headers)
            if response.status_code != 200 or response.headers.get("Docker-Content-Digest") != digest:
                raise RuntimeError(f"unexpected HEAD answer {response.status_code}")

    run(WARMUP)
    return run


def fetch_token(realm: str, service: str) -> str:
    import httpx

    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    response = httpx.get(
        realm,
        params={"service": service, "scope": f"repository:{REPO}:pull"},
        headers={"Authorization": auth},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["token"])


def timed_loop(loop: Callable[[int], None], requests: int, registry_pid: int) -> dict[str, float]:
    """One timed loop, with the CPU used by this process, by the registry and by anything else."""
    wait_quiet()
    machine = MachineCpu()
    registry0 = cpu_seconds(registry_pid)
    own0 = time.process_time()
    machine.start()
    started = time.perf_counter()
    loop(requests)
    elapsed = time.perf_counter() - started
    busy = machine.stop()["busy_cpu_s"]
    own = time.process_time() - own0
    registry = cpu_seconds(registry_pid) - registry0
    return {
        "rps": requests / elapsed,
        "client_cpu_us": own / requests * 1e6,
        "registry_cpu_us": registry / requests * 1e6,
        "foreign_cpu_s": max(0.0, busy - own - registry),
        "wall_s": elapsed,
    }


def measure(
    loops: dict[str, Callable[[int], None]],
    requests: int,
    reps: int,
    registry_pid: int,
    counter: Callable[[], int] | None,
) -> dict[str, Any]:
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in loops}
    token_requests: dict[str, int] = dict.fromkeys(loops, 0)
    repeated = 0
    names = list(loops)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            for _attempt in range(MAX_ATTEMPTS):
                before = counter() if counter else 0
                sample = timed_loop(loops[name], requests, registry_pid)
                token_requests[name] += (counter() if counter else 0) - before
                if sample["foreign_cpu_s"] <= max(DISTURBED_CPU_S, DISTURBED_FRACTION * sample["wall_s"]):
                    break
                repeated += 1
            samples[name].append(sample)

    def med(name: str, key: str) -> float:
        return median([x[key] for x in samples[name]])

    provider, bare = med("provider", "rps"), med("httpx", "rps")
    return {
        "provider_rps": [round(x["rps"], 1) for x in samples["provider"]],
        "httpx_rps": [round(x["rps"], 1) for x in samples["httpx"]],
        "provider_median_rps": round(provider, 1),
        "httpx_median_rps": round(bare, 1),
        "provider_ms_per_req": round(1000 / provider, 3),
        "httpx_ms_per_req": round(1000 / bare, 3),
        "ratio": round(provider / bare, 3),
        "provider_client_cpu_us_per_req": round(med("provider", "client_cpu_us"), 1),
        "httpx_client_cpu_us_per_req": round(med("httpx", "client_cpu_us"), 1),
        "registry_cpu_us_per_req": round(med("httpx", "registry_cpu_us"), 1),
        "foreign_cpu_max_s": round(max(x["foreign_cpu_s"] for v in samples.values() for x in v), 3),
        "disturbed_loops_repeated": repeated,
        "token_requests_during_timed_loops": token_requests if counter else None,
    }


def profile_provider(loop: Callable[[int], None], requests: int, name: str) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    loop(requests)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
    path = Path(__file__).resolve().parent / "results" / f"head_rate_profile_{name}.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(out.getvalue())
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 rep of 300 requests")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also cProfile one provider loop per registry")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.reps = 300, 1

    from airflow_provider_dockerhub.testing.registry import LocalRegistry, TokenAuth
    from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

    results: dict[str, Any] = {}
    profiles: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-head-") as tmp:
        with LocalRegistry(Path(tmp) / "open", config_overrides=QUIET_REGISTRY) as registry:
            digest = push_small_image(registry.url, None, None)
            loops = {
                "provider": provider_loop(registry.url, None, None, digest),
                "httpx": bare_loop(registry.url, None, digest),
            }
            assert registry.pid is not None
            results["open"] = measure(loops, args.requests, args.reps, registry.pid, None)
            if args.profile:
                profiles["open"] = profile_provider(loops["provider"], args.requests, "open")

        with (
            TokenIssuer(users={USER: PASSWORD}) as issuer,
            LocalRegistry(Path(tmp) / "token", auth=TokenAuth(issuer), config_overrides=QUIET_REGISTRY) as registry,
        ):
            digest = push_small_image(registry.url, USER, PASSWORD)
            before = issuer.count
            loops = {
                "provider": provider_loop(registry.url, USER, PASSWORD, digest),
                "httpx": bare_loop(registry.url, fetch_token(issuer.realm, issuer.service), digest),
            }
            warmup_tokens = issuer.count - before - 1  # minus the bare client's one token
            assert registry.pid is not None
            results["token"] = measure(loops, args.requests, args.reps, registry.pid, lambda: issuer.count)
            results["token"]["provider_tokens_in_warmup"] = warmup_tokens
            if args.profile:
                profiles["token"] = profile_provider(loops["provider"], args.requests, "token")

    result = {
        "benchmark": "head_rate",
        "quick": args.quick,
        "requests": args.requests,
        "reps": args.reps,
        "goal_ratio_min": GOAL_RATIO,
        "results": results,
        "goal_met": all(r["ratio"] >= GOAL_RATIO for r in results.values()),
        "profiles": profiles,
        "machine": machine_info(),
    }
    write_result("head_rate", result)
    for name, label in (("open", "no auth"), ("token", "token auth, cached token")):
        r = results[name]
        extra = ""
        if name == "token":
            during = r["token_requests_during_timed_loops"]["provider"]
            extra = f", provider token requests: {r['provider_tokens_in_warmup']} in warm-up, {during} while timed"
        print(
            f"head_rate ({label}, {args.requests} HEADs x {args.reps}): provider {r['provider_median_rps']:.0f} req/s "
            f"vs httpx.Client {r['httpx_median_rps']:.0f} req/s, ratio {r['ratio']:.3f}, client CPU "
            f"{r['provider_client_cpu_us_per_req']:.0f} vs {r['httpx_client_cpu_us_per_req']:.0f} us/req "
            f"(goal >= {GOAL_RATIO}: {'met' if r['ratio'] >= GOAL_RATIO else 'MISSED'}){extra}"
        )


if __name__ == "__main__":
    main()
