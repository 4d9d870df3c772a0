"""DAG file parse cost: every file in ``dags/`` against a trivial TaskFlow DAG, in the same run.

For each file, in fresh ``python -c`` processes (median of ``--repeats``, runs interleaved across
files so background load hits all of them alike):

* **DagBag**: ``airflow.dag_processing.dagbag.DagBag(path)``, timed after Airflow and the DagBag
  class are imported, i.e. what the dag-processor pays per file on top of its own start-up;
* **import**: ``runpy.run_path(path)`` after ``airflow`` and ``airflow.sdk`` are imported: the DAG
  file's own cost (its imports and top-level code);
* **process**: the whole child process, start to exit, for scale;
* one extra ``python -X importtime`` run lists the modules the file pulls in that Airflow had not
  already loaded, by cumulative import time.

    .venv/bin/python benchmarks/bench_parse.py            # median of 5
    .venv/bin/python benchmarks/bench_parse.py --quick    # median of 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _bench

TRIVIAL_DAG = '''"""A trivial TaskFlow DAG: the parse-time baseline."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task


@dag(
    dag_id="trivial_taskflow",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["baseline"],
)
def trivial_taskflow():
    @task
    def extract() -> int:
        return 1

    @task
    def load(value: int) -> None:
        print(value)

    load(extract())


trivial_taskflow()
'''

PREAMBLE = """
import json, sys, time
import airflow
import airflow.sdk
from airflow.sdk import dag, task, Asset, Param  # resolve the lazy attributes up front
"""

DAGBAG_CHILD = (
    PREAMBLE
    + """
from airflow.dag_processing.dagbag import DagBag
t0 = time.perf_counter()
bag = DagBag(sys.argv[1])
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "dags": sorted(bag.dag_ids), "errors": {k: v[-500:] for k, v in bag.import_errors.items()}}))
"""
)

IMPORT_CHILD = (
    PREAMBLE
    + """
import runpy
t0 = time.perf_counter()
runpy.run_path(sys.argv[1], run_name="bench_dag_module")
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""
)

IMPORTTIME_CHILD = (
    PREAMBLE
    + """
import runpy
sys.stderr.write("@@BENCH-MARK@@\\n"); sys.stderr.flush()
runpy.run_path(sys.argv[1], run_name="bench_dag_module")
"""
)


ASSET_CHILD = (
    PREAMBLE
    + """
t0 = time.perf_counter()
Asset(name="features/bantay", uri=sys.argv[1] + "://features/bantay", group="bantay")
print(json.dumps({"seconds": time.perf_counter() - t0, "boto3_loaded": "boto3" in sys.modules}))
"""
)


def _child(code: str, path: Path, env: dict[str, str], *extra: str) -> tuple[dict, float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *extra, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=_bench.ROOT,
        timeout=600,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"parsing {path} failed in a child process (exit {proc.returncode}):\n"
            f"{proc.stderr[-3000:]}"
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), wall, proc.stderr


def _raw_top_level(stderr: str) -> str:
    return stderr.split("@@BENCH-MARK@@", 1)[-1]


def top_level_imports(stderr: str, limit: int = 8) -> list[dict[str, Any]]:
    """Parse ``-X importtime`` lines after the marker; keep unindented (top-level) modules."""
    out = []
    for line in _raw_top_level(stderr).splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3:
            continue
        cum, name = fields[1].strip(), fields[2]
        if name.startswith(" ") and not name.startswith("  "):
            name = name[1:]  # one separator space; deeper nesting adds two per level
        if name.startswith(" ") or not cum.isdigit():
            continue
        out.append({"module": name.strip(), "cumulative_ms": int(cum) / 1000})
    return sorted(out, key=lambda r: r["cumulative_ms"], reverse=True)[:limit]


def example_assets_dag(into: Path) -> Path:
    """A copy of Airflow's own ``example_assets`` DAG file: the bar a DAG file should not exceed."""
    import airflow.example_dags

    source = Path(airflow.example_dags.__path__[0]) / "example_assets.py"
    target = into / "example_assets.py"
    shutil.copyfile(source, target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="median of 3")
    parser.add_argument(
        "--label", default="", help="results go to parse.<label>.json (e.g. before / after)"
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats = 3

    home = _bench.isolated_home("parse")
    env = os.environ.copy()
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(_bench.ROOT / "dags")
    baseline_dir = home / "baseline_dags"
    baseline_dir.mkdir()
    trivial = baseline_dir / "trivial_taskflow.py"
    trivial.write_text(TRIVIAL_DAG)
    reference = example_assets_dag(baseline_dir)
    files = [trivial, reference, *sorted((_bench.ROOT / "dags").glob("*.py"))]
    names = {f: f.name for f in files}
    names[trivial] = "trivial TaskFlow DAG (baseline)"
    names[reference] = "Airflow's example_assets.py (reference)"
    print(f"AIRFLOW_HOME={env['AIRFLOW_HOME']}; {len(files)} files x {args.repeats} repeats")

    samples: dict[Path, dict[str, list[float]]] = {
        f: {"dagbag": [], "import": [], "dagbag_process": [], "import_process": []} for f in files
    }
    dags: dict[Path, list[str]] = {}
    for f in files:  # warm-up: writes __pycache__ once, so every measured run is alike
        _child(IMPORT_CHILD, f, env)
    for i in range(args.repeats):
        for f in files:
            res, wall, _ = _child(DAGBAG_CHILD, f, env)
            if res.get("errors"):
                raise RuntimeError(f"{f} has import errors under DagBag: {res['errors']}")
            dags[f] = res["dags"]
            samples[f]["dagbag"].append(res["seconds"])
            samples[f]["dagbag_process"].append(wall)
            res, wall, _ = _child(IMPORT_CHILD, f, env)
            samples[f]["import"].append(res["seconds"])
            samples[f]["import_process"].append(wall)
        print(f"round {i + 1}/{args.repeats} done", flush=True)

    imports = {}
    for f in files:
        _, _, stderr = _child(IMPORTTIME_CHILD, f, env, "-X", "importtime")
        imports[f] = top_level_imports(stderr)

    # Why DAG files with Assets cost more: an Asset URI whose scheme is not "x-..." makes Airflow
    # load every provider's URI normalizers (the amazon provider's pulls in boto3).
    asset_cost = {}
    for scheme in ("bantay", "x-bantay"):
        runs = [_child(ASSET_CHILD, Path(scheme), env)[0] for _ in range(args.repeats)]
        asset_cost[f"{scheme}://"] = {
            "first_asset_seconds_median": _bench.median([r["seconds"] for r in runs]),
            "boto3_imported": runs[0]["boto3_loaded"],
        }

    base = _bench.median(samples[trivial]["dagbag"])
    ref = _bench.median(samples[reference]["dagbag"])
    base_import = _bench.median(samples[trivial]["import"])
    numbers: dict[str, Any] = {"files": {}}
    rows = []
    for f in files:
        s = samples[f]
        med = {k: _bench.median(v) for k, v in s.items()}
        numbers["files"][names[f]] = {
            "dag_ids": dags[f],
            "dagbag_seconds_median": med["dagbag"],
            "dagbag_seconds_all": s["dagbag"],
            "import_seconds_median": med["import"],
            "import_seconds_all": s["import"],
            "dagbag_process_seconds_median": med["dagbag_process"],
            "import_process_seconds_median": med["import_process"],
            "dagbag_vs_baseline": med["dagbag"] / base,
            "dagbag_vs_example_assets": med["dagbag"] / ref,
            "import_vs_baseline": med["import"] / base_import,
            "top_level_imports_by_dag_file": imports[f],
        }
        rows.append(
            (
                names[f],
                med["dagbag"] * 1000,
                med["import"] * 1000,
                med["dagbag_process"],
                med["dagbag"] / base,
                med["dagbag"] / ref,
            )
        )
    print()
    print(
        _bench.table(
            rows,
            [
                "file",
                "DagBag ms",
                "import ms",
                "DagBag process s",
                "DagBag x baseline",
                "DagBag x example_assets",
            ],
        )
    )
    for f in files[2:]:
        top = ", ".join(f"{m['module']} {m['cumulative_ms']:.0f} ms" for m in imports[f][:5])
        print(f"{f.name}: heaviest new imports: {top}")
    print("\nfirst Asset(...) in a process, by URI scheme:")
    print(
        _bench.table(
            [
                (k, v["first_asset_seconds_median"] * 1000, str(v["boto3_imported"]))
                for k, v in asset_cost.items()
            ],
            ["scheme", "ms (median)", "boto3 imported"],
        )
    )
    numbers["first_asset_by_uri_scheme"] = asset_cost
    params = {
        "repeats": args.repeats,
        "files": [names[f] for f in files],
        "preimported": ["airflow", "airflow.sdk (dag, task, Asset, Param)"],
        "dagbag_also_preimported": "airflow.dag_processing.dagbag.DagBag",
        "quick": args.quick,
    }
    name = "parse" + (f".{args.label}" if args.label else "") + (".quick" if args.quick else "")
    path = _bench.write_results(name, params, numbers)
    print(f"\nwrote {path}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
