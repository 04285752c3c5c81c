"""The SimPy discrete-event model of one simulated year (all reps of one trial in one environment).

Processes (time in days from 1 January):

- **pipeline** — the year opens with the steady-state pipeline of an arrival process that ran at the case's
  demand level: N₀ ~ Poisson(λ·E[C]) open opportunities, each with residual time U·L, L ~ gamma(k+1, θ) (the
  forward-recurrence time of a gamma(k, θ) cycle), so closings are stationary when nothing varies;
- **arrivals** (per rep and month) — a Poisson process at rate (λ/D) · market · rep · seasonality · shock ·
  effort, with effort fixed for the month by the planner;
- **opportunity** (per opportunity) — won with probability clip(win_rate·skill·effort^β + shift, 0, 1), size
  log-normal(mean, cv), closes after a gamma(k, cycle_days/k) cycle; a won deal is booked on its close date,
  which the timing behaviour may move (pull-in / push-out) — the deal's process is woken or re-waits;
- **windfall** — with the case's probability, one extra deal on a uniform day;
- **planner** — at each month start sets every rep's effort (behaviour ``effort``/``full``) and opens the month's
  arrivals; ``max_shift_days`` before each plan-period end takes the timing decisions (``timing``/``full``).

Decisions are vectorised over reps (:class:`~spmopt.sim.behaviour.Projector`); the events are SimPy's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from spmopt.sim.behaviour import Behaviour, Projector
from spmopt.sim.inputs import Reps
from spmopt.sim.market import PIPELINE_YEARS, Calendar, Case, draw_factors
from spmopt.sim.pay import PlanContext, SpiffRule
from spmopt.sim.vector import Year, lognormal_params, trial_rng

EPS = 1e-6


@dataclass
class _Deal:
    rep: int
    close: float
    size: float
    proc: simpy.Process | None = None


@dataclass
class _Trial:
    """Mutable state of one simulated year."""

    revenue: np.ndarray
    spiffs: dict[str, np.ndarray]
    effort: np.ndarray
    pending: list[list[_Deal]]
    pulled: np.ndarray
    pushed: np.ndarray
    events: int = 0
    current_effort: np.ndarray = field(default_factory=lambda: np.ones(0))


@dataclass(frozen=True)
class DesModel:
    reps: Reps
    case: Case
    cal: Calendar
    behaviour: Behaviour = Behaviour()
    plan: PlanContext | None = None          # needed when behaviour is not 'none'
    spiffs: tuple[tuple[str, SpiffRule], ...] = ()

    def run(self, seed: int, trials: range) -> Year:
        n = len(self.reps)
        T = len(trials)
        out = Year(revenue=np.zeros((T, n, 12)), spiffs={k: np.zeros((T, n, 12)) for k, _ in self.spiffs},
                   effort=np.ones((T, n, 12)), pulled=np.zeros((T, n)), pushed=np.zeros((T, n)))
        projector = None
        if self.behaviour.mode != "none":
            if self.plan is None:
                raise ValueError("behaviour needs a plan to respond to")
            projector = Projector(self.plan, self.cal, self.behaviour, self.reps.cycle_days, self.case.cycle_shape,
                                  self.reps.deal_size_mean, self.reps.deal_size_cv)
        for i, t in enumerate(trials):
            st = self._one(trial_rng(seed, t), projector)
            out.revenue[i], out.effort[i] = st.revenue, st.effort
            for k in out.spiffs:
                out.spiffs[k][i] = st.spiffs[k]
            out.pulled[i], out.pushed[i] = st.pulled, st.pushed
            out.events += st.events
        return out

    # ----------------------------------------------------------------------------------------------------------
    def _one(self, rng: np.random.Generator, projector: Projector | None) -> _Trial:
        reps, case, cal, bh = self.reps, self.case, self.cal, self.behaviour
        n = len(reps)
        f = draw_factors(rng, case, n, cal)
        env = simpy.Environment()
        st = _Trial(revenue=np.zeros((n, 12)), spiffs={k: np.zeros((n, 12)) for k, _ in self.spiffs},
                    effort=np.ones((n, 12)), pending=[[] for _ in range(n)], pulled=np.zeros(n), pushed=np.zeros(n),
                    current_effort=np.ones(n))
        lam = reps.opportunities / cal.days * f.market * f.rep            # per day, before level and effort
        mu, sigma = lognormal_params(reps.deal_size_mean, reps.deal_size_cv)
        k = case.cycle_shape
        theta = reps.cycle_days / k
        beta = bh.win_rate_exponent if bh.effort else 0.0
        breaks, level = case.intensity(cal)
        days = float(cal.days)

        def book(d: _Deal) -> None:
            if d.close >= days:
                return
            m = int(cal.month_of(d.close))
            st.revenue[d.rep, m] += d.size
            for key, s in self.spiffs:
                if s.lo <= d.close < s.hi and d.size >= s.min_value:
                    st.spiffs[key][d.rep, m] += 1

        def opportunity(r: int, delay: float, effort: float):
            won = rng.random() < win_probability_one(r, effort)
            size = rng.lognormal(mu[r], sigma[r]) if sigma[r] > 0 else float(reps.deal_size_mean[r])
            d = _Deal(r, env.now + delay, size)
            if not won or d.close >= days + bh.max_shift_days:
                yield env.timeout(delay)  # a lost opportunity runs its cycle too
                st.events += 1
                return
            d.proc = env.active_process
            st.pending[r].append(d)
            while True:  # a won deal waits for its close date, which timing decisions may move
                wait = d.close - env.now
                if wait <= 0:
                    break
                try:
                    yield env.timeout(wait)
                    st.events += 1
                except simpy.Interrupt:
                    continue
            st.pending[r].remove(d)
            book(d)

        p0 = np.clip(reps.win_rate * reps.skill, 0, None)

        def win_probability_one(r: int, effort: float) -> float:
            return min(max(p0[r] * effort ** beta + case.win_shift, 0.0), 1.0)

        def arrivals(r: int, a: float, b: float, rate: float, effort: float):
            t = a
            while rate > 0:
                dt = rng.exponential(1.0 / rate)
                if t + dt >= b:
                    return
                yield env.timeout(dt)
                st.events += 1
                t += dt
                env.process(opportunity(r, rng.gamma(k, theta[r]), effort))

        def windfall(r: int, day: float):
            yield env.timeout(day)
            st.events += 1
            book(_Deal(r, day, case.windfall_size * reps.deal_size_mean[r]))

        def known_by_month(now: float, exclude: tuple[float, float, float] | None = None):
            """Booked + committed revenue by month (R, 12); with ``exclude`` = (lo, boundary, hi) also the committed
            revenue due in [lo, boundary) and [boundary, hi) (returned separately, left in ``known``)."""
            known = st.revenue.copy()
            before, after = np.zeros(n), np.zeros(n)
            for r in range(n):
                for d in st.pending[r]:
                    if d.close < days:
                        known[r, int(cal.month_of(d.close))] += d.size
                    if exclude is not None:
                        lo, b, hi = exclude
                        if lo <= d.close < b:
                            before[r] += d.size
                        elif b <= d.close <= hi:
                            after[r] += d.size
            return known, before, after

        def rates(now: float):
            lvl = level[min(int(np.searchsorted(breaks, now, side="right") - 1), len(level) - 1)]
            won = lam * lvl * np.clip(p0 + case.win_shift, 0, 1)
            return won * reps.deal_size_mean, won

        def planner():
            ends = cal.starts[12 // self.plan.periods::12 // self.plan.periods] if self.plan else np.array([])
            timing_at = {float(b - bh.max_shift_days): float(b) for b in ends} if (bh.timing and projector) else {}
            starts = {float(s): j for j, s in enumerate(cal.starts[:-1])}
            for when in sorted(set(starts) | set(timing_at)):
                if when > env.now:
                    yield env.timeout(when - env.now)
                    st.events += 1
                if when in timing_at:
                    decide_timing(when, timing_at[when])
                if when in starts:
                    j = starts[when]
                    if bh.effort and projector is not None:
                        known, _, _ = known_by_month(when)
                        rate, rate_n = rates(when)
                        st.current_effort = projector.effort(when, j, known, rate, rate_n)
                    st.effort[:, j] = st.current_effort
                    a, b = cal.starts[j], cal.starts[j + 1]
                    cuts = [a, *[x for x in breaks if a < x < b], b]
                    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
                        lv = level[int(np.searchsorted(breaks, lo, side="right") - 1)]
                        for r in range(n):
                            e = float(st.current_effort[r])
                            env.process(piece(r, lo, hi, lam[r] * lv * e, e))

        def piece(r: int, lo: float, hi: float, rate: float, effort: float):
            if lo > env.now:
                yield env.timeout(lo - env.now)
            yield from arrivals(r, lo, hi, rate, effort)

        def decide_timing(now: float, boundary: float):
            hi = boundary + bh.max_shift_days
            known, before, after = known_by_month(now, (now, boundary, hi))
            rate, rate_n = rates(now)
            choice = projector.timing(now, boundary, known, before, after, rate, rate_n)
            for r in np.flatnonzero(choice):
                for d in list(st.pending[r]):
                    if choice[r] == 1 and boundary <= d.close <= hi:
                        d.close = boundary - EPS
                        d.size *= 1 - bh.pull_in_discount
                        st.pulled[r] += d.size
                        if d.proc is not None and d.proc.is_alive:
                            d.proc.interrupt()
                    elif choice[r] == 2 and now <= d.close < boundary:
                        d.close = boundary + EPS
                        st.pushed[r] += d.size

        # the pipeline on 1 January: arrivals of the seasonal years before, still open on day 0, and before them
        # the steady-state pipeline of a flat market (residual U·gamma(k+1, θ) from −Y·D)
        off = PIPELINE_YEARS * days
        n0 = rng.poisson(lam * case.demand * reps.cycle_days)
        sb, sl = case.seasonal_pieces(cal)
        for r in range(n):
            closes = [-off + rng.random() * rng.gamma(k + 1, theta[r]) for _ in range(n0[r])]
            for y in range(PIPELINE_YEARS, 0, -1):
                for j in range(12):
                    lo, hi = sb[j] - y * days, sb[j + 1] - y * days
                    m = rng.poisson(lam[r] * sl[j] * (hi - lo))
                    closes.extend(lo + (hi - lo) * rng.random(m) + rng.gamma(k, theta[r], m))
            for c in closes:
                if c > 0:
                    env.process(opportunity(r, float(c), 1.0))
        for r in np.flatnonzero(f.windfall):
            env.process(windfall(int(r), float(f.windfall_day[r])))
        env.process(planner())
        env.run(until=days + bh.max_shift_days + 1)
        return st
