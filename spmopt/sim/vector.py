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
from spmopt.sim.market import Calendar, Case, draw_factors, expected_closings
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
            lo = np.clip(np.full(12, s.lo), cal.starts[:-1], cal.starts[1:])
            hi = np.clip(np.full(12, s.hi), cal.starts[:-1], cal.starts[1:])
            inside = expected_closings(case, cal, reps.cycle_days, lo=lo, hi=np.maximum(hi, lo))
            whole = expected_closings(case, cal, reps.cycle_days)
            frac[key] = np.divide(inside, whole, out=np.zeros_like(whole), where=whole > 0).ravel()
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
            if f.windfall.any():
                r = np.flatnonzero(f.windfall)
                month = cal.month_of(f.windfall_day[r])
                size = case.windfall_size * reps.deal_size_mean[r]
                np.add.at(revenue[i], (r, month), size)
                for key, s in self.spiffs:
                    hit = (f.windfall_day[r] >= s.lo) & (f.windfall_day[r] < s.hi) & (size >= s.min_value)
                    np.add.at(counts[key][i], (r[hit], month[hit]), 1)
        return Year(revenue=revenue, spiffs=counts, effort=np.ones((T, n, 12)))
