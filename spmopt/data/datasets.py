"""Shipped datasets.

``northeast``: the 217 counties of the nine U.S. North-East states (CT, ME, MA, NH, NJ, NY, PA, RI, VT) from
the 2010 Census Gazetteer (public domain; see ``datasets/SOURCES.md``), turned into a sales-alignment case by
a seeded generator:

* ``potential`` (k$ a year) = population × 12 $ per head × lognormal(0, 0.2) market noise / 1000;
* ``accounts`` = 1 + Poisson(population / 20,000);
* ``workload`` (hours a year) = accounts × 18 h × lognormal(0, 0.15) + 0.02 h × land area (sq mi) for travel;
* territories: ``n_territories`` rep bases at the counties nearest to population-weighted k-means centres;
  the current alignment sends each county to its nearest base — compact, but (as inherited alignments are)
  unbalanced.

The county adjacency (Census ``county_adjacency.txt``) is shipped for contiguity, and the county polygons
(Census 2010 cartographic boundaries at 1:500,000, simplified) for maps and adjacency from shared borders:
``northeast().geometry``.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from spmopt.data.generate import Instance, choose_centres
from spmopt.data.geometry import UnitShapes, northeast_shapes
from spmopt.geo import distance_matrix

DEMO_SEED = 2010
DEMO_TERRITORIES = 10

#: The alignment request of the demo scenario's align stage (``scenarios/demo.yaml``, what ``make demo`` runs),
#: which ``spmopt demo`` solves too; its contiguity is the shipped county adjacency (``northeast().adjacency``).
#: tests/test_runs_cli.py keeps the two in step.
DEMO_ALIGN = {
    "balance": {"potential": 0.05, "workload": 0.15},
    "max_disruption": {"potential": 0.50},
    "split": ["36005", "36047", "36061", "36081", "36085"],   # New York City's five counties, shared
    "work": 12.0,
    "time_limit": 60.0,
    "mip_gap": 0.005,
}


def _read(name: str) -> pd.DataFrame:
    with resources.files("spmopt.data").joinpath("datasets", name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype={"geoid": str, "unit_a": str, "unit_b": str})


def northeast_counties() -> pd.DataFrame:
    """The raw Census rows: ``geoid,state,county,population,housing_units,land_sqmi,lat,lon``."""
    return _read("us_northeast_counties.csv")


def northeast_polygons() -> UnitShapes:
    """The 217 county polygons (lon/lat, EPSG:4326), by 5-digit FIPS, each with its state as group."""
    return northeast_shapes()


def northeast(n_territories: int = DEMO_TERRITORIES, seed: int = DEMO_SEED) -> Instance:
    """The North-East demo case (see module doc) as units / territories / adjacency tables and the counties'
    polygons (``geometry``)."""
    c = northeast_counties()
    rng = np.random.default_rng(seed)
    pop = c["population"].to_numpy(dtype=float)
    potential = pop * 12.0 * rng.lognormal(0.0, 0.2, len(c)) / 1000.0
    accounts = 1 + rng.poisson(pop / 20000.0)
    workload = accounts * 18.0 * rng.lognormal(0.0, 0.15, len(c)) + 0.02 * c["land_sqmi"].to_numpy()
    pts = c[["lat", "lon"]].to_numpy(dtype=float)
    lat0 = np.radians(pts[:, 0].mean())
    plane = np.column_stack([pts[:, 1] * np.cos(lat0), pts[:, 0]])
    base = choose_centres(plane, pop, n_territories, rng)
    tid = [f"T{k + 1:02d}" for k in range(n_territories)]
    nearest = np.argmin(distance_matrix(pts, pts[base], "latlon"), axis=1)
    units = pd.DataFrame({
        "unit_id": c["geoid"], "name": c["county"] + ", " + c["state"], "state": c["state"],
        "lat": c["lat"], "lon": c["lon"], "population": c["population"],
        "potential": potential.round(1), "accounts": accounts, "workload": workload.round(1),
        "current_territory": np.asarray(tid, dtype=object)[nearest],
    })
    names = (c["county"].str.replace(" County", "", regex=False) + ", " + c["state"]).to_numpy()
    territories = pd.DataFrame({"territory_id": tid, "center_unit": c["geoid"].to_numpy()[base],
                                "base": names[base]})
    adjacency = _read("us_northeast_adjacency.csv")
    return Instance(units=units, territories=territories, adjacency=adjacency, geometry=northeast_polygons())
