"""Helpers shared by the registry benchmarks: result files, procfs readings, machine details, small manifests."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The registry logs at warn, as in registry-baseline.md §1: info logs a line per request and costs it CPU.
QUIET_REGISTRY = {"log": {"level": "warn"}}

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def vm_rss_kib(pid: int | str = "self") -> int:
    """Current resident set size (``VmRSS``) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def max_rss_kib() -> int:
    """Peak RSS of this process so far (``ru_maxrss`` is in KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a live process, from ``/proc/<pid>/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def vm_hwm_kib(pid: int | str = "self") -> int:
    """Peak resident set size of the current address space (``VmHWM``) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def reset_hwm() -> bool:
    """Reset ``VmHWM`` to the current RSS (``echo 5 > /proc/self/clear_refs``); False if not permitted."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def clean_spawn(command: list[str]) -> list[str]:
    """``command`` run under a forking ``sh``, so its ``ru_maxrss`` starts clean.

    Linux keeps a process's ``ru_maxrss`` across ``execve`` (``signal->maxrss``), and Python spawns children with
    ``vfork``: a child exec'ed directly starts with its parent's peak RSS. ``sh -c '"$@"; exit $?'`` forks the
    command instead of exec'ing it (the trailing ``exit`` defeats the exec-last-command optimisation), so the
    command gets a fresh ``signal_struct`` whose ``maxrss`` starts at zero.
    """
    return ["sh", "-c", '"$@"; exit $?', "sh", *command]


def _busy_jiffies() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class MachineCpu:
    """Machine-wide CPU seconds (busy and hypervisor steal) between ``start()`` and ``stop()``, from /proc/stat.

    Busy time minus the CPU of the processes under test is what other processes used during the run (other
    sessions may share this machine); steal is time the hypervisor gave to other guests.
    """

    def __init__(self) -> None:
        self._start: list[int] = []

    @staticmethod
    def _read() -> list[int]:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        end = self._read()
        delta = [b - a for a, b in zip(self._start, end, strict=False)]
        idle = delta[3] + delta[4]
        steal = delta[7] if len(delta) > 7 else 0
        # guest/guest_nice (fields 9, 10) are already counted in user/nice.
        busy = sum(delta[:8]) - idle - steal
        return {"busy_cpu_s": busy / CLOCK_TICKS, "steal_s": steal / CLOCK_TICKS}


def busy_fraction(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over ``seconds`` (0..1)."""
    busy0, total0 = _busy_jiffies()
    time.sleep(seconds)
    busy1, total1 = _busy_jiffies()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_quiet(threshold: float = 0.1, max_wait: float = 120.0) -> float:
    """Wait (bounded) until the machine is idle: other sessions may share it. Returns the last busy fraction."""
    deadline = time.monotonic() + max_wait
    busy = busy_fraction()
    while busy > threshold and time.monotonic() < deadline:
        busy = busy_fraction()
    return busy


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def _first_line(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def machine_info() -> dict[str, Any]:
    import httpx

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "mem_gib": round(mem_kib / MIB, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "httpx": httpx.__version__,
        "registry": _first_line(["docker-registry", "--version"]),
        "curl": _first_line(["curl", "--version"]),
    }


def small_image(label: str) -> tuple[bytes, bytes]:
    """An OCI config blob and a manifest referencing it (no layers), unique per ``label``."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "config": {"Labels": {"bench": label}}, "rootfs": {"type": "layers"}},
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [],
        },
        separators=(",", ":"),
    ).encode()
    return config, manifest
