"""Behavioural experiments: what the structural model (docs/simulation.md#behaviour) says about ten plan changes,
each against the direction (and size, where one is published) in the literature.

    python benchmarks/behaviour.py [--trials N] [--smoke]

Protocol: 40 reps in five skill groups (8 reps each at skill 0.7, 0.85, 1.0, 1.15, 1.3: win rate 0.25 × skill),
80 opportunities a year, log-normal deals of mean 50,000 (cv 0.5), 45-day cycles, annual quota 1,000,000 (a rep
of skill 1 expects 1,000,000 at effort 1), a flat market with a 10 % market factor; the vector engine with
``--behaviour full`` and default behaviour parameters; every plan sees the same trials (common random numbers).
Plans are built below, each with its settings printed in the table. Writes the table to benchmarks/RESULTS.md
(section ``behaviour``) and docs/behaviour-experiments.md.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from common import machine, write_section

from spmopt.plans import load_plan, plan_from_dict
from spmopt.sim import Behaviour, read_reps, simulate
from spmopt.sim.engine import prepare
from spmopt.sim.vector import BehaviourModel

warnings.simplefilter("ignore")
SKILLS = (0.7, 0.85, 1.0, 1.15, 1.3)
TI = 40_000
MARKET = {"base": {"market_sigma": 0.10}}
DOC = Path(__file__).resolve().parents[1] / "docs" / "behaviour-experiments.md"


def reps(per_group: int = 8) -> pd.DataFrame:
    n = per_group * len(SKILLS)
    return pd.DataFrame({"rep_id": [f"R{i:02d}" for i in range(n)], "quota": 1_000_000.0,
                         "opportunities_per_year": 80.0, "win_rate": 0.25, "deal_size_mean": 50_000.0,
                         "deal_size_cv": 0.5, "cycle_days": 45.0, "skill": np.repeat(SKILLS, per_group)})


def plan(name: str, components: list, period: str = "year", **kw):
    return plan_from_dict({"name": name, "target_incentive": TI, "period": period, "components": components, **kw})


def commission(rate: float, **kw) -> dict:
    return {"type": "commission", "measure": "revenue", "tiers": [[0, rate]], **kw}


def bonus(curve, weight: float = 1.0, **kw) -> dict:
    return {"type": "quota_bonus", "measure": "revenue", "curve": curve, "weight": weight, **kw}


def run(plans, trials: int, seed: int = 1, **kw):
    return simulate(reps(), plans, MARKET, trials=trials, seed=seed, behaviour="full", engine="vector",
                    workers=2, marginal=False, **kw)


def pct(x: float) -> str:
    return f"{100 * x:+.1f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--smoke", action="store_true", help="200 trials, nothing written")
    args = ap.parse_args()
    T = 200 if args.smoke else args.trials
    rows = []
    t0 = time.perf_counter()

    def add(k, what, settings, result, literature, verdict):
        rows.append({"#": k, "experiment": what, "settings": settings, "result": result, "literature": literature,
                     "direction": verdict})
        print(rows[-1], flush=True)

    # 1. commission rate
    res = run([plan(f"{r:.0%} commission", [commission(r)]) for r in (0.03, 0.04, 0.05)], T)
    s = res.summary().set_index("plan")
    rev, cost = s["revenue_mean"].to_numpy(), s["cost_mean"].to_numpy()
    el = np.log(rev[2] / rev[0]) / np.log(5 / 3)
    add(1, "higher commission rate", "flat commission 3 % / 4 % / 5 %, annual",
        f"revenue {rev[0] / 1e6:.2f} / {rev[1] / 1e6:.2f} / {rev[2] / 1e6:.2f} M$, cost {cost[0] / 1e3:.0f} / "
        f"{cost[1] / 1e3:.0f} / {cost[2] / 1e3:.0f} k$; revenue elasticity to the rate {el:.2f} (model: 1/ψ = "
        f"{1 / Behaviour().effort_curvature:.2f})", "revenue and cost rise with the rate", _ok(rev[2] > rev[1] > rev[0]
                                                                                            and cost[2] > cost[0]))

    # 2. removing a cap
    capped = plan("capped at 120 %", [commission(0.04, cap=0.04 * 1.2e6)])
    res = run([capped, plan("uncapped", [commission(0.04)])], T)
    s = res.summary().set_index("plan")
    up = s.loc["uncapped", "revenue_mean"] / s.loc["capped at 120 %", "revenue_mean"] - 1
    add(2, "remove a cap", "4 % commission capped at 120 % of quota → uncapped, annual", f"revenue {pct(up)}, "
        f"reps at cap {100 * s.loc['capped at 120 %', 'share_at_cap']:.0f} % before",
        "Misra & Nair (2011): +8–9 % after removing caps and quarterly horizons", _ok(up > 0))

    # 3. annual vs quarterly bonus: year-end and quarter-end bunching
    fair = reps().assign(quota=lambda d: 1e6 * d["skill"])     # quotas at each rep's expected sales
    curve = [[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]
    annual = plan("annual bonus", [bonus(curve, extrapolate=True)], target_incentive=25_000)
    quarterly = plan("quarterly bonus", [bonus(curve, extrapolate=True)], period="quarter", target_incentive=25_000)
    res = simulate(fair, [annual, quarterly], MARKET, trials=T, seed=1, behaviour="full", engine="vector",
                   workers=2, marginal=False, years=2)
    m = res.monthly().set_index(["plan", "year", "month"])["revenue_mean"]
    a1 = m.loc[("annual bonus", 1)]
    a2 = m.loc[("annual bonus", 2)]
    q1 = m.loc[("quarterly bonus", 1)]
    dec = a1.loc[12] / a1.loc[1:11].mean()
    jan = a2.loc[1] / a2.loc[2:11].mean()
    qe = q1.loc[[3, 6, 9, 12]].mean() / q1.loc[[1, 2, 4, 5, 7, 8, 10, 11]].mean()
    qs = q1.loc[[4, 7, 10]].mean() / q1.loc[[2, 5, 8, 11]].mean()
    add(3, "annual vs quarterly quota bonus", "bonus of 25,000 a year: 25 % at 50 % of quota, 100 % at quota, +2 "
        "points per point above (uncapped), annual vs quarterly; quotas at each rep's expected sales; 2 years",
        f"annual: December {dec:.2f}× the other months, next January {jan:.2f}×; quarterly: quarter-end months "
        f"{qe:.2f}× the others, first months of quarters {qs:.2f}× the middle ones",
        "Oyer (1998): year-end spike and a dip after under annual quotas; Larkin (2014): quarter-end pull-ins",
        _ok(dec > 1.02 and jan < 1 and qe > 1.02 and qs < 1))

    # 3b. the shipped quarterly plan: the sign of the quarter-end effect follows the cap and where reps stand
    shipped = load_plan("scenarios/plans/quota_bonus_accelerator.yaml")
    d = shipped.model_dump()
    nocap = plan_from_dict({**d, "name": "no cap",
                            "components": [{**d["components"][0], "cap": None, "extrapolate": True}]})
    team = pd.read_csv(Path(__file__).resolve().parents[1] / "scenarios" / "sim" / "reps.csv")
    parts, ratios = [], {}
    for label, r in (("shipped quotas", team), ("quotas +20 %", team.assign(quota=team["quota"] * 1.2))):
        res = simulate(r, [shipped, nocap], trials=T // 2, seed=1, behaviour="full", engine="vector", workers=2,
                       marginal=False)
        m = res.monthly().set_index(["plan", "month"])["revenue_mean"]
        s = res.summary().set_index("plan")
        for name in (shipped.name, "no cap"):
            x = m.loc[name]
            ratio = x.loc[[3, 6, 9, 12]].mean() / x.loc[[1, 2, 4, 5, 7, 8, 10, 11]].mean()
            ratios[(label, name == shipped.name)] = ratio
            parts.append(f"{label}, {'shipped' if name == shipped.name else 'no cap'}: {ratio:.2f}× "
                         f"({100 * s.loc[name, 'share_at_or_above_quota']:.0f} % at quota)")
    add("3b", "the shipped quarterly plan (quota_bonus_accelerator.yaml)", "its 25 reps (scenarios/sim/reps.csv); "
        "the plan as shipped (cap at 150 %) and without its cap; quotas as shipped and 20 % higher",
        "quarter-end months vs the others: " + "; ".join(parts),
        "reps past a cap hold deals back (Misra & Nair 2011); reps short of quota pull them in (Oyer 1998)",
        _ok(ratios[("shipped quotas", False)] > ratios[("shipped quotas", True)]
            and ratios[("quotas +20 %", True)] > ratios[("shipped quotas", True)]))

    # 4. hockey stick: December decisions by attainment on 1 December
    thr = plan("threshold bonus", [bonus([[0.8, 0.5], [1.0, 1.0], [1.3, 1.6]], cap=1.6)])
    spec = prepare(read_reps(reps()), [thr], None, seed=1, behaviour=Behaviour(mode="full"), engine="vector",
                   year=None, marginal=False, solve_workers=2).spec
    year = BehaviourModel(spec.reps, spec.cases[0], spec.cal, spec.behaviour, spec.policies[(0, 0)], (), 1).run(
        1, range(T))[0]
    by_nov = year.revenue[:, :, :11].sum(axis=-1) / 1e6          # attainment on 1 December
    dec_e = year.effort[:, :, 11]
    bins = [(0.0, 0.55), (0.55, 0.65), (0.65, 0.75), (0.75, 0.85), (0.85, 1.0), (1.0, 1.2), (1.2, 9)]
    parts = []
    for lo, hi in bins:
        sel = (by_nov >= lo) & (by_nov < hi)
        if sel.sum() >= 20:
            parts.append(f"{lo:.2f}–{hi:.2f}: {dec_e[sel].mean():.2f}" if hi < 9 else f"≥ {lo:.2f}: "
                         f"{dec_e[sel].mean():.2f}")
    far = dec_e[by_nov < 0.55].mean() if (by_nov < 0.55).sum() else np.nan
    near = dec_e[(by_nov >= 0.65) & (by_nov < 0.85)].mean()
    add(4, "threshold: give up far below, push just below", "annual bonus from 80 % of quota (50 % of target), 100 % "
        "at quota, 160 % at 130 % (cap)", "December effort by attainment on 1 December: " + "; ".join(parts),
        "Misra & Nair (2011), Chung et al. (2014): effort collapses far from the quota, peaks near it",
        _ok(near > far if np.isfinite(far) else near > dec_e.mean()))

    # 5. overachievement pay; quarterly bonuses and weak reps
    res = run([plan("pays above quota", [commission(0.04)]),
               plan("nothing above quota", [commission(0.04, cap=0.04 * 1e6)])], T)
    s = res.summary().set_index("plan")
    drop = s.loc["nothing above quota", "revenue_mean"] / s.loc["pays above quota", "revenue_mean"] - 1
    step = [[0.999, 0.0], [1.0, 1.0]]
    res2 = run([plan("annual step bonus", [commission(0.02), bonus(step, 0.5)]),
                plan("quarterly step bonus", [commission(0.02), bonus(step, 0.5)], period="quarter")], T)
    weak = np.arange(8)
    ra, rq = res2.cell(0).revenue[:, weak].mean(), res2.cell(1).revenue[:, weak].mean()
    add(5, "overachievement pay; quarterly bonus for weaker reps", "4 % commission with vs without pay above quota; "
        "2 % commission + 20,000 at quota, annual vs quarterly, for the 8 weakest reps (skill 0.7)",
        f"removing overachievement pay: revenue {pct(drop)}; "
        f"weakest reps under the quarterly bonus {pct(rq / ra - 1)} vs the annual one",
        "Chung et al. (2014): removing overachievement commissions ≈ −6 %; quarterly bonuses help weaker reps",
        _ok(drop < 0 and rq > ra))

    # 6. ratchet
    ratchet_plan = plan("quota bonus", [commission(0.01), bonus([[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]], 0.75)])
    fixed = run([ratchet_plan], T, years=3, quota_rule="fixed")
    rat = run([ratchet_plan], T, years=3, quota_rule="ratchet:0:0.5")
    top = np.arange(32, 40)
    f1 = fixed.by_year[(0, 0, 0)].revenue[:, top].mean()
    r1 = rat.by_year[(0, 0, 0)].revenue[:, top].mean()
    f_all = fixed.by_year[(0, 0, 0)].revenue.mean()
    r_all = rat.by_year[(0, 0, 0)].revenue.mean()
    q2 = rat.by_year[(0, 0, 1)].quota[:, top].mean()
    add(6, "ratchet: high performers hold back", "quota bonus (25 % of target at 50 %, 100 % at quota, 200 % at 150 %) "
        "+ 1 % commission; 3 years; next quota = ½ this quota + ½ this year's sales, vs fixed",
        f"year 1 revenue of the 8 best reps "
        f"(skill 1.3) {pct(r1 / f1 - 1)} under the ratchet (all reps {pct(r_all / f_all - 1)}); their year-2 quota "
        f"{q2 / 1e6:.2f} M$", "Weitzman (1980) ratchet effect; Misra & Nair (2011): forward-looking reps hold back",
        _ok(r1 < f1))

    # 7. SPIFF
    base7 = plan("no SPIFF", [commission(0.03)], period="month")
    spiff = plan("April SPIFF", [commission(0.03), {"type": "spiff", "name": "april", "measure": "revenue",
                                                    "amount": 1_000, "window": {"start": "2025-04-01",
                                                                                "end": "2025-04-30"}}],
                 period="month")
    res = run([base7, spiff], T, year=2025)
    m = res.monthly().set_index(["plan", "month"])["revenue_mean"]
    ratio = m.loc["April SPIFF"] / m.loc["no SPIFF"]
    add(7, "a SPIFF lifts its window, then pull-forward", "3 % monthly commission + 1,000 per deal closed in April "
        "(2 % of a mean deal)",
        f"revenue vs no SPIFF: March {ratio.loc[3]:.3f}, April {ratio.loc[4]:.3f}, May {ratio.loc[5]:.3f}, June "
        f"{ratio.loc[6]:.3f}", "SPIFFs lift the window and pull deals in from the months after",
        _ok(ratio.loc[4] > 1.02 and ratio.loc[5] < 1))

    # 8. gate on a second goal
    add(8, "a gate on a second goal shifts effort to it", "—", "not modelled: second goals (NPS, new logos, MBO) are "
        "inputs from the reps file, so a gate changes pay but not how effort is split", "—", "not built")

    # 9. progressive vs regressive tiers
    prog = plan("progressive", [{"type": "commission", "measure": "revenue", "on": "attainment",
                                 "tiers": [[0, 0.02], [0.5, 0.04], [1.0, 0.07]]}])
    reg = plan("regressive", [{"type": "commission", "measure": "revenue", "on": "attainment",
                               "tiers": [[0, 0.06], [0.5, 0.04], [1.0, 0.02]]}])
    res = run([prog, reg], T)
    s = res.summary().set_index("plan")
    add(9, "progressive vs regressive tiers", "annual commission on attainment bands 0–50–100 %: 2/4/7 % vs 6/4/2 % "
        "(both 4 % on average at quota)", f"effort {s.loc['progressive', 'effort_mean']:.2f} vs "
        f"{s.loc['regressive', 'effort_mean']:.2f}; revenue {s.loc['progressive', 'revenue_mean'] / 1e6:.1f} vs "
        f"{s.loc['regressive', 'revenue_mean'] / 1e6:.1f} M$; cost of sales "
        f"{100 * s.loc['progressive', 'cost_of_sales']:.2f} % vs {100 * s.loc['regressive', 'cost_of_sales']:.2f} %",
        "convex pay raises effort at the margin that matters; regressive pay is cheaper per dollar at low output",
        _ok(s.loc["progressive", "effort_mean"] > s.loc["regressive", "effort_mean"]))

    # 10. coaching vs more commission
    base10 = plan("3 % commission", [commission(0.03)])
    coach = plan("3 % + coaching", [commission(0.03)], coaching={"cost_per_rep": 6_000, "win_rate_lift": 0.13,
                                                                  "ramp_months": 6})
    richer = plan("3.5 % commission", [commission(0.035)])
    res = run([base10, coach, richer], T)
    s = res.summary().set_index("plan")
    spend = s["cost_mean"] + s["coaching_cost"]
    d_rev = s["revenue_mean"] - s.loc["3 % commission", "revenue_mean"]
    d_spend = spend - spend.loc["3 % commission"]
    per = d_rev / d_spend
    lift_c = d_rev["3 % + coaching"] / s.loc["3 % commission", "revenue_mean"]
    lift_r = d_rev["3.5 % commission"] / s.loc["3 % commission", "revenue_mean"]
    add(10, "coaching vs more commission", "3 % commission; + coaching (6,000 a rep a year, +13 % deals closed, "
        "ramped over 6 months); or 3.5 % commission",
        f"coaching: revenue {pct(lift_c)} for {d_spend['3 % + coaching'] / 1e3:.0f} k$ more spent "
        f"({per['3 % + coaching']:.1f} $ per $); 3.5 %: revenue {pct(lift_r)} for "
        f"{d_spend['3.5 % commission'] / 1e3:.0f} k$ ({per['3.5 % commission']:.1f} $ per $)",
        "coaching raises close rates and revenue by about 13 % (the issue's seed articles)",
        _ok(lift_c > 0 and lift_r > 0))

    secs = time.perf_counter() - t0
    cols = ["#", "experiment", "settings", "result", "literature", "direction"]
    text = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] +
                     ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows])
    print(text)
    print(f"{secs:.0f} s")
    if args.smoke:
        return
    head = ("`benchmarks/behaviour.py`, " + f"{T:,} trials per plan, 40 reps in five skill groups (0.7–1.3), "
            "default behaviour parameters (ψ = 3, r₀ = 4 %), vector engine, common random numbers. "
            f"{machine()}; {secs:.0f} s.\n\n")
    write_section("behaviour", "## Behavioural experiments (issue 27)\n\n" + head + text + "\n")
    DOC.write_text("# Behavioural experiments\n\nWhat the structural model of [simulation.md](simulation.md#behaviour) "
                   "says about ten plan changes, against the direction (and size, where published) in the "
                   "literature. Produced by " + head + text + "\n" + NOTES)


NOTES = """
## Reading the table

- **Directions** are the model's, from its one mechanism (each rep maximising the plan's pay, as the payout engine
  pays it, minus the cost of effort); no experiment has a rule of its own.
- **Sizes** depend on the parameters, which are assumptions until fitted to a company's history
  ([calibration.md](calibration.md)). Two are larger than the published figures:
  - removing overachievement pay (5): −14 % against Chung et al.'s −6 %. In the model a rep with nothing to earn
    works at `effort_min` (0.5); real reps have other reasons to sell (career, recognition). Raise `effort_min`
    for a milder response.
  - the ratchet (6): the model's reps know the rule exactly, see three years ahead and discount little, so they
    hold back hard (−24 % for the best reps in year 1). Misra & Nair's reps responded to a ratchet they
    inferred.
- **Timing costs decide the year-end sign** (3). At the default 20 % of held-back deals lost, pull-ins outweigh
  hold-backs at period ends, as Oyer and Larkin observe. With 10 % lost, the annual bonus's December *dips*
  (0.93×) and next January rises (1.09×): reps below quota but expecting a better year hold deals for it
  (under a convex plan, revenue is worth more in a good year). Quarter-end spikes under the quarterly bonus
  hold either way.
- **The shipped quarterly plan** (3b): with its 25 reps, quarter-end months come out slightly *below* the
  others (0.98×). Seven rep-years in ten beat quota under it, and the 150 % quarterly cap binds often enough that
  holding deals for the next quarter outweighs pulling them in. Without the cap, or with quotas 20 % higher (a
  third of rep-years at quota), quarter ends spike (1.02× to 1.11×). The sign of the quarter-end effect is a
  property of the plan and the quotas, not of the model.
- **The SPIFF** (7) draws deals both ways: March loses those held back into April, May those pulled into it.
  The window's lift is large because a 1,000 bonus per deal is 2 % of a mean deal on top of a 3 % commission.
- **Not built** (8): effort split between goals. Gates and linked goals on a second measure change pay, not
  behaviour, until the second measure is simulated.
"""


def _ok(flag: bool) -> str:
    return "as documented" if flag else "**not as documented**"


if __name__ == "__main__":
    main()
