"""Bytes re-sent when a push is cut at 50 %, for both kinds of cut, against a real registry behind a fault proxy.

* Cut before the chunk's body reaches the registry: distribution keeps the session, the engine resumes from its
  ``Range``. Goal: at most one chunk re-sent by the client, and no byte reaching the registry twice.
* Cut mid-body: distribution 2.8 invalidates the session ("upload resumed at wrong offset"); the engine opens a
  new one and sends again from zero. Reported as the restart's cost.

    python bench/resume_cost.py [--size-mib 1024] [--chunk-mib 64]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _benchutil import MIB, QUIET_REGISTRY, write_result

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.testing.fault_proxy import FaultProxy
from airflow_provider_dockerhub.testing.registry import LocalRegistry

PATCH = r"/v2/.+/blobs/uploads/.+"


def run(kind: str, registry: LocalRegistry, blob: Path, size: int, chunk: int) -> dict[str, float | int | str]:
    with FaultProxy(registry.host) as proxy:
        cut_chunk = (size // chunk) // 2 + 1  # the chunk that holds the 50 % mark (PATCHes are numbered from 1)
        if kind == "before-body":
            proxy.cut_before_body("PATCH", PATCH, n=cut_chunk)
        else:
            proxy.cut_after_body_bytes("PATCH", PATCH, chunk // 2, n=cut_chunk)
        config = ClientConfig.from_fields(None, None, {"registry_url": proxy.url, "allow_destructive": True})
        started = time.perf_counter()
        with DockerHubSession(config, sleep=lambda _: None) as session:
            result = session.registry.push_blob(f"bench/resume-{kind}", blob, chunk_size=chunk)
        seconds = time.perf_counter() - started
        upstream = proxy.bytes_upstream
    return {
        "cut": kind,
        "resumes": result.resumes,
        "restarts": result.restarts,
        "client_bytes_resent": result.bytes_resent,
        "client_resent_chunks": round(result.bytes_resent / chunk, 3),
        "registry_bytes_twice": upstream - size,
        "registry_resent_chunks": round((upstream - size) / chunk, 3),
        "seconds": round(seconds, 2),
        "digest_verified": result.digest.startswith("sha256:"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=64)
    args = parser.parse_args()
    size, chunk = args.size_mib * MIB, args.chunk_mib * MIB
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as tmp:
        blob = Path(tmp) / "blob"
        with blob.open("wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(MIB))
        with LocalRegistry(Path(tmp) / "registry", config_overrides=QUIET_REGISTRY) as registry:
            rows = [run(kind, registry, blob, size, chunk) for kind in ("before-body", "mid-body")]
    write_result("resume_cost", {"size_mib": args.size_mib, "chunk_mib": args.chunk_mib, "runs": rows})
    for row in rows:
        print(
            f"cut {row['cut']} at 50 % of {args.size_mib} MiB ({args.chunk_mib} MiB chunks): "
            f"resumes {row['resumes']}, restarts {row['restarts']}; client re-sent {row['client_resent_chunks']} "
            f"chunks, registry received {row['registry_resent_chunks']} chunks twice; {row['seconds']} s"
        )


if __name__ == "__main__":
    main()
