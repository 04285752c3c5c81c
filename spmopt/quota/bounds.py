"""Bounds on quotas, by family, and the diagnosis of bounds that cannot all hold.

Every bound is a box on one holder's quota, so the families are kept apart:

==============  ==========================================================  ==============================
family          bound                                                       from
==============  ==========================================================  ==============================
``growth``      history·(1 + g_lo) ≤ q ≤ history·(1 + g_hi)                 ``growth=(g_lo, g_hi)``
``ratio``       potential·r_lo ≤ q ≤ potential·r_hi                          ``ratio=(r_lo, r_hi)``
``limits``      max(floor, row floor) ≤ q ≤ min(ceiling, row ceiling)       ``floor``, ``ceiling``, columns
``fixed``       q = fixed (the holder is exempt from the other families)    ``fixed={id: q}``, column
==============  ==========================================================  ==============================

and every quota is ≥ 0. When they cannot all hold together with Σ q = total, :func:`diagnose` raises
:class:`~spmopt.errors.InfeasibleError` naming the binding family and the smallest single relaxation of each
family that makes the problem feasible (found by bisection on a closed-form feasibility test, then rounded
outward so the printed figure surely works).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from spmopt.errors import InfeasibleError, InputError

FAMILY_LABEL = {"growth": "growth vs history", "ratio": "quota/potential", "limits": "floor/ceiling",
                "fixed": "fixed quotas", "target": "target", "rounding": "rounding"}


def _pair(v, name: str) -> tuple[float | None, float | None] | None:
    if v is None:
        return None
    if isinstance(v, str):
        parts = v.replace(",", ":").split(":")
        if len(parts) != 2:
            raise InputError(f"{name} must be 'low:high' (either may be empty), got '{v}'")
        v = tuple(None if not p.strip() else p for p in parts)
    lo, hi = v
    try:
        lo = None if lo is None else float(lo)
        hi = None if hi is None else float(hi)
    except (TypeError, ValueError):
        raise InputError(f"{name} bounds must be numbers, got {v}") from None
    for x in (lo, hi):
        if x is not None and not math.isfinite(x):
            raise InputError(f"{name} bounds must be finite, got {v}")
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"{name} lower bound {lo:g} is above its upper bound {hi:g}")
    return lo, hi


@dataclass(frozen=True)
class Bounds:
    """The bounds asked for. ``growth`` (fractions: ``(-0.05, 0.25)`` = −5 % to +25 % vs history) and
    ``ratio`` (quota/potential) are ``(low, high)`` pairs, either side None, or text ``'low:high'``;
    ``floor``/``ceiling`` apply to everyone (per-holder ``floor``/``ceiling`` columns add to them);
    ``fixed`` maps holder id → quota."""

    growth: tuple[float | None, float | None] | None = None
    ratio: tuple[float | None, float | None] | None = None
    floor: float | None = None
    ceiling: float | None = None
    fixed: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "growth", _pair(self.growth, "growth"))
        object.__setattr__(self, "ratio", _pair(self.ratio, "quota/potential ratio"))
        if self.ratio is not None and any(x is not None and x < 0 for x in self.ratio):
            raise InputError(f"quota/potential bounds must be >= 0, got {self.ratio}")
        for name in ("floor", "ceiling"):
            v = getattr(self, name)
            if v is not None and (not math.isfinite(float(v)) or float(v) < 0):
                raise InputError(f"{name} must be a number >= 0, got {v}")
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            raise InputError(f"floor {self.floor:,.0f} is above ceiling {self.ceiling:,.0f}")
        for k, v in dict(self.fixed).items():
            if not math.isfinite(float(v)) or float(v) < 0:
                raise InputError(f"fixed quota of '{k}' must be a number >= 0, got {v}")


@dataclass
class Boxes:
    """Per-holder bounds of each family (NaN-free: −inf/+inf where a family says nothing)."""

    lo: dict[str, np.ndarray]
    hi: dict[str, np.ndarray]
    fixed: np.ndarray            # NaN = not fixed
    params: dict[str, tuple]     # the scalar parameters of each family, for relaxations
    notes: list[str] = field(default_factory=list)

    @property
    def is_fixed(self) -> np.ndarray:
        return ~np.isnan(self.fixed)

    def lower(self) -> np.ndarray:
        lo = np.maximum.reduce([np.zeros_like(self.fixed), *self.lo.values()])
        return np.where(self.is_fixed, self.fixed, lo)

    def upper(self) -> np.ndarray:
        hi = np.minimum.reduce([np.full_like(self.fixed, np.inf), *self.hi.values()])
        return np.where(self.is_fixed, self.fixed, hi)

    def setter(self, side: str) -> np.ndarray:
        """Which family sets each holder's lower (``side='lo'``) or upper bound ('' when none does)."""
        fams = list(self.lo if side == "lo" else self.hi)
        if not fams:
            return np.where(self.is_fixed, "fixed", "").astype(object)
        stack = np.vstack([(self.lo if side == "lo" else self.hi)[f] for f in fams])
        k = np.argmax(stack, axis=0) if side == "lo" else np.argmin(stack, axis=0)
        val = stack[k, np.arange(stack.shape[1])]
        names = np.array(fams, dtype=object)[k]
        none = ~np.isfinite(val) | ((val <= 0) if side == "lo" else False)
        names = np.where(none, "", names)
        return np.where(self.is_fixed, "fixed", names)


def boxes(basis, bounds: Bounds) -> Boxes:
    n = len(basis)
    lo: dict[str, np.ndarray] = {}
    hi: dict[str, np.ndarray] = {}
    params: dict[str, tuple] = {}
    notes: list[str] = []
    if bounds.growth is not None:
        h = basis.require("history", "a growth bound")
        g_lo, g_hi = bounds.growth
        none = h <= 0          # growth is undefined without history (new hires, new territories): no bound
        lo["growth"] = np.where(none, -np.inf, h * (1 + g_lo)) if g_lo is not None else np.full(n, -np.inf)
        hi["growth"] = np.where(none, np.inf, h * (1 + g_hi)) if g_hi is not None else np.full(n, np.inf)
        if none.any():
            notes.append(f"{int(none.sum())} holder(s) without history ({', '.join(np.array(basis.ids)[none][:5])}"
                         f"{' …' if none.sum() > 5 else ''}) have no growth bound")
        params["growth"] = (g_lo, g_hi)
    if bounds.ratio is not None:
        p = basis.require("potential", "a quota/potential bound")
        r_lo, r_hi = bounds.ratio
        lo["ratio"] = p * r_lo if r_lo is not None else np.full(n, -np.inf)
        hi["ratio"] = p * r_hi if r_hi is not None else np.full(n, np.inf)
        params["ratio"] = (r_lo, r_hi)
    f_row = np.where(np.isnan(basis.floor), -np.inf, basis.floor)
    c_row = np.where(np.isnan(basis.ceiling), np.inf, basis.ceiling)
    if bounds.floor is not None or bounds.ceiling is not None or np.isfinite(f_row).any() or np.isfinite(c_row).any():
        lo["limits"] = np.maximum(f_row, -np.inf if bounds.floor is None else float(bounds.floor))
        hi["limits"] = np.minimum(c_row, np.inf if bounds.ceiling is None else float(bounds.ceiling))
        params["limits"] = (bounds.floor, bounds.ceiling)
    fixed = basis.fixed.astype(float).copy()
    index = {k: i for i, k in enumerate(basis.ids)}
    for k, v in dict(bounds.fixed).items():
        if str(k) not in index:
            raise InputError(f"fixed quota for '{k}', which is not in {basis.source}", source=basis.source,
                             column=basis.id_column, value=k)
        fixed[index[str(k)]] = float(v)
    return Boxes(lo=lo, hi=hi, fixed=fixed, params=params, notes=notes)


def _money(v: float, unit: float | None = None) -> str:
    if not math.isfinite(v):
        return "no limit"
    a = abs(v)
    if unit and unit < 1:
        return f"{v:,.{max(0, -math.floor(math.log10(unit)))}f}"
    if a >= 1e9:
        return f"{v / 1e9:,.4g} bn"
    if a >= 1e6:
        return f"{v / 1e6:,.6g} M"
    if a >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.4g}"


def _bounds(bx: Boxes, unit: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Effective bounds; with ``unit``, the free holders' rounded inward to multiples of it."""
    lo, hi = bx.lower(), bx.upper()
    if unit:
        free = ~bx.is_fixed
        lo = np.where(free, np.ceil(lo / unit - 1e-9) * unit, lo)
        hi = np.where(free, np.floor(hi / unit + 1e-9) * unit, hi)
    return lo, hi


def _feasible(bx: Boxes, total: float, unit: float | None = None) -> bool:
    lo, hi = _bounds(bx, unit)
    tol = 1e-9 * max(1.0, abs(total))
    return bool((lo <= hi + tol).all() and lo.sum() <= total + tol and hi.sum() >= total - tol)


def _relaxed(bx: Boxes, basis, family: str, side: str, s: float) -> Boxes:
    lo, hi = dict(bx.lo), dict(bx.hi)
    n = len(bx.fixed)
    if family == "growth":
        h = basis.history
        if side == "lo":
            lo["growth"] = np.where(h <= 0, -np.inf, h * (1 + bx.params["growth"][0] - s))
        else:
            hi["growth"] = np.where(h <= 0, np.inf, h * (1 + bx.params["growth"][1] + s))
    elif family == "ratio":
        p = basis.potential
        if side == "lo":
            lo["ratio"] = p * (bx.params["ratio"][0] - s)
        else:
            hi["ratio"] = p * (bx.params["ratio"][1] + s)
    elif family == "limits":
        if side == "lo":
            lo["limits"] = bx.lo["limits"] - s
        else:
            hi["limits"] = bx.hi["limits"] + s
    return Boxes(lo=lo, hi=hi, fixed=bx.fixed if family != "fixed" else np.full(n, np.nan), params=bx.params,
                 notes=bx.notes)


def _smallest(bx: Boxes, basis, family: str, side: str, total: float, cap: float,
              unit: float | None = None) -> float | None:
    if not _feasible(_relaxed(bx, basis, family, side, cap), total, unit):
        return None
    a, b = 0.0, cap
    for _ in range(200):
        m = 0.5 * (a + b)
        if _feasible(_relaxed(bx, basis, family, side, m), total, unit):
            b = m
        else:
            a = m
        if b - a <= 1e-9 * max(1.0, b):
            break
    return b


def _smallest_pair(bx: Boxes, basis, pair, total: float, unit: float | None = None) -> float | None:
    def at(t: float) -> Boxes:
        out = bx
        for fam, side, cap in pair:
            out = _relaxed(out, basis, fam, side, t * cap)
        return out

    if not _feasible(at(1.0), total, unit):
        return None
    a, b = 0.0, 1.0
    for _ in range(100):
        m = 0.5 * (a + b)
        a, b = (a, m) if _feasible(at(m), total, unit) else (m, b)
        if b - a <= 1e-10:
            break
    return b


def _describe(family: str, side: str, bx: Boxes, s: float, unit_money: float) -> tuple[str, dict]:
    word = "lower" if side == "lo" else "upper"
    if family in ("growth", "ratio"):
        old = bx.params[family][0 if side == "lo" else 1]
        step = 1e-4 if family == "growth" else 1e-3
        new = old - s if side == "lo" else old + s
        new = (math.floor(new / step + 1e-9) if side == "lo" else math.ceil(new / step - 1e-9)) * step
        new = max(new, -1.0 if family == "growth" else 0.0)
        new = round(new, 6)
        if family == "growth":
            return (f"growth {word} bound {100 * old:+g} % -> {100 * new:+.2f} %",
                    {"family": family, "side": word, "from": old, "to": new})
        return (f"quota/potential {word} bound {old:g} -> {new:.3f}",
                {"family": family, "side": word, "from": old, "to": new})
    step = 10 ** (math.floor(math.log10(s)) - 3) if s > 0 else unit_money   # up, at 4 significant digits
    s = round(math.ceil(s / step - 1e-9) * step, 10)
    what = "floors" if side == "lo" else "ceilings"
    return (f"{'lower' if side == 'lo' else 'raise'} every {what[:-1]} by {_money(s, unit_money)}",
            {"family": family, "side": word, "by": s})


def diagnose(bx: Boxes, basis, total: float, *, unit: float | None = None) -> None:
    """Raise :class:`InfeasibleError` when the boxes and Σ q = total cannot all hold (with rounding to ``unit``:
    with the bounds rounded inward to multiples of it); return quietly when they can. Relaxations are searched
    with the same rounding, so the one printed works."""
    if unit:
        _check_sum_multiple(bx, total, float(unit))
    if _feasible(bx, total, unit):
        return
    lo, hi = _bounds(bx, unit)
    tol = 1e-9 * max(1.0, abs(total))
    ids = basis.ids
    rounding_only = bool(unit) and _feasible(bx, total)
    reasons, family = [], None
    set_lo, set_hi = bx.setter("lo"), bx.setter("hi")
    clash = np.flatnonzero(lo > hi + tol)

    def m(v: float) -> str:
        return _money(v, unit)

    if clash.size:
        i = int(clash[0])
        if rounding_only:
            c_lo, c_hi = bx.lower()[i], bx.upper()[i]
            reasons.append(f"{len(clash)} holder(s) have bounds that hold no multiple of the rounding unit "
                           f"{unit:,g}, e.g. {ids[i]}: [{_money(c_lo, 0.01)}, {_money(c_hi, 0.01)}]")
            family = "rounding"
        else:
            reasons.append(f"{len(clash)} holder(s) have a lower bound above their upper bound, e.g. {ids[i]}: "
                           f"{FAMILY_LABEL.get(set_lo[i], set_lo[i])} needs >= {m(lo[i])} but "
                           f"{FAMILY_LABEL.get(set_hi[i], set_hi[i])} allows <= {m(hi[i])}")
            family = set_lo[i]
    elif lo.sum() > total + tol:
        share = {f: float(lo[set_lo == f].sum()) for f in set(set_lo) if f}
        family = "rounding" if rounding_only else (max(share, key=share.get) if share else "target")
        reasons.append(f"the lowest quotas the bounds allow{' (rounded)' if unit else ''} add up to "
                       f"{m(lo.sum())}, above the total {m(total)} ({FAMILY_LABEL.get(family, family)} "
                       f"{'lower bounds bind' if family != 'rounding' else 'makes it so'})")
    else:
        share = {f: float(hi[set_hi == f].sum()) for f in set(set_hi) if f}
        family = "rounding" if rounding_only else (max(share, key=share.get) if share else "target")
        reasons.append(f"the highest quotas the bounds allow{' (rounded)' if unit else ''} add up to "
                       f"{m(hi.sum())}, below the total {m(total)} ({FAMILY_LABEL.get(family, family)} "
                       f"{'upper bounds bind' if family != 'rounding' else 'makes it so'})")
    fixes, suggestion = [], {}
    if rounding_only:
        works = _unit_that_works(bx, total, float(unit))
        if works:
            fixes.append(f"rounding to {works:,g}")
            suggestion["unit"] = works
    money_step = unit or max(1.0, 10 ** math.floor(math.log10(max(total / max(len(ids), 1), 1.0)) - 3))
    sides = []
    for fam in ("growth", "ratio", "limits"):
        if fam not in bx.params:
            continue
        for side in ("lo", "hi"):
            par = bx.params[fam][0 if side == "lo" else 1]
            if par is None and fam != "limits":
                continue
            if fam == "limits" and not np.isfinite(bx.lo[fam] if side == "lo" else bx.hi[fam]).any():
                continue
            cap = {"growth": 1.0 + (par or 0) if side == "lo" else 10.0,
                   "ratio": (par or 0) if side == "lo" else 10.0 * max(par or 0, 0.1),
                   "limits": float(np.nanmax(np.where(np.isfinite(bx.lo[fam]), bx.lo[fam], 0)))
                   if side == "lo" else abs(total)}[fam]
            sides.append((fam, side, max(cap, 0.0)))
    for fam, side, cap in sides:
        s = _smallest(bx, basis, fam, side, total, cap, unit)
        if s is not None and s > 0:
            text, info = _describe(fam, side, bx, s, money_step)
            fixes.append(text)
            suggestion.setdefault("relaxations", []).append(info)
    if not fixes:  # no single family will do: the smallest joint relaxation of two, as a share of their range
        best = None
        for a in range(len(sides)):
            for c in range(a + 1, len(sides)):
                pair = (sides[a], sides[c])
                t = _smallest_pair(bx, basis, pair, total, unit)
                if t is not None and (best is None or t < best[0]):
                    best = (t, pair)
        if best is not None:
            t, pair = best
            texts, infos = zip(*(_describe(f, sd, bx, t * cap, money_step) for f, sd, cap in pair), strict=True)
            fixes.append(" and ".join(texts))
            suggestion["joint_relaxation"] = list(infos)
    if bx.is_fixed.any() and _feasible(_relaxed(bx, basis, "fixed", "", 0.0), total, unit):
        fixes.append("un-fix the fixed quotas")
        suggestion.setdefault("relaxations", []).append({"family": "fixed", "unfix": True})
    if not clash.size and lo.sum() <= hi.sum():
        fixes.append(f"a total between {m(lo.sum())} and {m(hi.sum())}" if np.isfinite(hi.sum()) else
                     f"a total of at least {m(lo.sum())}")
        suggestion["total_range"] = [float(lo.sum()), float(hi.sum())]
    if "joint_relaxation" in suggestion:
        tail = "no single family's relaxation works; the smallest joint one of two that does: " + fixes[0]
        fixes = fixes[1:]
        if fixes:
            tail += "; or " + "; or ".join(fixes)
    else:
        tail = ("smallest single relaxations that work: " + "; or ".join(fixes)) if fixes else \
            "no single or joint relaxation of the bound families works"
    what = "be rounded" if rounding_only else "meet all bounds"
    raise InfeasibleError(f"quotas cannot {what}: {reasons[0]}; {tail}", family=family, suggestion=suggestion)


def _unit_that_works(bx: Boxes, total: float, unit: float) -> float | None:
    for d in (2, 4, 5, 10, 20, 25, 50, 100, 1000):
        u = unit / d
        rest = total - float(bx.fixed[bx.is_fixed].sum())
        k = rest / u
        if abs(k - round(k)) <= 1e-9 * max(1.0, abs(k)) and _feasible(bx, total, u):
            return u
    return None


def _check_sum_multiple(bx: Boxes, total: float, unit: float) -> None:
    rest = total - float(bx.fixed[bx.is_fixed].sum())
    k = rest / unit
    if abs(k - round(k)) <= 1e-9 * max(1.0, abs(k)):
        return
    fixed = total - rest
    below = math.floor(k) * unit + fixed
    works = _unit_that_works(bx, total, unit)
    hint = f"; rounding to {works:,g} works" if works else ""
    what = "the total less fixed quotas" if bx.is_fixed.any() else "the total"
    raise InfeasibleError(f"quotas cannot be rounded: {what} ({_money(rest, unit)}) is not a multiple of the "
                          f"rounding unit {unit:,g}: use a total of {_money(below, unit)} or "
                          f"{_money(below + unit, unit)}{hint}", family="rounding",
                          suggestion={"unit": works, "total": [below, below + unit]} if works else
                          {"total": [below, below + unit]})
