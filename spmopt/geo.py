"""Distances between units and territory centres, and adjacency graphs.

``lat,lon`` coordinates give great-circle (haversine) distances in kilometres on a sphere of radius
6,371.0088 km (the IUGG mean Earth radius); ``x,y`` coordinates give Euclidean distances in the file's unit.
"""

from __future__ import annotations

import numpy as np

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
