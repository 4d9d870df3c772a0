"""Drift report cost: ``bantay.monitoring.run_drift`` at 10k, 100k and 1M current rows.

Reference: 20,000 rows (the size stored beside a model version). ``DriftConfig`` defaults (sample
cap 20,000, Wasserstein / Jensen-Shannon) over ``bantay.schema.NUMERICAL`` and ``CATEGORICAL``
plus the ``score`` column. Each (size, labels) case runs in a fresh subprocess, so its peak RSS is
its own. Measured: ``run_drift`` wall time (median of ``--repeats`` inside that process; the
first run is reported apart: it pays what Evidently loads and caches on first use), peak RSS and the RSS
held after imports and after building the input frames, the run's own allocation peak
(``tracemalloc``, one extra run; numpy buffers are traced), ``.html()`` time and size, ``.json()`` time and size.

Frames are synthetic numpy with the simulator's column names, value ranges and dtypes; the current
window has a half-standard-deviation shift in two features so the report has something to show.
"Labelled" adds ``at_risk`` to the current window (late labels joined), which also runs
Evidently's classification preset.

    .venv/bin/python benchmarks/bench_drift.py            # 10k, 100k, 1M rows
    .venv/bin/python benchmarks/bench_drift.py --quick    # 2k, 10k rows, 1 repeat
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import _bench

SCRIPT = Path(__file__).resolve()
REFERENCE_ROWS = 20_000


def frame(n: int, seed: int, shift: float = 0.0, labels: bool = True):
    """``n`` rows shaped like the prediction log: features, ``score``, optionally ``at_risk``."""
    import numpy as np
    import pandas as pd

    from bantay.simulate.catalogue import REGIONS

    rng = np.random.default_rng(seed)
    risk = rng.normal(0, 1, n)
    abroad = (rng.random(n) < 0.4).astype(np.int64)
    df = pd.DataFrame(
        {
            "learner_id": np.arange(100_001, 100_001 + n, dtype=np.int64),
            "event_timestamp": pd.Timestamp("2026-05-01", tz="UTC")
            + pd.to_timedelta(rng.integers(6 * 3600, 21 * 3600, n), unit="s"),
            "attendance_rate": np.clip(0.9 - 0.07 * risk + rng.normal(0, 0.04, n), 0, 1),
            "assignment_completion": np.clip(0.8 - 0.1 * risk + rng.normal(0, 0.07, n), 0, 1),
            "quiz_score_avg": np.clip(74 - 9 * risk + rng.normal(0, 7, n), 0, 100),
            "study_minutes": np.clip(95 - 25 * risk + rng.normal(0, 20, n) + shift * 35, 0, 600),
            "late_submissions": np.clip(rng.poisson(np.exp(-0.6 + 0.55 * risk)), 0, 20),
            "calls_with_parent": np.clip(
                rng.poisson(np.where(abroad == 1, 1.2 * np.exp(-0.35 * risk), 0.3)), 0, 20
            ),
            "messages_with_parent": np.clip(rng.poisson(3.0 * np.exp(-0.3 * risk)), 0, 100),
            "days_since_last_contact": np.clip(
                rng.poisson(np.where(abroad == 1, 1.5 + 2.0 * np.clip(risk, 0, None), 0.5)), 0, 365
            ),
            "support_on_time_ratio": np.clip(
                0.85 - 0.08 * risk + rng.normal(0, 0.06, n) - shift * 0.06, 0, 1
            ),
            "grade_level": rng.integers(1, 13, n).astype(np.int64),
            "region": pd.array(
                np.array(REGIONS)[rng.choice(4, n, p=(0.25, 0.35, 0.2, 0.2))], dtype="string"
            ),
            "parent_abroad": abroad,
        }
    )
    p = 1 / (1 + np.exp(-(-2.6 + 1.6 * risk)))
    df["score"] = np.clip(p + rng.normal(0, 0.05, n), 0, 1)
    if labels:
        df["at_risk"] = (rng.random(n) < p).astype(np.int64)
    return df


def drift_config():
    from bantay.settings.drift import DriftConfig
    from bantay.simulate.catalogue import CATEGORICAL, NUMERICAL

    return DriftConfig(numerical_columns=list(NUMERICAL), categorical_columns=list(CATEGORICAL))


def _current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _step_case(p: dict[str, Any]) -> dict[str, Any]:
    import logging

    from bantay.monitoring.drift import run_drift

    logging.disable(logging.INFO)
    # What run_drift imports lazily, imported first so the RSS deltas below are the run's own.
    import evidently.metrics  # noqa: F401
    import evidently.presets  # noqa: F401
    import sklearn.metrics  # noqa: F401

    rss_imports = _current_rss_mib()
    cfg = drift_config()
    reference = frame(REFERENCE_ROWS, seed=1, labels=True)
    current = frame(p["rows"], seed=2, shift=0.5, labels=p["labels"])
    rss_frames = _current_rss_mib()
    peak_before_run = _bench.rss_mib()
    times, result = [], None
    for _ in range(p["repeats"] + 1):  # the first run pays lazy imports: reported apart
        t0 = time.perf_counter()
        result = run_drift(reference, current, cfg, name=f"bench {p['rows']}")
        times.append(time.perf_counter() - t0)
    peak_after_runs = _bench.rss_mib()
    # Python-level peak of one more run (numpy buffers included), separate: tracing slows it.
    import tracemalloc

    tracemalloc.start()
    run_drift(reference, current, cfg, name=f"bench {p['rows']}")
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    t0 = time.perf_counter()
    html = result.html()
    html_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    js = result.json()
    json_s = time.perf_counter() - t0
    return {
        "first_run_s": times[0],
        "run_s_all": times[1:],
        "run_s_median": _bench.median(times[1:]),
        "rss_after_imports_mib": rss_imports,
        "rss_with_frames_mib": rss_frames,
        "peak_rss_before_runs_mib": peak_before_run,
        "peak_rss_after_runs_mib": peak_after_runs,
        "run_tracemalloc_peak_mib": traced_peak,
        "html_s": html_s,
        "html_mib": len(html.encode()) / 2**20,
        "json_s": json_s,
        "json_mib": len(js.encode()) / 2**20,
        "verdict": str(result.verdict),
        "n_drifted": result.n_drifted,
        "current_rows_sampled": result.current_rows,
        "reference_rows_sampled": result.reference_rows,
        "classification": result.classification is not None,
    }


STEPS = {"case": _step_case}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--labels", choices=["both", "yes", "no"], default="both", help="current window labelled?"
    )
    parser.add_argument("--quick", action="store_true", help="2k and 10k rows, 1 repeat")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    if args.quick:
        args.sizes, args.repeats = [2_000, 10_000], 1

    home = _bench.isolated_home("drift")
    cfg = drift_config()
    label_cases = {"both": [False, True], "yes": [True], "no": [False]}[args.labels]
    cases = []
    for labels in label_cases:
        for rows in args.sizes:
            res = _bench.run_step(
                SCRIPT,
                "case",
                {"home": str(home), "rows": rows, "labels": labels, "repeats": args.repeats},
            )
            res["rows"], res["labelled"] = rows, labels
            cases.append(res)
            print(
                f"{rows:>9,} rows labelled={labels}: {res['run_s_median']:.2f} s, "
                f"peak {res['_peak_rss_mib']:.0f} MiB",
                flush=True,
            )
    rows = [
        (
            f"{c['rows']:,}" + (" + labels" if c["labelled"] else ""),
            c["run_s_median"],
            c["first_run_s"],
            c["_peak_rss_mib"],
            c["rss_with_frames_mib"] - c["rss_after_imports_mib"],
            c["run_tracemalloc_peak_mib"],
            c["html_s"],
            c["html_mib"],
            c["json_mib"],
        )
        for c in cases
    ]
    print()
    print(
        _bench.table(
            rows,
            [
                "current rows",
                "run_drift s (median)",
                "first run s",
                "peak RSS MiB",
                "frames MiB",
                "run alloc peak MiB",
                ".html() s",
                "HTML MiB",
                "JSON MiB",
            ],
        )
    )
    params = {
        "reference_rows": REFERENCE_ROWS,
        "current_rows": args.sizes,
        "repeats": args.repeats,
        "labels": args.labels,
        "drift_config": cfg.model_dump(),
        "quick": args.quick,
    }
    numbers = {"cases": cases}
    path = _bench.write_results("drift.quick" if args.quick else "drift", params, numbers)
    print(f"\nwrote {path}")
    import shutil

    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
