"""OR-Library capacitated p-median (Osman & Christofides 1994): 20 instances with known optima.

Each instance is solved through the public API exactly as ``spmopt align --k P --capacity demand=Q`` would
(units = points with demand; every centre serves itself). The published optima use Euclidean distances
truncated to integers (floor): with real distances instance 1's optimum is 728.26, with truncated ones it is
the published 713. So the distances are passed as a distance table ``unit_id,territory_id,distance`` of
floor(Euclidean) values, which also exercises the distance-table path of ``--k``.

    python benchmarks/pmedcap.py            # all 20, writes the 'pmedcap' section of RESULTS.md
    python benchmarks/pmedcap.py --smoke    # instances 1 and 11 only, prints, writes nothing
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from common import DATA, machine, peak_rss_mib, table, write_section

import spmopt


def load(path=DATA / "pmedcap1.txt") -> list[dict]:
    """Parse the OR-Library file: [{number, optimum, n, p, capacity, units DataFrame}]."""
    tok = path.read_text().split()
    pos = 0

    def nxt():
        nonlocal pos
        pos += 1
        return tok[pos - 1]

    out = []
    for _ in range(int(nxt())):
        number, optimum = int(nxt()), float(nxt())
        n, p, cap = int(nxt()), int(nxt()), float(nxt())
        rows = [(nxt(), float(nxt()), float(nxt()), float(nxt())) for _ in range(n)]
        units = pd.DataFrame(rows, columns=["unit_id", "x", "y", "demand"])
        out.append(dict(number=number, optimum=optimum, n=n, p=p, capacity=cap, units=units))
    return out


def distance_table(units: pd.DataFrame) -> pd.DataFrame:
    """All pairs with floor(Euclidean distance), the convention of the published optima."""
    xy = units[["x", "y"]].to_numpy()
    d = np.floor(np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)))
    ids = units["unit_id"].to_numpy()
    ii, jj = np.meshgrid(ids, ids, indexing="ij")
    return pd.DataFrame({"unit_id": ii.ravel(), "territory_id": jj.ravel(), "distance": d.ravel()})


def solve(inst: dict, time_limit: float) -> dict:
    t0 = time.perf_counter()
    r = spmopt.align(inst["units"][["unit_id", "demand"]], distances=distance_table(inst["units"]), k=inst["p"],
                     capacity={"demand": inst["capacity"]}, time_limit=time_limit,
                     mip_gap=1e-6)
    wall = time.perf_counter() - t0
    return {
        "instance": inst["number"], "n": inst["n"], "p": inst["p"], "known optimum": f"{inst['optimum']:.0f}",
        "spmopt": f"{r.objective:.2f}", "status": r.status,
        "gap to optimum %": f"{100 * (r.objective - inst['optimum']) / inst['optimum']:+.3f}",
        "proved gap %": f"{100 * (r.gap or 0):.3f}", "build s": f"{r.build_seconds:.2f}",
        "solve s": f"{r.solve_seconds:.1f}", "wall s": f"{wall:.1f}",
        "_obj": r.objective, "_opt": inst["optimum"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--time-limit", type=float, default=300.0)
    args = ap.parse_args()
    insts = load()
    if args.smoke:
        insts = [i for i in insts if i["number"] in (1, 11)]
    rows = []
    for inst in insts:
        row = solve(inst, args.time_limit)
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items() if not k.startswith("_")), flush=True)
    matched = sum(round(r["_obj"]) == r["_opt"] for r in rows)
    cols = [c for c in rows[0] if not c.startswith("_")]
    md = (f"## OR-Library capacitated p-median (Osman & Christofides 1994)\n\n"
          f"`benchmarks/pmedcap.py`, via `spmopt.align(k=p, capacity=…)`, floor(Euclidean) distances "
          f"(the published convention), time limit {args.time_limit:g} s, mip gap 1e-6. {machine()}; peak RSS "
          f"{peak_rss_mib():.0f} MiB.\n\n**{matched} of {len(rows)}** instances reach the known optimum "
          f"(objective rounded to the nearest integer, as published).\n\n" + table(rows, cols))
    print(md)
    if not args.smoke:
        write_section("pmedcap", md)


if __name__ == "__main__":
    main()
