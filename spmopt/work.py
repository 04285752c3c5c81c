"""Work budgets: the answer is decided by counted work, never by the wall clock.

Every loop of the alignment engine counts what it does (search passes, moves, ascent steps, solver ticks) and
charges it to the active :class:`WorkClock` in **work units**. One unit is about one second of that loop on the
reference machine (the 2-core x86-64 box ``benchmarks/RESULTS.md`` was measured on); each loop's rate is measured
there and written beside the loop. The stages share the budget by work, so the same inputs and options give the
same stages, the same stopping points and the same answer on any machine under any load.

The wall clock is only an outer guard. When it passes first, the stage that is running stops where it is, the
answer is still checked and returned, and the run says so (``guard_hit``): only then may a busy machine give a
different answer. Exceeding the guard is the exception; by default the budget is ``WORK_SHARE`` of the time
limit, so a run finishes inside its limit on a machine up to 1 / ``WORK_SHARE`` times slower than the reference.

A clock is made active with :func:`clock`; code without one (a heuristic called on its own) runs against a free
clock that counts but never stops anything.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: default budget as a share of the time limit: reproducible on machines up to 1 / 0.6 ≈ 1.7× slower than the
#: reference (two runs at once on its 2 cores, each with a solver thread, measured 1.3–1.5× slower)
WORK_SHARE = 0.6

_ACTIVE: contextvars.ContextVar[WorkClock | None] = contextvars.ContextVar("spmopt_work_clock", default=None)


class WorkClock:
    """Counts work (units) against an optional ``budget`` and watches an optional wall-clock ``guard`` (s)."""

    def __init__(self, budget: float | None = None, guard: float | None = None):
        if budget is not None and not budget > 0:
            raise ValueError(f"work budget must be > 0 units, got {budget}")
        if guard is not None and not guard > 0:
            raise ValueError(f"time limit must be > 0 seconds, got {guard}")
        self.budget = None if budget is None else float(budget)
        self.guard = None if guard is None else float(guard)
        self.used = 0.0
        self.t0 = time.perf_counter()
        self.guard_hit = False
        self.guard_stage: str | None = None

    # --- the work count (deterministic) ---------------------------------------------------------------
    def charge(self, units: float) -> None:
        """Add ``units`` of work done."""
        self.used += max(0.0, float(units))

    def left(self) -> float:
        """Work units left in the budget (``inf`` without one)."""
        return math.inf if self.budget is None else max(0.0, self.budget - self.used)

    def span(self, units: float | None) -> Span:
        """A share of the work from now: ``units`` (None or inf = until the budget or the guard ends)."""
        end = self.budget if units is None or not math.isfinite(units) else self.used + max(0.0, units)
        if self.budget is not None and end is not None:
            end = min(end, self.budget)
        return Span(self, self.used, end)

    # --- the wall-clock guard (only an outer limit) -------------------------------------------------------
    def wall(self) -> float:
        return time.perf_counter() - self.t0

    def guard_left(self) -> float | None:
        """Seconds left before the guard (None without one)."""
        return None if self.guard is None else self.guard - self.wall()

    def guard_passed(self, stage: str | None = None) -> bool:
        """True once the wall clock has passed the guard; the first stage to see it is recorded."""
        if self.guard is None or self.wall() < self.guard:
            return False
        self.mark_guard(stage)
        return True

    def mark_guard(self, stage: str | None) -> None:
        """Record that the guard stopped ``stage`` (the first one to see it is kept)."""
        if not self.guard_hit:
            self.guard_hit, self.guard_stage = True, stage

    def report(self) -> dict:
        return {"work_budget": self.budget, "work_used": round(self.used, 3), "wall_seconds": round(self.wall(), 3),
                "time_limit": self.guard, "guard_hit": self.guard_hit, "guard_stage": self.guard_stage}


@dataclass
class Span:
    """Work from ``start`` up to ``end`` (None = no end) on ``clock``."""

    clock: WorkClock
    start: float
    end: float | None

    def left(self) -> float:
        return math.inf if self.end is None else max(0.0, self.end - self.clock.used)

    def done(self, stage: str | None = None) -> bool:
        """The span's work is spent, or the wall-clock guard has passed."""
        return (self.end is not None and self.clock.used >= self.end) or self.clock.guard_passed(stage)

    def fraction(self) -> float:
        """Share of the span spent so far, in [0, 1] (0 for a span without an end)."""
        if self.end is None or self.end <= self.start:
            return 0.0 if self.end is None else 1.0
        return min(1.0, (self.clock.used - self.start) / (self.end - self.start))

    def used(self) -> float:
        return self.clock.used - self.start


def active() -> WorkClock | None:
    """The active clock, or None."""
    return _ACTIVE.get()


def current() -> WorkClock:
    """The active clock, or a free one (no budget, no guard) when none is active."""
    c = _ACTIVE.get()
    return c if c is not None else WorkClock()


def span(units: float | None) -> Span:
    """A share of the active clock's work from now (see :meth:`WorkClock.span`)."""
    return current().span(units)


@contextmanager
def clock(budget: float | None, guard: float | None = None, *, reuse: bool = True) -> Iterator[WorkClock]:
    """Make a clock active for the block. With ``reuse`` and a clock already active (a frontier point solved
    inside a frontier run, a region inside a decomposition) that clock is kept and charged."""
    outer = _ACTIVE.get()
    if reuse and outer is not None:
        yield outer
        return
    c = WorkClock(budget, guard)
    token = _ACTIVE.set(c)
    try:
        yield c
    finally:
        _ACTIVE.reset(token)


def metered(fn):
    """Run ``fn`` on the active clock, or on a clock of its own when none is active, so that a stage called on
    its own (a heuristic in a notebook) sees the work its inner loops charge."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _ACTIVE.get() is not None:
            return fn(*args, **kwargs)
        with clock(None):
            return fn(*args, **kwargs)

    return wrapper


def default_budget(time_limit: float | None) -> float | None:
    """The work budget that goes with a time limit when none is given: ``WORK_SHARE`` of it."""
    return None if time_limit is None else WORK_SHARE * float(time_limit)
