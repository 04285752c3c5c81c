"""Seeded synthetic alignment instances of any size.

Geography is clustered: most units sit in "metro" clusters (Gaussian blobs whose sizes follow a Zipf law) and
the rest are spread uniformly as rural background, on an ``extent_km`` square (``x,y`` in km). Potential is
heavy-tailed (lognormal, σ = 1), higher in metros; accounts ≈ 1 + Poisson(potential / mean × 2); workload is
accounts × hours per account (gamma). Territory centres are chosen by k-means on the potential-weighted
points and snapped to the nearest unit; the *current* alignment assigns each unit to its nearest centre, which
is compact but unbalanced, as inherited alignments are. Adjacency is the Delaunay graph with over-long edges
dropped.

Every draw comes from ``numpy.random.default_rng(seed)``: the same arguments give the same files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spmopt.geo import delaunay_edges, distance_matrix


@dataclass(frozen=True)
class Instance:
    """Generated tables: ``units`` (unit_id, x|lat, y|lon, measures, current_territory), ``territories``
    (territory_id, center_unit, coordinates) and ``adjacency`` (unit_a, unit_b); ``geometry`` the units' polygons
    when the case has them (a :class:`spmopt.data.geometry.UnitShapes`; the shipped North-East counties)."""

    units: pd.DataFrame
    territories: pd.DataFrame
    adjacency: pd.DataFrame
    geometry: object = None

    def write(self, out_dir) -> dict[str, str]:
        from pathlib import Path

        from spmopt.data.io import write_csv_atomic

        out = Path(out_dir)
        paths = {name: str(write_csv_atomic(getattr(self, name), out / f"{name}.csv"))
                 for name in ("units", "territories", "adjacency")}
        if self.geometry is not None:
            from spmopt.data.geometry import write_geojson

            paths["geometry"] = str(write_geojson(self.geometry, out / "geometry.geojson"))
        return paths


def _ids(prefix: str, n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


def choose_centres(points: np.ndarray, weights: np.ndarray, n: int, rng: np.random.Generator,
                   system: str = "xy") -> np.ndarray:
    """Indices of ``n`` distinct points near the weighted k-means centres (Lloyd iterations from a
    k-means++ start)."""
    pts = np.asarray(points, dtype=float)
    w = np.asarray(weights, dtype=float) + 1e-12
    first = rng.choice(len(pts), p=w / w.sum())
    centres = [pts[first]]
    d2 = ((pts - pts[first]) ** 2).sum(axis=1)
    for _ in range(1, n):
        prob = w * d2
        nxt = rng.choice(len(pts), p=prob / prob.sum()) if prob.sum() > 0 else rng.integers(len(pts))
        centres.append(pts[nxt])
        d2 = np.minimum(d2, ((pts - pts[nxt]) ** 2).sum(axis=1))
    c = np.array(centres)
    for _ in range(25):
        lab = np.argmin(((pts[:, None, :] - c[None, :, :]) ** 2).sum(axis=2), axis=1) if len(pts) * n < 4e7 \
            else _nearest_chunked(pts, c)
        for k in range(n):
            sel = lab == k
            if sel.any():
                c[k] = np.average(pts[sel], axis=0, weights=w[sel])
    chosen: list[int] = []
    taken = np.zeros(len(pts), dtype=bool)
    for k in range(n):
        d = ((pts - c[k]) ** 2).sum(axis=1)
        d[taken] = np.inf
        i = int(np.argmin(d))
        chosen.append(i)
        taken[i] = True
    return np.array(chosen)


def _nearest_chunked(pts: np.ndarray, c: np.ndarray, chunk: int = 20000) -> np.ndarray:
    out = np.empty(len(pts), dtype=int)
    for s in range(0, len(pts), chunk):
        out[s:s + chunk] = np.argmin(((pts[s:s + chunk, None, :] - c[None, :, :]) ** 2).sum(axis=2), axis=1)
    return out


def generate(n_units: int, n_territories: int, seed: int = 0, *, extent_km: float = 1000.0,
             rural_share: float = 0.2) -> Instance:
    """A clustered instance with ``n_units`` units and ``n_territories`` territories (see module doc)."""
    if n_units < 2 or n_territories < 1 or n_territories > n_units:
        raise ValueError(f"need 1 <= territories <= units and units >= 2 (got {n_units} units, "
                         f"{n_territories} territories)")
    rng = np.random.default_rng(seed)
    n_clusters = max(2, int(round(np.sqrt(n_units) / 2)))
    sizes = 1.0 / np.arange(1, n_clusters + 1)  # Zipf
    n_rural = int(round(rural_share * n_units))
    counts = rng.multinomial(n_units - n_rural, sizes / sizes.sum())
    centres = rng.uniform(0.08 * extent_km, 0.92 * extent_km, size=(n_clusters, 2))
    spread = extent_km * 0.02 * np.sqrt(counts / max(counts.max(), 1)) * rng.lognormal(0, 0.25, n_clusters) + 5
    xy = [rng.normal(centres[c], spread[c], size=(counts[c], 2)) for c in range(n_clusters)]
    xy.append(rng.uniform(0, extent_km, size=(n_rural, 2)))
    pts = np.clip(np.vstack(xy), 0, extent_km)
    urban = np.r_[np.ones(n_units - n_rural), np.zeros(n_rural)]
    perm = rng.permutation(n_units)
    pts, urban = pts[perm], urban[perm]
    potential = rng.lognormal(mean=np.log(100.0) + 0.5 * urban, sigma=1.0)
    accounts = 1 + rng.poisson(2.0 * potential / potential.mean())
    workload = accounts * rng.gamma(shape=4.0, scale=6.0, size=n_units)  # hours per year
    uid = _ids("U", n_units)
    centre_idx = choose_centres(pts, potential, n_territories, rng)
    tid = _ids("T", n_territories)
    d = distance_matrix(pts, pts[centre_idx], "xy") if n_units * n_territories <= 5e7 else None
    nearest = np.argmin(d, axis=1) if d is not None else _nearest_chunked(pts, pts[centre_idx])
    units = pd.DataFrame({
        "unit_id": uid, "x": pts[:, 0].round(3), "y": pts[:, 1].round(3),
        "potential": potential.round(2), "accounts": accounts, "workload": workload.round(1),
        "current_territory": np.asarray(tid, dtype=object)[nearest],
    })
    territories = pd.DataFrame({"territory_id": tid, "center_unit": np.asarray(uid, dtype=object)[centre_idx]})
    e = delaunay_edges(pts, "xy")
    ids = np.asarray(uid, dtype=object)
    adjacency = pd.DataFrame({"unit_a": ids[e[:, 0]], "unit_b": ids[e[:, 1]]})
    return Instance(units=units, territories=territories, adjacency=adjacency)
