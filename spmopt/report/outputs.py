"""Writing results to disk (atomically: each file goes through a temporary file and a rename)."""

from __future__ import annotations

from pathlib import Path

from spmopt.data.io import write_csv_atomic, write_json_atomic
from spmopt.territory.solve import Alignment


def write_alignment(alignment: Alignment, out_dir: str | Path, *, plot: bool = True) -> dict[str, Path]:
    """Write ``assignment.csv``, ``territories.csv``, ``summary.json`` and (``plot``) ``map.png`` to
    ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "assignment": write_csv_atomic(alignment.assignment_frame(), out / "assignment.csv"),
        "territories": write_csv_atomic(alignment.territory_table().round(6), out / "territories.csv"),
        "summary": write_json_atomic(alignment.summary(), out / "summary.json"),
    }
    if plot:
        from spmopt.report.plots import plot_before_after

        paths["map"] = save_figure(plot_before_after(alignment), out / "map.png")
    return paths


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import os
    import tempfile

    import matplotlib.pyplot as plt

    fd, tmp = tempfile.mkstemp(prefix=".fig.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".").lower() or "png")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    plt.close(fig)
    return path


def write_frontier(frontier, out_dir: str | Path, *, plot: bool = True) -> dict[str, Path]:
    """Write ``pareto.csv`` (one row per point), ``pareto/assignment_<k>.csv`` and ``pareto.png``."""
    out = Path(out_dir)
    (out / "pareto").mkdir(parents=True, exist_ok=True)
    paths = {"pareto": write_csv_atomic(frontier.table.round(9), out / "pareto.csv")}
    for k, a in enumerate(frontier.alignments, start=1):
        write_csv_atomic(a.assignment_frame(), out / "pareto" / f"assignment_{k}.csv")
    paths["pareto_assignments"] = out / "pareto"
    if plot:
        from spmopt.report.plots import plot_frontier

        a0 = frontier.alignments[-1]
        fig = plot_frontier(frontier.table, frontier.measure, distance_unit=a0.problem.distance_unit,
                            current_distance=a0.before.distance if a0.before is not None else None)
        paths["pareto_plot"] = save_figure(fig, out / "pareto.png")
    return paths


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "plan"


def write_backtest(results, out_dir: str | Path, *, plot: bool = True, inputs: dict | None = None) -> dict[str, Path]:
    """Write ``payouts.csv`` (``plan,rep_id,period,component,amount``), ``summary.json`` (one entry per plan)
    and ``curve_<plan>.png`` (each plan's payout curve at the median period quota of the back-test)."""
    import numpy as np
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payouts = pd.concat([r.payouts_frame() for r in results], ignore_index=True)
    payouts["amount"] = payouts["amount"].round(2)
    paths = {"payouts": write_csv_atomic(payouts, out / "payouts.csv")}
    summary = {"plans": [r.summary for r in results], "inputs": inputs or {}}
    paths["summary"] = write_json_atomic(summary, out / "summary.json")
    if plot:
        import matplotlib.pyplot as plt

        from spmopt.report.plots import plot_payout_curve

        for r in results:
            ref = {m: float(np.nanmedian(np.where(r.active, q, np.nan))) for m, q in r.quotas.items()
                   if np.any(r.active & np.isfinite(q))}
            fig, ax = plt.subplots(figsize=(6.5, 4.2))
            plot_payout_curve(r.plan, ref, ax=ax)
            fig.tight_layout()
            paths[f"curve:{r.plan.name}"] = save_figure(fig, out / f"curve_{_slug(r.plan.name)}.png")
    return paths


def write_simulation(result, out_dir: str | Path, *, plot: bool = True, inputs: dict | None = None) -> dict[str, Path]:
    """Write ``summary.csv``, ``rep_trials.parquet``, ``monthly.csv``, ``run.json`` and the plots
    (``attainment.png``, ``cost_cdf.png``, ``monthly.png``). Everything is first written to a hidden folder
    inside ``out_dir`` and moved into place only when all files are complete, so an interrupted run leaves no
    half-written result."""
    import json
    import os
    import shutil
    import tempfile

    from spmopt.data.io import _json_default

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        result.summary().to_csv(tmp / "summary.csv", index=False, float_format="%.10g")
        result.rep_trials().to_parquet(tmp / "rep_trials.parquet", index=False)
        result.monthly().to_csv(tmp / "monthly.csv", index=False, float_format="%.10g")
        spec = result.spec
        run = {"trials": result.trials, "seed": spec.seed, "engine": spec.engine,
               "behaviour": spec.behaviour.model_dump(),
               "year": spec.cal.year, "plans": result.plans, "stress_cases": result.stress_cases,
               "reps": len(result.rep_ids), "events": result.events, "seconds": round(result.seconds, 3),
               "notes": result.notes, "inputs": inputs or {}}
        (tmp / "run.json").write_text(json.dumps(run, indent=2, default=_json_default))
        if plot:
            from spmopt.report.plots import plot_attainment, plot_cost_cdf, plot_monthly

            save_figure(plot_attainment(result), tmp / "attainment.png")
            save_figure(plot_cost_cdf(result).figure, tmp / "cost_cdf.png")
            save_figure(plot_monthly(result).figure, tmp / "monthly.png")
        paths = {}
        for f in sorted(tmp.iterdir()):
            os.chmod(f, 0o644)
            os.replace(f, out / f.name)
            paths[f.name] = out / f.name
        return paths
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_quotas(quotas, out_dir: str | Path, *, plot: bool = True, inputs: dict | None = None) -> dict[str, Path]:
    """Write ``quotas.csv`` (one row per holder), ``summary.json`` and (``plot``) ``quotas.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = dict(quotas.summary, inputs=inputs or {})
    # 15 significant digits: quotas up to 1e13 keep their cents, so the file's sum is the exact sum
    paths = {"quotas": write_csv_atomic(quotas.table, out / "quotas.csv", float_format="%.15g"),
             "summary": write_json_atomic(summary, out / "summary.json")}
    if plot:
        from spmopt.report.plots import plot_quotas

        paths["plot"] = save_figure(plot_quotas(quotas), out / "quotas.png")
    return paths


def write_relief(relief, out_dir: str | Path, *, plot: bool = True, inputs: dict | None = None) -> dict[str, Path]:
    """Write ``relief.csv`` (per territory), ``moves.csv`` (per moved unit), ``summary.json`` and ``relief.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"relief": write_csv_atomic(relief.table, out / "relief.csv", float_format="%.15g"),
             "moves": write_csv_atomic(relief.moves, out / "moves.csv", float_format="%.15g"),
             "summary": write_json_atomic(dict(relief.summary, inputs=inputs or {}), out / "summary.json")}
    if plot:
        from spmopt.report.plots import plot_relief

        paths["plot"] = save_figure(plot_relief(relief), out / "relief.png")
    return paths
