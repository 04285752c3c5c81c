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
    fig.savefig(tmp, dpi=110)
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
