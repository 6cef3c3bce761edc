"""The distributed demo's infrastructure: a private PostgreSQL (the metadata DB) and Redis (the Celery broker) from
Debian's packages, on free ports under ``.demo/``, and the process helpers the chaos step uses.

Both run as child processes of the demo (PostgreSQL as the ``postgres`` user when the demo runs as root, since it
refuses root) and are stopped by PID. Installing the packages is scripts/setup_distributed.sh's job.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import ExitStack, suppress
from pathlib import Path

from demo_common import DEMO, free_port, log, stop_group, wait_for


def postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup_distributed.sh")
    return versions[-1].parent


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs the demo as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_postgres(stack: ExitStack) -> str:
    """A throwaway cluster (trust auth on 127.0.0.1 only, fsync off: a demo's DB); returns the SQLAlchemy URL."""
    bin_dir = postgres_bin()
    # Under /tmp, not .demo-distributed: run as root, PostgreSQL runs as ``postgres``, which may not traverse the
    # checkout's parents (a clone in /root). Removed when the demo ends.
    root = Path(tempfile.mkdtemp(prefix="dockerhub-demo-postgres-"))
    stack.callback(shutil.rmtree, root, True)
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "airflow", "--auth=trust", "-E", "UTF8"]
    subprocess.run(_as_postgres(initdb), check=True, capture_output=True)
    port = free_port()
    out = (DEMO / "postgres.log").open("wb")
    stack.callback(out.close)
    settings = ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=300"]
    command = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets), *settings]
    process = subprocess.Popen(_as_postgres(command), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    # SIGINT is PostgreSQL's fast shutdown.
    stack.callback(stop_group, process, "postgresql", 20)
    psql = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "-d", "postgres", "-tAc"]

    def ready() -> bool:
        return subprocess.run([*psql, "select 1"], capture_output=True, check=False).returncode == 0

    wait_for("PostgreSQL", ready, 60, 0.5)
    subprocess.run([*psql, "create database airflow"], check=True, capture_output=True)
    log(f"started PostgreSQL {bin_dir.parts[-2]} on 127.0.0.1:{port} (pid {process.pid})")
    return f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"


def start_redis(stack: ExitStack) -> str:
    redis = shutil.which("redis-server")
    if redis is None:
        raise RuntimeError("redis-server is not installed: run scripts/setup_distributed.sh")
    port, workdir = free_port(), DEMO / "redis"
    workdir.mkdir(parents=True)
    out = (DEMO / "redis.log").open("wb")
    stack.callback(out.close)
    command = [redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(workdir)]
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    stack.callback(stop_group, process, "redis-server", 10, signal.SIGTERM)
    cli = shutil.which("redis-cli")

    def ready() -> bool:
        if cli is None:
            time.sleep(1)
            return True
        return subprocess.run([cli, "-p", str(port), "ping"], capture_output=True, check=False).stdout == b"PONG\n"

    wait_for("Redis", ready, 30, 0.3)
    log(f"started redis-server on 127.0.0.1:{port} (pid {process.pid})")
    return f"redis://127.0.0.1:{port}/0"


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (by parent links, so processes that left its group are found too)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def has_ancestor(pid: int, ancestor: int) -> bool:
    current: int | None = pid
    while current and current > 1:
        if current == ancestor:
            return True
        current = parent_of(current)
    return False


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid``, its process group and every descendant; returns what was killed."""
    victims = [pid, *descendants(pid)]
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    for victim in victims:
        with suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    return victims
