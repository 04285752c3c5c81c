"""NumPy fast path for ``behaviour: none``: the same statistical model as the SimPy simulator, drawn in bulk.

Without behaviour, a rep's opportunities arrive as a Poisson process whose rate is a deterministic function of
time given the trial's demand factors, each is won independently with a fixed probability, and closes after an
independent gamma cycle time. The closings of won deals are then a Poisson process (an M/G/∞ output, thinned),
so the number of won deals closing in month ``j`` is Poisson with mean

    p · (λ/D) · market · rep · ∫_month c(t) dt,

with the closing intensity ``c`` from :func:`spmopt.sim.market.expected_closings`, independently across months;
deal sizes are i.i.d. log-normal. That is exactly what the event simulation produces, drawn without events.
A spiff window that cuts a month takes each deal of the month with the window's share of the month's expected
closings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spmopt.sim.inputs import Reps
from spmopt.sim.market import Calendar, Case, draw_factors, expected_closings, window_share
from spmopt.sim.pay import SpiffRule


def lognormal_params(mean: np.ndarray, cv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(μ, σ) of the log of a log-normal with the given mean and coefficient of variation."""
    s2 = np.log1p(np.asarray(cv, dtype=float) ** 2)
    return np.log(mean) - s2 / 2, np.sqrt(s2)


def trial_rng(seed: int, trial: int) -> np.random.Generator:
    """Trial ``trial``'s own stream: a function of the seed and the trial index only."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(trial),)))


def win_probability(reps: Reps, case: Case, effort: float | np.ndarray = 1.0, exponent: float = 0.0) -> np.ndarray:
    return np.clip(reps.win_rate * reps.skill * np.asarray(effort) ** exponent + case.win_shift, 0.0, 1.0)


def add_windfalls(f, case: Case, reps: Reps, cal: Calendar, spiffs, revenue: np.ndarray,
                  counts: dict[str, np.ndarray]) -> None:
    """Add one trial's windfall deals (``f``: its :class:`~spmopt.sim.market.TrialFactors`) to its revenue
    (R, 12) and spiff deal counts (R, 12 each), in place."""
    if not f.windfall.any():
        return
    r = np.flatnonzero(f.windfall)
    month = cal.month_of(f.windfall_day[r])
    size = case.windfall_size * reps.deal_size_mean[r]
    np.add.at(revenue, (r, month), size)
    for key, s in spiffs:
        hit = (f.windfall_day[r] >= s.lo) & (f.windfall_day[r] < s.hi) & (size >= s.min_value)
        np.add.at(counts[key], (r[hit], month[hit]), 1)


@dataclass
class Year:
    """Simulated years of a block of trials: revenue booked per month (T, R, 12), qualifying spiff deals per
    month by spiff key, mean effort per month (T, R, 12), and the number of simulation events."""

    revenue: np.ndarray
    spiffs: dict[str, np.ndarray]
    effort: np.ndarray
    events: int = 0
    pulled: np.ndarray | None = None   # (T, R) revenue pulled into an earlier period
    pushed: np.ndarray | None = None   # (T, R) revenue pushed into a later period (or next year)
    quota: np.ndarray | None = None    # (T, R) the year's annual quota (None: the reps file's)


@dataclass(frozen=True)
class VectorModel:
    reps: Reps
    case: Case
    cal: Calendar
    spiffs: tuple[tuple[str, SpiffRule], ...] = ()

    def run(self, seed: int, trials: range) -> Year:
        reps, case, cal = self.reps, self.case, self.cal
        n = len(reps)
        per_day = reps.opportunities / cal.days
        closings = expected_closings(case, cal, reps.cycle_days) * per_day[:, None]   # (R, 12) per unit factor
        p = win_probability(reps, case)
        base = closings * p[:, None]
        mu, sigma = lognormal_params(reps.deal_size_mean, reps.deal_size_cv)
        mu_cell, sigma_cell = np.repeat(mu, 12), np.repeat(sigma, 12)
        mean_cell, exact = np.repeat(reps.deal_size_mean, 12), sigma_cell == 0
        # share of each month's closings that falls inside each spiff window
        frac = {}
        for key, s in self.spiffs:
            frac[key] = window_share(case, cal, reps.cycle_days, s.lo, s.hi).ravel()
        T = len(trials)
        revenue = np.zeros((T, n, 12))
        counts = {key: np.zeros((T, n, 12)) for key, _ in self.spiffs}
        for i, t in enumerate(trials):
            rng = trial_rng(seed, t)
            f = draw_factors(rng, case, n, cal)
            lam = base * (f.market * f.rep)[:, None]
            k = rng.poisson(lam).ravel()
            cell = np.repeat(np.arange(n * 12), k)
            sizes = rng.lognormal(mu_cell[cell], sigma_cell[cell])
            if exact.any():  # cv 0: exactly the mean (exp(log(m)) may land a hair below a spiff's min_value)
                sizes = np.where(exact[cell], mean_cell[cell], sizes)
            revenue[i] = np.bincount(cell, weights=sizes, minlength=n * 12).reshape(n, 12)
            for key, s in self.spiffs:
                ok = (rng.random(cell.size) < frac[key][cell]) & (sizes >= s.min_value)
                counts[key][i] = np.bincount(cell[ok], minlength=n * 12).reshape(n, 12)
            add_windfalls(f, case, reps, cal, self.spiffs, revenue[i], {k: c[i] for k, c in counts.items()})
        return Year(revenue=revenue, spiffs=counts, effort=np.ones((T, n, 12)))


# ------------------------------------------------------------------------------------------------- behaviour
def year_rng(seed: int, trial: int, year: int, part: int | None = None) -> np.random.Generator:
    """Year ``year`` of trial ``trial``: the first year is the trial's own stream (:func:`trial_rng`); ``part`` 0
    is the stream of the year's January deals already open on 1 January (what December may pull)."""
    key = (int(trial),) if year == 0 and part is None else (
        (int(trial), int(year)) if part is None else (int(trial), int(year), int(part)))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass
class _Candidates:
    """Deals that would close at full effort, of all trials of a block, sorted by month: trial-rep cell, month,
    whether already open a month before (pullable), size, three uniforms (pull pick, close, hold back) and, when
    the plan has spiffs, a fourth (inside or outside the window)."""

    cell: np.ndarray
    month: np.ndarray
    pre: np.ndarray
    size: np.ndarray
    u: np.ndarray          # (3, n)
    window: np.ndarray     # (n,) uniform for the spiff-window share of the month
    bounds: np.ndarray     # month m's candidates are [bounds[m], bounds[m+1])


@dataclass(frozen=True)
class BehaviourModel:
    """The fast path with behaviour: every trial's randomness is drawn up front from the trial's own stream
    (candidate deals at full effort, their sizes and uniforms, as in the event model), then the months are
    stepped for all trials and reps at once, each rep's policy choosing effort and timing from the state. Effort
    ``e`` keeps a candidate with probability ``e / e_max`` — the event model's rule — so both engines draw the
    same distribution. ``policies[y]`` is year ``y``'s :class:`~spmopt.sim.policy.PolicySet` (``None``: effort 1
    and no timing, i.e. behaviour none over several years)."""

    reps: Reps
    case: Case
    cal: Calendar
    behaviour: object
    policies: tuple | None
    spiffs: tuple[tuple[str, SpiffRule], ...] = ()
    periods: int = 1
    years: int = 1
    rule: object = None
    lift: np.ndarray | None = None   # (years + 1, 12) multiplier of the deals closed (a coaching programme)

    def _draw(self, seed: int, trials: range, year: int, closings, pullable, top, jan_only: bool = False):
        """Candidates of year ``year`` (only January's already-open ones with ``jan_only``) and the trial factors.
        Per trial two blocks: January's open deals from their own stream (what last December may pull), the rest
        from the year's stream; each block draws counts, then standard normals for the sizes, then uniforms."""
        n = len(self.reps)
        mu, sigma = lognormal_params(self.reps.deal_size_mean, self.reps.deal_size_cv)
        exact, mean = sigma == 0, self.reps.deal_size_mean
        # the rest block's cells: (pre: months 1..11 | same-month: months 0..11) × reps, month-major
        rest_rep = np.concatenate([np.tile(np.arange(n), 11), np.tile(np.arange(n), 12)])
        rest_month = np.concatenate([np.repeat(np.arange(1, 12), n), np.repeat(np.arange(12), n)]).astype(np.int8)
        rest_pre = np.concatenate([np.ones(11 * n, bool), np.zeros(12 * n, bool)])
        if self.lift is not None:
            up = self.lift[min(year, len(self.lift) - 1)]
            closings, pullable = closings * up, pullable * up
        pre_rate = pullable[:, 1:].T.ravel()                       # (11·n,) month-major
        same_rate = (closings - pullable).T.ravel()                # (12·n,)
        cells, months, pres, sizes, us, factors = [], [], [], [], [], []
        n_u = 4 if self.spiffs else 3     # the fourth uniform places a deal in or out of a spiff window
        for i, t in enumerate(trials):
            rng = year_rng(seed, t, year)
            f = draw_factors(rng, self.case, n, self.cal)
            factors.append(f)
            F = f.market * f.rep * top                              # (n,)
            jan = year_rng(seed, t, year, 0)
            k = jan.poisson(pullable[:, 0] * F)
            r_ = np.repeat(np.arange(n), k)
            blocks = [(jan, r_, np.zeros(r_.size, np.int8), np.ones(r_.size, bool))]
            if not jan_only:
                k = rng.poisson(np.concatenate([pre_rate * np.tile(F, 11), same_rate * np.tile(F, 12)]))
                blocks.append((rng, np.repeat(rest_rep, k), np.repeat(rest_month, k), np.repeat(rest_pre, k)))
            for g, rr, mm, pp in blocks:
                z = g.standard_normal(rr.size)
                size = np.exp(mu[rr] + sigma[rr] * z)
                if exact.any():  # cv 0: exactly the mean
                    size = np.where(exact[rr], mean[rr], size)
                cells.append(i * n + rr)
                months.append(mm)
                pres.append(pp)
                sizes.append(size)
                us.append(g.random((n_u, rr.size), dtype=np.float32))
        month = np.concatenate(months)
        order = np.argsort(month, kind="stable")                     # int8 keys: a radix sort
        u = np.concatenate(us, axis=1)[:, order]
        month = month[order]
        cand = _Candidates(cell=np.concatenate(cells)[order], month=month, pre=np.concatenate(pres)[order],
                           size=np.concatenate(sizes)[order], u=u[:3], window=u[3] if n_u == 4 else u[0],
                           bounds=np.searchsorted(month, np.arange(13)))
        return cand, factors

    def run(self, seed: int, trials: range) -> list[Year]:
        from spmopt.sim.policy import closing_rates

        reps, case, cal, bh = self.reps, self.case, self.cal, self.behaviour
        n, T = len(reps), len(trials)
        closings, pullable = closing_rates(reps, case, cal)
        pols = self.policies
        top = float(pols[0].efforts.max()) if pols else 1.0
        q_loss = bh.pull_loss if pols else 0.0
        push_loss = bh.push_loss if pols else 0.0
        disc = bh.pull_discount if pols else 0.0
        per_len = 12 // self.periods
        fracs = {key: window_share(case, cal, reps.cycle_days, s.lo, s.hi) for key, s in self.spiffs}
        rep_idx = np.broadcast_to(np.arange(n), (T, n))
        quota = np.broadcast_to(reps.quota.astype(float), (T, n)).copy()
        carry = np.zeros((T, n))                 # held back past 31 December: books next January
        phi_idx = np.zeros((T, n), dtype=np.intp)
        phi_val = np.zeros((T, n))
        years_out = []
        cand_next, fac_next = self._draw(seed, trials, 0, closings, pullable, top)
        for yr in range(self.years):
            cand, factors = cand_next, fac_next
            cand_next, fac_next = self._draw(seed, trials, yr + 1, closings, pullable, top,
                                             jan_only=yr + 1 == self.years)
            windfall = np.zeros((T, n, 12))
            wf_counts = {key: np.zeros((T, n, 12)) for key, _ in self.spiffs}
            for i, f in enumerate(factors):        # windfalls: not subject to effort or timing
                add_windfalls(f, case, reps, cal, self.spiffs, windfall[i], {k: c[i] for k, c in wf_counts.items()})
            pol = pols[yr] if pols else None
            kappa = quota / reps.quota[None, :] if (pol is not None and len(pol.kappa) > 1) else None
            revenue = np.zeros((T, n, 12))
            effort = np.ones((T, n, 12))
            counts = {key: np.zeros((T, n, 12)) for key, _ in self.spiffs}
            pulled, pushed = np.zeros((T, n)), np.zeros((T, n))
            revenue[:, :, 0] += carry
            for t in range(12):
                start = (t // per_len) * per_len
                y = revenue[:, :, :start].sum(axis=-1)
                a = revenue[:, :, start:t + 1].sum(axis=-1)
                if pol is not None:
                    e, push, pull, nphi = pol.decide(t, rep_idx, kappa, y, a, phi_idx)
                else:
                    e, push, pull, nphi = (np.ones((T, n)), np.zeros((T, n)), np.zeros((T, n)),
                                           np.zeros((T, n), dtype=np.intp))
                effort[:, :, t] = e
                lo, hi = cand.bounds[t], cand.bounds[t + 1]
                c = cand.cell[lo:hi]
                u0, u1, u2 = cand.u[0, lo:hi], cand.u[1, lo:hi], cand.u[2, lo:hi]
                size = cand.size[lo:hi]
                taken = cand.pre[lo:hi] & (u0 < phi_val.ravel()[c])          # pulled into last month already
                closed = ~taken & (u1 * top < e.ravel()[c])
                held = closed & (u2 < push.ravel()[c])
                kept = closed & ~held
                held &= u2 < push.ravel()[c] * (1 - push_loss)                # the held-back deals not lost
                revenue[:, :, t] += np.bincount(c[kept], size[kept], T * n).reshape(T, n)
                moved = np.bincount(c[held], size[held], T * n).reshape(T, n)
                pushed += moved
                if t < 11:
                    revenue[:, :, t + 1] += moved
                else:
                    carry = moved
                # pulls from next month's open deals (next year's January for December)
                if t < 11:
                    lo2, hi2 = cand.bounds[t + 1], cand.bounds[t + 2]
                    src = cand
                else:
                    lo2, hi2 = cand_next.bounds[0], cand_next.bounds[1]
                    src = cand_next
                c2 = src.cell[lo2:hi2]
                pick = src.pre[lo2:hi2] & (src.u[0, lo2:hi2] < pull.ravel()[c2])
                conv = pick & (src.u[1, lo2:hi2] * top < (1 - q_loss) * e.ravel()[c2])   # worked at this effort
                got = np.bincount(c2[conv], src.size[lo2:hi2][conv] * (1 - disc), T * n).reshape(T, n)
                revenue[:, :, t] += got
                pulled += got
                for key, s in self.spiffs:
                    big = size >= s.min_value
                    inwin = cand.window[lo:hi] < fracs[key][c % n, t]
                    counts[key][:, :, t] += np.bincount(c[kept & big & inwin], minlength=T * n).reshape(T, n)
                    nxt_day, last_day = cal.starts[t + 1] + 1e-6, cal.starts[t + 1] - 1e-6
                    if s.lo <= nxt_day < s.hi and t < 11:
                        counts[key][:, :, t + 1] += np.bincount(c[held & big], minlength=T * n).reshape(T, n)
                    if s.lo <= last_day < s.hi:
                        bigp = src.size[lo2:hi2] * (1 - disc) >= s.min_value
                        counts[key][:, :, t] += np.bincount(c2[conv & bigp], minlength=T * n).reshape(T, n)
                    counts[key][:, :, t] += wf_counts[key][:, :, t]
                revenue[:, :, t] += windfall[:, :, t]
                phi_val, phi_idx = pull, nphi
            years_out.append(Year(revenue=revenue, spiffs=counts, effort=effort, pulled=pulled, pushed=pushed,
                                  quota=quota.copy()))
            if self.rule is not None:
                quota = self.rule.next(quota, revenue.sum(axis=-1))
        return years_out
