"""Plots. Each function takes a result and an optional matplotlib ``ax`` and returns the axes."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from spmopt.territory.solve import Alignment


def _xy(units: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
    if "lon" in units.columns:
        lat = units["lat"].to_numpy(dtype=float)
        return units["lon"].to_numpy(dtype=float), lat, 1.0 / np.cos(np.radians(np.nanmean(lat)))
    return units["x"].to_numpy(dtype=float), units["y"].to_numpy(dtype=float), 1.0


def plot_territories(alignment: Alignment, ax=None, *, which: str = "after", size_by: str | None = None,
                     title: str | None = None):
    """Map of units coloured by territory (``which='after'`` the answer, ``'before'`` the current alignment),
    marker area proportional to ``size_by`` (default: the first balance measure), centres as black stars and a
    line from each unit to its centre."""
    p = alignment.problem
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6))
    if not any(c in p.units.columns for c in ("lon", "x")):
        ax.text(0.5, 0.5, "no coordinates to draw", ha="center", transform=ax.transAxes)
        return ax
    assign = alignment.assignment if which == "after" else p.current()
    if assign is None:
        raise ValueError("no current alignment to draw")
    x, y, aspect = _xy(p.units)
    labels = sorted(pd.unique(assign.dropna()))
    code = pd.Index(labels).get_indexer(assign.to_numpy())
    cmap = plt.get_cmap("tab20")
    colours = np.array([cmap(k % 20) for k in range(max(len(labels), 1))])
    size_by = size_by or next(iter(p.balance), None)
    s = 18.0
    if size_by is not None:
        w = p.measure(size_by)
        s = 8 + 120 * w / w.max() if w.max() > 0 else 18.0
    centre_of = _centre_points(alignment, labels, which)
    for k, t in enumerate(labels):
        sel = code == k
        if t in centre_of and np.isfinite(centre_of[t][0]):
            cx, cy = centre_of[t]
            for xi, yi in zip(x[sel], y[sel], strict=True):
                ax.plot([xi, cx], [yi, cy], color=colours[k], lw=0.4, alpha=0.5, zorder=1)
    whole = ~p.unit_ids.isin(list(p.pieces)) if p.pieces else np.ones(len(x), dtype=bool)
    s_arr = np.broadcast_to(np.asarray(s, dtype=float), x.shape)
    ax.scatter(x[whole], y[whole], s=s_arr[whole], c=colours[np.maximum(code, 0)][whole], edgecolors="white",
               linewidths=0.3, zorder=2)
    if p.pieces and which == "after":
        # a split unit: one marker at its place, in the colour of its largest share, ringed in black (its lines
        # go to every territory that shares it)
        f = alignment.assignment_frame()
        split_units = list(dict.fromkeys(u for u, _ in p.pieces.values()))
        first = {u: k for k, u in reversed(list(enumerate(p.unit_ids.map(lambda i: p.pieces.get(i, (i,))[0]))))}
        top = f[f["unit_id"].isin(split_units)].drop_duplicates("unit_id")   # largest share first
        ks = [first[u] for u in top["unit_id"]]
        size = [float(s_arr[[i for i, pid in enumerate(p.unit_ids) if p.pieces.get(pid, (None,))[0] == u]].sum())
                for u in top["unit_id"]]
        ax.scatter(x[ks], y[ks], s=size, c=colours[pd.Index(labels).get_indexer(top["territory_id"])],
                   edgecolors="black", linewidths=1.4, zorder=4, label="split unit (shared)")
        leg = ax.legend(loc="lower right", fontsize=7, frameon=False)
        for h in leg.legend_handles:
            h.set_sizes([40])
    elif p.pieces:
        ax.scatter(x[~whole], y[~whole], s=s_arr[~whole], c=colours[np.maximum(code, 0)][~whole],
                   edgecolors="white", linewidths=0.3, zorder=2)
    cx = [centre_of[t][0] for t in labels if t in centre_of]
    cy = [centre_of[t][1] for t in labels if t in centre_of]
    ax.scatter(cx, cy, marker="*", s=160, c="black", edgecolors="white", linewidths=0.8, zorder=3)
    ax.set_aspect(aspect)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or ("Optimised alignment" if which == "after" else "Current alignment"), fontsize=10)
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
    """Side-by-side maps of the current and the optimised alignment, with their key figures in the titles.
    Returns the figure (one panel if there is no current alignment)."""
    before = alignment.before
    n = 2 if before is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(7.5 * n, 6.6), squeeze=False)
    bal = list(alignment.problem.balance) or ["count"]

    def caption(m):
        dev = ", ".join(f"{k} ±{100 * m.max_balance_deviation.get(k, 0):.0f}%" for k in bal)
        return f"distance {m.distance:,.0f} {alignment.problem.distance_unit}; max dev {dev}"

    if before is not None:
        plot_territories(alignment, axes[0, 0], which="before", size_by=size_by,
                         title=f"Current alignment\n{caption(before)}")
    dis = ""
    if alignment.metrics.disruption:
        m0 = bal[0]
        dis = f"; {100 * alignment.metrics.disruption.get(m0, 0):.0f}% of {m0} moved"
    plot_territories(alignment, axes[0, n - 1], which="after", size_by=size_by,
                     title=f"Optimised ({alignment.status}, gap {100 * (alignment.gap or 0):.2f}%)\n"
                           f"{caption(alignment.metrics)}{dis}")
    fig.tight_layout()
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


def plot_attainment(result, stress: str | None = None, *, bins: int = 40):
    """Histogram of annual attainment (rep-trials) per plan under one stress case (default: the first), with
    the share at or above quota in each title. Returns the figure."""
    stress = stress or result.stress_cases[0]
    plans = result.plans
    cols = min(3, len(plans))
    rows = -(-len(plans) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, sharex=True)
    hi = max(float(np.quantile(result.attainment(p, stress), 0.995)) for p in plans)
    edges = np.linspace(0, max(hi, 1.6), bins + 1)
    for ax, p in zip(axes.ravel(), plans, strict=False):
        a = result.attainment(p, stress).ravel()
        ax.hist(a, bins=edges, color="#4C72B0", alpha=0.85)
        ax.axvline(1.0, color="k", lw=1, ls="--")
        ax.set_title(f"{p}\n{(a >= 1).mean():.0%} at/above quota", fontsize=9)
        ax.set_xlabel("annual attainment")
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    for ax in axes.ravel()[len(plans):]:
        ax.set_visible(False)
    fig.suptitle(f"Attainment distribution ({stress}, {result.trials:,} trials)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_cost_cdf(result, ax=None):
    """Empirical CDF of total incentive cost per trial, one line per plan (colour) and stress case (line style)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8))
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
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax


def plot_monthly(result, ax=None):
    """Mean revenue booked per month, one line per plan × stress case (year-end bunching shows here)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8))
    m = result.monthly()
    for (p, s), g in m.groupby(["plan", "stress"], sort=False):
        label = p if len(result.stress_cases) == 1 else f"{p} · {s}"
        ax.plot(g["month"], g["revenue_mean"], marker="o", label=label)
    ax.set_xticks(range(1, 13))
    return _finish(ax, "Monthly revenue profile", "month", "mean revenue booked (all reps)", ax.yaxis)


def plot_quotas(quotas):
    """Quotas against their baseline (bars, bound holders marked) and, when simulated, each holder's chance of
    reaching quota (else quota/potential). Returns the figure."""
    t = quotas.table.sort_values("quota", ascending=False)
    idc = quotas.id_column
    has_p = "p_attain" in t.columns
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(7.0, 0.32 * len(t) + 2.5), 7.2), sharex=True)
    x = np.arange(len(t))
    ax1.bar(x, t["quota"], color="#4C72B0", label="quota")
    ax1.plot(x, t["baseline"], "_", color="k", ms=12, mew=2, label="baseline")
    held = (t["bound"] != "").to_numpy()
    if held.any():
        ax1.bar(x[held], t["quota"].to_numpy()[held], color="#DD8452", label="held by a bound")
    ax1.set_ylabel("quota")
    ax1.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    s = quotas.summary
    over = f", +{100 * s['over_assignment']:.1f} %" if s["over_assignment"] else ""
    ax1.set_title(f"Quotas by {s['method'].replace('_', ' ')}: sum {s['sum']:,.0f} (target {s['target']:,.0f}{over})",
                  fontsize=10)
    ax1.legend(fontsize=8)
    if has_p:
        ax2.bar(x, t["p_attain"], color="#55A868")
        common = s.get("p_attain", {}).get("common")
        if common is not None:
            ax2.axhline(common, color="k", ls="--", lw=1, label=f"common chance {common:.1%}")
            ax2.legend(fontsize=8)
        ax2.set_ylabel("P(sales ≥ quota)")
        ax2.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax2.set_ylim(0, 1)
    elif "quota_to_potential" in t.columns:
        ax2.bar(x, t["quota_to_potential"], color="#8172B2")
        ax2.set_ylabel("quota / potential")
    ax2.set_xticks(x)
    ax2.set_xticklabels(t[idc], rotation=90, fontsize=7)
    ax2.grid(axis="y", alpha=0.3)
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
