"""End-to-end scenario runs: the shipped scenarios through `spmopt run`, timed by stage, with the size of what
they write (report.html, run.json, stage files) and the run store.

Full mode runs scenarios/demo.yaml (what `make demo` runs), realignment.yaml and stress-test.yaml as shipped
and writes the `scenarios` section of RESULTS.md; ``--smoke`` runs them with small settings
(``simulate.trials=100``, ``align.time_limit=5``, no frontier) and writes nothing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, machine, peak_rss_mib, table, write_section

SCENARIOS = ["demo.yaml", "realignment.yaml", "stress-test.yaml"]
SMOKE = {"simulate.trials": 100, "align.time_limit": 5, "align.pareto": None}


def main() -> None:
    from spmopt.report.store import RunStore
    from spmopt.scenario import load_scenario, run_scenario

    smoke = "--smoke" in sys.argv
    work = Path(tempfile.mkdtemp(prefix="spmopt-bench-"))
    rows = []
    try:
        for name in SCENARIOS:
            s = load_scenario(HERE.parent / "scenarios" / name)
            changes = {k: v for k, v in SMOKE.items() if k.split(".")[0] in s.stages} if smoke else {}
            if changes:
                s = s.with_changes(changes)
            t0 = time.perf_counter()
            res = run_scenario(s, work / s.name, progress=lambda m, n=name: print(f"  [{n}] {m}", flush=True))
            wall = time.perf_counter() - t0
            sec = res.run["seconds"]
            files = [f for f in res.out.rglob("*") if f.is_file()]
            staged = sum(sec.get(k, 0) for k in ("inputs", "align", "quota", "simulate"))
            row = {"scenario": name, "stages": " → ".join(s.stages),
                   **{k: f"{sec[k]:.1f}" if k in sec else "–" for k in ("align", "quota", "simulate")},
                   "report + store s": f"{wall - staged:.1f}",
                   "wall s": f"{wall:.1f}", "files": len(files),
                   "report.html KiB": f"{res.report.stat().st_size / 1024:,.0f}",
                   "output MiB": f"{sum(f.stat().st_size for f in files) / 2**20:.1f}"}
            if res.alignment is not None:
                row["alignment"] = f"{res.alignment.status}, gap {100 * (res.alignment.gap or 0):.2f} %"
            rows.append(row)
            print(row, flush=True)
        with RunStore(work / "runs.duckdb", read_only=True) as st:
            n_runs = len(st.runs())
            n_metrics = len(st.metrics())
        store_kib = (work / "runs.duckdb").stat().st_size / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cols = ["scenario", "stages", "align", "quota", "simulate", "report + store s", "wall s", "alignment", "files",
            "report.html KiB", "output MiB"]
    md = (f"## Scenario runs\n\n`benchmarks/scenarios.py`: the shipped scenarios as `spmopt run` runs them "
          f"(seconds per stage; `report + store` = report.html, run.json, moving the folder into place and the run "
          f"store). {machine()}; peak RSS {peak_rss_mib():,.0f} MiB.\n\n{table(rows, cols)}\n\nThe run store "
          f"after the three runs: {n_runs} runs, {n_metrics:,} figures, {store_kib:,.0f} KiB.\n")
    print(md)
    if not smoke:
        write_section("scenarios", md)


if __name__ == "__main__":
    main()
