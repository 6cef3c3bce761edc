#!/usr/bin/env bash
# Sets up everything the tests and the demo need on a Debian machine, idempotently:
#   - Debian's docker-registry (distribution 2.8), which the test fixtures start on 127.0.0.1;
#   - a virtual environment in .venv with the provider (editable), Airflow and the test tools.
# Usage: scripts/setup.sh            (VENV=/path overrides the venv location; PYTHON picks the interpreter;
#                                     EXTRAS=sandbox,distributed picks the provider's extras, default test)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-test}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v docker-registry >/dev/null 2>&1; then
    echo "==> installing Debian's docker-registry"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
fi
# The package enables a system service on :5000; the tests start their own registries on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    as_root systemctl stop docker-registry || true
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
echo "==> installing the provider with its extras: $EXTRAS"
"$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
