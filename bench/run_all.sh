#!/usr/bin/env bash
# Run every benchmark (registry, triggers, resume, Hub) and print their one-line summaries (details: bench/results/*.json).
#   bench/run_all.sh [--quick]
# Runs from the repository root with .venv/bin/python unless $PYTHON is set. Exits non-zero if a benchmark
# failed to run (a missed goal is reported in its summary line, not as a failure).
set -uo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
QUICK=()
if [[ "${1:-}" == "--quick" ]]; then
  QUICK=(--quick)
fi

mkdir -p bench/results
status=0
summaries=()
for bench in import_cost push_vs_curl head_rate triggers_1000 resume_cost resume_retry wan_transfer hub_sync_bench; do
  args=("${QUICK[@]}")
  if [[ "$bench" == "import_cost" && ${#QUICK[@]} -gt 0 ]]; then
    args=(--runs 3)  # import_cost has no --quick; fewer interpreters instead
  fi
  if [[ ("$bench" == "resume_cost" || "$bench" == "resume_retry") && ${#QUICK[@]} -gt 0 ]]; then
    args=(--size-mib 256 --chunk-mib 16)  # no --quick either: a smaller blob
  fi
  if [[ "$bench" == "wan_transfer" && ${#QUICK[@]} -gt 0 ]]; then
    args=(--rounds 1 --rtts 0 50 --platforms 2 --layers 2)
  fi
  echo "== $bench ${args[*]}" >&2
  out="bench/results/$bench.stdout.txt"
  err="bench/results/$bench.stderr.txt"
  if "$PYTHON" "bench/$bench.py" "${args[@]}" >"$out" 2>"$err"; then
    summaries+=("$(cat "$out")")
  else
    summaries+=("$bench: FAILED (see $err)")
    status=1
  fi
  cat "$out" >&2
done

echo
echo "Summaries:"
printf '%s\n' "${summaries[@]}"
exit "$status"
