"""The client core's architecture, enforced: layers import downward only, no import circle (function-level and
TYPE_CHECKING imports included), no Airflow below the Airflow layer, and a pinned public surface.

Layers, lowest first (README "Architecture"):

    core  <  auth  <  state  <  registry | hub | scout  <  policy  <  session  <  client/__init__

``registry``, ``hub`` and ``scout`` are siblings: none imports another. In ``policy`` only the evidence adapters
may reach down into an API package (``from_registry`` into registry, ``from_scout`` into scout); the engine is pure.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

import airflow_provider_dockerhub

PACKAGE_ROOT = Path(airflow_provider_dockerhub.__file__).parent
CLIENT = "airflow_provider_dockerhub.client"

# Layer of each top-level part of the client; a module may import its own part or a lower rank.
RANKS = {"core": 0, "auth": 1, "state": 2, "registry": 3, "hub": 3, "scout": 3, "policy": 4, "session": 5, "": 6}
# The exceptions the docstring names: evidence adapters one layer down into one sibling each.
ALLOWED_SIDEWAYS = {
    f"{CLIENT}.policy.from_registry": {"registry"},
    f"{CLIENT}.policy.from_scout": {"scout"},
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is (module level, function, TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # ``from . import x`` / ``from .pkg import mod`` may name submodules: count them too.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package tree it imports (names that are not modules are dropped)."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target in imports_of(path, name) if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None. Package ``__init__`` edges to their own children are
    ordinary imports too: a circle through them is still a circle."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def part_of(module: str) -> str:
    rest = module.removeprefix(CLIENT).lstrip(".")
    return rest.split(".", 1)[0]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in graph.items():
        if not module.startswith(CLIENT):
            continue
        mine = part_of(module)
        for target in targets:
            if not target.startswith(CLIENT):
                continue
            theirs = part_of(target)
            if theirs == mine:
                continue
            sideways_ok = theirs in ALLOWED_SIDEWAYS.get(module, set())
            if RANKS[theirs] > RANKS[mine] or (RANKS[theirs] == RANKS[mine] and not sideways_ok):
                problems.append(f"{module} imports {target} ({theirs} is not below {mine})")
            elif RANKS[mine] == RANKS["policy"] and RANKS[theirs] == 3 and not sideways_ok:
                problems.append(f"{module} imports {target} (only the evidence adapters may)")
    return sorted(problems)


def client_graph() -> dict[str, set[str]]:
    graph = import_graph(PACKAGE_ROOT)
    return {m: {t for t in ts if t.startswith(CLIENT)} for m, ts in graph.items() if m.startswith(CLIENT)}


def test_every_client_module_belongs_to_a_layer() -> None:
    unknown = sorted({part_of(m) for m in client_graph()} - set(RANKS))
    assert unknown == [], f"client parts without a layer: {unknown}; add them to RANKS and to the README"


def test_the_client_has_no_import_circle() -> None:
    assert find_cycle(client_graph()) is None


def test_the_client_imports_only_downward() -> None:
    assert upward_imports(client_graph()) == []


def test_the_whole_package_has_no_import_circle() -> None:
    graph = import_graph(PACKAGE_ROOT)
    assert find_cycle(graph) is None


def test_every_client_module_imports_with_airflow_blocked() -> None:
    """In a fresh interpreter where ``import airflow`` fails, every client module still imports."""
    modules = sorted(client_graph())
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'airflow' or name.startswith('airflow.'):\n"
        "            raise ImportError('airflow is blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert not any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules), 'airflow was imported'\n"
        "print(len(" + repr(modules) + "))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip()) == len(modules)


AIRFLOW_LAYER = ("hooks", "operators", "sensors", "triggers")


def _private_uses(path: Path) -> Iterable[str]:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"ops", "state", "driver"}:
            yield f"{path.name}:{node.lineno} reaches into .{node.attr}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(CLIENT):
            for alias in node.names:
                if alias.name.startswith("_"):
                    yield f"{path.name}:{node.lineno} imports private {node.module}.{alias.name}"


def test_the_airflow_layer_uses_only_the_public_client_surface() -> None:
    problems = [
        problem
        for part in AIRFLOW_LAYER
        for path in sorted((PACKAGE_ROOT / part).glob("*.py"))
        for problem in _private_uses(path)
    ]
    assert problems == []


def test_client_all_is_pinned() -> None:
    from airflow_provider_dockerhub import client

    assert sorted(client.__all__) == [
        "ApiError",
        "AsyncDockerHubSession",
        "AuthenticationError",
        "ClientConfig",
        "ConfigurationError",
        "ConflictError",
        "DestructiveOperationRefused",
        "DigestMismatchError",
        "DockerHubError",
        "DockerHubSession",
        "InvalidInputError",
        "NotFoundError",
        "PermissionDeniedError",
        "ProtocolError",
        "RateLimitedError",
        "ServerError",
        "TransportError",
        "UnsupportedOperationError",
        "UntrustedRealmError",
    ]
    for name in client.__all__:
        assert getattr(client, name).__name__ == name


# -- the checker itself: it must see what it is meant to forbid ------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_circle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import thing\n",
            "pkg/b.py": "def thing():\n    from .a import other\n    return other\n",
        },
    )
    assert find_cycle(import_graph(root)) == ["pkg.a", "pkg.b", "pkg.a"]


def test_a_circle_hidden_behind_type_checking_is_found(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import c\n",
            "pkg/sub/c.py": "from .. import a\n",
        },
    )
    assert find_cycle(import_graph(root)) is not None


@pytest.mark.parametrize(
    ("module", "target", "allowed"),
    [
        (f"{CLIENT}.core.flow", f"{CLIENT}.auth.hub", False),
        (f"{CLIENT}.registry.api", f"{CLIENT}.hub.models", False),
        (f"{CLIENT}.policy.engine", f"{CLIENT}.registry.api", False),
        (f"{CLIENT}.policy.from_registry", f"{CLIENT}.registry.api", True),
        (f"{CLIENT}.state", f"{CLIENT}.session", False),
        (f"{CLIENT}.session", f"{CLIENT}.hub.client", True),
    ],
)
def test_upward_and_sideways_imports_are_reported(module: str, target: str, allowed: bool) -> None:
    assert (upward_imports({module: {target}}) == []) is allowed
