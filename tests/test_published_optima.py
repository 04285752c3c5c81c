"""Published optima: OR-Library capacitated p-median (Osman & Christofides 1994), instance 1 = 713.

The whole set of 20 runs in benchmarks/pmedcap.py; instance 1 (50 points, p = 5) solves in about 2 s.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from pmedcap import distance_table, load  # noqa: E402

import spmopt  # noqa: E402


def test_pmedcap_instance_1_reaches_published_optimum():
    inst = load()[0]
    assert (inst["number"], inst["n"], inst["p"], inst["capacity"]) == (1, 50, 5, 120)
    r = spmopt.align(inst["units"][["unit_id", "demand"]], distances=distance_table(inst["units"]), k=inst["p"],
                     capacity={"demand": inst["capacity"]}, mip_gap=1e-6, time_limit=120, contiguity=False)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(713.0, abs=1e-6)  # integer distances: the optimum is exact
    sizes = inst["units"].set_index("unit_id")["demand"].groupby(r.assignment).sum()
    assert (sizes <= 120 + 1e-9).all() and len(sizes) == 5


def test_pmedcap_file_is_complete():
    insts = load()
    assert len(insts) == 20
    assert [i["optimum"] for i in insts] == [713, 740, 751, 651, 664, 778, 787, 820, 715, 829,
                                            1006, 966, 1026, 982, 1091, 954, 1034, 1043, 1031, 1005]
    assert all(len(i["units"]) == i["n"] for i in insts)


@pytest.mark.slow
def test_benchmark_smoke_modes_run():
    """The benchmark scripts run in smoke mode (and write nothing)."""
    import subprocess

    here = Path(__file__).resolve().parent.parent / "benchmarks"
    before = (here / "RESULTS.md").read_text() if (here / "RESULTS.md").exists() else None
    for script in ("scale.py", "northeast.py"):
        res = subprocess.run([sys.executable, str(here / script), "--smoke"], cwd=here, capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
    after = (here / "RESULTS.md").read_text() if (here / "RESULTS.md").exists() else None
    assert before == after
