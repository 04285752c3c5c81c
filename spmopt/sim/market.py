"""The market a simulated year is played in: calendar, seasonality, shared and idiosyncratic shocks, stress cases.

A stress file (YAML, safe loader) names the cases to run side by side; settings under ``market`` apply to every
case unless the case overrides them::

    market:                       # defaults for every case (all optional)
      market_sigma: 0.10          # shared log-normal demand factor per trial (all reps move together)
      idiosyncratic_sigma: 0.05   # each rep's own demand factor per trial
      seasonality: [0.8, 0.9, 1.1, 0.9, 0.9, 1.1, 0.8, 0.8, 1.1, 1.0, 1.1, 1.4]   # arrivals by month
      cycle_shape: 2.0            # gamma shape of the sales-cycle length (mean: the rep's cycle_days)
    cases:
      base: {}
      downturn: {demand: 0.85, volatility: 1.5, win_rate: -0.03,
                 shock: {month: 7, demand: 0.8}}
      boom: {demand: 1.15, windfall: {probability: 0.05, size: 8}}

Case keys: ``demand`` multiplies every rep's opportunity arrival rate; ``volatility`` multiplies both sigmas;
``win_rate`` is added to every win probability (clipped to [0, 1]); ``windfall`` gives each rep, with
``probability`` per year, one extra deal of ``size`` × their mean deal size on a uniform day; ``shock`` multiplies
arrivals from ``date`` (or the first day of ``month``) on by ``demand``. Without a stress file there is one case,
``base``: no market factor, no seasonality, no windfall.

The demand factors are mean-one log-normals, ``exp(σZ − σ²/2)``, so they add variance without moving the mean.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from scipy import stats

from spmopt.data.dates import IsoDate
from spmopt.errors import InputError

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class StressError(InputError):
    """A bad stress file: the message names the file and the key."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"key '{key}': {message}" if key else message, source=source)


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Windfall(_Base):
    probability: Annotated[float, Field(ge=0, le=1)]
    size: Positive  # multiple of the rep's mean deal size


class Shock(_Base):
    date: IsoDate | None = None
    month: Annotated[int, Field(ge=1, le=12)] | None = None
    demand: NonNeg = 1.0

    @model_validator(mode="after")
    def _when(self) -> Shock:
        if (self.date is None) == (self.month is None):
            raise ValueError("a shock needs exactly one of 'date' or 'month'")
        return self


class MarketSettings(_Base):
    market_sigma: NonNeg | None = None
    idiosyncratic_sigma: NonNeg | None = None
    seasonality: list[NonNeg] | None = None
    cycle_shape: Positive | None = None

    @field_validator("seasonality")
    @classmethod
    def _twelve(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if len(v) != 12:
                raise ValueError(f"seasonality needs 12 monthly factors, got {len(v)}")
            if sum(v) <= 0:
                raise ValueError("seasonality factors must not all be 0")
        return v


class StressCase(MarketSettings):
    """One named stress case (market settings left ``None`` come from the file's ``market`` block)."""

    name: str = "base"
    demand: NonNeg = 1.0
    volatility: NonNeg = 1.0
    win_rate: Annotated[float, Field(ge=-1, le=1)] = 0.0
    windfall: Windfall | None = None
    shock: Shock | None = None


class StressFile(_Base):
    market: MarketSettings = MarketSettings()
    cases: dict[str, StressCase | None]


DEFAULT_CYCLE_SHAPE = 2.0


@dataclass(frozen=True)
class Calendar:
    """Day grid of one calendar year: month ``j`` covers days ``[starts[j], starts[j+1])``."""

    year: int

    @property
    def days(self) -> int:
        return 366 if calendar.isleap(self.year) else 365

    @property
    def starts(self) -> np.ndarray:
        return np.array([0] + list(np.cumsum([calendar.monthrange(self.year, m)[1] for m in range(1, 13)])),
                        dtype=float)

    def offset(self, d: dt.date) -> float:
        """Days from 1 January of the year to ``d`` (negative before it)."""
        return float((d - dt.date(self.year, 1, 1)).days)

    def day(self, d: dt.date) -> float:
        """Days from 1 January (clipped to the year)."""
        return float(min(max(self.offset(d), 0.0), self.days))

    def month_of(self, t: np.ndarray | float) -> np.ndarray:
        return np.clip(np.searchsorted(self.starts, t, side="right") - 1, 0, 11)


@dataclass(frozen=True)
class Case:
    """A stress case with every number resolved (what the simulators read)."""

    name: str
    demand: float = 1.0
    win_shift: float = 0.0
    market_sigma: float = 0.0
    idiosyncratic_sigma: float = 0.0
    seasonality: tuple[float, ...] = (1.0,) * 12
    cycle_shape: float = DEFAULT_CYCLE_SHAPE
    windfall_probability: float = 0.0
    windfall_size: float = 0.0
    shock_day: float | None = None
    shock_demand: float = 1.0

    def intensity(self, cal: Calendar) -> tuple[np.ndarray, np.ndarray]:
        """Piecewise-constant arrival multiplier over the year: breakpoints ``b`` (days, from 0 to the year's
        end) and the multiplier on each interval ``[b[i], b[i+1])`` (seasonality × shock × demand)."""
        b = list(cal.starts)
        if self.shock_day is not None and 0 < self.shock_day < cal.days and self.shock_day not in b:
            b.append(self.shock_day)
        b = np.array(sorted(b))
        mid = (b[:-1] + b[1:]) / 2
        level = np.asarray(self.seasonality)[cal.month_of(mid)] * self.demand
        if self.shock_day is not None:
            level = level * np.where(mid >= self.shock_day, self.shock_demand, 1.0)
        return b, level

    def seasonal_pieces(self, cal: Calendar) -> tuple[np.ndarray, np.ndarray]:
        """Month breakpoints and levels of a year without the shock (the years before the simulated one)."""
        return cal.starts, np.asarray(self.seasonality) * self.demand


PIPELINE_YEARS = 2  # the pipeline on 1 January comes from this many seasonal years before it (then flat)


def resolve(case: StressCase, market: MarketSettings, cal: Calendar) -> Case:
    def pick(name: str, default):
        v = getattr(case, name)
        if v is None:
            v = getattr(market, name)
        return default if v is None else v

    season = np.asarray(pick("seasonality", [1.0] * 12), dtype=float)
    season = season / np.average(season, weights=np.diff(cal.starts))  # day-weighted: the year's arrivals stay λ
    shock_day = None
    if case.shock is not None:
        shock_day = (cal.day(case.shock.date) if case.shock.date is not None
                     else float(cal.starts[case.shock.month - 1]))
    return Case(
        name=case.name, demand=case.demand, win_shift=case.win_rate,
        market_sigma=pick("market_sigma", 0.0) * case.volatility,
        idiosyncratic_sigma=pick("idiosyncratic_sigma", 0.0) * case.volatility,
        seasonality=tuple(season), cycle_shape=pick("cycle_shape", DEFAULT_CYCLE_SHAPE),
        windfall_probability=case.windfall.probability if case.windfall else 0.0,
        windfall_size=case.windfall.size if case.windfall else 0.0,
        shock_day=shock_day, shock_demand=case.shock.demand if case.shock else 1.0)


def _key(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and "[" in part:  # pydantic's union/nullable tags
            continue
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def stress_from_dict(data: Any, *, source: str | None = None) -> list[StressCase]:
    """Validate a stress file's content; returns the cases with the ``market`` block merged in."""
    if not isinstance(data, dict):
        raise StressError(f"a stress file must hold a mapping with 'cases', got {type(data).__name__}",
                          source=source)
    if "cases" not in data:  # a bare mapping of cases is accepted too
        data = {"cases": {k: v for k, v in data.items() if k != "market"},
                **({"market": data["market"]} if "market" in data else {})}
    if isinstance(data.get("cases"), list):  # a list of cases with names
        listed = data["cases"]
        bad = next((i for i, c in enumerate(listed) if not isinstance(c, dict) or "name" not in c), None)
        if bad is not None:
            raise StressError("a case in a list needs a 'name'", source=source, key=f"cases[{bad}]")
        seen = [str(c["name"]) for c in listed]
        dup = next((i for i, n in enumerate(seen) if n in seen[:i]), None)
        if dup is not None:
            raise StressError(f"case name '{seen[dup]}' is used twice", source=source, key=f"cases[{dup}].name")
        data = {**data, "cases": {str(c["name"]): {k: v for k, v in c.items() if k != "name"} for c in listed}}
    try:
        f = StressFile.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        msg = e.get("msg", "invalid").removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = "unknown key"
        elif "input" in e and not isinstance(e["input"], dict | list):
            msg += f" (got {e['input']!r})"
        raise StressError(msg, source=source, key=_key(tuple(e["loc"])) or None) from None
    cases = [c.model_copy(update={"name": k}) if c is not None else StressCase(name=k) for k, c in f.cases.items()]
    if not cases:
        raise StressError("no cases", source=source, key="cases")
    names = [c.name for c in cases]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise StressError(f"case name '{dup}' is used twice", source=source, key="cases")
    m = f.market
    merged = []
    for c in cases:
        upd = {k: getattr(m, k) for k in MarketSettings.model_fields if getattr(c, k) is None}
        merged.append(c.model_copy(update=upd))
    return merged


def load_stress(path: str | os.PathLike) -> list[StressCase]:
    """Read a stress file (YAML, the package's safe loader: a case or key given twice is an error)."""
    from spmopt.data.yamlfile import read_yaml

    return stress_from_dict(read_yaml(path, what="stress file", error=StressError), source=str(path))


# ---------------------------------------------------------------------------------------------------------- maths
def cycle_integral(x: np.ndarray, shape: float, scale: np.ndarray) -> np.ndarray:
    """H(x) = ∫₀ˣ F(u) du for the gamma(shape, scale) cycle-time CDF F (0 for x ≤ 0), using
    ∫₀ˣ F_k = x·F_k(x) − kθ·F_{k+1}(x)."""
    x = np.asarray(x, dtype=float)
    xp = np.maximum(x, 0.0)
    return xp * stats.gamma.cdf(xp, shape, scale=scale) - shape * scale * stats.gamma.cdf(xp, shape + 1, scale=scale)


def expected_closings(case: Case, cal: Calendar, cycle_days: np.ndarray, *, lo: np.ndarray | None = None,
                      hi: np.ndarray | None = None) -> np.ndarray:
    """Expected closings, per unit of base arrival rate (one opportunity per day), in each window ``[lo, hi)``
    (default: the 12 months), for reps with mean cycle ``cycle_days`` (R,). Returns (R, windows).

    The year starts with the pipeline of a periodic steady state: arrivals in the ``PIPELINE_YEARS`` years before
    day 0 follow the seasonality (no shock) at the ``demand`` level, and before them a flat market; from day 0 on
    they follow :meth:`Case.intensity`. An arrival at ``u`` closes
    at ``u + C``, C ~ gamma(k, cycle/k), so closings in ``[a, b)`` from arrivals at level λ on ``[u0, u1)``
    number λ·[H(b−u0) − H(a−u0) − H(b−u1) + H(a−u1)], and from the pipeline (arrivals on (−∞, 0))
    ``∫_a^b (1 − F)`` = (b − H(b)) − (a − H(a))."""
    lo = cal.starts[:-1] if lo is None else np.asarray(lo, dtype=float)
    hi = cal.starts[1:] if hi is None else np.asarray(hi, dtype=float)
    k = case.cycle_shape
    scale = np.asarray(cycle_days, dtype=float)[:, None, None] / k
    b, level = case.intensity(cal)

    def h(x):
        return cycle_integral(x, k, scale)

    a_, b_ = lo[None, None, :], hi[None, None, :]

    def pieces(bk, lv):
        u0, u1 = bk[:-1][None, :, None], bk[1:][None, :, None]
        return ((h(b_ - u0) - h(a_ - u0) - h(b_ - u1) + h(a_ - u1)) * lv[None, :, None]).sum(axis=1)

    total = pieces(b, level)
    sb, sl = case.seasonal_pieces(cal)
    for y in range(1, PIPELINE_YEARS + 1):  # the seasonal years before: the pipeline is in periodic steady state
        total = total + pieces(sb - y * cal.days, sl)
    s = np.asarray(cycle_days, dtype=float)[:, None] / k
    off = PIPELINE_YEARS * cal.days            # and before them a flat market at the demand level
    pipeline = ((hi + off) - cycle_integral(hi[None, :] + off, k, s)) - ((lo + off) - cycle_integral(lo[None, :] + off,
                                                                                                      k, s))
    return total + case.demand * pipeline


def window_share(case: Case, cal: Calendar, cycle_days: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Share of each month's expected closings that falls in the window ``[lo, hi)`` (days), per rep (R, 12)."""
    a = np.clip(np.full(12, lo), cal.starts[:-1], cal.starts[1:])
    b = np.clip(np.full(12, hi), cal.starts[:-1], cal.starts[1:])
    inside = expected_closings(case, cal, cycle_days, lo=a, hi=np.maximum(b, a))
    whole = expected_closings(case, cal, cycle_days)
    return np.divide(inside, whole, out=np.zeros_like(whole), where=whole > 0)


@dataclass(frozen=True)
class TrialFactors:
    market: float          # shared demand factor
    rep: np.ndarray        # (R,) idiosyncratic demand factors
    windfall: np.ndarray   # (R,) bool
    windfall_day: np.ndarray  # (R,)


def draw_factors(rng: np.random.Generator, case: Case, n_reps: int, cal: Calendar) -> TrialFactors:
    """The trial-level draws, always in the same order (both simulators call this first, so a trial's market
    is the same under either engine and under every plan)."""
    z = rng.standard_normal(1 + n_reps)
    sm, si = case.market_sigma, case.idiosyncratic_sigma
    market = float(np.exp(sm * z[0] - sm * sm / 2))
    rep = np.exp(si * z[1:] - si * si / 2)
    u = rng.random(2 * n_reps)
    return TrialFactors(market, rep, u[:n_reps] < case.windfall_probability, u[n_reps:] * cal.days)
