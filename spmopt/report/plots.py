"""Plots. Each function takes a result and an optional matplotlib ``ax`` and returns the axes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.patheffects as pe
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from spmopt.territory.solve import Alignment


def _xy(units: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
    if "lon" in units.columns:
        lat = units["lat"].to_numpy(dtype=float)
        return units["lon"].to_numpy(dtype=float), lat, 1.0 / np.cos(np.radians(np.nanmean(lat)))
    return units["x"].to_numpy(dtype=float), units["y"].to_numpy(dtype=float), 1.0


#: territory colours: Okabe–Ito and Tableau hues that stay apart for up to 20 territories, then repeat
_PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
            "#bab0ac", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#499894", "#86bcb6", "#d37295", "#fabfd2",
            "#79706e", "#d4a6c8"]  # Tableau 10, then its lighter and darker companions


def shown_territories(alignment: Alignment) -> list:
    """The territories a map shows: all of them, or with chosen centres (``k``) the centres chosen (not every
    candidate unit)."""
    return list(alignment.centres) if alignment.problem.chooses_centres else list(alignment.problem.territory_ids)


def territory_colours(ids) -> dict:
    """A fixed colour per territory id, in the order given (the same in every panel and the legend)."""
    return {t: _PALETTE[k % len(_PALETTE)] for k, t in enumerate(ids)}


def _unit_places(p) -> tuple[pd.Index, np.ndarray, float]:
    """The map's units (a split unit once, at its place) and their projected coordinates: x east, y north, in
    one scale (longitude shrunk by cos(latitude) for lat/lon)."""
    base = pd.Index([p.pieces[i][0] if i in p.pieces else i for i in p.unit_ids])
    first = ~base.duplicated()
    x, y, aspect = _xy(p.units)
    return base[first], np.column_stack([x[first] / aspect, y[first]]), aspect


def unit_polygons(p):
    """The units' own polygons (``p.geometry``) in the map's plane (longitude × cos(mean latitude), latitude),
    one per map unit (a split unit once). Returns (unit ids, shapely polygons, projected points), as
    :func:`unit_cells`."""
    import shapely

    ids, pts, aspect = _unit_places(p)
    geoms = np.asarray(p.geometry.shapes.reindex(ids).to_numpy(), dtype=object)
    if p.geometry.system == "latlon":
        geoms = shapely.transform(geoms, lambda xy: xy * np.array([1.0 / aspect, 1.0]))
    return ids, list(geoms), pts


def unit_groups(p, ids) -> pd.Series | None:
    """Each map unit's group for outlines (its ``state``: the units' column, else the polygon file's), or None
    (also when every unit is in one group: no borders to draw)."""
    g = None
    if "state" in p.units.columns:
        base = pd.Index([p.pieces[i][0] if i in p.pieces else i for i in p.unit_ids])
        g = pd.Series(p.units["state"].to_numpy(), index=base)
        g = g[~g.index.duplicated()].reindex(ids)
    elif p.geometry is not None and p.geometry.groups is not None:
        g = p.geometry.groups.reindex(ids)
    return g if g is not None and g.nunique() > 1 else None


def unit_cells(p):
    """One polygon per map unit: the units' own polygons when the problem has them (:func:`unit_polygons`),
    else its Voronoi cell among the unit locations, clipped to the units' hull widened by a typical reach and
    to a disc around the unit as wide as 1.2× the distance to its third-nearest neighbour (at least 1.5× the
    median spacing), so edge and isolated units get a cell of a sensible size. Returns (unit ids, shapely
    polygons, projected points)."""
    from scipy.spatial import Voronoi, cKDTree
    from shapely import MultiPoint, Point, Polygon

    if getattr(p, "geometry", None) is not None:
        return unit_polygons(p)
    ids, pts, _ = _unit_places(p)
    n = len(pts)
    if n == 1:
        return ids, [Point(pts[0]).buffer(1.0)], pts
    d, _ = cKDTree(pts).query(pts, k=min(n, 4))
    spacing = float(np.median(d[:, 1])) or 1.0
    # each unit's cell reaches about as far as its own neighbours are (rural units far, metro units near)
    reach = np.maximum(1.5 * spacing, 1.2 * d[:, -1])
    hull = MultiPoint(pts).convex_hull.buffer(float(np.median(reach)))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = float(max(hi - lo)) + spacing
    frame = np.array([[lo[0] - 10 * span, lo[1] - 10 * span], [hi[0] + 10 * span, lo[1] - 10 * span],
                      [lo[0] - 10 * span, hi[1] + 10 * span], [hi[0] + 10 * span, hi[1] + 10 * span]])
    jitter = np.zeros_like(pts)
    dup = pd.DataFrame(pts).duplicated().to_numpy()
    jitter[dup] = 1e-6 * spacing * (1 + np.arange(int(dup.sum())))[:, None]   # units at one place still get cells
    vor = Voronoi(np.vstack([pts + jitter, frame]))
    cells = []
    for i in range(n):
        region = vor.regions[vor.point_region[i]]
        poly = Polygon(vor.vertices[region]) if region and -1 not in region else Point(pts[i]).buffer(spacing)
        cells.append(poly.intersection(hull).intersection(Point(pts[i]).buffer(float(reach[i]))))
    return ids, cells, pts


def _draw_polygons(ax, geoms, **kw) -> None:
    """One patch per geometry (all its parts, holes left open), so per-geometry colours line up."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath
    from shapely.geometry.polygon import orient

    patches = []
    for g in geoms:
        rings = []
        for part in getattr(g, "geoms", [g]):
            if part.geom_type == "Polygon" and not part.is_empty:
                part = orient(part, 1.0)   # exterior anticlockwise, holes clockwise: holes stay empty
                rings += [np.asarray(part.exterior.coords)] + [np.asarray(r.coords) for r in part.interiors]
        if not rings:
            rings = [np.zeros((1, 2))]   # keeps the colours of the other geometries in line
        patches.append(PathPatch(MplPath.make_compound_path(*[MplPath(r, closed=True) for r in rings])))
    ax.add_collection(PatchCollection(patches, **kw))


def _draw_lines(ax, geom, **kw) -> None:
    for part in getattr(geom, "geoms", [geom]):
        if part.is_empty:
            continue
        for ring in [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]:
            xy = np.asarray(ring.coords)
            ax.plot(xy[:, 0], xy[:, 1], **kw)


def plot_territories(alignment: Alignment, ax=None, *, which: str = "after", size_by: str | None = None,
                     title: str | None = None, cells=None, only_moved: bool = False, legend: bool = True):
    """Territory map: each unit's cell (its Voronoi cell, see :func:`unit_cells`, when no unit shapes are
    given) filled with its territory's colour, territory borders drawn heavier, each rep's base a star labelled
    with the territory id, and a legend from colour to territory (the ids of the balance table). ``which`` is
    ``'after'`` (the answer) or ``'before'`` (the current alignment); ``only_moved`` greys the units that stay
    and colours the ones that move by their new territory. A split unit is hatched, in the colour of its
    largest share. ``size_by`` is accepted for compatibility and not used (cells show area, not measures)."""
    from matplotlib.patches import Patch
    from shapely import unary_union

    p = alignment.problem
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6))
    if not any(c in p.units.columns for c in ("lon", "x")):
        ax.text(0.5, 0.5, "no coordinates to draw", ha="center", transform=ax.transAxes)
        return ax
    assign = alignment.assignment if which == "after" else p.current()
    if assign is None:
        raise ValueError("no current alignment to draw")
    ids, geoms, pts = cells if cells is not None else unit_cells(p)
    shown = shown_territories(alignment)
    colours = territory_colours(shown)
    # each map unit's territory: a split unit's largest share (after), its current territory (before)
    frame = alignment.assignment_frame() if which == "after" else \
        pd.DataFrame({"unit_id": [p.pieces[i][0] if i in p.pieces else i for i in assign.index],
                      "territory_id": assign.to_numpy(), "share": 1.0})
    if "share" not in frame.columns:
        frame = frame.assign(share=1.0)
    top = frame.sort_values("share", ascending=False, kind="stable").drop_duplicates("unit_id")
    terr = top.set_index("unit_id")["territory_id"].reindex(ids)
    shared = set(frame.loc[frame["share"] < 1 - 1e-9, "unit_id"]) if which == "after" else set()
    cur = p.current()
    moved = np.zeros(len(ids), dtype=bool)
    if cur is not None:
        cur_u = pd.Series(cur.to_numpy(), index=[p.pieces[i][0] if i in p.pieces else i for i in cur.index])
        cur_u = cur_u[~cur_u.index.duplicated()].reindex(ids)
        moved = (frame.groupby("unit_id").apply(lambda g: bool((g["territory_id"] != cur_u.get(g.name)).any()),
                                                include_groups=False).reindex(ids).fillna(False).to_numpy(bool))
    face = np.array([colours.get(t, "#cccccc") if isinstance(t, str) or pd.notna(t) else "#cccccc"
                     for t in terr], dtype=object)
    if only_moved:
        face = np.where(moved, face, "#e6e6e6")
    centre_of = _centre_points(alignment, shown, which)
    _, _, aspect = _unit_places(p)
    outlines = {}
    for t in shown:  # territory borders: the outline of the union of its cells
        mine = [geoms[k] for k in range(len(ids)) if terr.iloc[k] == t]
        if mine:
            outlines[t] = unary_union(mine)
    groups = unit_groups(p, ids) if getattr(p, "geometry", None) is not None else None
    group_lines = []   # state (group) borders: drawn with real polygons only, where they are true borders
    if groups is not None and groups.nunique() > 1:
        for _, members in groups.groupby(groups.to_numpy(), sort=True):
            group_lines.append(unary_union([geoms[ids.get_loc(u)] for u in members.index]).boundary)

    def draw(a, box=None, stars=True) -> None:
        keep = np.ones(len(ids), dtype=bool) if box is None else \
            (pts[:, 0] >= box[0]) & (pts[:, 0] <= box[2]) & (pts[:, 1] >= box[1]) & (pts[:, 1] <= box[3])
        plain = [k for k, u in enumerate(ids) if u not in shared and keep[k]]
        _draw_polygons(a, [geoms[k] for k in plain], facecolors=list(face[plain]), edgecolors="white",
                       linewidths=0.25, zorder=1)
        hatched = [k for k, u in enumerate(ids) if u in shared and keep[k]]
        if hatched:
            _draw_polygons(a, [geoms[k] for k in hatched], facecolors=list(face[hatched]), edgecolors="black",
                           linewidths=0.6, hatch="////", zorder=2)
        for g in group_lines:
            _draw_lines(a, g, color="#555555", lw=0.8, ls=(0, (4, 2)), zorder=2.5)
        for g in outlines.values():
            _draw_lines(a, g, color="#333333", lw=1.1, zorder=3, solid_joinstyle="round")
        for t, (cx, cy) in centre_of.items():
            if not stars or not np.isfinite(cx):
                continue
            a.scatter([cx / aspect], [cy], marker="*", s=110, c="black", edgecolors="white", linewidths=0.8,
                      zorder=5)
            a.annotate(str(t), (cx / aspect, cy), xytext=(4, 4), textcoords="offset points", fontsize=7.5,
                       fontweight="bold", zorder=6, annotation_clip=True,
                       path_effects=[pe.withStroke(linewidth=2.2, foreground="white")])
        a.set_aspect("equal")
        a.set_xticks([])
        a.set_yticks([])

    draw(ax)
    bx = np.array([g.bounds for g in geoms if not g.is_empty])  # the cells' extent, with a small margin
    x0, y0, x1, y1 = bx[:, 0].min(), bx[:, 1].min(), bx[:, 2].max(), bx[:, 3].max()
    mx = 0.02 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - mx, x1 + mx)
    ax.set_ylim(y0 - mx, y1 + mx)
    for side in ax.spines.values():
        side.set_visible(False)
    if shared:
        # the shared units are often a few small metro cells: an inset zooms on them, in the emptiest corner
        k_sh = [k for k, u in enumerate(ids) if u in shared]
        lo, hi = pts[k_sh].min(axis=0), pts[k_sh].max(axis=0)
        pad = max(float(max(hi - lo)), 1e-9) * 0.6 + 1e-9
        box = (lo[0] - pad, lo[1] - pad, hi[0] + pad, hi[1] + pad)
        span = np.ptp(pts, axis=0) + 1e-9
        rel = (pts - pts.min(axis=0)) / span
        corners = {(0.0, 0.0): (rel[:, 0] < 0.35) & (rel[:, 1] < 0.35), (0.65, 0.0): (rel[:, 0] > 0.65) &
                   (rel[:, 1] < 0.35), (0.0, 0.65): (rel[:, 0] < 0.35) & (rel[:, 1] > 0.65),
                   (0.65, 0.65): (rel[:, 0] > 0.65) & (rel[:, 1] > 0.65)}
        cx0, cy0 = min(corners, key=lambda c: int(corners[c].sum()))
        ins = ax.inset_axes([cx0 + 0.02, cy0 + (0.06 if cy0 == 0 else -0.02), 0.31, 0.31])
        draw(ins, box=box, stars=True)
        ins.set_xlim(box[0], box[2])
        ins.set_ylim(box[1], box[3])
        ins.set_xlabel("shared units, enlarged", fontsize=7, labelpad=2)
        for side in ins.spines.values():
            side.set_color("#555555")
        ax.indicate_inset_zoom(ins, edgecolor="#555555")
    ax.set_title(title or ("Optimised alignment" if which == "after" else "Current alignment"), fontsize=10)
    if legend:
        handles = [Patch(facecolor=colours[t], edgecolor="#333333", label=str(t)) for t in shown]
        if shared:
            handles.append(Patch(facecolor="white", edgecolor="black", hatch="////", label="shared unit"))
        if only_moved:
            handles.append(Patch(facecolor="#e6e6e6", edgecolor="white", label="stays"))
        if group_lines:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color="#555555", lw=0.8, ls=(0, (4, 2)), label="state border"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False,
                  title="territory", title_fontsize=7.5)
    return ax


def _centre_points(alignment: Alignment, labels, which: str) -> dict:
    p = alignment.problem
    x, y, _ = _xy(p.units)
    pos = {u: (x[i], y[i]) for i, u in enumerate(p.unit_ids)}
    out = {}
    for t in labels:
        if p.territories is None:
            out[t] = pos.get(t, (np.nan, np.nan))
            continue
        cu = p.territories.at[t, "center_unit"] if t in p.territories.index else None
        if cu is not None and cu in pos:
            out[t] = pos[cu]
        else:
            cols = ["lon", "lat"] if "lon" in p.territories.columns else ["x", "y"]
            if t in p.territories.index and all(c in p.territories.columns for c in cols):
                out[t] = tuple(p.territories.loc[t, cols].to_numpy(dtype=float))
    return out


def plot_before_after(alignment: Alignment, *, size_by: str | None = None):
    """The current alignment and the optimised one side by side, below them the units that move and the legend
    (the territory ids of the balance table), with the key figures in the titles. Returns the figure (one panel if
    there is no current alignment). The units are drawn as their polygons when the problem has them (with state
    borders when the units have a ``state`` column), else as Voronoi cells of their locations; the caption says
    which."""
    before = alignment.before
    n = 3 if before is not None else 1
    if n == 3:  # two rows: before | after, then the units that move | the legend and the key
        fig, grid = plt.subplots(2, 2, figsize=(13.0, 11.5), squeeze=False)
        slots = [grid[0, 0], grid[0, 1], grid[1, 0]]
        key = grid[1, 1]
        key.axis("off")
    else:
        fig, grid = plt.subplots(1, 1, figsize=(8.2, 6.0), squeeze=False)
        slots, key = [grid[0, 0]], None
    bal = list(alignment.problem.balance) or ["count"]
    cells = unit_cells(alignment.problem) if any(c in alignment.problem.units.columns for c in ("lon", "x")) \
        else None

    def caption(m):
        dev = ", ".join(f"{k} ±{100 * m.max_balance_deviation.get(k, 0):.0f}%" for k in bal)
        return f"distance {m.distance:,.0f} {alignment.problem.distance_unit}; max dev {dev}"

    if before is not None:
        plot_territories(alignment, slots[0], which="before", title=f"Current alignment\n{caption(before)}",
                         cells=cells, legend=False)
    m0 = bal[0]
    dis = ""
    if alignment.metrics.disruption:
        dis = f"; {100 * alignment.metrics.disruption.get(m0, 0):.0f}% of {m0} moved"
    gap = "proved optimal" if alignment.status == "optimal" else \
        f"{alignment.status}, within {100 * (alignment.gap or 0):.1f}% of the bound"
    plot_territories(alignment, slots[1 if n == 3 else 0], which="after", cells=cells, legend=n == 1,
                     title=f"Optimised ({gap})\n{caption(alignment.metrics)}")
    if n == 3:
        um = float(alignment.metrics.units_moved)
        plot_territories(alignment, slots[2], which="after", cells=cells, only_moved=True, legend=False,
                         title=f"Units that move: {um:,.{0 if um.is_integer() else 1}f}{dis}\n"
                               "coloured by their new territory")
        from matplotlib.patches import Patch

        shown = shown_territories(alignment)
        colours = territory_colours(shown)
        handles = [Patch(facecolor=colours[t], edgecolor="#333333", label=str(t))
                   for t in shown]
        if alignment.problem.pieces:
            handles.append(Patch(facecolor="white", edgecolor="black", hatch="////",
                                 label="shared unit (largest share's colour)"))
        handles.append(Patch(facecolor="#e6e6e6", edgecolor="white", label="stays (map of the units that move)"))
        if alignment.problem.geometry is not None and unit_groups(alignment.problem, cells[0]) is not None:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color="#555555", lw=0.8, ls=(0, (4, 2)), label="state border"))
        key.legend(handles=handles, loc="upper left", fontsize=9, frameon=False, title="territory",
                   title_fontsize=10, ncols=2 if len(handles) > 14 else 1)
    geo = alignment.problem.geometry
    if geo is not None:
        from pathlib import Path

        note = (f"Each unit is drawn as its own polygon ({Path(geo.source).name}); heavy lines are territory borders"
                + (", dashed lines state borders" if unit_groups(alignment.problem, cells[0]) is not None else "")
                + ", stars the reps' bases.")
    else:
        note = ("Each unit is drawn as its Voronoi cell around its location (no unit shapes given), clipped near "
                "the units; heavy lines are territory borders, stars the reps' bases.")
    import textwrap

    if key is not None:
        key.text(0.0, 0.02, textwrap.fill(note, 60), fontsize=9, color="#555555", transform=key.transAxes,
                 va="bottom")
    else:
        fig.text(0.01, 0.01, textwrap.fill(note, 110), fontsize=7.5, color="#555555")
    fig.tight_layout(rect=(0, 0.05 if key is None else 0, 1, 1))
    return fig


def plot_frontier(table: pd.DataFrame, measure: str, *, distance_unit: str = "km", current_distance=None):
    """Distance against disruption for the points of a frontier (``spmopt align --pareto disruption``)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    x, y = 100 * table["disruption"], table["distance"]
    proved = (table["status"] == "optimal").to_numpy() if "status" in table else np.ones(len(table), dtype=bool)
    ax.plot(x, y, "-", color="#1f77b4", lw=1.2)
    if proved.any():
        ax.plot(x[proved], y[proved], "o", color="#1f77b4", label="proved optimal (within the gap asked)")
    if (~proved).any():
        ax.plot(x[~proved], y[~proved], "o", mfc="white", color="#1f77b4", label="best found, not proved")
        same = "objective" not in table or np.allclose(table["objective"], table["distance"])
        if "bound" in table and same:  # down to the proved bound: the optimum lies somewhere on the bar
            b = table["bound"].astype(float).to_numpy()
            ok = ~proved & np.isfinite(b)
            ax.errorbar(x[ok], y[ok], yerr=[(y - b)[ok], np.zeros(int(ok.sum()))], fmt="none", ecolor="#9ecae1",
                        elinewidth=1, capsize=3, label="down to the proved bound")
    at: dict[tuple, list[int]] = {}  # points that land on the same answer share one label ("2-4")
    for _, r in table.iterrows():
        at.setdefault((round(100 * r["disruption"], 6), round(r["distance"], 6)), []).append(int(r["point"]))
    for (px, py), ks in at.items():
        ax.annotate(str(ks[0]) if len(ks) == 1 else f"{ks[0]}-{ks[-1]}", (px, py), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    if current_distance is not None:
        ax.axhline(current_distance, color="grey", ls="--", lw=1, label="current alignment (unbalanced)")
    ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(f"share of {measure} moved from its current territory (%)")
    ax.set_ylabel(f"total distance ({distance_unit})")
    ax.set_title("Distance vs disruption: the best alignment at each limit")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_payout_curve(plan, reference_quota: dict[str, float] | None = None, ax=None, *, max_attainment=None):
    """Incentive pay in one plan period against attainment (every quota measure at the same attainment), by
    component and in total, computed with the payout engine. Gates are taken as met; spiffs and draws are shown
    only as notes (they do not depend on attainment). ``reference_quota`` gives the period quota of each measure
    (default 100,000) — it sets the scale of value-based commission."""
    from spmopt.plans.engine import payout

    ref = dict(reference_quota or {})
    pts = [p[0] for c in plan.of_type("quota_bonus") for p in c.curve]
    pts += [t.start for c in plan.of_type("commission") if c.on == "attainment" for t in c.tiers]
    top = max_attainment or max(2.0, 1.25 * max(pts, default=1.6))
    att = np.linspace(0.0, top, 401)
    measures = {c.measure for c in plan.components if c.type in ("quota_bonus", "commission", "gate")}
    credited, quotas = {}, {}
    for m in measures:
        q = float(ref.get(m) or 100_000.0)
        quotas[m] = np.full(att.shape + (1,), q)
        credited[m] = att[:, None] * q
    for g in plan.of_type("gate"):
        if g.measure not in {c.measure for c in plan.components if c.type in ("quota_bonus", "commission")}:
            credited[g.measure] = np.full(att.shape + (1,), np.inf if g.on == "value" else 1e9)
            quotas[g.measure] = np.ones(att.shape + (1,))
    zero_deals = {s.name: 0.0 for s in plan.of_type("spiff")}
    shown = plan.model_copy(update={"components": [c for c in plan.components if c.type != "draw"],
                                    "true_up": None})
    res = payout(shown, credited, {m: quotas[m] for m in plan.quota_measures()}, deals=zero_deals)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    earning = [k for k in res.amounts if shown.component(k).type in ("quota_bonus", "commission")]
    if len(earning) > 1:
        for k in earning:
            ax.plot(100 * att, res.amounts[k][:, 0], lw=1.2, ls="--", label=k)
    ax.plot(100 * att, res.total[:, 0], lw=2.2, color="black", label="total incentive")
    ti = plan.target_incentive / plan.periods_per_year
    if ti > 0:
        ax.axhline(ti, color="grey", lw=0.8, ls=":", label=f"target incentive per {plan.period}")
    for d in plan.of_type("draw"):
        ax.axhline(d.amount, color="#d62728", lw=0.8, ls="-.",
                   label=f"{'recoverable' if d.recoverable else 'guaranteed'} draw")
    ax.axvline(100, color="grey", lw=0.6)
    notes = [f"+ {s.amount:,.0f} per qualifying deal ({s.name})" for s in plan.of_type("spiff")]
    if notes:
        ax.text(0.02, 0.97, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=8)
    ax.set_xlabel("attainment (% of quota)")
    ax.set_ylabel(f"incentive per {plan.period} ({plan.currency})")
    ax.set_title(f"{plan.name}: payout curve" + (" (gates met)" if plan.of_type("gate") else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def _same_groups(arrays: dict) -> list[list]:
    """Keys of ``arrays`` grouped where their arrays are identical (plans that simulate alike, e.g. without
    behaviour, draw one line, not three on top of each other)."""
    groups: list[list] = []
    for k, a in arrays.items():
        for g in groups:
            if np.array_equal(arrays[g[0]], a):
                g.append(k)
                break
        else:
            groups.append([k])
    return groups


def _group_label(group: list, n_plans: int) -> str:
    if len(group) == 1:
        return str(group[0])
    return (f"all {n_plans} plans (identical)" if len(group) == n_plans
            else " = ".join(str(p) for p in group) + " (identical)")


def plot_attainment(result, stress: str | Sequence[str] | None = None, *, bins: int = 40):
    """Annual attainment (rep-trials) per plan, overlaid in one panel per stress case (default: every case),
    with each plan's share at or above quota in the legend. Plans whose attainment is identical (no behaviour:
    the plan does not change sales) share one line, labelled so. Returns the figure."""
    cases = list(result.stress_cases) if stress is None else [stress] if isinstance(stress, str) else list(stress)
    plans = result.plans
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colour = {p: colours[i % len(colours)] for i, p in enumerate(plans)}
    hi = max(float(np.quantile(result.attainment(p, c), 0.995)) for p in plans for c in cases)
    edges = np.linspace(0, max(hi, 1.6), bins + 1)
    cols = min(3, len(cases))
    rows = -(-len(cases) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows + 0.5), squeeze=False, sharex=True,
                             sharey=True)
    for ax, c in zip(axes.ravel(), cases, strict=False):
        arrays = {p: result.attainment(p, c).ravel() for p in plans}
        for g in _same_groups(arrays):
            a = arrays[g[0]]
            lw = 2.0 if len(g) == 1 else 2.6
            ax.hist(a, bins=edges, histtype="step", lw=lw, color=colour[g[0]] if len(g) == 1 else "#333333",
                    label=f"{_group_label(g, len(plans))}: {(a >= 1).mean():.0%} at/above quota")
        ax.axvline(1.0, color="k", lw=1, ls="--")
        ax.set_title(c, fontsize=10)
        ax.set_xlabel("annual attainment (% of quota)")
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.legend(fontsize=8.5, loc="upper right", frameon=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("rep-years")
    for ax in axes.ravel()[len(cases):]:
        ax.set_visible(False)
    fig.suptitle(f"Attainment by stress case ({result.trials:,} trials × {len(result.rep_ids)} reps)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_cost_cdf(result, ax=None):
    """Empirical CDF of total incentive cost per trial, one line per plan (colour) and stress case (line style)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.8))
    styles = ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 1))]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, p in enumerate(result.plans):
        for c, s in enumerate(result.stress_cases):
            x = np.sort(result.cost(p, s))
            y = np.arange(1, len(x) + 1) / len(x)
            label = p if len(result.stress_cases) == 1 else f"{p} · {s}"
            ax.step(x, y, where="post", color=colours[i % len(colours)], ls=styles[c % len(styles)], label=label)
    ax.axhline(0.95, color="grey", lw=0.8, ls=":")
    return _finish(ax, "Plan cost distribution", "total incentive cost per year", "share of trials ≤ cost", ax.xaxis)


def _finish(ax, title: str, xlabel: str, ylabel: str, money_axis):
    """Labels, a thousands-separated money axis, legend and layout shared by the simulation line plots."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    money_axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)   # beside: hides nothing
    ax.figure.tight_layout()
    return ax


def plot_monthly(result, ax=None):
    """Mean revenue booked per month, colour by plan and line style by stress case (year-end bunching shows
    here). Plans with identical monthly revenue in a case share one line, labelled so; the legend sits beside
    the axes so it hides no series."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.8))
    styles = ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 1))]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    m = result.monthly()
    plans = list(result.plans)
    for c, s in enumerate(result.stress_cases):
        ms = m[m["stress"] == s]
        series = {p: ms.loc[ms["plan"] == p, "revenue_mean"].to_numpy() for p in plans}
        for g in _same_groups(series):
            g_rows = ms[ms["plan"] == g[0]]
            name = _group_label(g, len(plans))
            label = name if len(result.stress_cases) == 1 else f"{name} · {s}"
            ax.plot(g_rows["month"], g_rows["revenue_mean"], marker="o", ms=4, ls=styles[c % len(styles)],
                    color=colours[plans.index(g[0]) % len(colours)] if len(g) == 1 else "#333333", label=label)
    ax.set_xticks(range(1, 13))
    ax.set_xlabel("month")
    ax.set_ylabel("mean revenue booked, all reps ($)")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_title("Monthly revenue profile")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.figure.tight_layout()
    return ax


def plot_quotas(quotas):
    """Quotas against their baseline (bars, bound holders marked) and, when simulated, each holder's chance of
    reaching quota (else quota/potential, unless it is the same for every holder: then one panel, and its title
    says so). Returns the figure."""
    t = quotas.table.sort_values("quota", ascending=False)
    idc = quotas.id_column
    has_p = "p_attain" in t.columns
    ratio = t["quota_to_potential"] if "quota_to_potential" in t.columns else None
    flat = ratio is not None and len(t) > 1 and bool(np.ptp(ratio) <= 0.005 * abs(float(ratio.mean())))
    width = max(7.0, 0.32 * len(t) + 2.5)
    if has_p or (ratio is not None and not flat):
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(width, 7.2), sharex=True)
    else:
        fig, ax1 = plt.subplots(figsize=(width, 4.4))
        ax2 = None
    x = np.arange(len(t))
    ax1.bar(x, t["quota"], color="#4C72B0", label="quota")
    ax1.plot(x, t["baseline"], "_", color="k", ms=12, mew=2, label="baseline")
    held = (t["bound"] != "").to_numpy()
    if held.any():
        ax1.bar(x[held], t["quota"].to_numpy()[held], color="#DD8452", label="held by a bound")
    ax1.set_ylabel("quota ($)")
    ax1.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    s = quotas.summary
    over = f", +{100 * s['over_assignment']:.1f} %" if s["over_assignment"] else ""
    flat_note = f"\nquota / potential {float(ratio.mean()):.3g} for every holder" if flat else ""
    ax1.set_title(f"Quotas by {s['method'].replace('_', ' ')}: sum {s['sum']:,.0f} (target {s['target']:,.0f}{over})"
                  + flat_note, fontsize=10)
    ax1.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if has_p:
        ax2.bar(x, t["p_attain"], color="#55A868")
        common = s.get("p_attain", {}).get("common")
        if common is not None:
            ax2.axhline(common, color="k", ls="--", lw=1, label=f"common chance {common:.1%}")
            ax2.legend(fontsize=8)
        ax2.set_ylabel("P(sales ≥ quota)")
        ax2.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax2.set_ylim(0, 1)
    elif ax2 is not None:
        ax2.bar(x, t["quota_to_potential"], color="#8172B2")
        ax2.set_ylabel("quota / potential")
    last = ax2 if ax2 is not None else ax1
    last.set_xticks(x)
    last.set_xticklabels(t[idc], rotation=90, fontsize=7)
    last.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_relief(relief):
    """Quota before and after a realignment's relief, per territory. Returns the figure."""
    t = relief.table
    fig, ax = plt.subplots(figsize=(max(7.0, 0.45 * len(t) + 2.5), 4.6))
    x = np.arange(len(t))
    ax.bar(x - 0.2, t["quota_before"], 0.4, label="before", color="#BBBBBB")
    ax.bar(x + 0.2, t["quota_after"], 0.4, label="after relief", color="#4C72B0")
    for i, c in enumerate(t["change_pct"]):
        if np.isfinite(c) and abs(c) >= 0.05:
            ax.annotate(f"{c:+.1f}%", (x[i] + 0.2, t["quota_after"].iloc[i]), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels(t["territory_id"], rotation=90, fontsize=8)
    s = relief.summary
    ax.set_title(f"Quota relief: {s['units_moved']} units moved on {s['effective']} "
                 f"({s['remaining_fraction']:.1%} of the period left)", fontsize=10)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
