"""Reading and validating input files: every bad-input case names file, row, column and value."""

import numpy as np
import pandas as pd
import pytest

import spmopt
from spmopt.data import read_table
from spmopt.data.datasets import northeast, northeast_counties
from spmopt.data.generate import generate
from spmopt.errors import InputError
from spmopt.geo import EARTH_RADIUS_KM, haversine_km

UNITS = """unit_id,lat,lon,potential,workload,current_territory
001,40.0,-75.0,100,10,T1
002,40.5,-75.5,80,12,T1
003,41.0,-74.0,60,8,T2
"""
TERR = "territory_id,center_unit\nT1,001\nT2,003\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def run(tmp_path, units=UNITS, terr=TERR, **kw):
    u = read_table(write(tmp_path, "units.csv", units))
    t = read_table(write(tmp_path, "territories.csv", terr))
    kw.setdefault("contiguity", False)
    return spmopt.make_problem(u, t, **kw)


def test_valid_files_keep_leading_zeros(tmp_path):
    p = run(tmp_path, balance={"potential": 0.5})
    assert list(p.unit_ids) == ["001", "002", "003"]
    assert p.units.attrs["coords"] == "latlon"


@pytest.mark.parametrize("units, kw, pattern", [
    (UNITS.replace("unit_id", "id"), {}, r"units.csv: required column 'unit_id' is missing"),
    (UNITS.replace("002,", "001,"), {}, r"units.csv, row 3, column 'unit_id': duplicate id '001' \(rows 2, 3\)"),
    (UNITS.replace(",80,", ",,"), {"balance": {"potential": 0.1}},
     r"units.csv, row 3, column 'potential': missing measure"),
    (UNITS.replace(",80,", ",-80,"), {"balance": {"potential": 0.1}},
     r"units.csv, row 3, column 'potential': measure must be >= 0, got -80"),
    (UNITS.replace(",80,", ",eighty,"), {"balance": {"potential": 0.1}},
     r"units.csv, row 3, column 'potential': 'eighty' is not a number"),
    (UNITS.replace(",T2\n", ",T9\n"), {}, r"units.csv, row 4, column 'current_territory': unknown territory id 'T9'"),
    (UNITS.replace("40.5,-75.5", ","), {}, r"units.csv, row 3, column 'lat': no coordinates and no distance row"),
    (UNITS.replace("40.5,-75.5", "95,-75.5"), {}, r"units.csv, row 3, column 'lat': lat must be within ±90"),
    (UNITS.replace("lat,lon", "lat,longitude"), {}, r"column 'lat' given without 'lon'"),
])
def test_bad_units(tmp_path, units, kw, pattern):
    with pytest.raises(InputError, match=pattern):
        run(tmp_path, units=units, **kw)


def test_bad_territories(tmp_path):
    with pytest.raises(InputError, match=r"territories.csv, row 3, column 'center_unit': center_unit '009'"):
        run(tmp_path, terr=TERR.replace("T2,003", "T2,009"))
    with pytest.raises(InputError, match=r"territories.csv, row 3, column 'territory_id': duplicate id 'T1'"):
        run(tmp_path, terr=TERR.replace("T2,003", "T1,003"))
    with pytest.raises(InputError, match=r"limit column 'max_revenue' refers to unknown measure"):
        run(tmp_path, terr="territory_id,center_unit,max_revenue\nT1,001,5\nT2,003,5\n")


def test_distance_table_errors(tmp_path):
    u = read_table(write(tmp_path, "u.csv", "unit_id,potential\na,1\nb,2\n"))
    t = read_table(write(tmp_path, "t.csv", "territory_id\nT1\n"))
    good = "unit_id,territory_id,distance\na,T1,3\nb,T1,4\n"
    spmopt.make_problem(u, t, read_table(write(tmp_path, "d.csv", good)), contiguity=False)
    cases = [
        (good.replace("b,T1,4", "c,T1,4"), r"d.csv, row 3, column 'unit_id': unknown unit id 'c'"),
        (good.replace("b,T1,4", "b,T7,4"), r"d.csv, row 3, column 'territory_id': unknown territory id 'T7'"),
        (good.replace("b,T1,4", "a,T1,4"), r"d.csv, row 3, column 'unit_id': pair \(a, T1\) appears more than once"),
        (good.replace("b,T1,4", "b,T1,-4"), r"d.csv, row 3, column 'distance': distance must be >= 0"),
        (good.replace("b,T1,4\n", ""), r"u.csv, row 3, column 'unit_id': units have no coordinates"),
    ]
    for text, pattern in cases:
        with pytest.raises(InputError, match=pattern):
            spmopt.make_problem(u, t, read_table(write(tmp_path, "d.csv", text)), contiguity=False)


def test_parquet_and_excel_read_like_csv(tmp_path):
    df = read_table(write(tmp_path, "units.csv", UNITS))
    typed = pd.read_csv(tmp_path / "units.csv", dtype={"unit_id": str})
    typed.to_parquet(tmp_path / "units.parquet")
    typed.to_excel(tmp_path / "units.xlsx", index=False)
    for name in ("units.parquet", "units.xlsx"):
        other = read_table(tmp_path / name)
        a = spmopt.make_problem(other, pd.DataFrame({"territory_id": ["T1", "T2"], "center_unit": ["001", "003"]}),
                                contiguity=False)
        b = spmopt.make_problem(df, pd.DataFrame({"territory_id": ["T1", "T2"], "center_unit": ["001", "003"]}),
                                contiguity=False)
        pd.testing.assert_frame_equal(a.units, b.units)
        np.testing.assert_array_equal(a.distance, b.distance)


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="unsupported file type"):
        read_table(write(tmp_path, "units.json", "{}"))
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_haversine_closed_forms():
    # a quarter of a meridian is π R / 2; one degree of longitude on the equator is 2πR/360
    assert haversine_km(0, 0, 90, 0) == pytest.approx(np.pi * EARTH_RADIUS_KM / 2, rel=1e-12)
    assert haversine_km(0, 0, 0, 1) == pytest.approx(2 * np.pi * EARTH_RADIUS_KM / 360, rel=1e-12)


def test_generator_is_seeded_and_consistent():
    a, b = generate(300, 6, seed=3), generate(300, 6, seed=3)
    pd.testing.assert_frame_equal(a.units, b.units)
    assert not a.units.equals(generate(300, 6, seed=4).units)
    assert len(a.units) == 300 and len(a.territories) == 6
    assert a.units["unit_id"].is_unique and set(a.units["current_territory"]) == set(a.territories["territory_id"])
    # current alignment = nearest centre
    xy = a.units.set_index("unit_id")[["x", "y"]]
    cxy = xy.loc[a.territories["center_unit"]].to_numpy()
    near = np.argmin(((xy.to_numpy()[:, None, :] - cxy[None]) ** 2).sum(2), axis=1)
    assert (a.territories["territory_id"].to_numpy()[near] == a.units["current_territory"].to_numpy()).all()
    # adjacency references known units and the Delaunay graph with long edges dropped stays connected
    import networkx as nx

    g = nx.Graph(list(a.adjacency.itertuples(index=False)))
    assert set(g.nodes) <= set(a.units["unit_id"])
    assert nx.is_connected(g) and g.number_of_nodes() == 300


def test_generated_files_validate(tmp_path):
    paths = generate(50, 3, seed=1).write(tmp_path)
    p = spmopt.make_problem(read_table(paths["units"]), read_table(paths["territories"]),
                            balance={"potential": 0.2}, contiguity=False)
    assert p.n_units == 50 and p.n_territories == 3


def test_shipped_census_data():
    c = northeast_counties()
    assert len(c) == 217
    assert c["population"].sum() == 55_317_240  # 2010 Census, nine North-East states
    assert c.set_index("geoid").loc["42101", "population"] == 1_526_006  # Philadelphia
    inst = northeast()
    assert inst.units["unit_id"].str.len().eq(5).all()
    assert inst.units["current_territory"].nunique() == len(inst.territories)


def test_committed_scenario_copy_matches_generator(tmp_path):
    """scenarios/northeast/*.csv and geometry.geojson are what `northeast()` writes (so the two cannot drift
    apart)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent.parent / "scenarios" / "northeast"
    paths = northeast().write(tmp_path)
    assert set(paths) == {"units", "territories", "adjacency", "geometry"}
    for name, p in paths.items():
        assert Path(p).read_text() == (here / Path(p).name).read_text(), name


def test_row_map_is_shared_not_copied_and_centres_take_their_units_coordinates():
    """pandas deep-copies ``attrs`` on every column access; the row map (id → spreadsheet row) must be shared,
    or each access costs O(units) (52 s of make_problem on 50,000 × 500). Territory centres given as
    center_unit take that unit's coordinates."""
    import copy

    from spmopt.data.validate import validate_territories, validate_units

    g = generate(300, 7, seed=3)
    u = validate_units(g.units, measures=["potential"])
    rows = u.attrs["rows"]
    assert copy.deepcopy(u.attrs)["rows"] is rows and u["potential"].attrs["rows"] is rows
    assert rows[u.index[4]] == 6  # header is row 1, the fifth record row 6
    t = validate_territories(g.territories, u)
    cu = g.territories.set_index("territory_id")["center_unit"]
    xy = g.units.set_index("unit_id").loc[cu.to_numpy(), ["x", "y"]].to_numpy()
    assert np.array_equal(t[["x", "y"]].to_numpy(), xy)
