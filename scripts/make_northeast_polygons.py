"""Build ``spmopt/data/datasets/us_northeast_counties.geojson`` from the Census 2010 cartographic boundary file.

The source is ``gz_2010_us_050_00_500k.shp`` (U.S. Census Bureau, 2010 cartographic boundary file of the counties
at 1:500,000; public domain) as shipped in the ``plotly-geo`` 1.0.0 wheel on PyPI. Run it once by hand (it needs
geopandas, pyogrio and shapely >= 2.2)::

    pip download --no-deps plotly-geo==1.0.0 -d /tmp/pg && unzip -q /tmp/pg/plotly_geo-1.0.0-py3-none-any.whl -d /tmp/pg
    python scripts/make_northeast_polygons.py /tmp/pg/_plotly_geo/package_data/gz_2010_us_050_00_500k.shp

Steps (see ``datasets/SOURCES.md``): keep the 217 counties of the nine North-East states; clean the coverage
(``shapely.coverage_clean``: the state borders of the generalised file do not share vertices, so neighbours
across a state line overlap or leave slivers); simplify it as a coverage (``shapely.coverage_simplify``, so each
shared border is simplified once and neighbours still meet exactly); snap the vertices to a 0.0001° grid
(``shapely.set_precision``) and write GeoJSON. It prints the checks the SOURCES file quotes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

STATES = {"09": "CT", "23": "ME", "25": "MA", "33": "NH", "34": "NJ", "36": "NY", "42": "PA", "44": "RI", "50": "VT"}
SIMPLIFY = 0.01     # degrees: coverage_simplify's tolerance
GRID = 1e-4         # degrees: the vertices' precision (about 11 m)
HERE = Path(__file__).resolve().parent.parent / "spmopt" / "data" / "datasets"


def pairs(ids: np.ndarray, geoms: np.ndarray, rule: str) -> set[tuple[str, str]]:
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if rule == "rook":
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[j]))) > 0
        i, j = i[shared], j[shared]
    return {(min(a, b), max(a, b)) for a, b in zip(ids[i], ids[j], strict=True)}


def main(shp: str) -> None:
    import geopandas as gpd

    g = gpd.read_file(shp, engine="pyogrio")
    ne = g[g["STATE"].isin(list(STATES))].copy()
    ne["unit_id"] = ne["STATE"] + ne["COUNTY"]
    ne = ne.sort_values("unit_id").reset_index(drop=True)
    counties = pd.read_csv(HERE / "us_northeast_counties.csv", dtype={"geoid": str})
    ids = ne["unit_id"].to_numpy()
    assert len(ne) == 217 and set(ids) == set(counties["geoid"]), "the county ids differ from the gazetteer's"
    raw = np.asarray(ne.geometry.values)
    print(f"source: {len(raw)} counties, {shapely.get_num_coordinates(raw).sum():,} vertices, coverage valid: "
          f"{shapely.coverage_is_valid(raw)}, polygons valid: {bool(shapely.is_valid(raw).all())}")
    clean = shapely.coverage_clean(raw)
    simple = shapely.set_precision(shapely.coverage_simplify(clean, SIMPLIFY), GRID)
    assert shapely.coverage_is_valid(simple) and shapely.is_valid(simple).all() and not shapely.is_empty(simple).any()
    move = max(shapely.hausdorff_distance(a, b) for a, b in zip(raw, simple, strict=True))
    print(f"shipped: {shapely.get_num_coordinates(simple).sum():,} vertices, largest Hausdorff distance to the "
          f"source {move:.4f}°")
    census = pd.read_csv(HERE / "us_northeast_adjacency.csv", dtype=str)
    c = set(zip(census["unit_a"], census["unit_b"], strict=True))
    for rule in ("queen", "rook"):
        before, after = pairs(ids, raw, rule), pairs(ids, simple, rule)
        print(f"{rule}: source {len(before)} pairs, shipped {len(after)} (differ: {len(before ^ after)}); Census "
              f"county adjacency {len(c)}: {len(after & c)} in both, {len(after - c)} only from the polygons, "
              f"{len(c - after)} only in the Census file")
    feats = [{"type": "Feature", "properties": {"unit_id": u, "state": STATES[u[:2]]},
              "geometry": json.loads(shapely.to_geojson(x))} for u, x in zip(ids, simple, strict=True)]
    text = json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":"))
    out = HERE / "us_northeast_counties.geojson"
    out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
