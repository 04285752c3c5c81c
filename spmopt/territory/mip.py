"""Pyomo model of territory alignment (Kalcsics–Nickel–Schröder; Ríos-Mercado), one function per family.

Formulation (symbols in :mod:`spmopt.territory.problem`; mirrored in docs/formulations.md)::

    min   Σ_(i,j)∈A c_ij x_ij  +  Σ_m λ_m Σ_i w_im (1 − x_i,cur(i))                              (0)
    s.t.  Σ_j x_ij = 1                                    ∀ i ∈ I                                  (1)
          (1−τ_m) μ_m s_j ≤ Σ_i w_im x_ij ≤ (1+τ_m) μ_m s_j   ∀ j, balanced m                      (2)
          L_jm s_j ≤ Σ_i w_im x_ij ≤ U_jm s_j             ∀ j, limited m                           (3)
          Σ_i w_im (1 − x_i,cur(i)) ≤ δ_m Σ_i w_im        ∀ m with a disruption limit              (4)
          x_ij ≤ y_j, x_jj = y_j, Σ_j y_j = k             (only when centres are chosen)           (5)
          x_aj ≤ Σ_(v∈N(C)) x_vj                          separator cuts, added in rounds          (6)
      or  Σ_u f_uij − Σ_v f_ivj = x_ij (i ≠ r_j),  f_uvj ≤ M_j x_uj,  f_uvj ≤ M_j x_vj          (7)
      or  x_ij ≤ Σ_(v∈N(i), d_j(v) < d_j(i)) x_vj     shortest-path form, a restriction        (8)
          x_ij ∈ {0,1}, y_j ∈ {0,1}

with s_j = y_j when centres are chosen and s_j = 1 otherwise; sums in (4) run over units with a current
territory, and x_i,cur(i) is 0 when that pair is not allowed. Locks are enforced by A (a locked unit has one
allowed pair).

(7) is the compact single-commodity flow form of contiguity (Shirabe 2009): the root r_j of territory j sends
one unit of flow f ≥ 0 to every other unit of j along graph edges inside j (M_j = units allowed in j − 1).
It needs every territory rooted and holds exactly in one solve, so the solver's own heuristics see contiguity;
the separator cuts (6) stay light on large models but need rounds.

*Elastic form* (``relax``): for each relaxed family f a variable r_f ≥ 0 widens its limits — (2) becomes
(1−τ−r)μ s_j − … i.e. ``± r_f μ_m``, (3) ``U_jm (s_j + r_f)`` / ``L_jm (s_j − r_f)``, (4) ``(δ_m + r_f) Σ w`` —
and the objective is Σ_f r_f. Its optimum is the smallest relaxation (in tolerance units) that makes the
request feasible.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from spmopt.territory.contiguity import neighbour_cuts, roots
from spmopt.territory.problem import AlignmentProblem
from spmopt.territory.state import Graph


@dataclass
class AlignmentModel:
    """A built model and the index maps needed to read its answer."""

    problem: AlignmentProblem
    model: pyo.ConcreteModel
    arc_unit: np.ndarray
    arc_terr: np.ndarray
    relaxed: dict[str, pyo.Var] = field(default_factory=dict)
    n_cuts: int = 0
    cut_list: list = field(default_factory=list)
    neighbour_cuts: bool = False  # the single-unit cuts for this model's pairs are in
    flow: bool = False  # contiguity by the flow form (7) rather than cuts
    flow_arcs: dict | None = None  # (tail, head, territory) → index of f, with the flow form
    roots: np.ndarray | None = None  # root unit of each territory, with the flow form
    graph: Any = None  # the adjacency Graph the flow form was built on
    _arc_index: dict | None = None
    chains: list = field(default_factory=list)  # interchangeable pieces of split units (unit indices), ordered

    def arc(self, i: int, j: int) -> int | None:
        """Index a of the pair (unit i, territory j) in x, or None when that pair is not allowed."""
        if self._arc_index is None:
            self._arc_index = {(int(u), int(t)): a for a, (u, t) in enumerate(zip(self.arc_unit, self.arc_terr,
                                                                                 strict=True))}
        return self._arc_index.get((int(i), int(j)))

    def add_contiguity_cuts(self, cuts, *, keep: bool = True) -> int:
        """Add separator cuts (j, a, b, separator) from :func:`spmopt.territory.contiguity.separator_cuts`:
        x_aj ≤ Σ_(v∈S) x_vj, or x_aj + x_bj ≤ 1 + Σ_(v∈S) x_vj when b is given. Returns how many were added.
        ``keep`` records them in ``cut_list`` (which is handed on to the next, wider model)."""
        m, added = self.model, 0
        if keep:
            self.cut_list.extend(cuts)
        for j, a, b, sep in cuts:
            xa = self.arc(a, j)
            if xa is None:
                continue
            terms = [self.arc(v, j) for v in sep]
            sv = [m.x[t] for t in terms if t is not None]
            if b is None:
                m.contiguity.add(_lin([1.0] + [-1.0] * len(sv), [m.x[xa], *sv]) <= 0)
            else:
                xb = self.arc(b, j)
                if xb is None:
                    continue
                m.contiguity.add(_lin([1.0, 1.0] + [-1.0] * len(sv), [m.x[xa], m.x[xb], *sv]) <= 1)
            added += 1
        self.n_cuts += added
        return added

    def add_neighbour_cuts(self) -> int:
        """The single-unit cuts (:func:`spmopt.territory.contiguity.neighbour_cuts`) for this model's own pairs,
        once; they are not recorded in ``cut_list`` (each model derives its own)."""
        p = self.problem
        if p.contiguity is None or self.flow or self.neighbour_cuts:
            return 0
        self.neighbour_cuts = True
        return self.add_contiguity_cuts(neighbour_cuts(p, p.contiguity.graph, arcs=(self.arc_unit, self.arc_terr)),
                                        keep=False)

    def warm_start(self, assignment: pd.Series) -> list[tuple]:
        """Variable values of a given assignment (unit id → territory id), for the solver's first incumbent."""
        p = self.problem
        chosen = pairs_of(p, assignment)
        for chain in self.chains:  # the pieces' territories in the order the symmetry rows ask for
            tj = np.sort(chosen[chain].argmax(axis=1))
            chosen[chain] = False
            chosen[chain, tj] = True
        m = self.model
        vals = [(m.x[a], float(chosen[i, j])) for a, (i, j) in enumerate(zip(self.arc_unit, self.arc_terr,
                                                                              strict=True))]
        if p.chooses_centres:
            used = chosen.any(axis=0)
            vals += [(m.y[j], float(used[j])) for j in m.J]
        if self.flow:
            vals += self._flow_values(chosen)
        return vals

    def _flow_values(self, chosen: np.ndarray) -> list[tuple]:
        """Flows (7) of a contiguous assignment: along a breadth-first tree of each territory from its root,
        each edge carries the size of the subtree below it. A territory that is not connected gets none."""
        p, m, G = self.problem, self.model, self.graph
        vals = []
        for j in range(len(p.territory_ids)):
            r = int(self.roots[j])
            inside = chosen[:, j]
            if r < 0 or not inside[r]:
                continue
            parent = {r: None}
            order = [r]
            for u in order:
                for v in G.nbrs[u]:
                    v = int(v)
                    if inside[v] and v not in parent:
                        parent[v] = u
                        order.append(v)
            if len(order) != int(inside.sum()):
                continue
            below = dict.fromkeys(order, 1)
            for v in reversed(order[1:]):
                below[parent[v]] += below[v]
                e = self.flow_arcs.get((parent[v], v, j))
                if e is not None:
                    vals.append((m.f[e], float(below[v])))
        return vals

    def assignment(self) -> pd.Series:
        """Read the solved x into unit id → territory id (the territory with the largest x for each unit)."""
        p = self.problem
        xv = np.array([self.model.x[a].value or 0.0 for a in range(len(self.arc_unit))])
        best = np.full(p.n_units, -1.0)
        terr = np.full(p.n_units, -1)
        order = np.lexsort((-xv, self.arc_unit))  # per unit, largest x first
        first = np.ones(len(order), dtype=bool)
        first[1:] = self.arc_unit[order][1:] != self.arc_unit[order][:-1]
        sel = order[first]
        best[self.arc_unit[sel]] = xv[sel]
        terr[self.arc_unit[sel]] = self.arc_terr[sel]
        tids = np.asarray(p.territory_ids, dtype=object)
        return pd.Series(tids[terr], index=p.unit_ids, name="territory_id")


def pairs_of(p: AlignmentProblem, assignment: pd.Series) -> np.ndarray:
    """The |I|×|J| boolean mask of the (unit, territory) pairs an assignment uses."""
    ui = p.unit_ids.get_indexer(assignment.index)
    tj = pd.Index(p.territory_ids).get_indexer(assignment.to_numpy())
    chosen = np.zeros((p.n_units, len(p.territory_ids)), dtype=bool)
    ok = (ui >= 0) & (tj >= 0)
    chosen[ui[ok], tj[ok]] = True
    return chosen


def _lin(coefs, variables, constant: float = 0.0) -> LinearExpression:
    return LinearExpression(constant=constant, linear_coefs=list(map(float, coefs)), linear_vars=list(variables))


def build_model(p: AlignmentProblem, *, relax: Collection[str] = (), mask: np.ndarray | None = None,
                flow: bool = False, spc: bool = False) -> AlignmentModel:
    """Build the Pyomo model of ``p``. ``relax`` names families to make elastic: ``balance:<m>``,
    ``capacity:<m>`` (maxima), ``minimum:<m>``, ``disruption:<m>``; with any, the objective is Σ r_f.
    ``mask`` (|I|×|J| booleans) restricts the pairs to a candidate set (see :mod:`spmopt.territory.pricing`).
    ``flow`` adds the flow form (7) of contiguity (every territory must have a root, see :func:`flow_ready`).
    ``spc`` adds the shortest-path form (8) instead: contiguous by construction, but a restriction."""
    ai, aj = p.arcs() if mask is None else np.nonzero(p.allowed() & mask)
    m = pyo.ConcreteModel(name="territory_alignment")
    m.A = pyo.RangeSet(0, len(ai) - 1)
    m.I = pyo.RangeSet(0, p.n_units - 1)
    m.J = pyo.RangeSet(0, len(p.territory_ids) - 1)
    m.x = pyo.Var(m.A, within=pyo.Binary)
    am = AlignmentModel(problem=p, model=m, arc_unit=ai, arc_terr=aj)
    m.r = pyo.Var(sorted(relax), within=pyo.NonNegativeReals) if relax else None
    am.relaxed = {f: m.r[f] for f in relax}
    xs = [m.x[a] for a in range(len(ai))]
    by_terr = _group(aj, len(p.territory_ids))
    add_assignment_constraints(m, ai, xs, p.n_units)
    if p.chooses_centres:
        add_centre_constraints(m, p, ai, aj, xs)
    add_balance_constraints(m, p, ai, xs, by_terr, am.relaxed)
    add_limit_constraints(m, p, ai, xs, by_terr, am.relaxed)
    add_disruption_constraints(m, p, ai, aj, xs, am.relaxed)
    set_objective(m, p, ai, aj, xs, am.relaxed)
    add_piece_symmetry(am, xs)
    m.contiguity = pyo.ConstraintList()  # (6) separator cuts, added in rounds by the caller
    if flow:
        add_flow_contiguity(am, xs)
    elif spc:
        add_spc_contiguity(am, xs)
    return am


def add_piece_symmetry(am: AlignmentModel, xs) -> None:
    """Order the interchangeable pieces of each split unit: piece a before piece b ⇒ territory index of a ≤
    that of b (Σ_j j·x_aj ≤ Σ_j j·x_bj). Pieces of one unit have the same measures, place, neighbours and
    pairs, so any answer can be relabelled to meet this; without it the solver explores every permutation of
    the pieces among the territories that share the unit (40 pieces of New York City's five counties).
    Pieces with different allowed pairs (a split base's locked first piece) are left out of the chain."""
    p, m = am.problem, am.model
    am.chains = []
    m.piece_order = pyo.ConstraintList()
    if not p.pieces:
        return
    arcs_of: dict[int, list[int]] = {}
    for a, i in enumerate(am.arc_unit):
        arcs_of.setdefault(int(i), []).append(a)
    groups: dict[tuple, list[int]] = {}
    for i in p.unit_ids.get_indexer(list(p.pieces)):
        if i < 0 or i not in arcs_of:
            continue
        sig = (p.pieces[p.unit_ids[i]][0], tuple(int(am.arc_terr[a]) for a in arcs_of[i]))
        groups.setdefault(sig, []).append(int(i))
    for (_unit, terrs), chain in groups.items():
        if len(chain) < 2 or len(terrs) < 2:
            continue
        am.chains.append(np.array(chain))
        coefs = [float(t) for t in terrs]
        for a, b in zip(chain, chain[1:], strict=False):
            m.piece_order.add(_lin(coefs + [-c for c in coefs],
                                   [xs[k] for k in arcs_of[a]] + [xs[k] for k in arcs_of[b]]) <= 0)


def flow_ready(p: AlignmentProblem) -> bool:
    """Can (7) be used: contiguity asked for and every territory has a root unit?"""
    return p.contiguity is not None and len(roots(p)) == len(p.territory_ids)


def root_distances(p: AlignmentProblem, G=None) -> np.ndarray:
    """(territories × units) shortest-path lengths on the adjacency graph from each territory's root, edges
    weighted by the distance between their units (1 per edge without coordinates); inf where unreachable.
    ``G`` is the problem's :class:`~spmopt.territory.state.Graph` when the caller has it already."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    from spmopt.geo import haversine_km

    G = G if G is not None else Graph(p)
    system = p.units.attrs.get("coords")
    if system == "latlon":
        la, lo = p.units["lat"].to_numpy(float), p.units["lon"].to_numpy(float)
        w = haversine_km(la[G.src], lo[G.src], la[G.indices], lo[G.indices])
    elif system == "xy":
        x, y = p.units["x"].to_numpy(float), p.units["y"].to_numpy(float)
        w = np.hypot(x[G.src] - x[G.indices], y[G.src] - y[G.indices])
    else:
        w = np.ones(len(G.src))
    w = np.where(np.isfinite(w) & (w > 0), w, 1e-9) + 1e-9  # a zero length would tie "closer"
    graph = csr_matrix((w, G.indices, G.indptr), shape=(p.n_units, p.n_units))
    r = roots(p)
    idx = p.unit_ids.get_indexer([r[t] for t in p.territory_ids])
    return dijkstra(graph, directed=False, indices=idx)


def add_spc_contiguity(am: AlignmentModel, xs) -> None:
    """(8) Shortest-path contiguity (Mehrotra, Johnson & Nemhauser 1998): a unit i ≠ r_j joins territory j only
    with a neighbour v that is closer to r_j on the graph, x_ij ≤ Σ_(v∈N(i), d_j(v) < d_j(i)) x_vj. Following
    the closer neighbours leads to the root, so every answer is contiguous; the model is compact and needs no
    rounds, but it is a *restriction* (a territory may not reach around another), so its answers are incumbents
    and its bound is not used."""
    p, m, ai, aj = am.problem, am.model, am.arc_unit, am.arc_terr
    G = Graph(p)
    d = root_distances(p, G)
    cons = []
    for a, (i, j) in enumerate(zip(ai.tolist(), aj.tolist(), strict=True)):
        di = d[j, i]
        if di == 0:
            continue  # the root
        closer = [am.arc(int(v), j) for v in G.nbrs[i] if d[j, v] < di] if np.isfinite(di) else []
        closer = [c for c in closer if c is not None]
        cons.append(_lin([1.0] + [-1.0] * len(closer), [xs[a], *(xs[c] for c in closer)]) <= 0)
    m.spc = pyo.Constraint(range(len(cons)), rule=lambda m, k: cons[k])


def flow_size(p: AlignmentProblem) -> int:
    """Number of flow variables (7) would add (directed graph edges × territories, an upper estimate)."""
    return 2 * p.contiguity.graph.number_of_edges() * len(p.territory_ids) if p.contiguity is not None else 0


def add_flow_contiguity(am: AlignmentModel, xs) -> None:
    """(7) Each territory's root sends one unit of flow to each of its other units over edges inside it."""
    p, m, ai, aj = am.problem, am.model, am.arc_unit, am.arc_terr
    r = roots(p)
    root_of = p.unit_ids.get_indexer([r[t] for t in p.territory_ids])
    G = Graph(p)
    src, dst = G.src, G.indices  # both directions of every edge
    tails, heads, terrs, caps = [], [], [], []
    for j in range(len(p.territory_ids)):
        inside = np.zeros(p.n_units, dtype=bool)
        inside[ai[aj == j]] = True
        ok = inside[src] & inside[dst] & (dst != root_of[j])
        tails.append(src[ok])
        heads.append(dst[ok])
        terrs.append(np.full(int(ok.sum()), j))
        caps.append(np.full(int(ok.sum()), max(int(inside.sum()) - 1, 1)))
    tails, heads, terrs, caps = map(np.concatenate, (tails, heads, terrs, caps))
    m.F = pyo.RangeSet(0, len(tails) - 1) if len(tails) else pyo.Set(initialize=[])
    m.f = pyo.Var(m.F, within=pyo.NonNegativeReals)
    cons = []
    inflow: dict[tuple[int, int], list[int]] = {}
    outflow: dict[tuple[int, int], list[int]] = {}
    for e, (u, v, j, cap) in enumerate(zip(tails.tolist(), heads.tolist(), terrs.tolist(), caps.tolist(),
                                           strict=True)):
        inflow.setdefault((v, j), []).append(e)
        outflow.setdefault((u, j), []).append(e)
        cons.append(_lin([1.0, -cap], [m.f[e], xs[am.arc(u, j)]]) <= 0)
        cons.append(_lin([1.0, -cap], [m.f[e], xs[am.arc(v, j)]]) <= 0)
    for a, (i, j) in enumerate(zip(ai.tolist(), aj.tolist(), strict=True)):
        if i == root_of[j]:
            continue
        fin = inflow.get((i, j), [])
        fout = outflow.get((i, j), [])
        cons.append(_lin([1.0] * len(fin) + [-1.0] * len(fout) + [-1.0],
                         [*(m.f[e] for e in fin), *(m.f[e] for e in fout), xs[a]]) == 0)
    m.flow = pyo.Constraint(range(len(cons)), rule=lambda m, k: cons[k])
    am.flow = True
    am.graph = G
    am.flow_arcs = {(int(u), int(v), int(j)): e for e, (u, v, j) in enumerate(zip(tails, heads, terrs, strict=True))}
    am.roots = root_of


def _group(keys: np.ndarray, n: int) -> list[np.ndarray]:
    """Positions of ``keys`` grouped by value 0..n-1."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n + 1))
    return [order[bounds[k]:bounds[k + 1]] for k in range(n)]


def _s(m, p: AlignmentProblem, j: int):
    """s_j: y_j when centres are chosen, else 1."""
    return m.y[j] if p.chooses_centres else 1.0


def add_assignment_constraints(m, ai, xs, n_units: int) -> None:
    """(1) Σ_j x_ij = 1 for every unit i: each unit in exactly one territory."""
    by_unit = _group(ai, n_units)
    m.assign = pyo.Constraint(m.I, rule=lambda m, i: _lin(np.ones(len(by_unit[i])),
                                                          [xs[a] for a in by_unit[i]]) == 1)


def add_centre_constraints(m, p: AlignmentProblem, ai, aj, xs) -> None:
    """(5) x_ij ≤ y_j (assign only to open centres); x_cj = y_j for the centre unit c of j (an open chosen or
    new centre serves itself, when that pair is allowed; see ``serves_itself``); Σ_j y_j = k; y_j fixed for
    territories that must be open or are closed."""
    m.y = pyo.Var(m.J, within=pyo.Binary)
    m.n_centres = pyo.Constraint(expr=_lin(np.ones(len(m.J)), [m.y[j] for j in m.J]) == p.k)
    m.open = pyo.Constraint(m.A, rule=lambda m, a: xs[a] <= m.y[int(aj[a])])
    state = p.open_state()  # what-ifs: current territories always open, removed ones closed
    self_arc = np.flatnonzero((ai == p.centre_index()[aj]) & p.serves_itself()[aj])  # a centre's own unit
    m.self_serve = pyo.Constraint(self_arc.tolist(), rule=lambda m, a: xs[a] == m.y[int(aj[a])])
    for j in np.flatnonzero(state != 0):
        m.y[int(j)].fix(1 if state[j] > 0 else 0)


def add_balance_constraints(m, p: AlignmentProblem, ai, xs, by_terr, relaxed) -> None:
    """(2) (1−τ_m) μ_m s_j ≤ Σ_i w_im x_ij ≤ (1+τ_m) μ_m s_j for every territory j and balanced measure m."""
    keys, lo, hi = [], {}, {}
    for meas, tau in p.balance.items():
        w, mu = p.measure(meas), p.mean(meas)
        r = relaxed.get(f"balance:{meas}")
        for j, arcs in enumerate(by_terr):
            size = _lin(w[ai[arcs]], [xs[a] for a in arcs])
            s = _s(m, p, j)
            slack = mu * r if r is not None else 0.0
            keys.append((meas, j))
            lo[(meas, j)] = size >= (1 - tau) * mu * s - slack
            hi[(meas, j)] = size <= (1 + tau) * mu * s + slack
    m.balance_lo = pyo.Constraint(keys, rule=lambda m, meas, j: lo[(meas, j)])
    m.balance_hi = pyo.Constraint(keys, rule=lambda m, meas, j: hi[(meas, j)])


def add_limit_constraints(m, p: AlignmentProblem, ai, xs, by_terr, relaxed) -> None:
    """(3) L_jm s_j ≤ Σ_i w_im x_ij ≤ U_jm s_j for limited measures (capacity, per-territory max/min)."""
    cons: dict[tuple, object] = {}
    for meas in p.limited_measures():
        w = p.measure(meas)
        U, L = p.limit_vector("max", meas), p.limit_vector("min", meas)
        rU, rL = relaxed.get(f"capacity:{meas}"), relaxed.get(f"minimum:{meas}")
        for j, arcs in enumerate(by_terr):
            size = _lin(w[ai[arcs]], [xs[a] for a in arcs])
            s = _s(m, p, j)
            if np.isfinite(U[j]):
                cons[("max", meas, j)] = size <= U[j] * (s + rU) if rU is not None else size <= U[j] * s
            if L[j] > 0:
                cons[("min", meas, j)] = size >= L[j] * (s - rL) if rL is not None else size >= L[j] * s
    m.limits = pyo.Constraint(list(cons), rule=lambda m, *k: cons[k])


def _current_arcs(p: AlignmentProblem, ai, aj):
    """For units with a current territory: (unit indices, arc index of the current pair or -1)."""
    cur = p.current()
    if cur is None:
        return np.array([], dtype=int), np.array([], dtype=int)
    tj = pd.Index(p.territory_ids).get_indexer(cur.fillna("").to_numpy())
    has = np.flatnonzero(cur.notna().to_numpy())
    lookup = {(int(i), int(j)): a for a, (i, j) in enumerate(zip(ai, aj, strict=True))}
    arc = np.array([lookup.get((int(i), int(tj[i])), -1) for i in has], dtype=int)
    return has, arc


def _moved(p: AlignmentProblem, meas: str, has, arc, xs):
    """Σ_i w_im (1 − x_i,cur(i)) as a linear expression."""
    w = p.measure(meas)[has]
    ok = arc >= 0
    return _lin(-w[ok], [xs[a] for a in arc[ok]], constant=float(w.sum()))


def add_disruption_constraints(m, p: AlignmentProblem, ai, aj, xs, relaxed) -> None:
    """(4) Σ_i w_im (1 − x_i,cur(i)) ≤ δ_m Σ_i w_im: at most a share δ_m of measure m moves."""
    if not p.max_disruption:
        m.disruption = pyo.Constraint(pyo.Any)
        return
    has, arc = _current_arcs(p, ai, aj)
    cons = {}
    for meas, frac in p.max_disruption.items():
        base = float(p.measure(meas)[has].sum())
        r = relaxed.get(f"disruption:{meas}")
        cons[meas] = _moved(p, meas, has, arc, xs) <= (frac + r) * base if r is not None else \
            _moved(p, meas, has, arc, xs) <= frac * base
    m.disruption = pyo.Constraint(list(cons), rule=lambda m, k: cons[k])


def set_objective(m, p: AlignmentProblem, ai, aj, xs, relaxed) -> None:
    """(0) total (weighted) distance plus the price of disruption; in elastic form, Σ_f r_f."""
    if relaxed:
        m.obj = pyo.Objective(expr=sum(relaxed.values()), sense=pyo.minimize)
        return
    c = p.cost()[ai, aj]
    expr = _lin(c, xs)
    if p.disruption_price:
        has, arc = _current_arcs(p, ai, aj)
        for meas, price in p.disruption_price.items():
            expr = expr + price * _moved(p, meas, has, arc, xs)
    m.obj = pyo.Objective(expr=expr, sense=pyo.minimize)
