"""A real ``distribution`` registry (Debian's ``docker-registry`` 2.8) as a child process. Not for production.

Auth modes: none, :class:`TokenAuth` (Bearer tokens from a :class:`TokenIssuer`) or :class:`BasicAuth`
(htpasswd). With ``tls=`` (a :class:`~airflow_provider_dockerhub.testing.tls.TlsFiles`) it serves HTTPS only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from airflow_provider_dockerhub.testing.tls import TlsFiles
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

__all__ = [
    "BasicAuth",
    "LocalRegistry",
    "RegistryAuth",
    "TlsFiles",
    "TokenAuth",
    "connection_json",
    "connection_uri",
    "find_registry_binary",
]

BINARY_ENV = "DOCKERHUB_TEST_REGISTRY_BIN"
_HTTP_SECRET = "airflow-provider-dockerhub-test-secret"


class RegistryAuth(Protocol):
    def configure(self, workdir: Path) -> dict[str, Any]:
        """Write any files the registry needs under ``workdir`` and return the config's ``auth`` section."""
        ...


@dataclass
class TokenAuth:
    """Bearer token auth; the issuer must already be running because its realm URL goes into the config."""

    issuer: TokenIssuer

    def configure(self, workdir: Path) -> dict[str, Any]:
        bundle = self.issuer.bundle_path(workdir)
        return {
            "token": {
                "realm": self.issuer.realm,
                "service": self.issuer.service,
                "issuer": self.issuer.issuer,
                "rootcertbundle": str(bundle),
            }
        }


@dataclass
class BasicAuth:
    """htpasswd auth with bcrypt hashes, the only hash registry 2.8 accepts."""

    users: dict[str, str] = field(default_factory=dict)
    realm: str = "basic-realm"

    def configure(self, workdir: Path) -> dict[str, Any]:
        import bcrypt

        path = workdir / "htpasswd"
        # Cost 4 (the minimum): the registry re-checks the hash on every request; cost 12 takes ~0.25 s each.
        lines = [f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()}" for u, p in sorted(self.users.items())]
        # Registry 2.8 creates a missing htpasswd file with a random default user, so always write one.
        path.write_text("".join(line + "\n" for line in lines))
        return {"htpasswd": {"realm": self.realm, "path": str(path)}}


def find_registry_binary() -> str:
    """Path of ``docker-registry``: ``$DOCKERHUB_TEST_REGISTRY_BIN`` or the one on PATH."""
    candidate = os.environ.get(BINARY_ENV) or "docker-registry"
    found = shutil.which(candidate)
    if found is None:
        raise RuntimeError("docker-registry not found: apt-get install docker-registry")
    return found


class LocalRegistry:
    """``docker-registry serve`` on 127.0.0.1 with a free port, storage and log under ``data_dir``; over HTTPS
    with the certificate and key of ``tls`` (``url`` is then ``https://...``)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        auth: RegistryAuth | None = None,
        *,
        binary: str | None = None,
        start_timeout: float = 20.0,
        config_overrides: dict[str, Any] | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self._owns_dir = data_dir is None
        self.workdir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="registry-"))
        self.auth = auth
        self._binary = binary
        self.start_timeout = start_timeout
        self.config_overrides = config_overrides or {}
        self.tls = tls
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    # -- paths and addresses ---------------------------------------------------------------------------------

    @property
    def storage_dir(self) -> Path:
        return self.workdir / "storage"

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.yml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalRegistry is not running; call start() first")
        return self._port

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{self.host}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- lifecycle -------------------------------------------------------------------------------------------

    def config(self, port: int) -> dict[str, Any]:
        """The registry config as a dict; written as JSON, which the registry's YAML parser reads as well."""
        config: dict[str, Any] = {
            "version": "0.1",
            # Info level is where the registry explains auth rejections ("token from untrusted issuer", ...).
            "log": {"level": "info", "accesslog": {"disabled": True}, "fields": {"service": "registry"}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            # A fixed secret keeps upload ``_state`` tokens valid across a restart on the same data dir.
            "http": {"addr": f"127.0.0.1:{port}", "secret": _HTTP_SECRET},
        }
        if self.tls is not None:
            config["http"]["tls"] = {"certificate": str(self.tls.certificate), "key": str(self.tls.key)}
        if self.auth is not None:
            config["auth"] = self.auth.configure(self.workdir)
        return _merge(config, self.config_overrides)

    def start(self) -> LocalRegistry:
        if self._proc is not None:
            return self
        binary = self._binary or find_registry_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(exist_ok=True)
        # The free port is only ours until the probe socket closes; retry if another process grabs it first.
        for _attempt in range(3):
            port = _free_port()
            self.config_path.write_text(json.dumps(self.config(port), indent=2))
            with open(self.log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    [binary, "serve", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=_child_env(),
                )
            self._port = port
            if self._wait_ready():
                return self
            tail = self.log_tail()
            self._terminate()
            if "address already in use" not in tail:
                raise RuntimeError(f"docker-registry did not become ready on {self.url}; log tail:\n{tail}")
        raise RuntimeError(f"docker-registry could not bind a free port; log tail:\n{self.log_tail()}")

    def stop(self) -> None:
        self._terminate()
        if self._owns_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_ready(self) -> bool:
        import httpx

        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        # The probe trusts the CA that signed the registry's certificate when it is known; it only asks whether
        # our own child process answers yet, so without that CA it skips verification rather than wait forever.
        verify: ssl.SSLContext | bool = True
        if self.tls is not None:
            verify = ssl.create_default_context(cafile=self.tls.ca) if self.tls.ca is not None else False
        with httpx.Client(timeout=1.0, verify=verify) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    return False
                try:
                    if client.get(f"{self.url}/v2/").status_code in (200, 401):
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return False

    def _terminate(self) -> None:
        proc, self._proc, self._port = self._proc, None, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def connection_json(registry_url: str, login: str | None = None, password: str | None = None, **extra: Any) -> str:
    """An ``AIRFLOW_CONN_<ID>`` value (JSON form) for a ``dockerhub`` connection to ``registry_url``."""
    conn: dict[str, Any] = {"conn_type": "dockerhub"}
    if login is not None:
        conn["login"] = login
    if password is not None:
        conn["password"] = password
    conn["extra"] = {"registry_url": registry_url, **extra}
    return json.dumps(conn)


# Same JSON string; Airflow reads the JSON form from AIRFLOW_CONN_* just like a URI.
connection_uri = connection_json


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_env() -> dict[str, str]:
    # distribution maps REGISTRY_* variables onto config keys: a stray one (from CI, say) changes the sandbox.
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
