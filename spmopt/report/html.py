"""``report.html``: one self-contained page per scenario run (images embedded as data URIs, no scripts, no
network), readable offline by a reviewer.

Sections appear for the stages the run had: the alignment (before/after map, figures current vs optimised,
balance table, the distance-vs-disruption frontier), the quotas (table and chart), the plans (comparison table
per plan × stress case, attainment histograms per stress case, cost CDFs, payout curves, monthly revenue), and
the run itself (settings, files, versions, timing, notes).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from spmopt.data.io import _atomic_write

PERIODS = {"month": 12, "quarter": 4, "year": 1}


def _png(path: Path) -> str | None:
    return ("data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()) if path.is_file() else None


def _fig(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _fmt(v: Any, kind: str = "num") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, str):
        return v
    if kind == "pct":
        return f"{100 * v:.1f} %"
    if kind == "pp":
        return f"{0.0 if abs(v) < 0.05 else v:+.1f} %"   # no "-0.0 %"
    if kind == "int":
        return f"{v:,.0f}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:,.3g}" if abs(v) < 10 else f"{v:,.1f}"


def _table(df: pd.DataFrame, kinds: dict[str, str] | None = None, max_rows: int = 60, *,
           prune: bool = False, why: dict[str, str] | None = None, ids: Sequence[str] = ()) -> dict[str, Any]:
    """A DataFrame as header + formatted rows (the template escapes every cell). With ``prune``, columns that are
    empty or the same in every row (of two or more; not the ``ids`` columns) are left out and listed in ``dropped`` as
    "header (value in every row: why)", with ``why[header]`` when given."""
    kinds = kinds or {}
    dropped: list[str] = []
    if prune and len(df) > 1:
        keep = []
        for c in df.columns:
            col = df[c]
            text = col.astype(str).str.strip()
            if c in ids:
                keep.append(c)
            elif (col.isna() | text.isin(["", "nan", "None"])).all():
                dropped.append(f"{c} (empty in every row" + (f": {why[c]})" if why and c in why else ")"))
            elif len({_fmt(v, kinds.get(c, "num")) for v in col}) == 1:   # the same as the page shows it
                dropped.append(f"{c} ({_fmt(col.iloc[0], kinds.get(c, 'num'))} in every row"
                               + (f": {why[c]})" if why and c in why else ")"))
            else:
                keep.append(c)
        df = df[keep]
    shown = df.head(max_rows)
    rows = [[_fmt(v, kinds.get(c, "num")) for c, v in zip(df.columns, r, strict=True)]
            for r in shown.itertuples(index=False)]
    return {"columns": [str(c) for c in df.columns], "rows": rows, "dropped": dropped,
            "more": len(df) - len(shown), "numeric": [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]}


def _svg_map(a) -> Markup | None:
    """The interactive (hover) map, when the units have coordinates; built by :mod:`spmopt.report.svgmap`, whose
    text parts are escaped, so it goes into the page as markup."""
    if not any(c in a.problem.units.columns for c in ("lon", "x")):
        return None
    from spmopt.report.svgmap import territory_svg

    return Markup(territory_svg(a))


def _alignment_section(res, stage_dir: Path, max_rows: int) -> dict[str, Any]:
    a = res.alignment
    s = a.summary()
    cur = s.get("current")
    figures = [["status", "—" if cur else None, f"{s['status']} (stage {s['stage']})"],
               ["objective", _fmt(cur["objective"]) if cur else None, _fmt(s["objective"])],
               ["lower bound", None, _fmt(s["bound"])],
               ["gap", None, _fmt(s["gap"], "pct") if s["gap"] is not None else "—"],
               [f"distance ({s['distance_unit']})", _fmt(cur["distance"]) if cur else None, _fmt(s["distance"])]]
    for m, v in s["max_balance_deviation"].items():
        figures.append([f"max deviation of {m}", _fmt(cur["max_balance_deviation"][m], "pct") if cur else None,
                        _fmt(v, "pct")])
    for m, v in (s["disruption"] or {}).items():
        figures.append([f"share of {m} moved", "0.0 %" if cur else None, _fmt(v, "pct")])
    split = bool(s.get("splits"))   # split units count by share: fractions of a unit
    if s["units_moved"] is not None:
        figures.append(["units moved", "0" if cur else None, _fmt(s["units_moved"], "num" if split else "int")])
    terr = a.territory_table()
    view, kinds, left_out = _balance_view(terr, list(a.problem.balance), s["distance_unit"], split)
    w = (s.get("options") or {}).get("work") or {}
    if w:
        work = f"{w['work_used']:,.1f} of {w['work_budget']:,.4g} work units" if w.get("work_budget") else \
            f"{w['work_used']:,.1f} work units"
        guard = (f"the {w['time_limit']:g} s time limit stopped {w.get('guard_stage') or 'a stage'} first, so this "
                 "answer may differ on another machine" if w.get("guard_hit") else
                 "the same answer on any machine, the time limit not reached")
        work_line = f"{work}; {guard}"
    else:
        work_line = None
    out = {"figures": figures, "has_current": bool(cur), "territories": _table(view, kinds, max_rows),
           "left_out": left_out, "map": _png(stage_dir / "align" / "map.png"), "svg": _svg_map(a),
           "request": describe_request(s["request"], s.get("options") or {}),
           "n_units": s["n_units"], "n_territories": s["n_territories"],
           "seconds": s["solve_seconds"] + s["build_seconds"], "stage_seconds": res.run["seconds"].get("align"),
           "work": work_line, "splits": s.get("splits") or [],
           "unproved": s["status"] != "optimal" and s["gap"] is not None and s["gap"] > 0.01,
           "gap_pct": None if s["gap"] is None else 100 * s["gap"]}
    if res.frontier is not None:
        fr = res.frontier.table
        cols = [c for c in ("point", "limit", "disruption", "distance", "gap", "status") if c in fr.columns]
        out["frontier"] = {"measure": res.frontier.measure, "plot": _png(stage_dir / "align" / "pareto.png"),
                           "least_from": getattr(res.frontier, "least_from", "elastic model"),
                           "table": _table(fr[cols], {"limit": "pct", "disruption": "pct", "gap": "pct",
                                                      "point": "int"}, max_rows)}
    return out


def _balance_view(terr: pd.DataFrame, balanced: list[str], dunit: str, split: bool):
    """The balance table as a reviewer reads it: territory, base, units, each balanced measure with its
    deviation from the mean, distance and units moved in/out (human headers; the other measures are in
    territories.csv). Returns (table, formats, names of the measures left out)."""
    cols = {"territory_id": "territory", "center_unit": "base unit", "units": "units"}
    kinds = {"units": "num" if split else "int"}
    for m in balanced or [c[:-8] for c in terr.columns if c.endswith("_dev_pct")][:2]:
        if m in terr.columns:
            cols[m] = m
            cols[f"{m}_dev_pct"] = f"{m} vs mean"
            kinds[f"{m} vs mean"] = "pp"
    if "distance" in terr.columns:
        cols["distance"] = f"distance ({dunit})"
        kinds[f"distance ({dunit})"] = "int"
    if "pieces" in terr.columns and (terr["pieces"] > 1).any():
        cols["pieces"] = "connected pieces"
        kinds["connected pieces"] = "int"
    for c, label in (("moved", "units moved in"), ("moved_out", "units moved out")):
        if c in terr.columns and (terr[c] != 0).any():
            cols[c] = label
            kinds[label] = "num" if split else "int"
    view = terr[[c for c in cols if c in terr.columns]].rename(columns=cols)
    measures = [c[:-8] for c in terr.columns if c.endswith("_dev_pct")]
    return view, kinds, [m for m in measures if m not in cols]


def describe_request(req: dict, options: dict) -> list[str]:
    """The alignment request as short sentences (not a dict): what was balanced, limited, shared."""
    out = []
    bal = req.get("balance") or {}
    if bal:
        out.append("balance " + ", ".join(f"{m} within ±{100 * v:g} % of the mean" for m, v in bal.items()))
    for m, v in (req.get("capacity") or {}).items():
        out.append(f"{m} at most {v:,.6g} per territory")
    for m, v in (req.get("max_disruption") or {}).items():
        out.append(f"at most {100 * v:g} % of {m} moved from its current territory")
    for m, v in (req.get("disruption_price") or {}).items():
        out.append(f"a price of {v:,.6g} per unit of {m} moved")
    if req.get("weight"):
        out.append(f"distance weighted by {req['weight']}")
    if req.get("k"):
        out.append(f"{req['k']} centres chosen among the units")
    c = options.get("contiguity")
    if c:
        src = str(c.get("graph") or "the adjacency graph").split(",")[0]
        src = Path(src).name if ("/" in src or "\\" in src) else src
        out.append(f"territories connected on {src} ({c.get('edges', 0):,} adjacent pairs)")
    else:
        out.append("territories need not be connected")
    if req.get("split"):
        sp = req["split"]
        out.append("units shared between neighbouring territories: " +
                   (", ".join(map(str, sp)) if isinstance(sp, list | tuple) else str(sp)))
    if req.get("territory_limits"):
        out.append(f"{len(req['territory_limits'])} per-territory limits")
    return out


def describe_case(c, cal) -> str:
    """A stress case in words and numbers (what the simulator applies)."""
    parts = [f"demand × {c.demand:g}" if c.demand != 1 else "demand as planned"]
    if c.win_shift:
        parts.append(f"win rates {100 * c.win_shift:+g} points")
    parts.append(f"year-to-year spread {100 * c.market_sigma:g} % shared, {100 * c.idiosyncratic_sigma:g} % per "
                 "territory")
    if c.shock_day is not None:
        month = int(np.searchsorted(cal.starts, c.shock_day, side="right"))
        parts.append(f"a further × {c.shock_demand:g} on demand from month {min(max(month, 1), 12)}")
    if c.windfall_probability:
        parts.append(f"{100 * c.windfall_probability:g} % of reps land one deal {c.windfall_size:g}× their average")
    if any(abs(v - 1) > 1e-12 for v in c.seasonality):
        parts.append("seasonal months (" + ", ".join(f"{v:g}" for v in c.seasonality) + ")")
    return "; ".join(parts)


def _quota_section(res, stage_dir: Path, max_rows: int) -> dict[str, Any]:
    q = res.quotas
    s = q.summary
    cols = [c for c in (q.id_column, "rep_id", "quota", "baseline", "change_pct", "history", "growth_pct",
                        "potential", "quota_to_potential", "p_attain", "bound") if c in q.table.columns]
    cols = list(dict.fromkeys(cols))
    kinds = {"change_pct": "pp", "growth_pct": "pp", "p_attain": "pct", "quota": "int", "baseline": "int",
             "history": "int", "potential": "int"}
    heads = {q.id_column: q.id_column.removesuffix("_id").replace("_", " "), "rep_id": "rep", "quota": "quota ($)",
             "baseline": "baseline ($)", "change_pct": "change vs baseline", "history": "last year ($)",
             "growth_pct": "growth vs last year", "potential": "potential", "quota_to_potential": "quota / potential",
             "p_attain": "chance of reaching quota", "bound": "held by a bound"}
    kinds = {heads.get(k, k): v for k, v in kinds.items()}
    facts = [["method", s["method"].replace("_", " ")], ["holders", f"{s['holders']:,}"],
             ["total (target × (1 + over-assignment))", _fmt(s["total"])], ["sum of quotas", _fmt(s["sum"])],
             ["rounded to", "—" if s["rounding_unit"] is None else _fmt(s["rounding_unit"])],
             ["Gini of quotas", f"{s['gini_quota']:.3f}"],
             ["largest change from baseline", _fmt(s["max_deviation"])]]
    if s.get("p_attain"):
        pa = s["p_attain"]
        facts.append(["chance of reaching quota", f"{pa['min']:.1%} – {pa['max']:.1%} (spread "
                                                  f"{100 * pa['spread']:.1f} pp, {pa['trials']:,} trials)"])
    if s.get("binding"):
        facts.append(["held by a bound", ", ".join(f"{k}: {v}" for k, v in s["binding"].items())])
    why = {"held by a bound": "no bound holds any quota"}
    return {"facts": facts, "table": _table(q.table[cols].rename(columns=heads), kinds, max_rows, prune=True, why=why,
                                    ids=[heads.get(q.id_column, q.id_column)]),
            "plot": _png(stage_dir / "quota" / "quotas.png")}


def _simulation_section(res, stage_dir: Path, plots: bool) -> dict[str, Any]:
    from spmopt.report.plots import plot_attainment, plot_payout_curve

    r = res.simulation
    s = r.summary()
    if "year" in s.columns:    # several simulated years: the table shows the first (the CSV has them all)
        s = s[s["year"] == 1].reset_index(drop=True)
    # motivation per dollar: extra revenue for each extra dollar of pay, against the first plan (same case)
    s["spend"] = s["cost_mean"] + s.get("coaching_cost", 0.0)              # incentive pay + coaching
    first = s.groupby("stress", sort=False)[["revenue_mean", "spend"]].transform("first")
    d_cost = s["spend"] - first["spend"]
    d_rev = s["revenue_mean"] - first["revenue_mean"]
    moved = d_rev.abs() > 1e-9 * first["revenue_mean"].abs()          # behaviour none: revenue never moves
    s["revenue_per_cost"] = (d_rev / d_cost).where((d_cost.abs() > 1e-6) & moved)
    cols = ["plan", "stress", "revenue_mean", "cost_mean", "cost_p50", "cost_p90", "cost_p95", "cost_cvar95",
            "cost_of_sales", "share_at_or_above_quota", "share_at_cap", "coaching_cost", "revenue_uplift",
            "revenue_per_cost", "effort_mean", "pulled_mean", "pushed_mean"]
    cols = [c for c in cols if c in s.columns]
    kinds = {"cost_of_sales": "pct", "share_at_or_above_quota": "pct", "share_at_cap": "pct",
             "revenue_uplift": "pct", "pulled_mean": "int", "pushed_mean": "int", "coaching_cost": "int"}
    pretty = s[cols].rename(columns={"stress": "stress case", "revenue_mean": "revenue, mean ($)",
                                     "cost_mean": "cost, mean ($)", "cost_p50": "cost P50 ($)",
                                     "cost_p90": "cost P90 ($)", "cost_p95": "cost P95 ($)",
                                     "cost_cvar95": "cost CVaR95 ($)", "cost_of_sales": "cost of sales",
                                     "share_at_or_above_quota": "reps at/above quota", "share_at_cap": "reps at cap",
                                     "revenue_uplift": "revenue vs first plan",
                                     "revenue_per_cost": "extra revenue per extra $ spent",
                                     "coaching_cost": "coaching ($)",
                                     "effort_mean": "effort, mean (1 = usual)", "pulled_mean": "pulled in ($)",
                                     "pushed_mean": "held back ($)"})
    kinds = {pretty.columns[cols.index(k)]: v for k, v in kinds.items() if k in cols}
    why = {"revenue vs first plan": "behaviour none: a plan does not change what reps sell"
           if r.spec.behaviour.mode == "none" else "the plans move sales alike",
           "reps at cap": "no plan caps pay, or no rep reaches a cap",
           "extra revenue per extra $ spent": "behaviour none: a plan does not change what reps sell"
           if r.spec.behaviour.mode == "none" else "no plan costs more or less than the first",
           "effort, mean (1 = usual)": "behaviour none: effort is not simulated" if r.spec.behaviour.mode == "none"
           else "every plan gets the same effort",
           "pulled in ($)": "no deal is pulled into an earlier period", "held back ($)": "no deal is held back",
           "coaching ($)": "no plan has a coaching programme"}
    table = _table(pretty, kinds, 500, prune=True, why=why, ids=("plan", "stress case"))
    out: dict[str, Any] = {"table": table, "per_dollar": "extra revenue per extra $ spent" in table["columns"],
                           "trials": r.trials, "reps": len(r.rep_ids),
                           "cases": [[c.name, describe_case(c, r.spec.cal)] for c in r.spec.cases],
                           "behaviour": r.spec.behaviour.mode, "engine": r.spec.engine,
                           "cost_cdf": _png(stage_dir / "simulate" / "cost_cdf.png"),
                           "monthly": _png(stage_dir / "simulate" / "monthly.png"), "attainment": [], "payout": []}
    if plots:
        out["attainment"] = [{"stress": ", ".join(r.stress_cases), "img": _fig(plot_attainment(r))}]
        import matplotlib.pyplot as plt

        quota = float(pd.Series(r.spec.reps.quota).median())
        for p in r.spec.plans:
            fig, ax = plt.subplots(figsize=(6.2, 4.0))
            plot_payout_curve(p, {m: quota / PERIODS.get(p.period, 1) for m in p.quota_measures()}, ax=ax)
            fig.tight_layout()
            out["payout"].append({"plan": p.name, "img": _fig(fig)})
    return out


def report_context(res, stage_dir: Path) -> dict[str, Any]:
    """Everything the template shows, as plain data."""
    run, scn = res.run, res.scenario
    ctx: dict[str, Any] = {"run": run, "scenario": scn,
                           "timing": [[k, f"{v:.1f} s"] for k, v in run["seconds"].items()],
                           "versions": list(run["versions"].items()),
                           "settings": yaml.safe_dump(run["settings"], sort_keys=False, allow_unicode=True),
                           "files": list(run["files"].items()), "notes": run["notes"]}
    mr = scn.report.max_rows
    if res.alignment is not None:
        ctx["align"] = _alignment_section(res, stage_dir, mr)
    if res.quotas is not None:
        ctx["quota"] = _quota_section(res, stage_dir, mr)
    if res.simulation is not None:
        ctx["sim"] = _simulation_section(res, stage_dir, scn.report.plots)
    return ctx


def render_report(res, stage_dir: Path) -> str:
    env = Environment(loader=PackageLoader("spmopt.report", "templates"), autoescape=select_autoescape(["j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(**report_context(res, Path(stage_dir)))


def write_report(res, stage_dir: str | Path, path: str | Path) -> Path:
    """Render the report of a run whose stage files are in ``stage_dir`` and write it atomically."""
    html = render_report(res, Path(stage_dir))
    p = Path(path)
    _atomic_write(p, lambda tmp: Path(tmp).write_text(html, encoding="utf-8"))
    return p
