"""Contiguity: every territory connected on a unit adjacency graph.

The graph comes from a file of ``unit_a,unit_b`` pairs or, with ``auto``, from the units' polygons when they have
them (shared borders, queen or rook: :func:`spmopt.geo.adjacency_from_polygons`; islands joined to their nearest
unit, :func:`spmopt.geo.nearest_links`), else from a Delaunay triangulation of the unit coordinates with over-long
edges dropped (:func:`spmopt.geo.delaunay_edges`). Units without neighbours in a file's graph are kept and
reported, never dropped.

The model enforces contiguity exactly with *separator cuts added in rounds* (Validi & Buchanan 2022, "Political
districting to minimize cut edges"; Oehrlein & Haunert 2017): solve, find every territory that falls in pieces,
and for each piece C of territory j that does not hold j's root r_j, add

    x_aj ≤ Σ_{v ∈ N(C)} x_vj                      for every a ∈ C            (rooted: r_j known)
    x_aj + x_bj ≤ 1 + Σ_{v ∈ N(C)} x_vj            for every a ∈ C            (root unknown; b in the largest piece)

where N(C) is the set of graph neighbours of C outside C. Both are valid for every contiguous alignment: N(C)
separates a from r_j (or from b), so a path inside territory j from a to r_j passes through N(C). A solution that
breaks contiguity violates the cut for its own piece, so the rounds end with a contiguous optimum. The root of a
territory is its ``center_unit`` (fixed centres) or the centre unit itself (chosen centres, where x_jj = y_j);
territories whose centre is a coordinate get the root-free form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from spmopt.data.validate import spreadsheet_rows
from spmopt.errors import InfeasibleError, InputError


@dataclass(frozen=True, eq=False)
class Contiguity:
    """The adjacency graph (nodes are unit ids, every unit is a node) and where it came from."""

    graph: nx.Graph
    source: str
    #: pairs added to join the pieces of a polygon graph (islands): ``(unit_a, unit_b, distance)``
    links: tuple = ()

    @property
    def isolated(self) -> list:
        """Units with no neighbour (each can only be contiguous as a territory of its own)."""
        return [u for u, deg in self.graph.degree() if deg == 0]

    def describe(self) -> dict:
        comps = nx.number_connected_components(self.graph)
        iso = self.isolated
        return {"graph": self.source, "edges": self.graph.number_of_edges(), "components": comps,
                "isolated_units": [str(u) for u in iso[:50]], "n_isolated": len(iso),
                "joined": [{"unit_a": str(a), "unit_b": str(b), "distance": round(float(d), 3)}
                           for a, b, d in self.links]}


def adjacency_from_table(table: pd.DataFrame, unit_ids: pd.Index, *, source: str = "adjacency") -> Contiguity:
    """Build the graph from a table with ``unit_a,unit_b`` (names are case-insensitive); every unit is a node.
    Unknown unit ids and missing values are input errors naming the row; self-pairs and repeats are ignored."""
    src = table.attrs.get("source", source)
    cols = {str(c).strip().lower(): c for c in table.columns}
    for need in ("unit_a", "unit_b"):
        if need not in cols:
            raise InputError(f"adjacency table needs columns unit_a,unit_b; '{need}' is missing "
                             f"(found: {', '.join(map(str, table.columns))})", source=src, column=need)
    a = table[cols["unit_a"]].astype("string").str.strip()
    b = table[cols["unit_b"]].astype("string").str.strip()
    known = set(map(str, unit_ids))
    as_str = {str(u): u for u in unit_ids}
    for name, s in (("unit_a", a), ("unit_b", b)):
        blank = s.isna() | (s == "")
        if blank.any():
            r = int(np.flatnonzero(blank.to_numpy())[0])
            raise InputError("missing unit id in the adjacency table", source=src,
                             row=int(spreadsheet_rows(table)[r]), column=name)
        bad = ~s.isin(known)
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"unknown unit '{s.iloc[r]}' in the adjacency table ({int(bad.sum())} row(s) like "
                             "this)", source=src, row=int(spreadsheet_rows(table)[r]), column=name, value=s.iloc[r])
    g = nx.Graph()
    g.add_nodes_from(unit_ids)
    g.add_edges_from((as_str[x], as_str[y]) for x, y in zip(a, b, strict=True) if x != y)
    return Contiguity(graph=g, source=str(src))


def adjacency_auto(units: pd.DataFrame) -> Contiguity:
    """Delaunay neighbours of the unit coordinates, over-long edges dropped but the graph kept connected."""
    from spmopt.geo import delaunay_edges

    system = units.attrs.get("coords")
    if system is None:
        raise InputError("--contiguity auto needs unit coordinates (lat,lon or x,y); give an adjacency file "
                         "instead", source=units.attrs.get("source"))
    cols = ["lat", "lon"] if system == "latlon" else ["x", "y"]
    pts = units[cols].to_numpy(dtype=float)
    if np.isnan(pts).any():
        i = int(np.flatnonzero(np.isnan(pts).any(axis=1))[0])
        raise InputError("--contiguity auto needs coordinates for every unit", source=units.attrs.get("source"),
                         row=units.attrs.get("rows", {}).get(units.index[i]), column=cols[0])
    g = nx.Graph()
    g.add_nodes_from(units.index)
    if len(units) >= 3:
        e = delaunay_edges(pts, system)
        ids = units.index.to_numpy()
        g.add_edges_from(zip(ids[e[:, 0]], ids[e[:, 1]], strict=True))
    elif len(units) == 2:
        g.add_edge(units.index[0], units.index[1])
    return Contiguity(graph=g, source="auto (Delaunay)")


def adjacency_from_shapes(shapes, units: pd.DataFrame, *, rule: str = "queen",
                          tolerance: float = 0.0) -> Contiguity:
    """Neighbours from the units' polygons (a :class:`spmopt.data.geometry.UnitShapes`): shared borders by
    ``rule`` (queen / rook, ``tolerance`` in metres for lon/lat, see :func:`spmopt.geo.adjacency_from_polygons`),
    then each island — a unit or group of units touching no other — joined to its nearest unit across the gap
    (:func:`spmopt.geo.nearest_links`), as ``auto`` keeps the Delaunay graph connected. The joins are listed in
    :attr:`Contiguity.links` and by ``describe()``."""
    from spmopt.geo import adjacency_from_polygons, nearest_links

    polys = shapes.shapes.loc[units.index]
    pairs = adjacency_from_polygons(polys, rule=rule, tolerance=tolerance, system=shapes.system)
    links = nearest_links(polys, pairs, system=shapes.system)
    as_id = {str(u): u for u in units.index}
    g = nx.Graph()
    g.add_nodes_from(units.index)
    g.add_edges_from((as_id[a], as_id[b]) for a, b in zip(pairs["unit_a"], pairs["unit_b"], strict=True))
    g.add_edges_from((as_id[a], as_id[b]) for a, b in zip(links["unit_a"], links["unit_b"], strict=True))
    tol = f", tolerance {tolerance:g} {'m' if shapes.system == 'latlon' else 'units'}" if tolerance else ""
    return Contiguity(graph=g, source=f"polygons ({rule}{tol})",
                      links=tuple((as_id[a], as_id[b], float(d)) for a, b, d in links.itertuples(index=False)))


#: the default request: contiguous on the units' own geography when they have one (polygons or coordinates),
#: else none
GEOGRAPHY = "geography"


def load_contiguity(spec, units: pd.DataFrame, shapes=None, *, rule: str = "queen",
                    tolerance: float = 0.0) -> Contiguity | None:
    """``spec`` is ``'geography'`` (the default of every entry point: ``'auto'`` when the units have polygons
    or coordinates, else no contiguity), None or False (no contiguity), ``'auto'`` (shared borders of the units'
    polygons ``shapes`` when given, by ``rule`` and ``tolerance``; else Delaunay neighbours of the coordinates),
    a path to an adjacency file, a DataFrame of pairs, a networkx graph, or a :class:`Contiguity`."""
    if spec is None or spec is False:
        return None
    if isinstance(spec, str) and spec == GEOGRAPHY:
        if shapes is not None:
            return adjacency_from_shapes(shapes, units, rule=rule, tolerance=tolerance)
        return adjacency_auto(units) if units.attrs.get("coords") is not None else None
    if spec is True or (isinstance(spec, str) and spec.strip().lower() == "auto"):
        if shapes is not None:
            return adjacency_from_shapes(shapes, units, rule=rule, tolerance=tolerance)
        return adjacency_auto(units)
    if isinstance(spec, Contiguity):
        return spec
    if isinstance(spec, nx.Graph):
        extra = set(spec.nodes) - set(units.index)
        if extra:
            raise InputError(f"adjacency graph has unknown unit '{sorted(map(str, extra))[0]}'")
        g = nx.Graph()
        g.add_nodes_from(units.index)
        g.add_edges_from((a, b) for a, b in spec.edges if a != b)
        return Contiguity(graph=g, source="graph")
    if isinstance(spec, pd.DataFrame):
        return adjacency_from_table(spec, units.index)
    if isinstance(spec, str | Path):
        from spmopt.data.io import read_table

        return adjacency_from_table(read_table(spec), units.index, source=str(spec))
    raise InputError(f"contiguity must be 'auto', an adjacency file or a table of pairs, got {type(spec).__name__}")


def territory_pieces(graph: nx.Graph, assignment: pd.Series) -> dict:
    """Territory id → list of connected pieces (sets of unit ids) of its units on ``graph``."""
    out: dict = {}
    for t, members in assignment.groupby(assignment, sort=False):
        sub = graph.subgraph(members.index)
        out[t] = [set(c) for c in nx.connected_components(sub)]
    return out


def disconnected(graph: nx.Graph, assignment: pd.Series) -> dict:
    """Territory id → number of pieces, for the territories that are not connected."""
    return {t: len(ps) for t, ps in territory_pieces(graph, assignment).items() if len(ps) > 1}


def roots(p) -> dict:
    """Territory id → root unit id (a unit that must lie in the territory), where one is known."""
    if p.chooses_centres:  # an open centre serves itself: its centre unit is the root
        ci = p.centre_index()
        return {t: p.unit_ids[c] for t, c in zip(p.territory_ids, ci, strict=True) if c >= 0}
    if p.territories is not None and "center_unit" in p.territories.columns:
        locks = p.locks()
        cu = p.territories["center_unit"]
        return {t: u for t, u in cu.items() if not pd.isna(u) and locks.get(u) == t}
    return {}


def path_weights(graph: nx.Graph, unit_ids, w: np.ndarray, sources: np.ndarray,
                 limit: float = np.inf) -> np.ndarray:
    """Lightest node-weighted paths: (len(sources), n) array of min over paths π from each source unit to each
    unit of Σ_{v∈π} w_v, both ends included (``inf`` where unreachable, or beyond ``limit``). Never overstated:
    the tiny weight that keeps units of weight 0 conducting (csgraph drops zero-weight arcs) is taken back."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    n = len(unit_ids)
    pos = {u: i for i, u in enumerate(unit_ids)}
    e = np.array([(pos[a], pos[b]) for a, b in graph.edges() if a in pos and b in pos], dtype=np.int64)
    sources = np.asarray(sources, dtype=np.int64)
    if not len(e):
        out = np.full((len(sources), n), np.inf)
        out[np.arange(len(sources)), sources] = w[sources]
        return out
    src, dst = np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]])
    eps = 1e-12 * max(float(np.max(w)), 1.0)
    g = csr_matrix((w[dst] + eps, (src, dst)), shape=(n, n))
    d = dijkstra(g, directed=True, indices=sources, limit=limit + eps * n)
    return np.atleast_2d(d) + w[sources][:, None] - eps * n


def within_reach(graph: nx.Graph, unit_ids, roots: dict[int, int], weights: dict[str, np.ndarray],
                 upper: dict[str, np.ndarray], n_cols: int) -> np.ndarray:
    """Which unit–territory pairs a connected territory within its upper limits can hold (n × J mask).

    A territory that holds its root r and unit i and is connected holds a whole path from r to i, so its size on
    a measure m ≥ 0 is at least the lightest such path, Σ w_m over the path's units (:func:`path_weights`).
    Where that exceeds the territory's upper limit U_jm (balance (1+τ)μ, capacity, max_<m>), x_ij = 0 in
    every feasible answer (the distance-based fixing of Validi, Buchanan & Lykhovyd 2022). ``roots``: column j →
    unit index of its root; columns without a root allow everything. ``weights``/``upper``: per measure, the
    units' values (n,) and each column's upper limit (J,)."""
    ok = np.ones((len(unit_ids), n_cols), dtype=bool)
    if not roots:
        return ok
    cols = np.fromiter(roots, dtype=np.int64)
    rows = np.fromiter(roots.values(), dtype=np.int64)
    for m, w in weights.items():
        u = upper[m][cols]
        if not np.isfinite(u).any():
            continue
        scale = max(float(np.max(w)), 1.0)
        lim = float(np.max(np.where(np.isfinite(u), u, 0.0)))
        path = path_weights(graph, unit_ids, w, rows, limit=lim + 1e-9 * scale)   # (roots, n)
        ok[:, cols] &= ~(path > u[:, None] * (1 + 1e-9) + 1e-9 * scale).T
    return ok


def precheck_contiguity(p, c: Contiguity) -> None:
    """Infeasibility that needs no solver: a piece of the graph that no territory can reach."""
    comps = [set(s) for s in nx.connected_components(c.graph)]
    P = p.n_territories
    if len(comps) > P:
        iso = c.isolated
        extra = f"; {len(iso)} unit(s) have no neighbour, e.g. '{iso[0]}'" if iso else ""
        raise InfeasibleError(
            f"contiguity cannot hold: the adjacency graph ({c.source}) falls in {len(comps)} separate pieces but "
            f"there are only {P} territories{extra}. Add adjacency pairs (e.g. ferry links) joining at least "
            f"{len(comps) - P} of the pieces to the others, use at least {len(comps)} territories, or drop "
            "--contiguity", family="contiguity", suggestion={"pieces_to_join": len(comps) - P})
    r = roots(p)
    if p.chooses_centres or len(r) < len(p.territory_ids):
        return
    rooted = {u: t for t, u in r.items()}
    orphans = [comp for comp in comps if not comp & rooted.keys()]
    if orphans:
        comp = orphans[0]
        some = sorted(map(str, comp))[:3]
        raise InfeasibleError(
            f"contiguity cannot hold: {len(comp)} unit(s) ({', '.join(some)}{'…' if len(comp) > 3 else ''}) "
            f"form a piece of the adjacency graph ({c.source}) with no territory centre in it, so they cannot "
            f"be connected to any territory ({len(orphans)} piece(s) like this). Add at least {len(orphans)} "
            "adjacency pair(s), one joining each such piece to a piece with a centre, or drop --contiguity",
            family="contiguity", suggestion={"pieces_to_join": len(orphans)})


def separator_cuts(p, graph: nx.Graph, assignment: pd.Series) -> list[tuple[int, int, int | None, list[int]]]:
    """Cuts violated by ``assignment``: tuples (territory index j, unit index a, reference unit index b or None
    when j's root is known, separator unit indices N(C)). See the module docstring for the inequalities."""
    r = roots(p)
    col = {t: j for j, t in enumerate(p.territory_ids)}
    pos = {u: i for i, u in enumerate(p.unit_ids)}
    allowed = p.allowed()
    # the other territories of the answer with a known root: N(C) separates C from their roots too
    rooted = [(col[t], r[t]) for t in dict.fromkeys(assignment.dropna()) if t in r and t in col]
    cuts = []
    for t, pieces in territory_pieces(graph, assignment).items():
        if len(pieces) < 2:
            continue
        root = r.get(t)
        if root is not None and any(root in s for s in pieces):
            main = next(s for s in pieces if root in s)
            b = None
        else:
            main = max(pieces, key=lambda s: (len(s), min(map(str, s))))
            b = pos[min(main, key=str)]
        for piece in pieces:
            if piece is main:
                continue
            border = set()
            for u in piece:
                border.update(graph.neighbors(u))
            border -= piece
            sep = sorted(pos[v] for v in border)
            for u in piece:
                cuts.append((col[t], pos[u], b, sep))
            # x_aj ≤ Σ_{v∈N(C)} x_vj holds for every territory j whose root lies outside C ∪ N(C), not only the
            # one that fell apart: with chosen centres this stops the piece joining any other centre across
            # the same border (as in Validi, Buchanan & Lykhovyd 2022, for every open centre)
            for j, root in rooted:
                if j == col[t] or root in piece or root in border:
                    continue
                cuts.extend((j, pos[u], None, sep) for u in piece if allowed[pos[u], j])
    return cuts


def neighbour_cuts(p, graph: nx.Graph, arcs: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> list[tuple[int, int, None, list[int]]]:
    """The cuts for single-unit pieces, added before the first solve: for every territory j with a known root
    and every other unit i allowed in j, x_ij ≤ Σ_(v ∈ N(i)) x_vj — a unit that is not the root needs a
    neighbour in its territory. They make the first rounds far closer to contiguous. ``arcs`` (unit and
    territory column of each pair in a model) limits them to that model's pairs: at national scale the allowed
    pairs number tens of millions while a candidate model holds a few per unit."""
    r = roots(p)
    if not r:
        return []
    pos = {u: i for i, u in enumerate(p.unit_ids)}
    root_of = np.full(len(p.territory_ids), -1, dtype=np.int64)   # one per column: with --k, every candidate
    for j, t in enumerate(p.territory_ids):
        if t in r:
            root_of[j] = pos[r[t]]
    if arcs is None:
        jt, iu = np.nonzero(p.allowed().T)  # territory by territory, as the cuts were always listed
    else:
        iu, jt = np.asarray(arcs[0]), np.asarray(arcs[1])
    keep = (root_of[jt] >= 0) & (iu != root_of[jt])
    # one sorted neighbour list per unit, shared by that unit's cuts in every territory
    nbrs = [sorted(pos[v] for v in graph.neighbors(u)) for u in p.unit_ids]
    return [(j, i, None, nbrs[i]) for i, j in zip(iu[keep].tolist(), jt[keep].tolist(), strict=True)]


def repair(p, graph: nx.Graph, assignment: pd.Series) -> pd.Series:
    """Make every territory connected by moving each stray piece (not holding the root / not the largest) to the
    adjacent territory it is closest to (by cost); balance may suffer, so callers re-check. Locked units stay."""
    a = assignment.copy()
    cost = p.cost()
    col = {t: j for j, t in enumerate(p.territory_ids)}
    pos = {u: i for i, u in enumerate(p.unit_ids)}
    r = roots(p)
    locked = set(p.locks().index)
    for _ in range(len(a)):
        changed = False
        for t, pieces in territory_pieces(graph, a).items():
            if len(pieces) < 2:
                continue
            root = r.get(t)
            main = next((s for s in pieces if root in s), None) if root is not None else None
            main = main or max(pieces, key=len)
            for piece in sorted((s for s in pieces if s is not main), key=len):
                if piece & locked:
                    continue
                border = {v for u in piece for v in graph.neighbors(u)} - piece
                options = {a[v] for v in border} - {t}
                if not options:
                    continue
                idx = [pos[u] for u in piece]
                best = min(options, key=lambda s: (cost[idx, col[s]].sum(), str(s)))
                if not np.isfinite(cost[idx, col[best]]).all():
                    continue
                a[list(piece)] = best
                changed = True
        if not changed:
            break
    return a
