"""Unit polygons: read, check and match to the units.

A geometry file gives each unit its shape: GeoPackage (``.gpkg``), GeoJSON (``.geojson``/``.json``), shapefile
(``.shp``) or GeoParquet (``.parquet``), one feature per unit with an id column (default ``unit_id``) holding the
units file's ids. Files are read by geopandas (engine pyogrio; ``geopandas.read_parquet`` for GeoParquet), a
dependency of spmopt (an install without it is told ``pip install 'spmopt[geo]'``).

Checks, each an :class:`~spmopt.errors.InputError` naming the file, the feature (``row``: features are counted
from 1, as a GIS attribute table shows them) and the column: the id column exists; no id is missing or given
twice; every geometry is present, non-empty, a Polygon or MultiPolygon, and valid (the reason is GEOS's); every
unit of the units file has a polygon (features of other units are ignored and counted).

Coordinates: polygons are turned to lon/lat degrees (EPSG:4326) when the units use ``lat,lon`` or have no
coordinates; a file without a CRS is read as lon/lat when its coordinates fit, else it is refused. With ``x,y``
units the polygons must be in the units' own plane and are used as they are. Units without coordinates get
their polygon's representative point (a point inside it, ``shapely.point_on_surface``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spmopt.errors import InputError

GEO_EXTRA = "pip install 'spmopt[geo]'"
GEOMETRY_SUFFIXES = {".gpkg": "GeoPackage", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "shapefile",
                     ".parquet": "GeoParquet", ".pq": "GeoParquet", ".geoparquet": "GeoParquet"}
POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, eq=False)
class UnitShapes:
    """The units' polygons: ``shapes`` is a Series of shapely (Multi)Polygons indexed by unit id (text), in
    lon/lat degrees (EPSG:4326) when ``system == 'latlon'``, else in the units' ``x,y`` plane; ``groups`` an
    optional unit id → group Series (a ``state`` column of the file) for outlines on maps; ``ignored`` the number
    of features whose id is not a unit; ``note`` how the coordinates were read (CRS)."""

    shapes: pd.Series
    source: str
    system: str = "latlon"
    groups: pd.Series | None = None
    ignored: int = 0
    note: str = ""

    def __len__(self) -> int:
        return len(self.shapes)

    def points(self) -> pd.DataFrame:
        """A point inside each polygon (``shapely.point_on_surface``): columns ``lat,lon`` or ``x,y``."""
        import shapely

        pts = shapely.get_coordinates(shapely.point_on_surface(np.asarray(self.shapes.to_numpy(), dtype=object)))
        cols = ["lon", "lat"] if self.system == "latlon" else ["x", "y"]
        return pd.DataFrame(pts, index=self.shapes.index, columns=cols)

    def describe(self) -> dict:
        return {"geometry": self.source, "polygons": len(self.shapes), "system": self.system,
                "ignored_features": self.ignored, "crs": self.note}


def _geopandas(what: str):
    try:
        import geopandas
    except ImportError:
        raise InputError(f"{what} needs geopandas, an optional dependency: {GEO_EXTRA}") from None
    return geopandas


def read_geometry(path: str | os.PathLike, *, id_column: str = "unit_id", layer: str | int | None = None):
    """Read a geometry file into a GeoDataFrame (with geopandas; see the module doc for the formats), with
    ``attrs['source']`` the file name. Reading failures are input errors naming the file. ``layer`` picks a
    layer of a multi-layer GeoPackage (default: its only layer, or the first)."""
    from spmopt.data.io import existing_file

    p = existing_file(path)
    kind = GEOMETRY_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise InputError(f"unsupported geometry file type '{p.suffix}' (use .gpkg, .geojson, .shp or a GeoParquet "
                         ".parquet)", source=str(p))
    gpd = _geopandas(f"reading polygons ({kind})")
    try:
        if kind == "GeoParquet":
            frame = gpd.read_parquet(p)
        else:
            frame = gpd.read_file(p, engine="pyogrio", **({} if layer is None else {"layer": layer}))
    except Exception as exc:  # noqa: BLE001 — every reading failure is the file's problem: name it, no traceback
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if kind == "GeoParquet" and "geo" in reason.lower() and "metadata" in reason.lower():
            reason = "no GeoParquet geometry metadata (write it with GeoDataFrame.to_parquet)"
        raise InputError(f"cannot read {kind} file: {reason}", source=str(p)) from None
    frame.attrs["source"] = str(p)
    return frame


def check_shapes(frame, *, id_column: str = "unit_id", source: str | None = None) -> tuple[pd.Series, object]:
    """Check a GeoDataFrame of unit polygons (see the module doc): returns the polygons as a Series indexed by
    unit id (text) and the frame's CRS (None when it has none). Errors name the feature (from 1) and column."""
    import shapely

    src = source or str(frame.attrs.get("source") or "<geometry>")
    if id_column not in frame.columns:
        raise InputError(f"no id column '{id_column}' (columns: {', '.join(map(str, frame.columns))}); name the "
                         "column that holds the units' ids (--geometry-id, align.geometry_id)", source=src,
                         column=id_column)
    geom_col = frame.geometry.name
    ids = []
    for k, v in enumerate(frame[id_column].tolist(), start=1):
        if v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip()):
            raise InputError("missing unit id", source=src, row=k, column=id_column)
        ids.append(str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip())
    s = pd.Series(ids, dtype=object)
    dup = s.duplicated(keep=False)
    if dup.any():
        first = s[dup].iloc[0]
        where = [k + 1 for k in np.flatnonzero((s == first).to_numpy())]
        raise InputError(f"duplicate id '{first}' (features {', '.join(map(str, where))}): one polygon per unit "
                         "(join a unit's parts into one MultiPolygon)", source=src, row=where[1], column=id_column,
                         value=first)
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    for k, g in enumerate(geoms, start=1):
        if g is None:
            raise InputError(f"unit '{ids[k - 1]}' has no geometry", source=src, row=k, column=geom_col)
        if g.is_empty:
            raise InputError(f"unit '{ids[k - 1]}' has an empty geometry", source=src, row=k, column=geom_col)
        if g.geom_type not in POLYGONAL:
            raise InputError(f"unit '{ids[k - 1]}' is a {g.geom_type}, not a polygon: unit shapes must be Polygon or "
                             "MultiPolygon (points belong in the units file as lat,lon)", source=src, row=k,
                             column=geom_col, value=g.geom_type)
    valid = shapely.is_valid(geoms)
    if not valid.all():
        k = int(np.flatnonzero(~valid)[0])
        raise InputError(f"unit '{ids[k]}' has an invalid polygon ({shapely.is_valid_reason(geoms[k])}); repair it "
                         f"(shapely.make_valid, or 'Fix geometries' in QGIS) ({int((~valid).sum())} invalid "
                         "feature(s))", source=src, row=k + 1, column=geom_col)
    return pd.Series(geoms, index=pd.Index(ids, dtype=object), dtype=object), frame.crs


def _fits_degrees(geoms: np.ndarray) -> bool:
    import shapely

    b = shapely.total_bounds(geoms)
    return bool(np.all(np.isfinite(b)) and -180.0 <= b[0] <= b[2] <= 180.0 and -90.0 <= b[1] <= b[3] <= 90.0)


def _to_system(shapes: pd.Series, crs, system: str, src: str) -> tuple[pd.Series, str]:
    """The polygons in the units' system: reprojected to EPSG:4326 for lon/lat, as they are for x,y."""
    import shapely

    geoms = np.asarray(shapes.to_numpy(), dtype=object)
    if crs is not None and crs.is_geographic and not _fits_degrees(geoms):
        # GeoJSON is always read as EPSG:4326 (RFC 7946), whatever its numbers are: planar coordinates in a
        # GeoJSON file are a plane with no CRS, never degrees
        if system == "xy":
            return shapes, f"{crs.name} declared, but the coordinates are not degrees: used as they are (x,y)"
        raise InputError(f"the file says {crs.name} (degrees) but its coordinates are not lon/lat degrees (bounds "
                         f"{', '.join(f'{v:,.6g}' for v in shapely.total_bounds(geoms))}); give the units x,y "
                         "columns in the same plane, or polygons in lon/lat", source=src)
    if system == "xy":
        if crs is not None and crs.is_geographic:
            raise InputError(f"the units use x,y but the polygons are in degrees ({crs.name}); give polygons in "
                             "the units' own plane, or units with lat,lon", source=src)
        return shapes, "used as they are (x,y plane)" if crs is None else f"{crs.name}, used as they are (x,y)"
    if crs is None:
        if not _fits_degrees(geoms):
            raise InputError("the file has no CRS and its coordinates are not lon/lat degrees; set its CRS (e.g. "
                             "GeoDataFrame.set_crs or ogr2ogr -a_srs)", source=src)
        return shapes, "no CRS: read as lon/lat degrees (EPSG:4326)"
    if crs.to_epsg() == 4326:
        return shapes, "EPSG:4326"
    gpd = _geopandas("reprojecting polygons")
    moved = gpd.GeoSeries(geoms, crs=crs).to_crs(4326)
    return pd.Series(np.asarray(moved.to_numpy(), dtype=object), index=shapes.index, dtype=object), \
        f"{crs.name}, reprojected to EPSG:4326"


def unit_shapes(spec, units: pd.DataFrame, *, id_column: str = "unit_id") -> UnitShapes:
    """Match polygons to validated ``units`` (see :func:`spmopt.data.validate_units`): ``spec`` is a geometry
    file path, a GeoDataFrame (ids in ``id_column``), a Series of shapely polygons indexed by unit id (a GeoSeries
    keeps its CRS; a plain Series is taken to be in the units' system), or a :class:`UnitShapes`. Every unit
    needs a polygon; polygons of other ids are ignored (and counted)."""
    system = units.attrs.get("coords") or "latlon"
    groups = None
    if isinstance(spec, UnitShapes):
        shapes, src, note, crs = spec.shapes, spec.source, spec.note, None
        groups = spec.groups
        if spec.system != system:
            raise InputError(f"the polygons are in {spec.system} coordinates but the units use {system}",
                             source=src)
    elif isinstance(spec, pd.Series) and not hasattr(spec, "crs"):
        shapes, crs = _check_series(spec), None
        src, note = "<geometry>", "in the units' coordinates"
    else:
        if isinstance(spec, str | os.PathLike):
            frame = read_geometry(spec, id_column=id_column)
        elif hasattr(spec, "geometry") and hasattr(spec, "crs"):
            frame = spec if hasattr(spec, "columns") else spec.to_frame(name="geometry").rename_axis(id_column) \
                .reset_index()
            if not hasattr(spec, "columns"):
                frame = frame.set_geometry("geometry", crs=spec.crs)
        else:
            raise InputError(f"geometry must be a geometry file, a GeoDataFrame or a Series of polygons by unit id, "
                             f"got {type(spec).__name__}")
        src = str(frame.attrs.get("source") or "<geometry>")
        shapes, crs = check_shapes(frame, id_column=id_column, source=src)
        if "state" in frame.columns:
            groups = pd.Series(frame["state"].astype(str).to_numpy(), index=shapes.index, dtype=object)
        shapes, note = _to_system(shapes, crs, system, src)
    usrc = units.attrs.get("source")
    rows = units.attrs.get("rows", {})
    have = set(shapes.index)
    missing = [u for u in units.index if str(u) not in have]
    if missing:
        raise InputError(f"unit '{missing[0]}' has no polygon in {src} (id column '{id_column}'; "
                         f"{len(missing)} unit(s) without one)", source=usrc, row=rows.get(missing[0]),
                         column="unit_id", value=missing[0])
    keep = [str(u) for u in units.index]
    ignored = len(shapes) - len(keep)
    shapes = shapes.loc[keep]
    shapes.index = units.index
    if groups is not None:
        groups = groups.loc[keep]
        groups.index = units.index
    return UnitShapes(shapes=shapes, source=src, system=system, groups=groups, ignored=ignored, note=note)


def _check_series(spec: pd.Series) -> pd.Series:
    import shapely

    ids = [str(u) for u in spec.index]
    if len(set(ids)) < len(ids):
        dup = pd.Index(ids)[pd.Index(ids).duplicated()][0]
        raise InputError(f"duplicate unit id '{dup}' in the geometry Series", source="<geometry>", value=dup)
    geoms = np.asarray(spec.to_numpy(), dtype=object)
    for u, g in zip(ids, geoms, strict=True):
        if g is None or not hasattr(g, "geom_type") or g.is_empty or g.geom_type not in POLYGONAL:
            raise InputError(f"unit '{u}': expected a non-empty Polygon or MultiPolygon, got "
                             f"{getattr(g, 'geom_type', type(g).__name__)}", source="<geometry>", value=u)
        if not shapely.is_valid(g):
            raise InputError(f"unit '{u}' has an invalid polygon ({shapely.is_valid_reason(g)})", source="<geometry>",
                             value=u)
    return pd.Series(geoms, index=pd.Index(ids, dtype=object), dtype=object)


def with_points(units: pd.DataFrame, shapes: UnitShapes) -> pd.DataFrame:
    """The units with the coordinates they lack taken from their polygons (a point inside each, see
    :meth:`UnitShapes.points`); units that have coordinates keep them. Returns a copy when anything changes."""
    cols = ["lat", "lon"] if shapes.system == "latlon" else ["x", "y"]
    pts = shapes.points()
    if units.attrs.get("coords") is None:
        out = units.copy()
        out[cols[0]] = pts[cols[0]].to_numpy()
        out[cols[1]] = pts[cols[1]].to_numpy()
        out.attrs["coords"] = shapes.system
        return out
    lack = units[cols[0]].isna().to_numpy()
    if not lack.any():
        return units
    out = units.copy()
    for c in cols:
        out.loc[lack, c] = pts.loc[units.index[lack], c].to_numpy()
    return out


def write_geojson(shapes: UnitShapes, path: str | os.PathLike) -> Path:
    """Write the polygons as a GeoJSON FeatureCollection (``unit_id`` and, when known, ``state`` properties;
    geometry by ``shapely.to_geojson``), atomically. Lon/lat polygons are EPSG:4326, GeoJSON's own CRS."""
    import shapely

    from spmopt.data.io import write_text_atomic

    feats = []
    for u, g in shapes.shapes.items():
        props = {"unit_id": str(u)}
        if shapes.groups is not None:
            props["state"] = str(shapes.groups[u])
        feats.append({"type": "Feature", "properties": props, "geometry": json.loads(shapely.to_geojson(g))})
    text = json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":"))
    return write_text_atomic(text + "\n", path)


def northeast_shapes() -> UnitShapes:
    """The shipped North-East county polygons (``datasets/us_northeast_counties.geojson``, EPSG:4326; see
    ``datasets/SOURCES.md``), indexed by 5-digit county FIPS, with each county's state as its group. Our own file,
    read with shapely alone, so the demo map needs no optional dependency."""
    from importlib import resources

    import shapely

    with resources.files("spmopt.data").joinpath("datasets", "us_northeast_counties.geojson").open(
            "r", encoding="utf-8") as fh:
        feats = json.load(fh)["features"]
    ids = pd.Index([f["properties"]["unit_id"] for f in feats], dtype=object)
    geoms = [shapely.from_geojson(json.dumps(f["geometry"])) for f in feats]
    return UnitShapes(shapes=pd.Series(geoms, index=ids, dtype=object),
                      source="us_northeast_counties.geojson: Census 2010, 1:500,000, simplified",
                      groups=pd.Series([f["properties"]["state"] for f in feats], index=ids, dtype=object),
                      note="EPSG:4326")
