"""An interactive territory map as inline SVG: hover a unit to read its name, measures and its territory before and
after. No JavaScript and no external file: each unit is an SVG path (shapely writes the path data) with a
``<title>``, which browsers show as a tooltip, and CSS highlights the unit under the pointer. It works offline, in
the self-contained report and in a notebook (``IPython.display.HTML(svg)``). The static PNG map stays the
reference; this one is for looking things up.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from spmopt.report.plots import _centre_points, _unit_places, shown_territories, territory_colours, unit_cells
from spmopt.territory.solve import Alignment

CSS = """<style>
.spm-map path.u { stroke: #ffffff; stroke-width: 0.6; vector-effect: non-scaling-stroke; }
.spm-map path.u.moved { stroke: #111111; stroke-width: 1.1; stroke-dasharray: 3 2; }
.spm-map path.u:hover { stroke: #000000; stroke-width: 2.5; stroke-dasharray: none; filter: brightness(1.08); }
.spm-map path.b { fill: none; stroke: #333333; stroke-width: 1.6; vector-effect: non-scaling-stroke;
  pointer-events: none; }
.spm-map text { font: bold 11px sans-serif; paint-order: stroke; stroke: #ffffff; stroke-width: 3px;
  pointer-events: none; }
</style>"""


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and float(v).is_integer() and abs(v) >= 100):
        return f"{v:,.0f}"
    if isinstance(v, (float, np.floating)):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.3g}"
    return str(v)


def _path(geom, scale: float, x0: float, y1: float) -> str:
    """SVG path data of a (multi)polygon, in pixels: x to the right, y down from the top edge."""
    from shapely import affinity

    g = affinity.affine_transform(geom, [scale, 0, 0, -scale, -scale * x0, scale * y1])
    svg = g.svg()
    return " ".join(part.split('d="', 1)[1].split('"', 1)[0] for part in svg.split("<path")[1:])


def territory_svg(alignment: Alignment, *, width: int = 900, measures: list[str] | None = None) -> str:
    """The optimised alignment as an SVG map with a tooltip per unit (name, id, ``measures`` — default the
    balanced ones and ``workload``/``potential`` when present — territory before → after, shares of a split
    unit). Units that move have a dashed outline; heavy lines are territory borders; labels mark the bases."""
    from shapely import unary_union

    p = alignment.problem
    ids, geoms, pts = unit_cells(p)
    units = p.units
    shown = shown_territories(alignment)
    colours = territory_colours(shown)
    frame = alignment.assignment_frame()
    if "share" not in frame.columns:
        frame = frame.assign(share=1.0)
    top = frame.sort_values("share", ascending=False, kind="stable").drop_duplicates("unit_id")
    terr = top.set_index("unit_id")["territory_id"].reindex(ids)
    shares = frame.groupby("unit_id").apply(
        lambda g: ", ".join(f"{t} {100 * s:.0f} %" for t, s in zip(g["territory_id"], g["share"], strict=True)),
        include_groups=False)
    after_sets = frame.groupby("unit_id")["territory_id"].apply(set).to_dict()
    cur = p.current()
    before = None
    if cur is not None:
        before = pd.Series(cur.to_numpy(), index=[p.pieces[i][0] if i in p.pieces else i for i in cur.index])
        before = before[~before.index.duplicated()].reindex(ids)
    # one row per map unit (a split unit's pieces summed) for its measures
    base = pd.Index([p.pieces[i][0] if i in p.pieces else i for i in p.unit_ids])
    if measures is None:
        measures = list(dict.fromkeys([*p.balance, *[c for c in ("potential", "workload") if c in units]]))
        measures = [m for m in measures if m in units.columns]
    vals = units[measures].set_axis(base).groupby(level=0, sort=False).sum() if measures else None
    names = units["name"].set_axis(base).groupby(level=0, sort=False).first() if "name" in units else None

    bounds = np.array([g.bounds for g in geoms if not g.is_empty])
    x0, y0, x1, y1 = bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()
    pad = 6
    scale = (width - 2 * pad) / max(x1 - x0, 1e-12)
    height = int(np.ceil((y1 - y0) * scale)) + 2 * pad
    x0p, y1p = x0 - pad / scale, y1 + pad / scale

    out = [f'<svg class="spm-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" style="max-width:{width}px" role="img" aria-label="interactive territory map: hover a '
           f'unit for its figures">', CSS]
    for k, u in enumerate(ids):
        g = geoms[k]
        if g.is_empty:
            continue
        t = terr.iloc[k]
        moved = before is not None and pd.notna(before.iloc[k]) and after_sets.get(u, {t}) != {before.iloc[k]}
        label = f"{names.get(u)} ({u})" if names is not None and pd.notna(names.get(u)) else str(u)
        lines = [label]
        if vals is not None:
            lines.append(", ".join(f"{m} {_fmt(vals.loc[u, m])}" for m in measures))
        sh = str(shares.get(u, t))
        after = sh if "," in sh else str(t)
        lines.append(f"territory: {before.iloc[k]} → {after}" if before is not None else f"territory: {after}")
        if moved:
            lines.append("moves in part" if before.iloc[k] in after_sets.get(u, set()) else "moves")
        fill = colours.get(t, "#cccccc")
        cls = "u moved" if moved else "u"
        out.append(f'<path class="{cls}" fill="{fill}" fill-rule="evenodd" d="{_path(g, scale, x0p, y1p)}">'
                   f"<title>{escape(chr(10).join(lines))}</title></path>")
    for t in shown:
        mine = [geoms[k] for k in range(len(ids)) if terr.iloc[k] == t and not geoms[k].is_empty]
        if mine:
            out.append(f'<path class="b" d="{_path(unary_union(mine), scale, x0p, y1p)}"/>')
    _, _, aspect = _unit_places(p)
    for t, (cx, cy) in _centre_points(alignment, shown, "after").items():
        if np.isfinite(cx):
            sx, sy = (cx / aspect - x0p) * scale, (y1p - cy) * scale
            out.append(f'<text x="{sx:.1f}" y="{sy:.1f}" text-anchor="middle">★ {escape(str(t))}</text>')
    out.append("</svg>")
    return "\n".join(out)
