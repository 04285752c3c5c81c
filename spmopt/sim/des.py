"""The SimPy discrete-event model of one simulated year (all reps of one trial in one environment): the event-level
reference the NumPy fast path (:mod:`spmopt.sim.vector`) is checked against.

Processes (time in days from 1 January):

- **pipeline** — the year opens with the steady-state pipeline of an arrival process that ran at the case's
  demand level: N₀ ~ Poisson(λ·E[C]) open opportunities, each with residual time U·L, L ~ gamma(k+1, θ) (the
  forward-recurrence time of a gamma(k, θ) cycle), so closings are stationary when nothing varies;
- **arrivals** (per rep and month) — a Poisson process at rate (λ/D) · market · rep · seasonality · shock;
- **opportunity** (per opportunity) — won with probability clip(win_rate·skill + shift, 0, 1), size
  log-normal(mean, cv), closes after a gamma(k, cycle_days/k) cycle and is booked on its close date;
- **windfall** — with the case's probability, one extra deal on a uniform day;
- **planner** (behaviour on) — at each month start applies the rep's policy (:mod:`spmopt.sim.policy`) to the
  state (booked revenue of the year's earlier periods and of this period, share pulled): effort ``e`` for the
  month, and at the month's end the timing option. With behaviour on, opportunities arrive at ``e_max`` × the
  rate and a won deal closing in month ``t`` is booked with probability ``e_t / e_max`` (so closings are Poisson
  at ``e_t`` × the rate); held-back deals are re-dated to the first day of the next month, one by one with the
  chosen share (``push_loss`` of them lost); pulled deals are open deals due next month, each taken with the
  chosen share, closed with probability ``(1 − pull_loss) · e / e_max`` (the rep works them this month) and
  booked on the month's last day at the price concession.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from spmopt.sim.behaviour import Behaviour
from spmopt.sim.inputs import Reps
from spmopt.sim.market import PIPELINE_YEARS, Calendar, Case, draw_factors
from spmopt.sim.pay import PlanContext, SpiffRule
from spmopt.sim.policy import PolicySet
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
    booked: list[list[_Deal]]            # per rep: deals booked this month (the ones that may be held back)
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
    policy: PolicySet | None = None          # needed when behaviour is not 'none'
    lift: np.ndarray | None = None           # (12,) multiplier of the deals closed each month (coaching)

    def run(self, seed: int, trials: range) -> Year:
        n = len(self.reps)
        T = len(trials)
        out = Year(revenue=np.zeros((T, n, 12)), spiffs={k: np.zeros((T, n, 12)) for k, _ in self.spiffs},
                   effort=np.ones((T, n, 12)), pulled=np.zeros((T, n)), pushed=np.zeros((T, n)))
        if self.behaviour.mode != "none" and (self.plan is None or self.policy is None):
            raise ValueError("behaviour needs a plan and its policy to respond to")
        for i, t in enumerate(trials):
            st = self._one(trial_rng(seed, t))
            out.revenue[i], out.effort[i] = st.revenue, st.effort
            for k in out.spiffs:
                out.spiffs[k][i] = st.spiffs[k]
            out.pulled[i], out.pushed[i] = st.pulled, st.pushed
            out.events += st.events
        return out

    # ----------------------------------------------------------------------------------------------------------
    def _one(self, rng: np.random.Generator) -> _Trial:
        reps, case, cal, bh = self.reps, self.case, self.cal, self.behaviour
        n = len(reps)
        f = draw_factors(rng, case, n, cal)
        env = simpy.Environment()
        st = _Trial(revenue=np.zeros((n, 12)), spiffs={k: np.zeros((n, 12)) for k, _ in self.spiffs},
                    effort=np.ones((n, 12)), pending=[[] for _ in range(n)], pulled=np.zeros(n), pushed=np.zeros(n),
                    booked=[[] for _ in range(n)], current_effort=np.ones(n))
        on = bh.mode != "none"
        pol = self.policy
        lift = np.ones(12) if self.lift is None else np.asarray(self.lift, dtype=float)
        # candidates arrive at e_max × the largest lift × the rate; a deal closing in month t is kept with
        # probability e_t × lift_t / (e_max × max lift)
        top = (float(pol.efforts.max()) if on else 1.0) * float(lift.max())
        thin = on or self.lift is not None
        lam = reps.opportunities / cal.days * f.market * f.rep * top
        mu, sigma = lognormal_params(reps.deal_size_mean, reps.deal_size_cv)
        k = case.cycle_shape
        theta = reps.cycle_days / k
        breaks, level = case.intensity(cal)
        days = float(cal.days)
        horizon = days + 31.0 if on else days       # deals due next January may be pulled into December
        p0 = np.clip(reps.win_rate * reps.skill + case.win_shift, 0, 1)

        def spiff_count(r: int, m: int, when: float, size: float, sign: int) -> None:
            for key, s in self.spiffs:
                if s.lo <= when < s.hi and size >= s.min_value:
                    st.spiffs[key][r, m] += sign

        def book(d: _Deal) -> None:
            if d.close >= days:
                return
            m = int(cal.month_of(d.close))
            if thin and rng.random() * top >= st.current_effort[d.rep] * lift[m]:
                return                                   # effort below e_max: the deal is not closed
            st.revenue[d.rep, m] += d.size
            spiff_count(d.rep, m, d.close, d.size, 1)
            if on:
                st.booked[d.rep].append(d)

        def opportunity(r: int, delay: float):
            won = rng.random() < p0[r]
            size = rng.lognormal(mu[r], sigma[r]) if sigma[r] > 0 else float(reps.deal_size_mean[r])
            d = _Deal(r, env.now + delay, size)
            if not won or d.close >= horizon:
                yield env.timeout(delay)  # a lost opportunity runs its cycle too
                st.events += 1
                return
            d.proc = env.active_process
            st.pending[r].append(d)
            try:
                yield env.timeout(delay)
                st.events += 1
            except simpy.Interrupt:      # pulled into the month before
                return
            st.pending[r].remove(d)
            book(d)

        def arrivals(r: int, a: float, b: float, rate: float):
            t = a
            while rate > 0:
                dt = rng.exponential(1.0 / rate)
                if t + dt >= b:
                    return
                yield env.timeout(dt)
                st.events += 1
                t += dt
                env.process(opportunity(r, rng.gamma(k, theta[r])))

        def windfall(r: int, day: float):
            yield env.timeout(day)
            st.events += 1
            m = int(cal.month_of(day))
            size = case.windfall_size * reps.deal_size_mean[r]
            st.revenue[r, m] += size
            spiff_count(r, m, day, size, 1)

        per_len = 12 // self.plan.periods if self.plan is not None else 12
        phi_idx = np.zeros(n, dtype=np.intp)
        push_share, pull_share = np.zeros(n), np.zeros(n)
        next_phi = np.zeros(n, dtype=np.intp)
        reps_idx = np.arange(n)

        def month_end(j: int) -> None:
            """Timing at the end of month ``j``: hold back and pull, as decided at the month's start."""
            boundary = cal.starts[j + 1]
            for r in np.flatnonzero(push_share > 0):
                for d in st.booked[r]:
                    if rng.random() < push_share[r]:
                        st.revenue[r, j] -= d.size
                        spiff_count(r, j, d.close, d.size, -1)
                        if rng.random() < bh.push_loss:
                            continue                      # the customer did not wait
                        st.pushed[r] += d.size
                        if j < 11:
                            st.revenue[r, j + 1] += d.size
                            spiff_count(r, j + 1, boundary + EPS, d.size, 1)
            nxt_end = cal.starts[j + 2] if j < 11 else days + 31.0
            for r in np.flatnonzero(pull_share > 0):
                for d in list(st.pending[r]):
                    if boundary <= d.close < nxt_end and rng.random() < pull_share[r]:
                        st.pending[r].remove(d)
                        if d.proc is not None and d.proc.is_alive:
                            d.proc.interrupt()
                        if rng.random() * top < (1 - bh.pull_loss) * st.current_effort[r] * lift[min(j + 1, 11)]:
                            size = d.size * (1 - bh.pull_discount)
                            st.revenue[r, j] += size
                            st.pulled[r] += size
                            spiff_count(r, j, boundary - EPS, size, 1)
            for r in range(n):
                st.booked[r].clear()

        def planner():
            nonlocal phi_idx, push_share, pull_share, next_phi
            for j in range(12):
                when = float(cal.starts[j])
                if when > env.now:
                    yield env.timeout(when - env.now)
                    st.events += 1
                if j > 0:
                    month_end(j - 1)
                    phi_idx = next_phi
                start = (j // per_len) * per_len
                y = st.revenue[:, :start].sum(axis=1)
                a = st.revenue[:, start:j + 1].sum(axis=1)      # held-back deals already sit in month j
                e, push_share, pull_share, next_phi = pol.decide(j, reps_idx, None, y, a, phi_idx)
                st.current_effort = e
                st.effort[:, j] = e
            yield env.timeout(days - env.now - EPS)
            month_end(11)

        def piece(r: int, lo: float, hi: float, rate: float):
            if lo > env.now:
                yield env.timeout(lo - env.now)
            yield from arrivals(r, lo, hi, rate)

        for j in range(12):
            a, b = cal.starts[j], cal.starts[j + 1]
            cuts = [a, *[x for x in breaks if a < x < b], b]
            for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
                lv = level[int(np.searchsorted(breaks, lo, side="right") - 1)]
                for r in range(n):
                    env.process(piece(r, lo, hi, lam[r] * lv))

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
                    env.process(opportunity(r, float(c)))
        for r in np.flatnonzero(f.windfall):
            env.process(windfall(int(r), float(f.windfall_day[r])))
        if on:
            env.process(planner())
        env.run(until=horizon + 1)
        return st
