"""The wheel as users get it: installed (not editable) into a fresh virtual environment with only apache-airflow,
Airflow sees the provider; with the ``[sandbox]`` extra, the sandbox runs from that install and answers.

pip reaches PyPI; Airflow is pinned to the version this checkout is tested with, so pip reuses the wheels in its
cache. Slow (minutes): marked ``packaging``, run by CI (``.ci/run``), not by a plain ``pytest``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

# Run inside the fresh venv against the running sandbox: the installed client, one real request each to the
# registry (token auth) and the Hub emulator.
PROBE = """
import json, sys
import airflow_provider_dockerhub
from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
connection = json.loads(open(sys.argv[1]).read())["connection"]
config = ClientConfig.from_fields(connection["login"], connection["password"], connection["extra"])
with DockerHubSession(config) as session:
    authenticated = session.registry.ping()
    session.hub.authenticate()
print(json.dumps({"module": airflow_provider_dockerhub.__file__, "registry_authenticated": authenticated}))
"""


# The distributions the [sandbox] extra requires that are not installed.
EXTRA_MISSING = """
import json, re
from importlib.metadata import PackageNotFoundError, requires, version
wanted = [r for r in requires("airflow-provider-dockerhub") if 'extra == "sandbox"' in r]
missing = []
for requirement in wanted:
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
    try:
        version(name)
    except PackageNotFoundError:
        missing.append(name)
print(json.dumps(missing))
"""


def run(command: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run outside the checkout (``python -c`` puts the working directory first on ``sys.path``)."""
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    print(f"$ {' '.join(command)[:160]}  ({time.monotonic() - started:.1f} s, exit {result.returncode})")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result  # type: ignore[no-any-return]


def test_the_wheel_carries_the_license_and_py_typed_and_no_tests(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "airflow_provider_dockerhub/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "example_dags/", "scripts/"))]
    assert "License-Expression: Apache-2.0" in metadata
    assert "Classifier: Development Status :: 4 - Beta" in metadata
    for label in ("Source", "Changelog", "Bug Tracker"):
        assert f"Project-URL: {label}, https://" in metadata
    assert "Requires-Dist: apache-airflow>=3.2" in metadata
    assert "Requires-Dist: pendulum" in metadata


def test_the_wheel_in_a_fresh_venv_with_only_airflow(dists: dict[str, Path], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow-home")

    def sh(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run(command, tmp_path, env=env, timeout=timeout)

    sh([sys.executable, "-m", "venv", str(venv)])
    python, pip = str(venv / "bin" / "python"), [str(venv / "bin" / "python"), "-m", "pip", "-q"]
    wheel = str(dists["wheel"])
    sh([*pip, "install", f"apache-airflow=={version('apache-airflow')}", wheel], timeout=1200)

    installed = sh([python, "-c", "import airflow_provider_dockerhub as p; print(p.__file__)"]).stdout.strip()
    assert installed.startswith(str(venv)), f"imported from {installed}, not the venv's site-packages"
    show = sh([python, "-m", "pip", "show", "-f", "airflow-provider-dockerhub"]).stdout
    assert "Editable project location" not in show
    assert "py.typed" in show and "LICENSE" in show

    listed = sh([str(venv / "bin" / "airflow"), "providers", "list", "-o", "json"]).stdout
    providers = {p["package_name"]: p for p in json.loads(listed[listed.index("[") :])}
    assert "airflow-provider-dockerhub" in providers, sorted(providers)
    print(f"airflow providers list: airflow-provider-dockerhub {providers['airflow-provider-dockerhub']['version']}")

    # Which of the sandbox's declared needs Airflow alone does not bring; after the extra, none is missing.
    before = json.loads(sh([python, "-c", EXTRA_MISSING]).stdout)
    print(f"the [sandbox] extra adds what Airflow does not bring: {before}")
    sh([*pip, "install", f"{wheel}[sandbox]"], timeout=600)
    assert json.loads(sh([python, "-c", EXTRA_MISSING]).stdout) == []

    info = tmp_path / "sandbox.json"
    command = [python, "-m", "airflow_provider_dockerhub.testing.sandbox", "--workdir", str(tmp_path / "sandbox")]
    with (tmp_path / "sandbox.log").open("wb") as out:
        sandbox = subprocess.Popen(
            [*command, "--info-file", str(info)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not info.exists() and sandbox.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            assert info.exists(), (tmp_path / "sandbox.log").read_text()[-3000:]
            probe = json.loads(sh([python, "-c", PROBE, str(info)]).stdout.strip().splitlines()[-1])
        finally:
            os.killpg(sandbox.pid, 15)
            sandbox.wait(30)
    assert probe["module"].startswith(str(venv)) and probe["registry_authenticated"] is True
    print(f"the sandbox ran from the installed wheel and answered: {probe}")
