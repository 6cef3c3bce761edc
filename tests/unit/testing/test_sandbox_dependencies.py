"""The sandbox is a product users install with ``[sandbox]``: everything it imports must come with that extra.

Imports are read with :mod:`ast` (module level, function level and ``TYPE_CHECKING`` blocks alike), because the
sandbox imports its heavier packages lazily and a missing one would only show when a user reaches that code path.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import airflow_provider_dockerhub.testing as sandbox_package

ROOT = Path(__file__).resolve().parents[3]
SANDBOX_DIR = Path(sandbox_package.__file__).resolve().parent
FIRST_PARTY = "airflow_provider_dockerhub"


def _normalise(name: str) -> str:
    # PEP 503: distribution names compare case-insensitively with runs of "-", "_" and "." folded.
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, f"unparsable requirement {requirement!r}"
        names.add(_normalise(match.group(1)))
    return names


def _third_party_imports(path: Path) -> set[str]:
    tops = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top != FIRST_PARTY and top not in sys.stdlib_module_names:
                tops.add(top)
    return tops


def test_every_sandbox_import_is_declared_in_the_sandbox_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # The provider's own dependencies are installed whenever the extra is, so the sandbox may use them too.
    declared = _requirement_names(project["optional-dependencies"]["sandbox"]) | _requirement_names(
        project["dependencies"]
    )
    distributions = importlib.metadata.packages_distributions()
    modules = sorted(SANDBOX_DIR.rglob("*.py"))
    assert modules, f"no sandbox modules under {SANDBOX_DIR}"

    undeclared = []
    for path in modules:
        for top in sorted(_third_party_imports(path)):
            providers = {_normalise(dist) for dist in distributions.get(top, [])}
            if not providers & declared:
                shown = ", ".join(sorted(providers)) or "no installed distribution"
                undeclared.append(f"{path.relative_to(SANDBOX_DIR)} imports {top!r} ({shown})")
    assert not undeclared, "not declared in the [sandbox] extra:\n" + "\n".join(undeclared)


def test_the_testing_extra_is_an_alias_of_sandbox() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["testing"] == ["airflow-provider-dockerhub[sandbox]"]
