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
        import os
        import tempfile

        from spmopt.report.plots import plot_before_after

        fig = plot_before_after(alignment)
        fd, tmp = tempfile.mkstemp(prefix=".map.", suffix=".png", dir=out)
        os.close(fd)
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, out / "map.png")
        import matplotlib.pyplot as plt

        plt.close(fig)
        paths["map"] = out / "map.png"
    return paths
