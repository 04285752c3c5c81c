"""Contiguity overhead: the same requests with and without contiguity (separator cuts in rounds).

Cases: the shipped North-East counties on the Census county adjacency (balance ±20 % potential and workload),
and synthetic clustered instances on their Delaunay graph. Records objective, proved gap, stage, rounds of cuts,
cuts and wall time; the ratio of objectives is the price of contiguity.

    python benchmarks/contiguity.py          # writes the 'contiguity' section of RESULTS.md
    python benchmarks/contiguity.py --smoke  # the small synthetic case only, prints
"""

from __future__ import annotations

import argparse
import time

from common import machine, peak_rss_mib, table, write_section

import spmopt
from spmopt.data.datasets import northeast
from spmopt.data.generate import generate
from spmopt.errors import SpmoptError


def cases(smoke: bool):
    g = generate(300, 6, seed=1)
    yield "synthetic 300 × 6 (Delaunay)", g.units, g.territories, "auto", {"potential": 0.4}
    if smoke:
        return
    ne = northeast()
    yield "North-East 217 × 10 (county adjacency)", ne.units, ne.territories, ne.adjacency, \
        {"potential": 0.2, "workload": 0.2}
    g = generate(1000, 20, seed=1)
    yield "synthetic 1000 × 20 (Delaunay)", g.units, g.territories, "auto", {"potential": 0.4}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--time-limit", type=float, default=300.0)
    args = ap.parse_args()
    tl = 20.0 if args.smoke else args.time_limit
    rows = []
    for name, units, terr, graph, bal in cases(args.smoke):
        for contig in (None, graph):
            t0 = time.perf_counter()
            row = {"case": name, "balance": ", ".join(f"{m} ±{v:.0%}" for m, v in bal.items()),
                   "contiguity": "yes" if contig is not None else "no"}
            try:
                r = spmopt.align(units, terr, balance=bal, contiguity=contig, time_limit=tl, mip_gap=1e-3)
                c = r.options.get("contiguity", {})
                row.update({"status": r.status, "stage": r.stage, "objective": f"{r.objective:,.0f}",
                            "bound": f"{r.bound:,.0f}", "proved gap %": f"{100 * (r.gap or 0):.2f}",
                            "bound from": "exact model (MIP)" if contig is None else
                            f"MIP with contiguity by the {c.get('model', 'cuts')} form (LP-based)",
                            "rounds": c.get("rounds", "–"), "cuts": c.get("cuts", "–")})
            except SpmoptError as exc:
                row.update({"status": type(exc).__name__, "stage": str(exc)[:70]})
            row.update({"wall s": f"{time.perf_counter() - t0:.1f}", "peak RSS MiB": f"{peak_rss_mib():.0f}"})
            rows.append(row)
            print(row, flush=True)
    if args.smoke:
        return
    cols = list(dict.fromkeys(c for r in rows for c in r))
    md = (f"## Contiguity overhead\n\n`benchmarks/contiguity.py`: fixed centres, mip gap 0.1 %, time limit "
          f"{tl:g} s per solve. {machine()}.\n\n" + table(rows, cols) +
          "\n\n`stage` says what produced the answer (`mip`: the solver's own; `heuristic`: the heuristic's start "
          "(the penalty search, or chains and spanning-tree splits where it stalls), kept by the solver; "
          "`mip+heuristic`: a round's answer made contiguous and feasible by the heuristic, kept because time ran "
          "out before the rounds ended; `spc`: the shortest-path contiguity model's first contiguous answer; "
          "`+regions`: improved by the decomposition, whose regions are solved in the shortest-path form; "
          "`+recombination`: improved by spanning-tree splits and the penalty search with the time left). "
          "The proved gap uses the best bound over the rounds, which is valid for the contiguous problem but "
          "LP-based: it knows connectivity only through the flow rows or the separator cuts found, and sits close "
          "to the bound without contiguity (`bound from`), so a contiguous gap is an upper limit on how far the "
          "answer is from the optimum.")
    write_section("contiguity", md)


if __name__ == "__main__":
    main()
