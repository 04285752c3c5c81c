"""Political districting on US county graphs: spmopt against an independent exact model.

Data: Daryl DeFord's 2010 county dual graphs of nine states (shared/benchmarks/us-county-graphs/ beside the
checkout, see its SOURCE.md), k = the state's US House seats. Problem: choose k centres among the counties,
assign every county to one centre, keep each district's population within ±τ of the mean (τ = 1 % and 5 %)
and each district connected on the county adjacency; minimise Σ_i pop_i · d(i, centre)², d the haversine distance
(R = 6371.0088 km) between the Census internal points.

The exact model is built here with highspy, without spmopt's model code: the Hess model (x_ij = county i in the
district of centre j, x_jj = centre j open; Σ_j x_jj = k, Σ_j x_ij = 1, x_ij ≤ x_jj,
L·x_jj ≤ Σ_i p_i x_ij ≤ U·x_jj with L = ⌈(1−τ)P/k⌉, U = ⌊(1+τ)P/k⌋, exact as populations are integers),
contiguity by rooted a–b separator cuts (Validi, Buchanan & Lykhovyd 2022): the single-county cuts
x_ij ≤ Σ_{v∈N(i)} x_vj from the start, then rounds — solve, find the pieces of each district that do not hold
its centre, add x_aj ≤ Σ_{v∈S} x_vj (S a minimal separator of the piece from the centre) for every county a of
the piece and every open centre j, re-solve. x_ij is fixed to 0 when every path from i to j carries more than U
people (vertex-weighted shortest path). The last round's answer is contiguous and its bound is valid, so
gap 0 in that round proves the optimum. With fixed centres the same model has only the k centre columns, x_jj = 1.

spmopt runs: `spmopt.align(units, k=k, distances=d², weight="pop", balance={"pop": τ}, contiguity=adj,
time_limit=T)` twice per instance (are the assignments identical?), then with the exact model's centres fixed
(a territories table `territory_id, center_unit`) against the exact model with the same centres fixed.
Every answer is checked here (one district per county, population bounds, contiguity, centre in its own
district) and its objective recomputed. Proven optima are cached in benchmarks/data/districting_optima.json.

    python benchmarks/districting.py               # all nine states, spmopt 60 s; writes 'districting' section
    python benchmarks/districting.py --long        # spmopt 300 s
    python benchmarks/districting.py --once        # spmopt once per instance (identity not checked)
    python benchmarks/districting.py --recompute   # recompute the exact optima even if cached
    python benchmarks/districting.py --smoke       # Maine (16 counties, k = 2), both τ, prints only
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
from common import DATA, machine, table, write_section

GRAPHS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "us-county-graphs"
CACHE = DATA / "districting_optima.json"
R_EARTH = 6371.0088
# (FIPS, state, k = House seats after the 2010 apportionment), as in SOURCE.md
STATES = [("23", "ME", 2), ("35", "NM", 3), ("16", "ID", 2), ("54", "WV", 3), ("05", "AR", 4),
          ("40", "OK", 5), ("31", "NE", 3), ("19", "IA", 4), ("20", "KS", 4)]
TAUS = (0.01, 0.05)
SCALE = 1e-6  # objective scaling inside the exact MIP (pop·km² → millions); objectives are recomputed unscaled


# ----------------------------------------------------------------------------------------------- instance

class Instance:
    def __init__(self, fips: str, state: str, k: int):
        g = json.loads((GRAPHS / f"county{fips}.json").read_text())
        nodes = g["nodes"]
        assert [nd["id"] for nd in nodes] == list(range(len(nodes)))
        self.state, self.k, self.n = state, k, len(nodes)
        self.ids = [str(nd["GEOID10"]) for nd in nodes]
        self.pop = np.array([int(nd["TOTPOP"]) for nd in nodes], dtype=np.int64)
        self.lat = np.array([float(nd["INTPTLAT10"]) for nd in nodes])
        self.lon = np.array([float(nd["INTPTLON10"]) for nd in nodes])
        self.nbrs = [sorted({a["id"] for a in adj if a["id"] != i}) for i, adj in enumerate(g["adjacency"])]
        la, lo = np.radians(self.lat), np.radians(self.lon)
        h = (np.sin((la[:, None] - la[None, :]) / 2) ** 2
             + np.cos(la[:, None]) * np.cos(la[None, :]) * np.sin((lo[:, None] - lo[None, :]) / 2) ** 2)
        d = 2 * R_EARTH * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        self.d2 = d ** 2
        self.cost = self.pop[:, None] * self.d2  # cost[i, j] of county i in the district of centre j

    def bounds(self, tau: float) -> tuple[int, int]:
        P = int(self.pop.sum())
        # (1±τ)·P/k in exact rational arithmetic: τ is 0.01 or 0.05 → numerator over 100
        num = round(tau * 100)
        return -((-(100 - num) * P) // (100 * self.k)), ((100 + num) * P) // (100 * self.k)

    # spmopt inputs -------------------------------------------------------------------------------------
    def units_df(self) -> pd.DataFrame:
        return pd.DataFrame({"unit_id": self.ids, "lat": self.lat, "lon": self.lon, "pop": self.pop})

    def adj_df(self) -> pd.DataFrame:
        pairs = sorted({(min(self.ids[i], self.ids[j]), max(self.ids[i], self.ids[j]))
                        for i in range(self.n) for j in self.nbrs[i]})
        return pd.DataFrame(pairs, columns=["unit_a", "unit_b"])

    def dist_df(self, centres: list[int] | None = None) -> pd.DataFrame:
        cols = range(self.n) if centres is None else centres
        name = (lambda j: self.ids[j]) if centres is None else (lambda j: f"T{self.ids[j]}")
        rows = [(self.ids[i], name(j), float(self.d2[i, j])) for i in range(self.n) for j in cols]
        return pd.DataFrame(rows, columns=["unit_id", "territory_id", "distance"])

    def terr_df(self, centres: list[int]) -> pd.DataFrame:
        return pd.DataFrame({"territory_id": [f"T{self.ids[j]}" for j in centres],
                             "center_unit": [self.ids[j] for j in centres]})

    # checks --------------------------------------------------------------------------------------------
    def pieces(self, members: set[int]) -> list[set[int]]:
        left, out = set(members), []
        while left:
            s = left.pop()
            comp, stack = {s}, [s]
            while stack:
                u = stack.pop()
                for v in self.nbrs[u]:
                    if v in left:
                        left.discard(v)
                        comp.add(v)
                        stack.append(v)
            out.append(comp)
        return out

    def check(self, centre_of: np.ndarray, tau: float) -> tuple[float, list[str]]:
        """Objective of an assignment (county index → centre county index) and the list of violations."""
        L, U = self.bounds(tau)
        bad = []
        centres = sorted(set(centre_of.tolist()))
        if len(centres) != self.k:
            bad.append(f"{len(centres)} districts, not {self.k}")
        for j in centres:
            mem = set(np.flatnonzero(centre_of == j).tolist())
            if j not in mem:
                bad.append(f"centre {self.ids[j]} not in its own district")
            p = int(self.pop[list(mem)].sum())
            if not L <= p <= U:
                bad.append(f"district {self.ids[j]} population {p} outside [{L}, {U}]")
            if len(self.pieces(mem)) > 1:
                bad.append(f"district {self.ids[j]} in {len(self.pieces(mem))} pieces")
        return float(self.cost[np.arange(self.n), centre_of].sum()), bad


# ------------------------------------------------------------------------------------------- exact model

def path_pop(inst: Instance, j: int) -> np.ndarray:
    """Smallest population on a path from j to every county (both ends included): vertex-weighted Dijkstra."""
    best = np.full(inst.n, np.inf)
    best[j] = inst.pop[j]
    heap = [(float(inst.pop[j]), j)]
    while heap:
        c, u = heapq.heappop(heap)
        if c > best[u]:
            continue
        for v in inst.nbrs[u]:
            nc = c + inst.pop[v]
            if nc < best[v]:
                best[v] = nc
                heapq.heappush(heap, (nc, v))
    return best


def separator(inst: Instance, piece: set[int], root: int) -> list[int] | None:
    """A minimal vertex separator between the piece and root: N(C) ∩ N(B), B the component of root in
    G − N(C). None when root is in the piece or next to it (no cut)."""
    nc = {v for u in piece for v in inst.nbrs[u]} - piece
    if root in piece or root in nc:
        return None
    B, stack = {root}, [root]
    while stack:
        u = stack.pop()
        for v in inst.nbrs[u]:
            if v not in B and v not in nc:
                B.add(v)
                stack.append(v)
    return sorted(v for v in nc if any(w in B for w in inst.nbrs[v]))


def exact(inst: Instance, tau: float, centres: list[int] | None = None, time_limit: float = 600.0,
          verbose: bool = False) -> dict:
    """The Hess model with rounds of rooted separator cuts, solved by highspy. ``centres`` fixes the centres."""
    import highspy

    t0 = time.perf_counter()
    n, k = inst.n, inst.k
    L, U = inst.bounds(tau)
    cols = list(range(n)) if centres is None else list(centres)
    # allowed pairs: a path from i to j with at most U people must exist (the district is connected)
    allowed = {}
    for j in cols:
        pp = path_pop(inst, j)
        for i in range(n):
            if pp[i] <= U:
                allowed[i, j] = len(allowed)
    var = allowed
    nv = len(var)
    cost = np.array([inst.cost[i, j] * SCALE for (i, j) in var])
    lb = np.zeros(nv)
    ub = np.ones(nv)
    if centres is not None:
        for j in cols:
            lb[var[j, j]] = 1.0
    rows_lo, rows_hi, starts, idx, val = [], [], [], [], []

    def add_row(lo, hi, entries):
        rows_lo.append(lo)
        rows_hi.append(hi)
        starts.append(len(idx))
        for c, a in entries:
            idx.append(c)
            val.append(a)

    add_row(k, k, [(var[j, j], 1.0) for j in cols if (j, j) in var])
    for i in range(n):
        add_row(1, 1, [(var[i, j], 1.0) for j in cols if (i, j) in var])
    for (i, j), c in var.items():
        if i != j:
            add_row(-highspy.kHighsInf, 0, [(c, 1.0), (var[j, j], -1.0)])
    for j in cols:
        members = [(var[i, j], float(inst.pop[i])) for i in range(n) if (i, j) in var and i != j]
        add_row(-highspy.kHighsInf, 0, members + [(var[j, j], float(inst.pop[j] - U))])
        add_row(0, highspy.kHighsInf, members + [(var[j, j], float(inst.pop[j] - L))])
    n_cuts = 0
    for (i, j), c in var.items():  # single-county separators
        if i != j:
            add_row(-highspy.kHighsInf, 0, [(c, 1.0)] + [(var[v, j], -1.0) for v in inst.nbrs[i] if (v, j) in var])
            n_cuts += 1

    h = highspy.Highs()
    h.setOptionValue("output_flag", verbose)
    h.setOptionValue("random_seed", 1)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-6)  # 1 pop·km² after scaling
    lp = highspy.HighsLp()
    lp.num_col_ = nv
    lp.num_row_ = len(rows_lo)
    lp.col_cost_ = cost
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = np.array(rows_lo, dtype=float)
    lp.row_upper_ = np.array(rows_hi, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts + [len(idx)], dtype=np.int32)
    lp.a_matrix_.index_ = np.array(idx, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(val)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * nv
    h.passModel(lp)

    keys = list(var)
    rounds, bound, result = 0, None, None
    while True:
        rounds += 1
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0.5:
            break
        h.setOptionValue("time_limit", left)
        h.run()
        ms = h.getModelStatus()
        info = h.getInfo()
        if info.primal_solution_status < 2:  # no feasible answer to this round
            bound = info.mip_dual_bound / SCALE if ms == highspy.HighsModelStatus.kTimeLimit else None
            result = {"status": h.modelStatusToString(ms)}
            break
        bound = info.mip_dual_bound / SCALE
        x = np.asarray(h.getSolution().col_value)
        centre_of = np.full(n, -1)
        for c in np.flatnonzero(x > 0.5):
            i, j = keys[c]
            centre_of[i] = j
        open_c = sorted(set(centre_of.tolist()))
        new = []
        for j in open_c:
            for piece in inst.pieces(set(np.flatnonzero(centre_of == j).tolist())):
                if j in piece:
                    continue
                for r in open_c:  # the piece cannot reach any open centre r through its separator only
                    sep = separator(inst, piece, r)
                    if sep is None:
                        continue
                    for a in piece:
                        if (a, r) in var:
                            new.append([(var[a, r], 1.0)] + [(var[v, r], -1.0) for v in sep if (v, r) in var])
        if verbose:
            print(f"    round {rounds}: {h.modelStatusToString(ms)} obj {info.objective_function_value / SCALE:,.0f}"
                  f" bound {bound:,.0f}, {len(new)} cuts, {time.perf_counter() - t0:.1f} s", flush=True)
        if not new:
            obj, bad = inst.check(centre_of, tau)
            assert not bad, bad
            result = {"status": h.modelStatusToString(ms), "objective": obj, "centre_of": centre_of}
            break
        if ms != highspy.HighsModelStatus.kOptimal:  # time ran out with a disconnected answer
            result = {"status": "time limit (not contiguous)"}
            break
        for row in new:
            ii = np.array([c for c, _ in row], dtype=np.int32)
            vv = np.array([a for _, a in row])
            h.addRow(-highspy.kHighsInf, 0.0, len(ii), ii, vv)
        n_cuts += len(new)
    seconds = time.perf_counter() - t0
    obj = result.get("objective")
    proved = obj is not None and result["status"] == "Optimal"
    out = {"state": inst.state, "tau": tau, "k": k, "optimum": obj, "bound": bound if not proved else obj,
           "lp_bound_last_round": bound, "proved": proved, "seconds": round(seconds, 2), "rounds": rounds,
           "cuts": n_cuts, "fixed": centres is not None, "status": result["status"],
           "model": "Hess + rooted a–b separator cuts in rounds (highspy, own code), vertex-weighted path fixing"}
    if obj is not None:
        co = result["centre_of"]
        out["centres"] = [inst.ids[j] for j in sorted(set(co.tolist()))]
        out["assignment"] = {inst.ids[i]: inst.ids[co[i]] for i in range(n)}
    return out


# ------------------------------------------------------------------------------------------------ spmopt

def run_spmopt(inst: Instance, tau: float, time_limit: float, centres: list[int] | None = None) -> dict:
    import spmopt

    units, adj = inst.units_df(), inst.adj_df()
    t0 = time.perf_counter()
    try:
        if centres is None:
            r = spmopt.align(units, k=inst.k, distances=inst.dist_df(), weight="pop", balance={"pop": tau},
                             contiguity=adj, time_limit=time_limit)
        else:
            r = spmopt.align(units, inst.terr_df(centres), distances=inst.dist_df(centres), weight="pop",
                             balance={"pop": tau}, contiguity=adj, time_limit=time_limit)
    except Exception as exc:  # noqa: BLE001 — a benchmark records crashes
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                "wall": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    a = r.assignment.reindex(inst.ids)
    if centres is None:
        tmap = {u: i for i, u in enumerate(inst.ids)}
    else:
        tmap = {f"T{inst.ids[j]}": j for j in centres}
    centre_of = np.array([tmap.get(t, -1) for t in a.to_numpy()])
    if (centre_of < 0).any():
        obj, bad = float("nan"), [f"{int((centre_of < 0).sum())} counties unassigned"]
    else:
        obj, bad = inst.check(centre_of, tau)
    w = r.options.get("work", {})
    return {"objective": r.objective, "recomputed": obj, "violations": bad, "bound": r.bound, "gap": r.gap,
            "status": r.status, "stage": r.stage, "wall": wall, "assignment": a,
            "work": w.get("work_used"), "guard": w.get("guard_hit")}


# ------------------------------------------------------------------------------------------------- cache

def load_cache() -> list[dict]:
    return json.loads(CACHE.read_text()) if CACHE.exists() else []


def cached_exact(cache: list[dict], inst: Instance, tau: float, centres: list[int] | None, recompute: bool,
                 limit: float, verbose: bool) -> tuple[dict, bool]:
    fixed = None if centres is None else sorted(inst.ids[j] for j in centres)
    for e in cache:
        if (e["state"], e["tau"], e["k"], e["fixed"]) == (inst.state, tau, inst.k, centres is not None) and \
                (fixed is None or sorted(e["centres"]) == fixed) and not recompute:
            return e, True
    e = exact(inst, tau, centres, time_limit=limit, verbose=verbose)
    cache[:] = [c for c in cache if not ((c["state"], c["tau"], c["k"], c["fixed"]) ==
                                         (inst.state, tau, inst.k, centres is not None))]
    cache.append(e)
    return e, False


# -------------------------------------------------------------------------------------------------- main

def fmt_obj(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--long", action="store_true", help="spmopt time limit 300 s instead of 60 s")
    ap.add_argument("--once", action="store_true", help="run spmopt once per instance (identity not checked)")
    ap.add_argument("--recompute", action="store_true", help="recompute the exact optima even if cached")
    ap.add_argument("--exact-limit", type=float, default=600.0)
    ap.add_argument("--states", default="", help="comma-separated state codes (default: all nine)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    tl = 20.0 if args.smoke else (300.0 if args.long else 60.0)
    runs = 1 if args.once else 2
    states = [s for s in STATES if s[1] == "ME"] if args.smoke else \
        [s for s in STATES if not args.states or s[1] in args.states.split(",")]
    cache = load_cache()
    rows, crashes = [], []
    t_all = time.perf_counter()
    for fips, st, k in states:
        inst = Instance(fips, st, k)
        for tau in TAUS:
            ex, hit = cached_exact(cache, inst, tau, None, args.recompute, args.exact_limit, args.verbose)
            print(f"{st} τ={tau:.0%}: exact {fmt_obj(ex['optimum'])} proved={ex['proved']} "
                  f"{ex['seconds']:.1f} s, {ex['rounds']} rounds{' (cached)' if hit else ''}", flush=True)
            if not args.smoke:
                CACHE.write_text(json.dumps(cache, indent=1) + "\n")
            opt_centres = [inst.ids.index(u) for u in ex.get("centres", [])]
            modes = [("chosen", None, ex)]
            if opt_centres:
                exf, hit = cached_exact(cache, inst, tau, opt_centres, args.recompute, args.exact_limit,
                                        args.verbose)
                print(f"{st} τ={tau:.0%}: exact, optimal centres fixed {fmt_obj(exf['optimum'])} "
                      f"proved={exf['proved']} {exf['seconds']:.1f} s{' (cached)' if hit else ''}", flush=True)
                if not args.smoke:
                    CACHE.write_text(json.dumps(cache, indent=1) + "\n")
                modes.append(("fixed", opt_centres, exf))
            for mode, centres, ref in modes:
                res = [run_spmopt(inst, tau, tl, centres) for _ in range(runs)]
                for r in res:
                    if "error" in r:
                        crashes.append((st, tau, mode, r["traceback"]))
                    print(f"  spmopt {mode}: " + (r["error"] if "error" in r else
                          f"{fmt_obj(r['objective'])} (recomputed {fmt_obj(r['recomputed'])}) gap {r['gap']} "
                          f"bound {fmt_obj(r['bound'])} {r['status']}/{r['stage']} {r['wall']:.1f} s "
                          f"violations {r['violations']}"), flush=True)
                r = res[0]
                opt = ref.get("optimum")
                row = {"state": st, "n": inst.n, "k": k, "τ": f"{tau:.0%}", "centres": mode,
                       "optimum (proved?)": f"{fmt_obj(opt)} ({'yes' if ref['proved'] else 'no'})",
                       "exact s": f"{ref['seconds']:.1f}"}
                if "error" in r:
                    row.update({f"spmopt {tl:g} s": "crash: " + r["error"][:60]})
                else:
                    obj = r["recomputed"]
                    row.update({
                        f"spmopt {tl:g} s": fmt_obj(r["objective"]) + (" ✗" if r["violations"] else ""),
                        "% above": f"{100 * (obj / opt - 1):.3f}" if opt else "–",
                        "reported gap %": "–" if r["gap"] is None else f"{100 * r['gap']:.3f}",
                        "reported bound": fmt_obj(r["bound"]), "stage": r["stage"],
                        "work used": "–" if r.get("work") is None else f"{r['work']:.1f}",
                        "guard hit": "yes" if any(x.get("guard") for x in res) else "no",
                        "wall s": " / ".join(f"{x['wall']:.1f}" for x in res),
                    })
                    if abs(r["objective"] - obj) > 1e-6 * max(1.0, obj):
                        row[f"spmopt {tl:g} s"] += f" (recomputed {fmt_obj(obj)})"
                if runs == 1:
                    row["identical across two runs"] = "not checked"
                elif any("error" in x for x in res):
                    row["identical across two runs"] = "–"
                else:
                    same = res[0]["assignment"].equals(res[1]["assignment"])
                    row["identical across two runs"] = "yes" if same else (
                        f"no ({int((res[0]['assignment'] != res[1]['assignment']).sum())} counties differ; "
                        f"{fmt_obj(res[1]['objective'])})")
                rows.append(row)
                if args.smoke:
                    print(row, flush=True)
        if not args.smoke:
            write_results(rows, tl, runs, args.exact_limit, time.perf_counter() - t_all, partial=True)
    total = time.perf_counter() - t_all
    print(f"total {total:.0f} s", flush=True)
    for st, tau, mode, tb in crashes:
        print(f"CRASH {st} τ={tau:.0%} {mode}:\n{tb}", flush=True)
    if not args.smoke:
        write_results(rows, tl, runs, args.exact_limit, total, partial=False)


def write_results(rows, tl, runs, exact_limit, total, partial: bool) -> None:
    cols = ["state", "n", "k", "τ", "centres", "optimum (proved?)", "exact s", f"spmopt {tl:g} s", "% above",
            "reported gap %", "reported bound", "stage", "work used", "wall s", "guard hit",
            "identical across two runs"]
    md = (f"## Districting on US county graphs\n\n`benchmarks/districting.py`{' (partial run)' if partial else ''}: "
          "DeFord's 2010 county dual graphs of nine states, k = House seats, population within ±τ of the mean, "
          "every district connected on the county adjacency, minimise Σ pop × (haversine km to the centre)². "
          f"{machine()}.\n\n" + table(rows, cols) +
          "\n\n**Protocol.** The optimum comes from an independent exact model written in the script (not spmopt's "
          "model code): the Hess model in highspy with x_ij fixed to 0 where every i–j path carries more than U "
          "people, single-county separator cuts from the start and rooted a–b separator cuts (Validi, Buchanan & "
          "Lykhovyd 2022) added in rounds until the answer is contiguous; mip gap 0 (absolute 1 pop·km²), "
          f"{exact_limit:g} s per instance; 'proved' means the last round closed its gap, and its bound is valid for "
          "the contiguous problem. Proven optima are cached in `benchmarks/data/districting_optima.json`. "
          "`centres = chosen`: spmopt picks k centres (`k=`); `fixed`: the exact model's optimal centres are given "
          "as territories (`territory_id, center_unit`) and the optimum is the exact model's with the same centres "
          f"fixed. spmopt runs with its defaults (mip gap 10⁻⁴) and a {tl:g} s time limit, so a work budget of "
          f"{0.6 * tl:g} units (`spmopt.work`: where each stage stops is counted in work, the time limit is only the "
          "guard; 'guard hit' says whether it ever stopped a stage, the one case where a run may differ), "
          + ("twice per instance; the identity column compares the two assignments; " if runs == 2 else
             "once per instance; ") +
          "'% above' uses the objective recomputed here from spmopt's assignment, which is also checked for "
          "population bounds, contiguity and centres in their own district (✗ = violation). "
          f"Wall s per spmopt run. Total run {total / 60:.0f} min.")
    write_section("districting", md)


if __name__ == "__main__":
    main()
