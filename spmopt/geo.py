"""Distances between units and territory centres, and adjacency graphs.

``lat,lon`` coordinates give great-circle (haversine) distances in kilometres on a sphere of radius
6,371.0088 km (the IUGG mean Earth radius); ``x,y`` coordinates give Euclidean distances in the file's unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km; arguments broadcast (degrees)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix(a: np.ndarray, b: np.ndarray, system: str) -> np.ndarray:
    """Distances between the rows of ``a`` (n×2) and ``b`` (m×2): an n×m array.

    ``system`` is ``'latlon'`` (columns lat, lon; haversine km) or ``'xy'`` (Euclidean).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if system == "latlon":
        return haversine_km(a[:, 0:1], a[:, 1:2], b[None, :, 0], b[None, :, 1])
    if system == "xy":
        diff = a[:, None, :] - b[None, :, :]
        return np.sqrt((diff**2).sum(axis=2))
    raise ValueError(f"unknown coordinate system '{system}' (use 'latlon' or 'xy')")


def delaunay_edges(points: np.ndarray, system: str, *, max_factor: float = 3.0) -> np.ndarray:
    """Neighbour pairs from a Delaunay triangulation of the points, dropping over-long edges (they cross water or
    empty land, or are slivers along the hull) unless they belong to a minimum spanning tree, so the graph stays
    connected. Returns a k×2 index array (i < j).

    "Over-long" is measured against *local* spacing: an edge is dropped when it is longer than ``max_factor`` ×
    the median length of the edges at *each* of its ends. The Delaunay edges are exactly the adjacencies of the
    points' Voronoi cells, which is how areal units (ZIP codes, bricks) tile the land; a global yardstick would cut
    every sparse rural unit off its neighbours in clustered geography and leave the metros joined by single
    bridges, which no real map has."""
    from scipy.spatial import Delaunay, QhullError

    pts = np.asarray(points, dtype=float)
    if system == "latlon":  # equirectangular projection is adequate for neighbour finding
        lat0 = np.radians(np.nanmean(pts[:, 0]))
        pts = np.column_stack([pts[:, 1] * np.cos(lat0), pts[:, 0]])
    try:
        tri = Delaunay(pts)
    except QhullError:  # all points on one line (or fewer than 3 distinct): join them along that line
        centred = pts - pts.mean(axis=0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        order = np.argsort(centred @ axis, kind="stable")
        return np.sort(np.column_stack([order[:-1], order[1:]]), axis=1)
    s = tri.simplices
    e = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    if len(tri.coplanar):  # repeated points are left out of the triangulation: join each to its twin
        e = np.vstack([e, tri.coplanar[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    length = np.linalg.norm(pts[e[:, 0]] - pts[e[:, 1]], axis=1)
    ends = np.concatenate([e[:, 0], e[:, 1]])
    lens = np.concatenate([length, length])
    order = np.lexsort((lens, ends))
    ends, lens = ends[order], lens[order]
    start = np.searchsorted(ends, np.arange(len(pts)))
    count = np.bincount(ends, minlength=len(pts))
    local = np.where(count > 0, lens[np.minimum(start + count // 2, len(lens) - 1)], np.inf)  # median per point
    keep = length <= max_factor * np.maximum(local[e[:, 0]], local[e[:, 1]])
    # never disconnect the graph: edges of a minimum spanning tree of the triangulation are always kept
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    g = coo_matrix((length + 1e-12, (e[:, 0], e[:, 1])), shape=(len(pts), len(pts)))
    mst = minimum_spanning_tree(g).tocoo()
    tree = {(min(a, b), max(a, b)) for a, b in zip(mst.row, mst.col, strict=True)}
    keep |= np.array([(a, b) in tree for a, b in e])
    return e[keep]


#: the rules for neighbours from shared borders: rook needs a border of positive length, queen any common point
ADJACENCY_RULES = ("queen", "rook")


def planar(geoms: np.ndarray, system: str, lat0: float | None = None) -> np.ndarray:
    """Polygons in a plane where lengths are metres: lon/lat degrees (``system='latlon'``) are projected
    equirectangularly about ``lat0`` (default: the middle of their extent), x = R·λ·cos φ0, y = R·φ; ``'xy'``
    polygons are returned as they are (lengths in their own unit)."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    if system != "latlon":
        return geoms
    if lat0 is None:
        b = shapely.total_bounds(geoms)
        lat0 = (b[1] + b[3]) / 2
    k = np.radians(1.0) * EARTH_RADIUS_KM * 1000.0
    scale = np.array([k * np.cos(np.radians(lat0)), k])
    return shapely.transform(geoms, lambda xy: xy * scale)


def adjacency_from_polygons(polys, *, rule: str = "queen", tolerance: float = 0.0,
                            system: str = "latlon") -> pd.DataFrame:
    """Neighbour pairs from shared borders: a table ``unit_a,unit_b`` (one row per unordered pair, ``unit_a <
    unit_b`` as text, sorted), the form adjacency files have.

    ``polys`` is a Series of shapely polygons indexed by unit id (a GeoSeries will do). ``rule='queen'``: two
    units are neighbours when their polygons share at least one point; ``'rook'``: when they share a stretch of
    border of positive length (a corner alone does not count). ``tolerance`` (metres for lon/lat polygons, see
    :func:`planar`; else the polygons' unit) closes slivers and gaps of simplified data: queen then joins
    polygons less than ``tolerance`` apart, and rook needs more than 3 × ``tolerance`` of each polygon's border
    within ``tolerance`` of the other (a corner contact at right angles measures 2 × ``tolerance``). A rounding
    allowance of 1e-9 × the map's extent is always added, so borders that differ in the last bits of their
    coordinates (a file written in binary from computed vertices) still count as shared.
    Candidate pairs come from an STRtree; the tests are shapely's (GEOS)."""
    import shapely

    if rule not in ADJACENCY_RULES:
        raise ValueError(f"adjacency rule must be 'queen' or 'rook', got {rule!r}")
    ids = np.asarray(polys.index.astype(str), dtype=object)
    g = planar(np.asarray(polys.to_numpy(), dtype=object), system)
    tree = shapely.STRtree(g)
    b = shapely.total_bounds(g)
    tolerance = float(tolerance) + 1e-9 * float(max(b[2] - b[0], b[3] - b[1], 0.0))
    i, j = tree.query(g, predicate="dwithin", distance=tolerance)
    keep = i < j
    i, j = i[keep], j[keep]
    if rule == "rook" and len(i):
        near = shapely.buffer(g, tolerance, quad_segs=2)
        edge = shapely.boundary(g)
        ab = shapely.length(shapely.intersection(edge[i], near[j]))
        ba = shapely.length(shapely.intersection(edge[j], near[i]))
        shared = np.minimum(ab, ba) > 3.0 * tolerance
        i, j = i[shared], j[shared]
    a, b = ids[i], ids[j]
    lo = np.where(a < b, a, b)
    hi = np.where(a < b, b, a)
    out = pd.DataFrame({"unit_a": lo, "unit_b": hi}, dtype=object)
    return out.sort_values(["unit_a", "unit_b"], kind="stable").reset_index(drop=True)


def nearest_links(polys, pairs: pd.DataFrame, *, system: str = "latlon") -> pd.DataFrame:
    """The shortest links that join the pieces of a neighbour graph into one (Borůvka's rule on the pieces:
    each piece is joined to its nearest polygon outside it, until one piece is left). Islands — units with no
    neighbour, or groups that touch only each other, such as an island county with its own islets — are linked
    to the nearest unit across the water, as a ferry would. Returns ``unit_a,unit_b,distance`` (km for lon/lat
    polygons, else the polygons' unit), empty when the graph is connected already."""
    import networkx as nx
    import shapely

    ids = [str(u) for u in polys.index]
    g = planar(np.asarray(polys.to_numpy(), dtype=object), system)
    scale = 1000.0 if system == "latlon" else 1.0
    graph = nx.Graph()
    graph.add_nodes_from(range(len(ids)))
    pos = {u: k for k, u in enumerate(ids)}
    graph.add_edges_from((pos[a], pos[b]) for a, b in zip(pairs["unit_a"], pairs["unit_b"], strict=True))
    links: list[tuple[str, str, float]] = []
    while True:
        pieces = [sorted(c) for c in nx.connected_components(graph)]
        if len(pieces) < 2:
            break
        found = {}
        for piece in pieces:
            inside = np.zeros(len(ids), dtype=bool)
            inside[piece] = True
            others = np.flatnonzero(~inside)
            tree = shapely.STRtree(g[others])
            src, dst = tree.query_nearest(g[piece], return_distance=False, all_matches=False)
            d = shapely.distance(g[np.asarray(piece)[src]], g[others[dst]])
            k = int(np.lexsort((others[dst], np.asarray(piece)[src], d))[0])
            a, b = int(piece[src[k]]), int(others[dst[k]])
            found[(min(a, b), max(a, b))] = float(d[k])
        for (a, b), d in sorted(found.items(), key=lambda kv: (kv[1], kv[0])):
            if not nx.has_path(graph, a, b):
                graph.add_edge(a, b)
                links.append((min(ids[a], ids[b]), max(ids[a], ids[b]), d / scale))
    return pd.DataFrame(links, columns=["unit_a", "unit_b", "distance"])
