#!/usr/bin/env bash
# The demo: set up (scripts/setup.sh), then run every example DAG through a real `airflow standalone` against
# the offline sandbox, and print a summary. Cleans up the processes it starts; exits non-zero if a DAG failed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
scripts/setup.sh
exec "$VENV/bin/python" scripts/demo.py
