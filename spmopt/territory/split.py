"""Units too big for one territory, and splitting them between neighbouring territories.

**Too big.** With contiguity, a territory that holds unit i whole is a connected set around i. On two balanced
measures a and b, it must stay at or below the upper limit U_a = (1+τ_a)·μ_a of a and reach the lower limit
L_b = (1−τ_b)·μ_b of b. A metro county with much potential (a) and little workload (b) may leave too little room
on a for any connected set around it to gather enough b: the room is R = U_a − w_ia, the shortfall N = L_b − w_ib,
and every other unit j of such a set lies on a path from i whose units carry at most R of a
(:func:`~spmopt.territory.contiguity.path_weights`). The most b those units can add within R is at most the
*fractional knapsack* over them (value w_jb, weight w_ja, capacity R, taken by ratio): if even that falls short of
N, no alignment keeps i whole — whatever the other units do. :func:`too_big` checks every pair of balanced
measures for every unit, with no solver; it is a necessary condition only (a unit it passes may still not fit).

**Split.** Sales organisations share such a unit (a metro county, a big account) between reps. A split unit is
modelled as ``k`` equal *pieces* — virtual units ``<unit>#1`` … ``<unit>#k`` with 1/k of every measure and the
unit's place, distances and current territory — joined to each other and to each of the unit's neighbours, so a
territory holding a piece is connected through the unit (contiguity is kept through it), and a base unit that is
split keeps its first piece locked to its territory. ``k`` is chosen so that a piece is at most one tolerance of
each balanced measure (the balance can then be met to within the tolerance around it). The whole engine — exact
models, heuristics, checker — works on the pieces unchanged; :func:`shares` folds an answer back into one row per
(unit, territory) with the share of the unit each territory holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from spmopt.territory.contiguity import Contiguity, path_weights

SEP = "#"  # piece id = f"{unit}{SEP}{k}", k = 1 … pieces
MAX_PIECES = 40


@dataclass(frozen=True)
class TooBig:
    """Unit ``unit`` cannot lie whole in any connected territory: with it, the room left under the upper limit of
    ``heavy`` is ``room`` (its units), and the units within reach can add at most ``reach`` of ``light`` within
    that room, short of the ``need`` to reach ``light``'s lower limit. ``pieces`` is the split that would be made."""

    unit: str
    heavy: str
    light: str
    room: float
    need: float
    reach: float
    share_heavy: float   # the unit's w_heavy as a share of the mean
    share_light: float
    pieces: int

    def describe(self) -> str:
        """Why, as a clause: 'it holds …'."""
        if self.room < 0:
            return f"it alone holds {self.share_heavy:.2f}× the mean {self.heavy}, above the upper limit"
        return (f"it holds {self.share_heavy:.2f}× the mean {self.heavy} but {self.share_light:.2f}× the mean "
                f"{self.light}, and the units within reach can add at most {self.reach:,.0f} {self.light} within "
                f"the {self.room:,.0f} {self.heavy} left under the limit, short of the {self.need:,.0f} needed")


def pieces_for(w: Mapping[str, float], balance: Mapping[str, float], means: Mapping[str, float]) -> int:
    """Pieces for a unit with measures ``w``: each piece at most one tolerance (τ·μ) of every balanced measure."""
    k = 2
    for m, tau in balance.items():
        step = tau * means[m]
        if step > 0 and w.get(m, 0.0) > 0:
            k = max(k, int(np.ceil(w[m] / step - 1e-9)))
    return int(min(k, MAX_PIECES))


def too_big(units: pd.DataFrame, graph: nx.Graph, balance: Mapping[str, float], n_territories: int,
            candidates: Iterable | None = None, weights: Mapping[str, np.ndarray] | None = None) -> list[TooBig]:
    """The units no connected territory can hold whole (see the module docstring), each with the first pair of
    measures that shows it. ``units`` is the validated units frame (index = unit ids); only units holding more
    than a quarter of a mean on a balanced measure are checked (a smaller one always leaves room), among
    ``candidates`` when given. ``weights`` overrides the measures' values (a problem's, where split pieces count
    as their share). One lightest-path search per measure from all the big units at once."""
    ms = [m for m in balance if m in units.columns or m == "count" or (weights and m in weights)]
    if len(ms) < 1 or n_territories < 2:
        return []
    ids = units.index
    W = {m: (np.asarray(weights[m], dtype=float) if weights and m in weights else
             units[m].to_numpy(dtype=float) if m in units.columns else np.ones(len(units))) for m in ms}
    mu = {m: float(W[m].sum()) / n_territories for m in ms}
    upper = {m: (1 + balance[m]) * mu[m] for m in ms}
    lower = {m: (1 - balance[m]) * mu[m] for m in ms}
    big = np.zeros(len(units), dtype=bool)
    for m in ms:
        big |= W[m] > 0.25 * mu[m]
    if candidates is not None:
        big &= ids.isin(list(candidates))
    cand = np.flatnonzero(big)
    if not len(cand):
        return []
    reach = {}
    for a in ms:
        room = upper[a] - W[a][cand]
        lim = float(max(0.0, room.max())) + float(W[a][cand].max())
        reach[a] = path_weights(graph, ids, W[a], cand, limit=lim) - W[a][cand][:, None]   # (cand, n)
    out: list[TooBig] = []
    for r, i in enumerate(cand):
        found = None
        for a in ms:
            room = upper[a] - W[a][i]
            if room < -1e-9 * max(1.0, upper[a]):
                found = TooBig(str(ids[i]), a, a, room, 0.0, 0.0, W[a][i] / mu[a], W[a][i] / mu[a], 0)
                break
            near = np.flatnonzero((reach[a][r] <= room * (1 + 1e-9) + 1e-12) & (np.arange(len(ids)) != i))
            for b in ms:
                if b == a:
                    continue
                need = lower[b] - W[b][i]
                if need <= 0:
                    continue
                can = _knapsack(W[b][near], W[a][near], room)
                if can < need * (1 - 1e-9) - 1e-12:
                    found = TooBig(str(ids[i]), a, b, room, need, can, W[a][i] / mu[a], W[b][i] / mu[b], 0)
                    break
            if found:
                break
        if found:
            k = pieces_for({m: W[m][i] for m in ms}, balance, mu)
            out.append(TooBig(**{**found.__dict__, "pieces": k}))
    return out


def _knapsack(value: np.ndarray, weight: np.ndarray, cap: float) -> float:
    """Most value within weight ``cap``, items divisible (greedy by value per weight; weightless items free)."""
    free = weight <= 0
    total = float(value[free].sum())
    v, wt = value[~free], weight[~free]
    order = np.argsort(-(v / wt), kind="stable")
    left = cap
    for k in order:
        if left <= 0:
            break
        take = min(1.0, left / wt[k])
        total += take * v[k]
        left -= take * wt[k]
    return total


def split(units: pd.DataFrame, contiguity: Contiguity | None, pieces: Mapping[str, int],
          distance: np.ndarray, measures: Iterable[str]) -> tuple[pd.DataFrame, Contiguity | None, np.ndarray,
                                                                dict[str, tuple[str, float]]]:
    """The units with each unit of ``pieces`` (unit id → k) replaced by its k pieces (see the module docstring):
    (units, contiguity, distance rows, piece id → (unit id, share)). ``measures`` are the columns divided."""
    if not pieces:
        return units, contiguity, distance, {}
    pos = {u: i for i, u in enumerate(units.index)}
    rows: list[int] = []
    ids: list[str] = []
    parts: dict[str, tuple[str, float]] = {}
    shares = []
    for u in units.index:
        k = int(pieces.get(u, 1))
        if k <= 1:
            rows.append(pos[u])
            ids.append(u)
            shares.append(1.0)
            continue
        for q in range(1, k + 1):
            pid = f"{u}{SEP}{q}"
            rows.append(pos[u])
            ids.append(pid)
            shares.append(1.0 / k)
            parts[pid] = (u, 1.0 / k)
    share = np.asarray(shares)
    out = units.iloc[rows].copy()
    for m in measures:
        if m in out.columns:
            out[m] = out[m].to_numpy(dtype=float) * share
    out.index = pd.Index(ids, name=units.index.name)
    out.attrs = dict(units.attrs)
    out.attrs["pieces"] = {pid: u for pid, (u, _) in parts.items()}
    rowmap = units.attrs.get("rows")
    if rowmap is not None:  # a piece's errors name its unit's row
        out.attrs["rows"] = type(rowmap)((pid, rowmap.get(parts[pid][0] if pid in parts else pid)) for pid in ids)
    contig = None
    if contiguity is not None:
        g = nx.Graph()
        g.add_nodes_from(ids)
        of = {pid: parts[pid][0] if pid in parts else pid for pid in ids}
        members: dict[str, list[str]] = {}
        for pid in ids:
            members.setdefault(of[pid], []).append(pid)
        for a, b in contiguity.graph.edges():
            for pa in members.get(a, []):
                for pb in members.get(b, []):
                    g.add_edge(pa, pb)
        for grp in members.values():
            for x in range(len(grp)):
                for y in range(x + 1, len(grp)):
                    g.add_edge(grp[x], grp[y])
        contig = Contiguity(graph=g, source=f"{contiguity.source}, {len(pieces)} unit(s) split",
                            links=contiguity.links)
    return out, contig, distance[rows], parts


def shares(assignment: pd.Series, parts: Mapping[str, tuple[str, float]]) -> pd.DataFrame:
    """``unit_id, territory_id, share``: one row per (unit, territory), the share of the unit the territory holds
    (1.0 for a whole unit); units in their original order, a split unit's territories by share then id."""
    unit = [parts[i][0] if i in parts else i for i in assignment.index]
    sh = [parts[i][1] if i in parts else 1.0 for i in assignment.index]
    df = pd.DataFrame({"unit_id": unit, "territory_id": assignment.to_numpy(), "share": sh})
    order = {u: k for k, u in enumerate(dict.fromkeys(unit))}
    g = df.groupby(["unit_id", "territory_id"], sort=False, as_index=False)["share"].sum()
    g["_o"] = g["unit_id"].map(order)
    g = g.sort_values(["_o", "share", "territory_id"], ascending=[True, False, True], kind="stable")
    g["share"] = g["share"].round(12)
    return g.drop(columns="_o").reset_index(drop=True)
