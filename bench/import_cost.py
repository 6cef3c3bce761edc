"""Import cost of the provider's modules over ``import airflow.sdk`` (DAG parsing pays for every import).

Each sample is a fresh interpreter: ``import airflow.sdk`` first, then the provider module, timed in-process
with ``perf_counter``. Prints the median over the runs and writes ``bench/results/import_cost.json``.

    python bench/import_cost.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODULES = ["airflow_provider_dockerhub.hooks.dockerhub"]
EVERYTHING = [
    "airflow_provider_dockerhub.hooks.dockerhub",
    "airflow_provider_dockerhub.operators.registry",
    "airflow_provider_dockerhub.operators.hub",
    "airflow_provider_dockerhub.operators.scim",
    "airflow_provider_dockerhub.operators.policy",
    "airflow_provider_dockerhub.sensors.registry",
    "airflow_provider_dockerhub.sensors.scout",
]
EXAMPLE_DAGS = Path(__file__).resolve().parents[1] / "example_dags"

PARSE_PROBE = """
import sys, time
import airflow.sdk
from airflow.models import DagBag
t0 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
t1 = time.perf_counter()
assert not bag.import_errors, bag.import_errors
print(f"RESULT {t1 - t0:.6f} {len(bag.dag_ids)}")
"""

PROBE = """
import time, sys
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
for name in sys.argv[1:]:
    __import__(name)
t2 = time.perf_counter()
print(f"{t1 - t0:.6f} {t2 - t1:.6f}")
"""


def measure(modules: list[str], runs: int) -> dict[str, float]:
    env = dict(os.environ, AIRFLOW_HOME=tempfile.mkdtemp(prefix="bench-import-"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    sdk, provider = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=True, env=env
        ).stdout.split()
        sdk.append(float(out[0]))
        provider.append(float(out[1]))
    return {
        "airflow_sdk_ms": round(statistics.median(sdk) * 1000, 1),
        "provider_over_sdk_ms": round(statistics.median(provider) * 1000, 1),
        "provider_over_sdk_max_ms": round(max(provider) * 1000, 1),
        "runs": runs,
    }


def measure_parse(runs: int) -> dict[str, float]:
    """Wall time of ``DagBag(example_dags)`` in fresh interpreters (Airflow and DagBag already imported)."""
    env = dict(os.environ, AIRFLOW_HOME=tempfile.mkdtemp(prefix="bench-parse-"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    samples, dags = [], 0
    for _ in range(runs):
        stdout = subprocess.run(
            [sys.executable, "-c", PARSE_PROBE, str(EXAMPLE_DAGS)], capture_output=True, text=True, check=True, env=env
        ).stdout
        # Airflow may log to stdout while parsing; the figure is on the RESULT line.
        out = next(line for line in stdout.splitlines() if line.startswith("RESULT ")).split()
        samples.append(float(out[1]))
        dags = int(out[2])
    return {"example_dags": dags, "parse_ms": round(statistics.median(samples) * 1000, 1), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--modules", nargs="*", default=MODULES)
    args = parser.parse_args()
    result = {"modules": args.modules, **measure(args.modules, args.runs)}
    everything = measure(EVERYTHING, args.runs)
    parse = measure_parse(args.runs)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "import_cost.json").write_text(json.dumps({**result, "all_modules": everything, "parse": parse}, indent=2))
    print(
        f"import {' '.join(args.modules)}: {result['provider_over_sdk_ms']} ms over import airflow.sdk "
        f"({result['airflow_sdk_ms']} ms); every operator and sensor module: {everything['provider_over_sdk_ms']} ms; "
        f"DagBag of the {parse['example_dags']} example DAGs: {parse['parse_ms']} ms; medians of {args.runs} "
        "fresh interpreters"
    )


if __name__ == "__main__":
    main()
