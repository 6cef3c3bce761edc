#!/usr/bin/env bash
# The demo: set up (scripts/setup.sh), then run every example DAG through a real `airflow standalone` against
# the offline sandbox, and print a summary. Cleans up the processes it starts; exits non-zero if a DAG failed.
#
# --distributed: the same DAGs under CeleryExecutor (Redis, PostgreSQL, two Celery workers, two triggerers) with a
# chaos step, in its own virtual environment (.venv-distributed: the provider's sandbox and distributed extras,
# which pin Celery to a version the Celery provider supports), after scripts/setup_distributed.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--distributed" ]; then
    export VENV="${DISTRIBUTED_VENV:-.venv-distributed}"
    EXTRAS="sandbox,distributed" scripts/setup.sh
    scripts/setup_distributed.sh
    exec "$VENV/bin/python" scripts/demo.py --distributed
fi
VENV="${VENV:-.venv}"
scripts/setup.sh
exec "$VENV/bin/python" scripts/demo.py
