#!/usr/bin/env bash
# The test command: set up (scripts/setup.sh), lint (ruff), type-check (mypy), then run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k registry
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"

scripts/setup.sh

echo "==> ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "==> mypy"
"$VENV/bin/mypy"

echo "==> pytest"
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
