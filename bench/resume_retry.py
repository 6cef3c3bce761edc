"""Resume across task retries: a push process SIGKILLed at 50 % of a 1 GiB blob, then the retry in a new process.

Both registry-side states after the kill, set up exactly with the shaping proxy's hold rules
(``airflow_provider_dockerhub/testing/shaping_proxy.py``) in front of a real registry:

* session kept: the kill lands before the 50 % chunk's request reaches the registry (distribution keeps the
  session; the retry confirms the offset with ``GET`` -> ``Range``, re-reads the first half locally to rebuild the
  hash, and sends the rest). Goal: at most one chunk re-sent.
* session dropped: the kill lands half a chunk into that request's body (distribution invalidates a session whose
  chunk was cut); the retry finds the session gone and sends the blob again from zero.

Each try is a fresh interpreter running ``push_blob(..., resume=PathResumeStore(dir))`` (the operators use the same
store on an ``ObjectStoragePath``). "Re-sent" is what reached the registry beyond the blob's size over both tries
(the proxy counts request bytes, heads included), and what the retry itself sent.

    python bench/resume_retry.py [--size-mib 1024] [--chunk-mib 64]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchutil import MIB, QUIET_REGISTRY, write_result

CHILD = """
import json, sys, time
from pathlib import Path
from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.registry.resume import PathResumeStore
url, repository, blob, expected, store, chunk = sys.argv[1:7]
started = time.perf_counter()
config = ClientConfig.from_fields(None, None, {"registry_url": url, "allow_destructive": True})
with DockerHubSession(config) as session:
    result = session.registry.push_blob(
        repository, blob, digest=expected, chunk_size=int(chunk), resume=PathResumeStore(Path(store))
    )
print(json.dumps(result.as_xcom() | {"bytes_sent": result.bytes_sent, "seconds": time.perf_counter() - started}))
"""


def start(url: str, repository: str, *, blob: Path, digest: str, store: Path, chunk: int) -> subprocess.Popen[str]:
    args = [url, repository, str(blob), digest, str(store), str(chunk)]
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run(kind: str, registry: Any, *, blob: Path, digest: str, size: int, chunk: int, tmp: Path) -> dict[str, Any]:
    from airflow_provider_dockerhub.testing.shaping_proxy import ShapingProxy

    store = tmp / f"store-{kind}"
    repository = f"bench/retry-{kind}"
    with ShapingProxy(registry.host) as proxy:
        half = size // chunk // 2  # chunks acknowledged before the one that crosses 50 %
        hold = proxy.hold(
            "PATCH", r"^/v2/.+/blobs/uploads/.+", n=half + 1, body_bytes=None if kind == "kept" else chunk // 2
        )
        first = start(proxy.url, repository, blob=blob, digest=digest, store=store, chunk=chunk)
        started = time.perf_counter()
        if not hold.reached.wait(600):
            raise RuntimeError(f"the first try never reached 50 %: {first.communicate()[1][-2000:]}")
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)  # reaps it and closes its pipes
        killed_after = time.perf_counter() - started
        hold.cut()
        time.sleep(0.5)  # the registry finishes with the cut request
        before_retry = proxy.bytes_upstream
        second = start(proxy.url, repository, blob=blob, digest=digest, store=store, chunk=chunk)
        out, err = second.communicate(timeout=900)
        if second.returncode != 0:
            raise RuntimeError(f"the retry failed: {err[-3000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        total = proxy.bytes_upstream
    resent = total - size
    return {
        "state": f"session {kind}",
        "killed_at_bytes": before_retry,
        "killed_after_s": round(killed_after, 2),
        "resumed_from": result["resumed_from"],
        "retry_sent_bytes": total - before_retry,
        "registry_bytes_twice": resent,
        "resent_chunks": round(resent / chunk, 4),
        "retry_seconds": round(result["seconds"], 2),
        "digest_verified": result["digest"] == digest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=64)
    args = parser.parse_args()
    from airflow_provider_dockerhub.testing.registry import LocalRegistry

    size, chunk = args.size_mib * MIB, args.chunk_mib * MIB
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory(prefix="bench-retry-") as tmp_name:
        tmp = Path(tmp_name)
        blob = tmp / "blob"
        import hashlib

        hasher = hashlib.sha256()
        with blob.open("wb") as out:
            for _ in range(args.size_mib):
                piece = os.urandom(MIB)
                hasher.update(piece)
                out.write(piece)
        digest = f"sha256:{hasher.hexdigest()}"
        with LocalRegistry(tmp / "registry", config_overrides=QUIET_REGISTRY) as registry:
            rows = [
                run(kind, registry, blob=blob, digest=digest, size=size, chunk=chunk, tmp=tmp)
                for kind in ("kept", "dropped")
            ]
    write_result("resume_retry", {"size_mib": args.size_mib, "chunk_mib": args.chunk_mib, "load": load, "runs": rows})
    for row in rows:
        print(
            f"SIGKILL at 50 % of {args.size_mib} MiB ({args.chunk_mib} MiB chunks), {row['state']}: retry resumed "
            f"from {row['resumed_from']} bytes, sent {row['retry_sent_bytes']} bytes in {row['retry_seconds']} s; "
            f"re-sent {row['registry_bytes_twice']} bytes = {row['resent_chunks']} chunks; verified "
            f"{row['digest_verified']} (load {load})"
        )


if __name__ == "__main__":
    main()
