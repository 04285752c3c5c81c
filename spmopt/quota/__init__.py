"""Quota setting: turn a company target into quotas that add up exactly, hold the bounds asked for, and are
fair — measured as each rep's simulated chance of reaching quota.

>>> from spmopt import set_quotas
>>> q = set_quotas("scenarios/quota/reps.csv", 24_000_000, "blend", weights={"potential": 0.6, "history": 0.4},
...                growth=(-0.05, 0.25), unit=1000)                                  # doctest: +SKIP
>>> q.table[["rep_id", "quota", "baseline", "growth_pct", "p_attain"]]              # doctest: +SKIP

Modules: :mod:`~spmopt.quota.basis` (inputs), :mod:`~spmopt.quota.methods` (baselines, proportional and
equal-chance spreads), :mod:`~spmopt.quota.bounds` (bound families, infeasibility diagnosis),
:mod:`~spmopt.quota.model` (the Pyomo model), :mod:`~spmopt.quota.fairness` (Gini, simulated chances),
:mod:`~spmopt.quota.relief` (quota relief after a realignment).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spmopt.errors import InfeasibleError, InputError
from spmopt.quota.basis import QuotaBasis, basis_from_alignment, basis_from_table, basis_from_units
from spmopt.quota.bounds import Bounds, boxes, diagnose
from spmopt.quota.fairness import attainment_chance, gini, simulated_sales
from spmopt.quota.methods import (
    SalesQuantiles,
    baseline_shares,
    blend_weights,
    equal_chance_fill,
    normalise_method,
    proportional_fill,
)
from spmopt.quota.model import fit
from spmopt.quota.relief import Relief, quota_relief
from spmopt.solver import SolveOptions

__all__ = ["Bounds", "QuotaBasis", "QuotaWarning", "Quotas", "Relief", "basis_from_alignment", "basis_from_table",
           "basis_from_units", "gini", "precheck_quotas", "precheck_quotas_any_alignment", "quota_relief",
           "set_quotas"]

DEVIATIONS = ("l1", "relative")


@dataclass(frozen=True)
class Quotas:
    """Quotas and how they were reached. ``table`` has one row per holder (the ``quotas.csv`` contract);
    ``summary`` is the ``summary.json`` contract; ``samples`` the simulated annual sales (trials × holders)
    behind ``p_attain``, when simulated."""

    table: pd.DataFrame
    summary: dict[str, Any]
    basis: QuotaBasis
    samples: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def id_column(self) -> str:
        return self.basis.id_column

    @property
    def quota(self) -> pd.Series:
        """Quota by holder id."""
        return self.table.set_index(self.id_column)["quota"]

    def for_simulation(self) -> pd.DataFrame:
        """``rep_id,quota`` — the quotas file of ``spmopt simulate --quotas``."""
        col = "rep_id" if "rep_id" in self.table.columns else self.id_column
        return self.table[[col, "quota"]].rename(columns={col: "rep_id"})


def _basis(basis, potential, history, rollup) -> QuotaBasis:
    if isinstance(basis, QuotaBasis):
        return basis
    if isinstance(basis, str | os.PathLike):
        from spmopt.data.io import read_table

        basis = read_table(basis)
    if isinstance(basis, pd.DataFrame):
        if "unit_id" in basis.columns:
            return basis_from_units(basis, None, potential=potential, history=history, rollup=rollup)
        return basis_from_table(basis, potential=potential, history=history, rollup=rollup)
    if hasattr(basis, "assignment") and hasattr(basis, "problem"):
        return basis_from_alignment(basis, potential=potential, history=history, rollup=rollup)
    raise TypeError(f"cannot set quotas on a {type(basis).__name__} (give a table, a file, a QuotaBasis or an "
                    "Alignment)")


def _stats(x: np.ndarray) -> dict[str, float] | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return None
    mean = float(x.mean())
    nonneg = bool((x >= 0).all())   # CV and Gini only mean something for non-negative figures (not growth)
    return {"min": float(x.min()), "max": float(x.max()), "mean": mean,
            "cv": (float(x.std() / mean) if mean else 0.0) if nonneg else None,
            "gini": gini(x) if nonneg else None}


def _checked_bounds(basis, target: float, *, over_assignment: float = 0.0, growth=None, ratio=None,
                    floor: float | None = None, ceiling: float | None = None,
                    fixed: Mapping[str, float] | None = None, unit: float | None = None,
                    potential: str = "potential", history: str = "history", rollup: str | None = None):
    """The basis, the total and the bounds of a quota request, checked before any model is built: the
    arguments, then whether the bounds and Σ q = total can hold at all (:func:`~spmopt.quota.bounds.diagnose`,
    which raises :class:`InfeasibleError` naming the family and the least relaxation)."""
    if not (isinstance(target, int | float) and math.isfinite(target) and target > 0):
        raise InputError(f"target must be a positive number, got {target}")
    if not (math.isfinite(over_assignment) and over_assignment > -1):
        raise InputError(f"over-assignment must be > -1 (a fraction: 0.05 = 5 %), got {over_assignment}")
    if unit is not None and not (math.isfinite(unit) and unit > 0):
        raise InputError(f"rounding unit must be > 0, got {unit}")
    b_ = _basis(basis, potential, history, rollup)
    if len(b_) == 0:
        raise InputError("no quota holders", source=b_.source)
    total = float(target) * (1.0 + float(over_assignment))
    if unit:
        total_r = round(total / unit) * unit
        if abs(total_r - total) <= 1e-9 * total:
            total = float(total_r)
    bounds = Bounds(growth=growth, ratio=ratio, floor=floor, ceiling=ceiling, fixed=dict(fixed or {}))
    bx = boxes(b_, bounds)
    diagnose(bx, b_, total, unit=unit)
    return b_, total, bounds, bx


def precheck_quotas(basis, target: float, **bounds) -> None:
    """The checks :func:`set_quotas` makes before it solves, alone (``spmopt validate`` runs them): raises
    :class:`InputError` or :class:`InfeasibleError` with the message ``set_quotas`` would give. ``bounds``:
    ``over_assignment``, ``growth``, ``ratio``, ``floor``, ``ceiling``, ``fixed``, ``unit`` and the column
    names, as in :func:`set_quotas`."""
    _checked_bounds(basis, target, **bounds)


def precheck_quotas_any_alignment(n_holders: int, potential: float, target: float, *, over_assignment: float = 0.0,
                                  ratio=None, floor: float | None = None, ceiling: float | None = None,
                                  unit: float | None = None) -> None:
    """Quota bounds that no alignment of the units into ``n_holders`` territories can meet, known before the
    alignment exists (``spmopt validate`` on a scenario whose quotas go on the new territories). Every
    territory's bounds are max(floor, r_lo·potential) … min(ceiling, r_hi·potential): the lowest sum is convex
    and the highest concave in the territories' potentials, so both are most favourable with the total
    ``potential`` shared equally (Jensen) — when even that case fails, every alignment fails. Checked with
    uniform bounds only (per-territory limits, fixed quotas or growth on history are left to the run), and
    rounding by its sum rule alone (rounded bounds are not convex)."""
    ids = tuple(["a territory with the mean potential"] * n_holders)
    nan = np.full(n_holders, np.nan)
    proxy = QuotaBasis(ids=ids, id_column="territory_id", potential=np.full(n_holders, potential / n_holders),
                       history=nan, rollup=nan, last_quota=nan, floor=nan, ceiling=nan, fixed=nan,
                       source="the aligned territories")
    total = float(target) * (1.0 + float(over_assignment))
    if unit:
        total_r = round(total / unit) * unit
        if abs(total_r - total) <= 1e-9 * total:
            total = float(total_r)
    bx = boxes(proxy, Bounds(ratio=ratio, floor=floor, ceiling=ceiling))
    if unit:
        from spmopt.quota.bounds import _check_sum_multiple

        _check_sum_multiple(bx, total, float(unit))
    try:
        diagnose(bx, proxy, total)
    except InfeasibleError as exc:
        msg = str(exc).replace("quotas cannot meet all bounds: ",
                               f"quotas cannot meet all bounds on any alignment into {n_holders} territories "
                               f"(checked with their potential shared equally, the most favourable case): ", 1)
        raise InfeasibleError(msg, family=exc.family, suggestion=exc.suggestion) from None


def set_quotas(basis, target: float, method: str = "potential", *, weights: Mapping[str, float] | None = None,
               deviation: str = "l1", over_assignment: float = 0.0,
               growth: tuple | str | None = None, ratio: tuple | str | None = None,
               floor: float | None = None, ceiling: float | None = None, fixed: Mapping[str, float] | None = None,
               unit: float | None = None, simulate: bool | None = None, trials: int = 4000, seed: int = 0,
               stress=None, stress_case: str | None = None, workers: int | None = 1,
               potential: str = "potential", history: str = "history", rollup: str | None = None,
               options: SolveOptions | None = None,
               progress: Callable[[str], None] | None = None) -> Quotas:
    """Set quotas that add up to ``target × (1 + over_assignment)``.

    Parameters
    ----------
    basis : reps or territories table / file (see :mod:`spmopt.quota.basis`), a units table with
        ``current_territory``, an :class:`~spmopt.territory.Alignment`, or a :class:`QuotaBasis`.
    target : the company target the quotas share out.
    method : ``potential`` | ``history`` | ``blend`` (``weights`` over potential/history/rollup) | ``rollup``
        (sum of account-level expectations, column ``rollup``) | ``equal_chance`` (every rep the same simulated
        chance of reaching quota; needs the simulator's columns).
    deviation : ``l1`` (Σ|q − b|: the least quota moved, spread in proportion to the baseline) or ``relative``
        (Σ|q − b|/b: the least percentage moved, so adjustments land on the largest holders).
    over_assignment : o in Σ quotas = target × (1 + o).
    growth, ratio : ``(low, high)`` bounds on q/history − 1 and q/potential (either side None), or 'low:high'.
    floor, ceiling : bounds for everyone (``floor``/``ceiling`` columns add per-holder ones).
    fixed : holder id → quota kept as given (``fixed_quota`` column too); fixed holders skip other bounds.
    unit : round every free quota to a multiple of this (integer variables; the sum stays exact).
    simulate : report P(attain) from the simulator (default: whenever the table has the simulator's columns).
        ``equal_chance`` fits on ``seed`` and reports P(attain) from an independent run (``seed + 1``).
    trials, seed, stress, stress_case, workers : the simulation behind ``equal_chance`` and P(attain).
    potential, history, rollup : input column names.
    options : solver options (default: 60 s, gap 1e-9).
    progress : called with a short message at each step.
    """
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    method = normalise_method(method)
    if deviation not in DEVIATIONS:
        raise InputError(f"unknown deviation '{deviation}' (use {' or '.join(DEVIATIONS)})")
    b_, total, bounds, bx = _checked_bounds(basis, target, over_assignment=over_assignment, growth=growth, ratio=ratio,
                                    floor=floor, ceiling=ceiling, fixed=fixed, unit=unit, potential=potential,
                                    history=history, rollup=rollup)
    notes: list[str] = list(bx.notes)
    for i in np.flatnonzero(bx.is_fixed):
        v = bx.fixed[i]
        lo_o = max([0.0, *(float(a[i]) for a in bx.lo.values())])
        hi_o = min([math.inf, *(float(a[i]) for a in bx.hi.values())])
        if not lo_o - 1e-9 <= v <= hi_o + 1e-9:
            notes.append(f"{b_.ids[i]}'s fixed quota {v:,.0f} lies outside its other bounds "
                         f"[{lo_o:,.0f}, {hi_o:,.0f}]; fixed quotas are kept as given")
    lo, hi = bx.lower(), bx.upper()

    sim = simulate if simulate is not None else b_.reps is not None
    if (sim or method == "equal_chance") and b_.reps is None:
        raise InputError(f"{'equal-chance quotas need' if method == 'equal_chance' else 'simulating needs'} the "
                         "simulator's columns (win_rate, deal_size_mean, deal_size_cv, and opportunities_per_year "
                         "or potential)", source=b_.source)
    samples = None
    extra: dict[str, Any] = {}
    if method == "equal_chance":
        say(f"simulating {trials:,} years of sales for {len(b_)} reps")
        samples = simulated_sales(b_.reps, trials=trials, seed=seed, stress=stress, stress_case=stress_case,
                                  workers=workers)
        Q = SalesQuantiles(samples)
        p, pi = equal_chance_fill(Q, lo, hi, total)
        try:
            b, pi0 = equal_chance_fill(Q, np.zeros(len(b_)), np.full(len(b_), np.inf), total)
        except InputError:   # only the bounded problem can place this total: it is the baseline too
            b, pi0 = p.copy(), pi
            notes.append("the total is outside the simulated sales' range without the bounds; the baseline is "
                         "the bounded equal-chance quotas")
        extra = {"common_probability": pi, "common_probability_unbounded": pi0}
    else:
        w = blend_weights(weights) if method == "blend" else None
        b = total * baseline_shares(b_, method, w)
        p, _ = proportional_fill(b, lo, hi, total)
        extra = {"weights": w}
    say("solving the quota model")
    f = fit(b, p, lo, hi, bx.fixed, total, deviation=deviation, unit=unit, options=options)
    q = f.quota

    p_attain = None
    if sim:
        if method == "equal_chance":
            say(f"checking on {trials:,} independent years (seed {seed + 1})")
            check = simulated_sales(b_.reps, trials=trials, seed=seed + 1, stress=stress, stress_case=stress_case,
                                    workers=workers)
        else:
            say(f"simulating {trials:,} years of sales for {len(b_)} reps")
            check = samples = simulated_sales(b_.reps, trials=trials, seed=seed, stress=stress,
                                              stress_case=stress_case, workers=workers)
        p_attain = attainment_chance(check, q)

    if unit:  # the bounds as the model saw them: rounded inward to multiples of the unit
        lo = np.where(bx.is_fixed, lo, np.ceil(lo / unit - 1e-9) * unit)
        hi = np.where(bx.is_fixed, hi, np.floor(hi / unit + 1e-9) * unit)
    table = _table(b_, q, b, lo, hi, bx, p_attain)
    broken = _equal_chance_held(table, b_.id_column, extra.get("common_probability")) \
        if method == "equal_chance" and p_attain is not None else None
    if broken:
        notes.append(broken["message"])
        warnings.warn(broken["message"], QuotaWarning, stacklevel=2)
    summary = _summary(b_, table, method, deviation, target, over_assignment, total, unit, bounds, f, extra,
                       p_attain, trials if sim else None, seed, notes, time.perf_counter() - t0)
    if method == "equal_chance" and p_attain is not None:
        summary["equal_chance"] = {"holds": broken is None, **({} if broken is None else
                                                               {k: v for k, v in broken.items() if k != "message"})}
    return Quotas(table=table, summary=summary, basis=b_, samples=samples, notes=notes)


class QuotaWarning(UserWarning):
    """Quotas were set, but not as asked: e.g. bounds that stop equal chance."""


EQUAL_CHANCE_TOL = 0.05   # a holder more than 5 points of probability from the common chance breaks equal chance


def _equal_chance_held(t: pd.DataFrame, idc: str, common: float | None) -> dict[str, Any] | None:
    """When bounds hold some equal-chance quotas away from the common chance (by more than
    ``EQUAL_CHANCE_TOL``, which is well above the check's sampling error at the default trials), the holders,
    their chances and the growth equal chance would need (from the unbounded baseline)."""
    if common is None or "p_attain" not in t:
        return None
    off = (t["bound"] != "") & ((t["p_attain"] - common).abs() > EQUAL_CHANCE_TOL)
    if not off.any():
        return None
    held = t[off].assign(gap=(t["p_attain"] - common).abs()).sort_values("gap", ascending=False)
    names = ", ".join(f"{r[idc]} ({r['bound'].replace('_', ' ')}: {100 * r['p_attain']:.0f} %)"
                      for _, r in held.head(6).iterrows()) + (f" and {len(held) - 6} more" if len(held) > 6 else "")
    need = ""
    if "history" in t and (t["history"] > 0).any():
        g = (t["baseline"] / t["history"] - 1.0)[t["history"] > 0]
        need = (f"; equal chance without bounds needs growth from {100 * g.min():+.0f} % to {100 * g.max():+.0f} % "
                "of last year")
    msg = (f"the bounds stop equal chance: {len(held)} holder(s) are held by a bound away from the common "
           f"{100 * common:.0f} % chance of reaching quota: {names}; chances range {100 * t['p_attain'].min():.0f} % "
           f"to {100 * t['p_attain'].max():.0f} %{need}. Loosen those bounds for equal chance.")
    return {"message": msg, "common": float(common), "tolerance": EQUAL_CHANCE_TOL,
            "held": {str(r[idc]): {"bound": r["bound"], "p_attain": float(r["p_attain"])} for _, r in held.iterrows()},
            "p_attain_range": [float(t["p_attain"].min()), float(t["p_attain"].max())]}


def _table(basis: QuotaBasis, q, b, lo, hi, bx, p_attain) -> pd.DataFrame:
    t = pd.DataFrame({basis.id_column: list(basis.ids)})
    for k, v in basis.labels.items():
        t[k] = v
    t["quota"] = q
    t["baseline"] = b
    t["change"] = q - b
    with np.errstate(divide="ignore", invalid="ignore"):
        t["change_pct"] = np.where(b > 0, 100.0 * (q / b - 1.0), np.nan)
        if not np.isnan(basis.potential).all():
            t["potential"] = basis.potential
            t["quota_to_potential"] = np.where(basis.potential > 0, q / basis.potential, np.nan)
        if not np.isnan(basis.history).all():
            t["history"] = basis.history
            t["growth_pct"] = np.where(basis.history > 0, 100.0 * (q / basis.history - 1.0), np.nan)
    if not np.isnan(basis.last_quota).all():
        t["last_quota"] = basis.last_quota
    if basis.units is not None:
        t["units"] = basis.units
    tol = 1e-6 * np.maximum(1.0, np.abs(q))
    set_lo, set_hi = bx.setter("lo"), bx.setter("hi")
    bound = np.where(bx.is_fixed, "fixed",
                     np.where((q <= lo + tol) & (set_lo != ""), set_lo + "_min",
                              np.where((q >= hi - tol) & (set_hi != ""), set_hi + "_max", "")))
    t["bound"] = bound
    if p_attain is not None:
        t["p_attain"] = p_attain
    return t


def _summary(basis, t, method, deviation, target, over, total, unit, bounds, f, extra, p_attain, trials, seed,
             notes, seconds) -> dict[str, Any]:
    q, b = t["quota"].to_numpy(), t["baseline"].to_numpy()
    s: dict[str, Any] = {
        "method": method, "deviation": deviation, "holders": len(t), "id_column": basis.id_column,
        "target": float(target), "over_assignment": float(over), "total": total, "sum": math.fsum(q),
        "sum_error": math.fsum(q) - total, "rounding_unit": unit,
        "max_deviation": float(np.max(np.abs(q - b))),
        "max_deviation_pct": float(np.nanmax(np.abs(t["change_pct"]))) if t["change_pct"].notna().any() else None,
        "total_abs_deviation": float(np.sum(np.abs(q - b))),
        "quota_to_potential": _stats(t["quota_to_potential"]) if "quota_to_potential" in t else None,
        "growth_pct": _stats(t["growth_pct"]) if "growth_pct" in t else None,
        "gini_quota": gini(q),
        "bounds": {"growth": bounds.growth, "ratio": bounds.ratio, "floor": bounds.floor,
                   "ceiling": bounds.ceiling, "fixed": len(t[t["bound"] == "fixed"])},
        "binding": {k: int(v) for k, v in t["bound"][t["bound"] != ""].value_counts().items()},
        "solver": {"status": f.stage1.status, "tie_break_status": f.stage2.status, "solver": f.stage1.solver,
                   "rounding_status": None if f.rounding is None else f.rounding.status,
                   "rounding_seconds": None if f.rounding is None else round(f.rounding.seconds, 4),
                   "rounding_by": None if f.rounding is None else f.rounding.solver,
                   "deviation_objective": f.deviation, "seconds": round(f.stage1.seconds + f.stage2.seconds, 4),
                   "build_seconds": round(f.build_seconds, 4)},
        "seconds": round(seconds, 3), "notes": list(notes),
    }
    if method == "blend":
        s["weights"] = extra.get("weights")
    if p_attain is not None:
        pa = np.asarray(p_attain)
        s["p_attain"] = {"mean": float(pa.mean()), "min": float(pa.min()), "max": float(pa.max()),
                         "spread": float(pa.max() - pa.min()), "sd": float(pa.std()), "gini": gini(pa),
                         "trials": trials, "seed": seed + 1 if method == "equal_chance" else seed}
        if method == "equal_chance":
            s["p_attain"]["common"] = extra["common_probability"]
            s["p_attain"]["common_unbounded"] = extra["common_probability_unbounded"]
            free = (t["bound"] == "").to_numpy()
            if free.any():
                s["p_attain"]["max_gap_to_common_free"] = float(np.max(np.abs(pa[free] - extra["common_probability"])))
    return s
