"""Balanced contiguous alignments at scale: transfer chains.

Single-unit moves stall long before ±5 % balance on two measures when every territory must stay connected: the
territory that is too large is surrounded by territories at their own upper limits, so no single move lowers the
violation. Districting heuristics get past this with *transfer chains* (ejection chains along the territory
adjacency graph; see Ricca & Simeone 2008, "Local search algorithms for political districting", and the
shift/transfer moves of Bozkaya, Erkut & Laporte 2003):

* :func:`rebalance` repairs the limits. It takes the territory that breaks its limits most, finds by
  breadth-first search over the territory graph the nearest territory with room (too large → one that can take
  a unit; too small → one that can give), and passes one unit along each edge of the path: each territory on the
  way gives one boundary unit to the next (or takes one from it), chosen to keep both within limits at the least
  extra cost. The chain stops early as soon as the excess is absorbed. It is kept when the total violation falls
  and undone otherwise. Every move keeps both territories connected (the unit touches its new territory and is
  not a cut vertex of its old one), so a contiguous start stays contiguous.

It works on the bookkeeping of :class:`spmopt.territory.state.State` (limits in units of their tolerance, the
disruption limit included), and the independent checker has the last word.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from spmopt import work as wk
from spmopt.territory.contiguity import roots
from spmopt.territory.problem import AlignmentProblem
from spmopt.territory.state import Graph, State, connected_territory, cut_off, move_options, stays_connected

EPS = 1e-9


#: work units per unit of the map in each round (the territory graph) and per territory step of a chain
ROUND_WORK = 2e-6
STEP_WORK = 5e-5

def _roots(p: AlignmentProblem) -> list[int | None]:
    """Per territory column: the unit index that anchors it (its centre unit or a locked unit), if any."""
    r = roots(p)
    pos = {u: i for i, u in enumerate(p.unit_ids)}
    out: list[int | None] = [pos.get(r.get(t)) if r.get(t) is not None else None for t in p.territory_ids]
    locks = p.locks()
    if len(locks):
        col = pd.Index(p.territory_ids).get_indexer(locks.to_numpy())
        for u, j in zip(p.unit_ids.get_indexer(locks.index), col, strict=True):
            if j >= 0 and out[j] is None:
                out[j] = int(u)
    return out


@wk.metered
def rebalance(p: AlignmentProblem, start: np.ndarray, *, work: float = 10.0, max_depth: int = 12,
              cost_weight: float = 1e-3, progress=None) -> tuple[np.ndarray, dict]:
    """Transfer chains until every limit holds or no chain helps, within ``work`` units (see the module
    docstring; each round is charged for the territory graph it builds, each chain for its steps). Returns the
    assignment (column index per unit) and figures: chains tried and kept, moves, violation before/after."""
    span = wk.span(work)
    clock = span.clock
    st = State(p, start)
    G = Graph(p)
    J = st.J
    free, _ = move_options(p, st, 1)
    viol0 = st.violation()
    typical = np.median(st.w, axis=0) if len(st.w) else np.zeros(0)
    # per-move cost scale: one violation unit outweighs any cost change of a single move
    finite = st.cost[np.isfinite(st.cost)]
    cscale = float(np.percentile(finite, 90)) if len(finite) else 1.0
    tried = kept = moves = 0
    stuck: set[int] = set()

    def terr_viol() -> np.ndarray:
        return st.viol(st.sizes, st.lo, st.hi, st.scale[:, None]).sum(axis=0)

    def pair_viol(s: int, t: int, d: np.ndarray) -> np.ndarray:
        """Violation of s and t after moving net amounts ``d`` (…, measures) from s to t."""
        return (st.viol(st.sizes[:, s] - d, st.lo[:, s], st.hi[:, s], st.scale).sum(axis=-1)
                + st.viol(st.sizes[:, t] + d, st.lo[:, t], st.hi[:, t], st.scale).sum(axis=-1))

    root = _roots(p)
    max_block = max(3, int(0.1 * p.n_units / J))

    def choose(s: int, t: int) -> list[int] | None:
        """Best unit — or block: a cut vertex with the part of s it would cut off from s's root — to move from s
        to t: least violation of s and t afterwards, then least extra cost. Both stay connected."""
        cand = G.boundary(st.a, s, t)
        cand = cand[free[cand] & st.allowed[cand, t]]
        if not len(cand):
            return None
        single = pair_viol(s, t, st.w[cand])
        blocks = []
        for k in np.argsort(single, kind="stable")[:12]:
            i = int(cand[k])
            b = [i] if stays_connected(st.a, G.nbrs, i) else cut_off(st.a, G.nbrs, i, root[s], max_block)
            if b is not None and (len(b) == 1 or (free[b].all() and st.allowed[b, t].all())):
                blocks.append(b)
        if not blocks:
            return None
        v = pair_viol(s, t, np.array([st.w[b].sum(axis=0) for b in blocks]).reshape(len(blocks), -1))
        dc = np.array([sum(st.unit_cost(i, t) - st.unit_cost(i, s) for i in b) for b in blocks])
        score = v + cost_weight * dc / max(cscale, EPS)
        return blocks[int(np.argmin(score))]

    def swap(u: int, around: list[int]) -> bool:
        """Best exchange of a border unit of u with a border unit of a neighbouring territory that lowers the
        total violation and keeps both territories connected."""
        total, tv = st.violation(), terr_viol()
        for t in sorted(around, key=lambda t: -tv[t]):
            out = G.boundary(st.a, u, t)
            out = out[free[out] & st.allowed[out, t]]
            inn = G.boundary(st.a, t, u)
            inn = inn[free[inn] & st.allowed[inn, u]]
            if not len(out) or not len(inn):
                continue
            v = pair_viol(u, t, st.w[out][:, None, :] - st.w[inn][None, :, :])  # u gives out[x], takes inn[y]
            now = float(tv[[u, t]].sum())
            flat = np.argsort(v, axis=None, kind="stable")[:24]
            for f in flat:
                x, y = np.unravel_index(f, v.shape)
                if v[x, y] >= now - 1e-9:
                    break
                i, k = int(out[x]), int(inn[y])
                st.apply(i, t)
                st.apply(k, u)
                joined = connected_territory(st.a, G.nbrs, u) and connected_territory(st.a, G.nbrs, t)
                if joined and st.violation() < total - 1e-9:
                    return True
                st.apply(k, t)
                st.apply(i, u)
        return False

    def roomy(j: int, sign: int) -> bool:
        """Can j take (sign=+1) a typical unit and stay under its upper limits, or give one (sign=-1) and stay
        over its lower limits?"""
        new = st.sizes[:, j] + sign * typical
        return bool((new <= st.hi[:, j] + EPS).all()) if sign > 0 else bool((new >= st.lo[:, j] - EPS).all())

    while not span.done("rebalance"):
        clock.charge(1e-4 + ROUND_WORK * p.n_units)
        tv = terr_viol()
        total = st.violation()
        if total <= 1e-7:
            break
        order = [j for j in np.argsort(-tv) if tv[j] > 1e-9 and j not in stuck]
        if not order:
            break
        u = int(order[0])
        over = bool((st.sizes[:, u] > st.hi[:, u] + EPS).any())
        sign = 1 if over else -1  # over: push units out towards room; under: pull units in from surplus
        adj = G.territory_graph(st.a, J)
        # breadth-first over territories; each reached territory with room ends a candidate path
        parent = {u: None}
        q = deque([(u, 0)])
        ends = []
        while q:
            x, d = q.popleft()
            if x != u and roomy(x, sign):
                ends.append(x)
                if len(ends) >= 6:
                    break
            if d >= max_depth:
                continue
            for y in adj[x]:
                if y not in parent:
                    parent[y] = x
                    q.append((y, d + 1))
        improved = False
        for v in ends:
            if span.done("rebalance"):
                break
            path = [v]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            path.reverse()  # u … v
            tried += 1
            clock.charge(STEP_WORK * len(path))
            done: list[tuple[int, int, int]] = []
            for x, y in zip(path, path[1:], strict=False):
                s, t = (x, y) if sign > 0 else (y, x)
                block = choose(s, t)
                if block is None:
                    break
                for i in block:
                    st.apply(i, t)
                    done.append((i, s, t))
                if st.viol(st.sizes[:, y], st.lo[:, y], st.hi[:, y], st.scale).sum() <= 1e-9:
                    break  # absorbed: the territory that now carries the excess is within its limits
            if done and st.violation() < total - 1e-9:
                kept += 1
                moves += len(done)
                improved = True
                break
            for i, s, _t in reversed(done):
                st.apply(i, s)
        if not improved:  # no chain helps: exchange a pair of border units with a neighbour (fine-tunes the
            improved = swap(u, adj[u])  # mix of measures where a one-way move overshoots on one of them)
            kept += improved
            moves += 2 * improved
        if improved:
            stuck.clear()
        else:
            stuck.add(u)
    info = {"chains_tried": tried, "chains_kept": kept, "moves": moves, "violation_before": viol0,
            "violation_after": st.violation(), "work": span.used()}
    if progress is not None:
        progress(f"rebalance: violation {viol0:.3g} → {info['violation_after']:.3g} ({kept} chains, "
                 f"{moves} moves, {info['work']:.1f} work units)")
    return st.a, info
