"""The sdist carries its tests: unpacked, its own test suite (a fast subset: the client core's unit tests and the
provider metadata) runs against the unpacked source, not this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

SUBSET = ["tests/unit/core", "tests/packaging/test_provider_info.py"]


def test_the_sdist_carries_the_license_changelog_and_tests(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "tests/conftest.py", "example_dags"):
        assert needed in names, needed
    assert "airflow_provider_dockerhub/py.typed" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_unpacked_sdist_runs_its_tests(dists: dict[str, Path], tmp_path: Path) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        sdist.extractall(tmp_path, filter="data")
    (root,) = tmp_path.iterdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["PYTHONPATH"] = str(root)  # the unpacked package first, before the editable install of this checkout
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow-home")
    check = "import airflow_provider_dockerhub as p; print(p.__file__)"
    imported = subprocess.run(
        [sys.executable, "-c", check], env=env, cwd=root, capture_output=True, text=True, check=False
    )
    assert imported.stdout.strip().startswith(str(root)), imported.stdout + imported.stderr
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    print(f"sdist tests ({', '.join(SUBSET)}): {summary}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary
