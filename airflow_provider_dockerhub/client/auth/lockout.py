"""A rejected Docker Hub secret, remembered on this machine for as long as Docker Hub's lockout lasts.

Docker Hub locks a username for 10 minutes after repeated failed logins (docker/hub-feedback#2201). Inside one
process the token source already refuses to re-post a rejected secret; but Airflow retries a task in a new
process, and parallel tasks are separate processes, so the memory must outlive the process. It is a small file per
(Hub origin, login, secret fingerprint) in a directory shared by the processes of one host: it cannot span hosts
(workers on other machines each learn the rejection once).

The fingerprint is PBKDF2-HMAC-SHA256 of the secret, salted with the origin and login: the file tells which
identity was refused, never the secret, and does not make a weak password cheap to guess.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from ..core.config import ClientConfig

# How long a rejection is honoured: Docker Hub's lockout.
HOLD_SECONDS = 600.0
# Where the markers live; tests and deployments with a private tmp point it elsewhere.
DIRECTORY_ENV = "AIRFLOW_PROVIDER_DOCKERHUB_LOCKOUT_DIR"
_ITERATIONS = 100_000


def default_directory() -> Path:
    return Path(os.environ.get(DIRECTORY_ENV) or Path(tempfile.gettempdir()) / "airflow-provider-dockerhub-lockout")


class MintRejections:
    """The markers of one connection identity. No I/O until a mint is about to be posted or was rejected."""

    def __init__(self, config: ClientConfig, directory: Path | None = None) -> None:
        self._config = config
        self._directory = directory
        self._fingerprint: str | None = None

    def _path(self) -> Path:
        if self._fingerprint is None:
            url = httpx.URL(self._config.hub_url)
            salt = f"{url.scheme}://{url.netloc.decode('ascii')}|{self._config.login or ''}".encode()
            secret = (self._config.secret or "").encode()
            self._fingerprint = hashlib.pbkdf2_hmac("sha256", secret, salt, _ITERATIONS).hex()[:40]
        return (self._directory or default_directory()) / f"{self._fingerprint}.json"

    def recall(self) -> tuple[int, str | None, str | None] | None:
        """The remembered rejection ``(status, code, message)`` if it is younger than the hold, else ``None``."""
        path = self._path()
        try:
            data = json.loads(path.read_text())
            at, status = float(data["at"]), int(data["status"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not 0 <= time.time() - at < HOLD_SECONDS:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return status, data.get("code"), data.get("message")

    def remember(self, status: int, code: str | None, message: str | None) -> None:
        """Write the marker atomically; a host where it cannot be written still has the in-process memory."""
        path = self._path()
        body = json.dumps({"at": time.time(), "status": status, "code": code, "message": message})
        with contextlib.suppress(OSError):
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".marker-", dir=path.parent)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(body)
                os.replace(tmp, path)
            except OSError:
                os.unlink(tmp)
                raise

    def forget(self) -> None:
        with contextlib.suppress(OSError):
            self._path().unlink()
