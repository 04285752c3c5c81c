"""The rep's dynamic programme: effort and timing as functions of state, solved once per rep, plan and case.

State at the start of month ``t`` of a year: ``y`` — revenue booked in the year's earlier plan periods (kept only
when the plan's pay for a period depends on it: a true-up, a recoverable draw, or a ratchet on the year's sales),
``a`` — revenue booked in the current period so far (what was held back into it included), and ``φ`` — the share
of this month's open deals already pulled into the last month. Decisions: effort ``e`` from a grid and, in months
where a plan period or a spiff window ends, one timing option: keep, hold back a share ``π`` of the month's deals
into the next month, or pull a share ``φ'`` of next month's open deals now.

Bellman equation (money in dollars; ``S`` the month's own closings, compound Poisson with mean count
``(c_t − φ·p_t)·e`` and the rep's log-normal deal sizes; ``S'`` the pulled closings, count ``φ'·p_{t+1}·(1 − loss)``,
sizes × (1 − discount); ``p_t`` the part of month ``t``'s closings already open a month earlier)::

    V_t(y, a, φ) = max_{e, o}  −C_t(e) + E[ spiff pay ] + E_S,S'[ Z_t ]
    Z_t = R_p(y, a + (1−π)S + S') + δ·V_{t+1}(y + a + (1−π)S + S', π·S, φ')     (t ends period p)
    Z_t = δ·V_{t+1}(y, a + S + S', φ')                                       (otherwise)

``R_p(y, b)`` is what the payout engine pays for period ``p`` when the period books ``b`` and the earlier periods
booked ``y`` between them (taken as equal shares): every component the engine pays — tiers, thresholds, caps,
accelerators, gates, true-ups, draws — enters through this one function. After the last month of the last
simulated year, ``V`` is the value of starting the same year again with what was carried (that year solved once
with a linear tail: the plan's pay rate on quota × (carried − pulled) revenue); between years it is next year's
``V_0`` at next year's quota (:mod:`spmopt.sim.horizon`).

``S`` lives on a lattice (``grid`` points up to ~4 s.d. above the best period at full effort; beyond it values
continue along their last slope), its distribution computed exactly on the lattice by FFT (deal sizes split
between neighbouring lattice points, mean kept). Expectations are matrix products. Effort is refined between
grid points (:meth:`YearSolver._refine`). One solve takes 10–60 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from spmopt.sim.behaviour import Behaviour
from spmopt.sim.pay import PlanContext

PUSH_STEPS = (0.5, 1.0)   # held-back shares, × max_push
Y_POINTS = 9
SIZE_QUANTILES = 256


@dataclass(frozen=True)
class RepProblem:
    """One rep's year, as the rep sees it (expected rates; the market's luck is not known in advance)."""

    ctx: PlanContext                 # bound to this rep alone (R = 1)
    closings: np.ndarray             # (12,) expected won deals closing per month at effort 1
    pullable: np.ndarray             # (12,) of which already open at the start of the month before
    size_mean: float
    size_cv: float
    carry_rate: float                # value per $ carried past the horizon (the plan's rate on quota)
    spiffs: tuple[tuple[float, np.ndarray, np.ndarray, np.ndarray, float, float], ...] = ()
    # per spiff: (pay per qualifying deal, share of month t's closings in the window (12,), whether a deal held
    # back to the first day of month t+1 is in it (12,), whether a deal pulled to the last day of month t is
    # (12,), share of deals big enough, share of pulled (discounted) deals big enough)


@dataclass
class Policy:
    """Decisions on the state grid: ``choice[t, iy, ia, iφ]`` = effort index × options + option index."""

    choice: np.ndarray               # (12, nY, nA, nΦ) int16
    efforts: np.ndarray              # (nE,)
    push: np.ndarray                 # (nO,) share held back per option
    pull: np.ndarray                 # (nO,) share pulled per option (a value of ``phis``)
    pull_index: np.ndarray           # (nO,) index of the option's φ' in ``phis``
    phis: np.ndarray                 # (nΦ,)
    step: float                      # $ per lattice point of a
    y_step: float                    # $ per point of y (0: no y state)
    value0: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # V_0(y=0, a, φ) (nA, nΦ)
    effort: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # (12, nY, nA, nΦ) continuous


def size_lattice(mean: float, cv: float, step: float, n: int) -> np.ndarray:
    """Deal-size distribution on the lattice ``0, step, 2·step, …`` (length ``n``), each of ``SIZE_QUANTILES``
    equal-probability log-normal quantiles split between its two neighbours (the mean is kept; mass beyond the
    lattice sits on its last point)."""
    from scipy import stats

    if cv <= 0:
        pts = np.array([mean])
    else:
        s2 = np.log1p(cv * cv)
        q = (np.arange(SIZE_QUANTILES) + 0.5) / SIZE_QUANTILES
        pts = np.exp(np.log(mean) - s2 / 2 + np.sqrt(s2) * stats.norm.ppf(q))
        pts *= mean / pts.mean()
    x = np.minimum(pts / step, n - 1)
    lo = np.floor(x).astype(int)
    w = x - lo
    f = np.zeros(n)
    np.add.at(f, lo, (1 - w) / len(pts))
    np.add.at(f, np.minimum(lo + 1, n - 1), w / len(pts))
    return f


def compound_poisson(rates: np.ndarray, size_hat: np.ndarray, n: int) -> np.ndarray:
    """Lattice pmfs (…, n) of compound Poisson sums with the given rates (…) and size transform (m,)."""
    m = 2 * (len(size_hat) - 1)
    pmf = np.fft.irfft(np.exp(rates[..., None] * (size_hat - 1)), n=m)[..., :n]
    pmf = np.maximum(pmf, 0.0)
    pmf[..., -1] += np.maximum(1 - pmf.sum(axis=-1), 0.0)
    return pmf / pmf.sum(axis=-1, keepdims=True)


class YearSolver:
    """Solves one rep's year backwards. ``terminal(sales, carry, phi_index)`` gives the value after the last
    month for the year's booked revenue ``sales`` ($), revenue held back past 31 December ``carry`` ($) and the
    share of next January's open deals pulled into December (index into the φ grid)."""

    def __init__(self, prob: RepProblem, behaviour: Behaviour, *, ratchet: bool = False) -> None:
        self.prob, self.bh = prob, behaviour
        ctx = prob.ctx
        self.P = ctx.periods
        self.L = 12 // self.P
        self.Q = float(ctx.quota_per_period[0, 0]) * self.P
        bh = behaviour
        self.efforts = (np.linspace(bh.effort_min, bh.effort_max, bh.effort_steps) if bh.effort
                        else np.array([1.0]))
        self.phis = np.array([0.0, bh.max_pull / 2, bh.max_pull]) if bh.timing and bh.max_pull > 0 else np.zeros(1)
        pushes = [bh.max_push * x for x in PUSH_STEPS] if bh.timing and bh.max_push > 0 else []
        push = [0.0] + pushes + [0.0] * (len(self.phis) - 1)
        pull_idx = [0] * (1 + len(pushes)) + list(range(1, len(self.phis)))
        self.push = np.array(push)
        self.pull_index = np.array(pull_idx, dtype=np.intp)
        self.pull = self.phis[self.pull_index]
        # lattice: up to ~5 s.d. above the best period at full effort (plus pulls), at least 2 period quotas
        s, cv = prob.size_mean, prob.size_cv
        top = self.efforts[-1]
        per = prob.closings.reshape(self.P, self.L).sum(axis=1) * top + prob.pullable.max() * self.phis[-1]
        mean = per * s
        sd = np.sqrt(per * s * s * (1 + cv * cv))
        qp = self.Q / self.P
        span = max(2.0 * qp, float(np.max(mean + 4 * sd)))
        self.nA = bh.grid
        self.step = span / (self.nA - 1)
        self.nK = self.nA
        fft_n = 1
        while fft_n < 2 * self.nK:
            fft_n *= 2
        self.size_hat = np.fft.rfft(size_lattice(s, cv, self.step, fft_n))
        self.size_hat_pulled = np.fft.rfft(size_lattice(s * (1 - bh.pull_discount), cv, self.step, fft_n))
        self.delta = bh.discount
        # pay tables R[p, iy, ib]
        self.nL = self.nA + self.nK
        self.sum_index = np.arange(self.nA)[:, None] + np.arange(self.nK)[None, :]     # a + k
        b = np.arange(self.nL) * self.step
        y_top = span * (self.P - 1)
        ys = np.linspace(0, y_top, Y_POINTS) if self.P > 1 else np.zeros(1)
        R = self._pay_table(ys, b)
        separable = self.P == 1 or np.allclose(R, R[:, :1, :], rtol=0, atol=1e-6 * max(ctx.plan.target_incentive, 1))
        self.ratchet = ratchet
        if separable and not (ratchet and self.P > 1):
            ys, R = np.zeros(1), R[:, :1, :]
        self.ys, self.R = ys, R
        self.y_step = float(ys[1] - ys[0]) if len(ys) > 1 else 0.0
        self.nY = len(ys)
        self.cost_rate = bh.reference_rate * s if bh.effort else 0.0    # r0 × deal size: cost per deal worked
        psi = bh.effort_curvature
        self.cost = (self.efforts ** (1 + psi) / (1 + psi)) if bh.effort else np.zeros(1)
        self.spiff_month = self._spiff_terms()

    # ------------------------------------------------------------------------------------------------ pay
    def _pay_table(self, ys: np.ndarray, b: np.ndarray) -> np.ndarray:
        P = self.P
        out = np.zeros((P, len(ys), len(b)))
        for p in range(P):
            per = np.zeros((len(ys), len(b), P))
            if p > 0:
                per[..., :p] = (ys / p)[:, None, None]
            per[..., p] = b[None, :]
            pay = self.prob.ctx.pay_periods(per.reshape(-1, 1, P)).total     # (nY·nL, 1, P)
            out[p] = pay[:, 0, p].reshape(len(ys), len(b))
        return out

    def _spiff_terms(self):
        """Per month: spiff pay per own deal closed, per own deal held back, per deal pulled (12,) each."""
        own, held, pulled = np.zeros(12), np.zeros(12), np.zeros(12)
        for v, frac, in_next, in_last, q_own, q_pulled in self.prob.spiffs:
            own += v * frac * q_own
            held += v * (in_next - frac) * q_own
            pulled += v * in_last * q_pulled
        return own, held, pulled

    # ---------------------------------------------------------------------------------------------- solve
    def _decision_month(self, t: int) -> bool:
        if not self.bh.timing:
            return False
        if (t + 1) % self.L == 0:
            return True
        return any(bool(frac[t] != (frac[t + 1] if t < 11 else 0.0)) for _, frac, *_ in self.prob.spiffs)

    def solve(self, terminal: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> Policy:
        prob, nY, nA, nK = self.prob, self.nY, self.nA, self.nK
        nE, nPhi, nO = len(self.efforts), len(self.phis), len(self.push)
        step = self.step
        a = np.arange(nA)[None, :, None]            # lattice index of a
        k = np.arange(nK)[None, None, :]
        ys = self.ys[:, None, None]
        choice = np.zeros((12, nY, nA, nPhi), dtype=np.int16)
        effort = np.ones((12, nY, nA, nPhi), dtype=np.float32)
        V = None
        own_spiff, held_spiff, pulled_spiff = self.spiff_month
        for t in range(11, -1, -1):
            p, ends = t // self.L, (t + 1) % self.L == 0
            options = range(nO) if self._decision_month(t) else [0]
            nxt_pullable = prob.pullable[(t + 1) % 12]
            own_rate = (prob.closings[t] - self.phis[None, :] * prob.pullable[t]) * self.efforts[:, None]  # (nE, nΦ)
            own_rate = np.maximum(own_rate, 0.0)
            total = np.full((nY * nA, nE, nPhi, nO), -np.inf)
            # effort's cost scales with the deals worked at effort 1: this month's own (less those pulled into
            # the last month) plus those pulled from the next (which the rep must also close)
            worked = np.maximum(prob.closings[t] - self.phis * prob.pullable[t], 0.0)[:, None] + (
                self.phis[self.pull_index] * nxt_pullable * (1 - self.bh.pull_loss))[None, :]       # (nΦ, nO)
            scale = self.cost_rate * worked
            for o in options:
                pi, io = self.push[o], self.pull_index[o]
                rate = own_rate
                pull_rate = self.phis[io] * nxt_pullable * (1 - self.bh.pull_loss) * self.efforts[:, None]
                if io:
                    hat = np.exp(own_rate[..., None] * (self.size_hat - 1)
                                 + pull_rate[..., None] * (self.size_hat_pulled - 1))
                    pmf = np.maximum(np.fft.irfft(hat, n=2 * (len(self.size_hat) - 1))[..., :nK], 0.0)
                    pmf[..., -1] += np.maximum(1 - pmf.sum(axis=-1), 0.0)
                    pmf /= pmf.sum(axis=-1, keepdims=True)
                else:
                    pmf = compound_poisson(rate, self.size_hat, nK)                      # (nE, nΦ, nK)
                if ends and pi == 0:      # booked a + k on the lattice: gather from one (nY, nL) table
                    b = np.arange(self.nL)
                    if t == 11:
                        cont = terminal(self.ys[:, None] + b[None, :] * step, np.zeros((nY, self.nL)), io)
                    else:
                        cont = self._v_at(V, self.ys[:, None] + b[None, :] * step, np.zeros((nY, self.nL)), io)
                    Z = (self.R[p] + self.delta * cont)[:, self.sum_index]
                elif ends:
                    w = self._weights(pi)
                    R = self.R[p]
                    pay = R[:, w["b0"]] * (1 - w["wb"]) + R[:, w["b0"] + 1] * w["wb"]          # (nY, nA, nK)
                    if t == 11:
                        booked = a + (1 - pi) * k                                       # (1, nA, nK)
                        carry = pi * (1 - self.bh.push_loss) * k * step
                        cont = terminal(np.broadcast_to(ys + booked * step, (nY, nA, nK)),
                                        np.broadcast_to(carry, (nY, nA, nK)), io)
                    else:
                        Vt = V[:, :, io]
                        c0, wc = w["c0"], w["wc"]
                        lo = Vt[:, c0] * (1 - wc) + Vt[:, c0 + 1] * wc                   # (nY, nK): V(y, carry)
                        if nY == 1:
                            cont = np.broadcast_to(lo[:, None, :], (1, nA, nK))
                        else:
                            cont = lo[w["y0"], k] * (1 - w["wy"]) + lo[w["y0"] + 1, k] * w["wy"]
                    Z = pay + self.delta * cont
                else:
                    Z = self.delta * self._v_same_period(V, io)
                EV = Z.reshape(nY * nA, nK) @ pmf.reshape(nE * nPhi, nK).T               # (nY·nA, nE·nΦ)
                spiff = rate * (own_spiff[t] + pi * held_spiff[t]) + pull_rate * pulled_spiff[t]
                total[..., o] = EV.reshape(nY * nA, nE, nPhi) + spiff[None]
            gain = total                                                        # pay side, before effort cost
            total = gain - self.cost[None, :, None, None] * scale[None, None, :, :]
            # prefer keeping dates on ties (a hair of pay)
            tie = 1e-9 * max(prob.ctx.plan.target_incentive, 1.0)
            total -= tie * (np.arange(nO)[None, None, None, :] > 0)
            flat = total.transpose(0, 2, 1, 3).reshape(nY * nA, nPhi, nE * nO)
            best = np.argmax(flat, axis=-1)
            V = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
            choice[t] = best.reshape(nY, nA, nPhi).astype(np.int16)
            e_best, V = self._refine(gain, best // nO, best % nO, V, scale)
            effort[t] = e_best.reshape(nY, nA, nPhi)
            V = V.reshape(nY, nA, nPhi)
        return Policy(choice=choice, efforts=self.efforts, push=self.push, pull=self.pull,
                      pull_index=self.pull_index, phis=self.phis, step=step, y_step=self.y_step,
                      value0=V[0].copy(), effort=effort)

    def _refine(self, gain: np.ndarray, ie: np.ndarray, io: np.ndarray, value: np.ndarray, scales: np.ndarray):
        """Continuous effort between grid points: the pay side ``gain`` (states, nE, nΦ, nO) is taken as the
        parabola through the best grid point and its neighbours (same timing option), and pay minus the exact
        cost ``scale · e^(1+ψ)/(1+ψ)`` (``scales`` (nΦ, nO)) is maximised on that interval by Newton steps.
        Returns effort and value (states, nΦ)."""
        E = self.efforts
        if len(E) < 3 or not self.bh.effort:
            return E[ie].astype(np.float32), value
        scale = scales[np.arange(scales.shape[0])[None, :], io]
        h = E[1] - E[0]
        psi = self.bh.effort_curvature
        mid = np.clip(ie, 1, len(E) - 2)
        s_idx = np.arange(gain.shape[0])[:, None]
        p_idx = np.arange(gain.shape[2])[None, :]
        a0, a1, a2 = (gain[s_idx, mid + d, p_idx, io] for d in (-1, 0, 1))
        xc = E[mid]
        b = (a2 - a0) / (2 * h)
        c = (a2 - 2 * a1 + a0) / (2 * h * h)
        lo, hi = E[np.maximum(ie - 1, 0)], E[np.minimum(ie + 1, len(E) - 1)]
        x = E[ie].astype(float)
        for _ in range(8):
            g1 = b + 2 * c * (x - xc) - scale * x ** psi
            g2 = 2 * c - scale * psi * x ** (psi - 1)
            x = np.clip(x - np.where(g2 < 0, g1 / np.where(g2 < 0, g2, -1.0), -np.sign(g1) * h / 4), lo, hi)
        val = a1 + b * (x - xc) + c * (x - xc) ** 2 - scale * x ** (1 + psi) / (1 + psi)
        tie = 1e-9 * max(self.prob.ctx.plan.target_incentive, 1.0) * (io > 0)
        better = val - tie > value
        return np.where(better, x, E[ie]).astype(np.float32), np.where(better, val - tie, value)

    def _weights(self, pi: float) -> dict:
        """Interpolation indices and weights of holding back ``pi`` at a period end (the same every month):
        booked ``a + (1 − π)k`` on the pay table, carried ``(1 − loss)·π·k`` on the next period's lattice, and
        next period's ``y + booked`` on the y grid (extrapolated linearly beyond the last points)."""
        cache = self.__dict__.setdefault("_wcache", {})
        if pi not in cache:
            nA, nK, nY = self.nA, self.nK, self.nY
            booked = np.arange(nA)[:, None] + (1 - pi) * np.arange(nK)[None, :]          # (nA, nK)
            b0 = np.minimum(np.floor(booked).astype(np.intp), self.nL - 2)
            carry = pi * (1 - self.bh.push_loss) * np.arange(nK)
            c0 = np.minimum(np.floor(carry).astype(np.intp), nA - 2)
            out = {"b0": b0, "wb": booked - b0, "c0": c0, "wc": carry - c0}
            if nY > 1:
                xy = np.maximum((self.ys[:, None, None] + booked[None] * self.step) / self.y_step, 0)
                y0 = np.minimum(np.floor(xy).astype(np.intp), nY - 2)
                out.update(y0=y0, wy=xy - y0)
            cache[pi] = out
        return cache[pi]

    def _v_same_period(self, V: np.ndarray, io: int) -> np.ndarray:
        """V_{t+1}(y, a + k, φ') on the lattice; beyond its top, continued along its last slope."""
        nA = self.nA
        idx = self.sum_index
        top = V[:, -1, io][:, None, None]
        slope = (V[:, -1, io] - V[:, -2, io])[:, None, None]
        return np.where(idx < nA, V[:, :, io][:, np.minimum(idx, nA - 1)], top + slope * (idx - (nA - 1)))

    def _v_at(self, V: np.ndarray, y_dollars: np.ndarray, a_dollars: np.ndarray, io: int) -> np.ndarray:
        """V_{t+1}(y, a, φ') at continuous y and a (dollars), bilinear."""
        nY = self.nY
        shape = np.broadcast_shapes(np.shape(y_dollars), np.shape(a_dollars))
        xa = np.broadcast_to(a_dollars / self.step, shape)
        table = V[:, :, io]                                                   # (nY, nA)
        if nY == 1:
            return _interp_rows(table[0], xa)
        xy = np.clip(np.broadcast_to(y_dollars / self.y_step, shape), 0, nY - 1)
        y0 = np.minimum(np.floor(xy).astype(np.intp), nY - 2)
        wy = xy - y0
        lo = _interp_rows_indexed(table, y0, xa)
        hi = _interp_rows_indexed(table, y0 + 1, xa)
        return lo * (1 - wy) + hi * wy


def _interp_rows(row: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linear interpolation at lattice positions ``x``; beyond the last point, continued along the last slope."""
    n = len(row)
    x = np.maximum(x, 0)
    i0 = np.minimum(np.floor(x).astype(np.intp), n - 2)
    w = x - i0
    return row[i0] * (1 - w) + row[i0 + 1] * w


def _interp_rows_indexed(table: np.ndarray, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """As :func:`_interp_rows`, row ``rows`` of ``table``."""
    n = table.shape[1]
    x = np.maximum(x, 0)
    i0 = np.minimum(np.floor(x).astype(np.intp), n - 2)
    w = x - i0
    return table[rows, i0] * (1 - w) + table[rows, i0 + 1] * w


def for_rep(ctx: PlanContext, r: int) -> PlanContext:
    """``ctx`` restricted to rep ``r`` (R = 1)."""
    return replace(ctx, quota_per_period=ctx.quota_per_period[r:r + 1],
                   other_credited={m: v[r:r + 1] for m, v in ctx.other_credited.items()},
                   other_quotas={m: v[r:r + 1] for m, v in ctx.other_quotas.items()})


def closing_rates(reps, case, cal) -> tuple[np.ndarray, np.ndarray]:
    """Expected won deals closing per month at effort 1 (R, 12), and the part of them from opportunities opened
    before the month began (R, 12): what a rep can pull into the month before."""
    from spmopt.sim.market import cycle_integral, expected_closings

    per_day = reps.opportunities / cal.days * np.clip(reps.win_rate * reps.skill + case.win_shift, 0, 1)
    total = expected_closings(case, cal, reps.cycle_days) * per_day[:, None]
    k = case.cycle_shape
    scale = reps.cycle_days[:, None] / k
    breaks, level = case.intensity(cal)
    same = np.zeros_like(total)
    for j in range(12):
        a, b = cal.starts[j], cal.starts[j + 1]
        for i in range(len(level)):
            u0, u1 = max(breaks[i], a), min(breaks[i + 1], b)
            if u1 > u0:
                same[:, j] += level[i] * (cycle_integral(np.array([[b - u0]]), k, scale)[:, 0]
                                          - cycle_integral(np.array([[b - u1]]), k, scale)[:, 0])
    return total, np.maximum(total - same * per_day[:, None], 0.0)


# ------------------------------------------------------------------------------------------ all reps, all years
KAPPA = np.geomspace(0.4, 2.5, 13)   # quota multipliers a ratchet's later years are solved for


@dataclass
class PolicySet:
    """The policies of every rep for one simulated year, stacked for vectorised lookup. With a ratchet, years
    after the first hold one policy per quota multiplier in ``kappa`` (next quota / the reps file's quota)."""

    choice: np.ndarray          # (R, nκ, 12, nY, nA, nΦ) int16: effort index × options + timing option
    effort: np.ndarray          # (R, nκ, 12, nY, nA, nΦ) float32: effort, refined between grid points
    step: np.ndarray            # (R, nκ) $ per lattice point
    y_step: np.ndarray          # (R, nκ)
    kappa: np.ndarray           # (nκ,)
    efforts: np.ndarray
    push: np.ndarray
    pull: np.ndarray
    pull_index: np.ndarray
    phis: np.ndarray

    @staticmethod
    def concat(sets: list[PolicySet]) -> PolicySet:
        """Stack the policies of consecutive blocks of reps."""
        if len(sets) == 1:
            return sets[0]
        nY = max(p.choice.shape[3] for p in sets)
        def pad(a):
            return np.broadcast_to(a, a.shape[:3] + (nY,) + a.shape[4:]) if a.shape[3] != nY else a

        return replace(sets[0], choice=np.concatenate([pad(p.choice) for p in sets]),
                       effort=np.concatenate([pad(p.effort) for p in sets]),
                       step=np.concatenate([p.step for p in sets]),
                       y_step=np.concatenate([p.y_step for p in sets]))

    def decide(self, t: int, rep: np.ndarray, kappa: np.ndarray | None, y: np.ndarray, a: np.ndarray,
               phi_idx: np.ndarray):
        """(effort, push share, pull share, next φ index) for reps ``rep`` in states y, a ($), φ (same shapes)."""
        _, nK, _, nY, nA, _ = self.choice.shape
        ik = (np.zeros_like(rep) if nK == 1 or kappa is None
              else np.clip(np.rint(np.interp(np.log(np.maximum(kappa, 1e-9)), np.log(self.kappa), np.arange(nK))),
                           0, nK - 1
                           ).astype(np.intp))
        step = self.step[rep, ik]
        ia = np.clip(np.rint(a / step), 0, nA - 1).astype(np.intp)
        ys = self.y_step[rep, ik]
        iy = np.where(ys > 0, np.clip(np.rint(y / np.where(ys > 0, ys, 1.0)), 0, nY - 1), 0).astype(np.intp)
        o = self.choice[rep, ik, t, iy, ia, phi_idx].astype(np.intp) % len(self.push)
        return self.effort[rep, ik, t, iy, ia, phi_idx].astype(float), self.push[o], self.pull[o], self.pull_index[o]


def _problem(ctx: PlanContext, r: int, mult: float, closings, pullable, reps, spiffs) -> RepProblem:
    c1 = for_rep(ctx, r)
    if mult != 1.0:
        c1 = replace(c1, quota_per_period=c1.quota_per_period * mult)
    return RepProblem(c1, closings[r], pullable[r], float(reps.deal_size_mean[r]), float(reps.deal_size_cv[r]),
                      float(c1.reference_rate()[0]), spiffs[r])


def _share_above(minimum: float, mean: float, cv: float) -> float:
    """P(deal size ≥ minimum) for log-normal sizes."""
    from scipy import stats

    if not np.isfinite(minimum) or minimum <= 0:
        return 1.0
    if cv <= 0:
        return float(mean >= minimum)
    s2 = np.log1p(cv * cv)
    return float(stats.norm.sf((np.log(minimum) - (np.log(mean) - s2 / 2)) / np.sqrt(s2)))


def spiff_inputs(ctx: PlanContext, reps, case, cal, behaviour: Behaviour):
    """Per rep, the spiff terms of :class:`RepProblem` (see there)."""

    from spmopt.sim.market import window_share

    out = []
    per = []
    for s in ctx.spiffs:
        frac = window_share(case, cal, reps.cycle_days, s.lo, s.hi)                      # (R, 12)
        nxt = cal.starts[1:] + 1e-6
        last = cal.starts[1:] - 1e-6
        in_next = ((nxt >= s.lo) & (nxt < s.hi)).astype(float)
        in_last = ((last >= s.lo) & (last < s.hi)).astype(float)
        per.append((s, frac, in_next, in_last))
    # pay per qualifying deal: the engine's extra pay for one more deal in a period, for a rep on quota
    for r in range(len(reps)):
        c1 = for_rep(ctx, r)
        on_quota = np.repeat(c1.quota_per_period, ctx.periods, axis=-1)           # (1, P)
        terms = []
        for s, frac, in_next, in_last in per:
            base = {x.name: np.zeros((1, ctx.periods)) for x in ctx.spiffs}
            one = {**base, s.name: np.ones((1, ctx.periods))}
            v = float((c1.pay_periods(on_quota, one).total - c1.pay_periods(on_quota, base).total).mean())
            mean, cv = float(reps.deal_size_mean[r]), float(reps.deal_size_cv[r])

            terms.append((v, frac[r], in_next, in_last, _share_above(s.min_value, mean, cv),
                          _share_above(s.min_value, mean * (1 - behaviour.pull_discount), cv)))
        out.append(tuple(terms))
    return out


def solve_policies(ctx: PlanContext, reps, case, cal, behaviour: Behaviour, *, years: int = 1,
                   rule=None) -> list[PolicySet]:
    """The policy of every rep in every simulated year (backwards from the last), for one plan and case."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):   # small products: BLAS threads only contend
        return _solve_policies(ctx, reps, case, cal, behaviour, years, rule)


def _solve_policies(ctx, reps, case, cal, behaviour, years, rule) -> list[PolicySet]:
    from spmopt.sim.horizon import QuotaRule

    rule = rule or QuotaRule()
    base_closings, base_pullable = closing_rates(reps, case, cal)
    coach = ctx.plan.coaching
    lift = coach.lift(years) if coach is not None else np.ones((years, 12))   # a coaching programme closes more
    spiffs = spiff_inputs(ctx, reps, case, cal, behaviour)
    R = len(reps)
    delta = behaviour.discount
    out: list[PolicySet | None] = [None] * years
    nxt: list[list[tuple[YearSolver, Policy]]] | None = None      # per rep: (solver, policy) per κ of next year
    for yr in range(years - 1, -1, -1):
        closings, pullable = base_closings * lift[yr], base_pullable * lift[yr]
        if yr == 0:
            kappas = np.array([1.0])
        elif rule.depends_on_sales:
            kappas = KAPPA
        else:
            kappas = np.array([1.0 if rule.type == "fixed" else (1 + rule.growth) ** yr])
        this, seen = [], {}
        for r in range(R):
            key = _rep_key(ctx, r, reps, closings, pullable, spiffs)
            if key in seen:             # the same rep type: the same policy
                this.append(this[seen[key]])
                continue
            seen[key] = r
            row = []
            for kap in kappas:
                prob = _problem(ctx, r, float(kap), closings, pullable, reps, spiffs)
                solver = YearSolver(prob, behaviour, ratchet=rule.depends_on_sales and yr < years - 1)
                row.append((solver, solver.solve(_terminal(prob, solver, nxt, r, kap, rule, delta, pullable))))
            this.append(row)
        nY = max(s.nY for row in this for s, _ in row)
        s0, p0 = this[0][0]
        out[yr] = PolicySet(choice=_stack(this, "choice", nY), effort=_stack(this, "effort", nY),
                            step=np.array([[p.step for _, p in row] for row in this]),
                            y_step=np.array([[p.y_step for _, p in row] for row in this]), kappa=kappas,
                            efforts=p0.efforts, push=p0.push, pull=p0.pull, pull_index=p0.pull_index,
                            phis=p0.phis)
        nxt = this
    return out


def _stack(rows, name: str, nY: int) -> np.ndarray:
    """(R, nκ, 12, nY, nA, nΦ) from each rep's policies (a policy without a y state repeated along y)."""
    return np.stack([np.stack([np.broadcast_to(getattr(p, name), (12, nY) + p.choice.shape[2:]) for _, p in row])
                     for row in rows])


def _rep_key(ctx: PlanContext, r: int, reps, closings, pullable, spiffs) -> bytes:
    """Everything a rep's problem depends on, as bytes: reps alike in all of it share one solve."""
    parts = [ctx.quota_per_period[r], closings[r], pullable[r], reps.deal_size_mean[r:r + 1],
             reps.deal_size_cv[r:r + 1], *[v[r] for v in ctx.other_credited.values()],
             *[v[r] for v in ctx.other_quotas.values()]]
    parts += [np.asarray(x, dtype=float).ravel() for t in spiffs[r] for x in t]
    return b"".join(np.ascontiguousarray(np.asarray(p, dtype=float)).tobytes() for p in parts)


def _terminal(prob: RepProblem, solver: YearSolver, nxt, r: int, kap: float, rule, delta: float, pullable):
    """The value after this year's last month (see :class:`YearSolver`)."""
    if nxt is None:   # after the last simulated year: the same year again, solved once with a linear tail
        lost = solver.phis * pullable[r][0] * prob.size_mean      # January revenue pulled into December (per φ')

        def tail(sales, carry, io):
            return prob.carry_rate * (carry - lost[io])

        proxy = YearSolver(prob, solver.bh).solve(tail)
        v0 = proxy.value0

        def last(sales, carry, io):
            return delta * (_interp_rows(v0[:, io], carry / proxy.step) - v0[0, 0])
        return last
    row = nxt[r]
    ks = np.array([float(s.Q) for s, _ in row])                    # next year's annual quotas
    base_q = solver.Q / kap

    def between(sales, carry, io):
        if len(row) == 1:
            s1, p1 = row[0]
            return delta * _interp_rows(p1.value0[:, io], carry / p1.step)
        q_next = rule.next(np.full(sales.shape, solver.Q), sales)
        x = np.interp(np.log(q_next / base_q), np.log(ks / base_q), np.arange(len(ks)))
        i0 = np.minimum(np.floor(x).astype(np.intp), len(ks) - 2)
        w = x - i0
        vals = np.stack([_interp_rows(p.value0[:, io], carry / p.step) for _, p in row])  # (nκ, …)
        pick = np.take_along_axis(vals, i0[None], axis=0)[0] * (1 - w) + np.take_along_axis(
            vals, (i0 + 1)[None], axis=0)[0] * w
        return delta * pick
    return between
