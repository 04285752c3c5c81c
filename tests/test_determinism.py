"""Same inputs, same numbers: the simulator, equal-chance quotas and the back-test give bit-identical outputs for any
number of workers and any chunk size (the simulator and equal-chance quotas) and in any process (the back-test).

The two simulation engines are not compared with each other here: the vector engine draws each month's won deals
in bulk (Poisson counts) while the event simulation draws every opportunity, so the same seed gives different
draws, equal in distribution only (checked in tests/test_sim.py). Each engine is checked against itself.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from spmopt import set_quotas
from spmopt.sim import simulate
from spmopt.sim.engine import Cell

ROOT = Path(__file__).resolve().parents[1]
PLANS = [str(ROOT / "scenarios/plans" / f) for f in
         ("linear_commission.yaml", "spiff_campaign.yaml", "quota_bonus_accelerator.yaml")]
REPS = pd.DataFrame({
    "rep_id": ["A", "B", "C", "D"],
    "quota": [900_000.0, 1_000_000.0, 300_000.0, 500_000.0],
    "opportunities_per_year": [60.0, 24.0, 40.0, 30.0],
    "win_rate": [0.3, 0.5, 0.25, 0.4],
    "deal_size_mean": [50_000.0, 80_000.0, 30_000.0, 20_000.0],
    "deal_size_cv": [0.6, 1.2, 0.0, 0.8],
    "cycle_days": [60.0, 120.0, 30.0, 90.0],
})
# every random element of a trial: market and rep factors, seasonality, a mid-year shock, windfalls
STRESS = {"market": {"market_sigma": 0.1, "idiosyncratic_sigma": 0.1,
                     "seasonality": [0.8, 0.9, 1.1, 0.9, 0.9, 1.1, 0.8, 0.8, 1.1, 1.0, 1.1, 1.4]},
          "cases": {"base": {}, "downturn": {"demand": 0.85, "win_rate": -0.03, "shock": {"month": 7, "demand": 0.8}},
                    "boom": {"demand": 1.15, "windfall": {"probability": 0.3, "size": 5}}}}
# (engine, behaviour, trials, plans, stress): behaviour runs one event simulation per plan, so it gets fewer
RUNS = {"vector": ("vector", "none", 24, PLANS, STRESS),
        "des": ("des", "none", 6, PLANS, STRESS),
        "des-full": ("des", "full", 3, PLANS[::2], {"cases": {k: STRESS["cases"][k] for k in ("base", "boom")}})}

_reference: dict = {}


def _run(name: str, seed: int, workers: int, chunk_size: int):
    engine, behaviour, trials, plans, stress = RUNS[name]
    return simulate(REPS, plans, stress, trials=trials, seed=seed, engine=engine, behaviour=behaviour,
                    workers=workers, chunk_size=chunk_size)


def _assert_same_simulation(a, b) -> None:
    assert a.trials == b.trials and a.events == b.events
    assert list(a.cells) == list(b.cells)
    for key in a.cells:
        for f in Cell.__dataclass_fields__:
            x, y = getattr(a.cells[key], f), getattr(b.cells[key], f)
            assert x.dtype == y.dtype and np.array_equal(x, y), f"cell {key}, {f}: not bit-identical"
    for table in ("rep_trials", "monthly", "summary"):
        pd.testing.assert_frame_equal(getattr(a, table)(), getattr(b, table)(), check_exact=True, obj=table)


@settings(max_examples=6, deadline=None)
@given(name=st.sampled_from(sorted(RUNS)), seed=st.integers(0, 2**32 - 1), workers=st.sampled_from([1, 2, 3]),
       chunk=st.integers(1, 24))
@example(name="vector", seed=7, workers=3, chunk=5)
@example(name="des", seed=7, workers=2, chunk=1)
@example(name="des-full", seed=7, workers=2, chunk=2)
def test_simulation_is_identical_for_any_workers_and_chunk_size(name, seed, workers, chunk):
    """One chunk in this process is the reference; chunks of any size on 1–3 processes give the same bits."""
    trials = RUNS[name][2]
    if (name, seed) not in _reference:
        _reference[(name, seed)] = _run(name, seed, workers=1, chunk_size=trials)
    got = _run(name, seed, workers=workers, chunk_size=1 + (chunk - 1) % trials)
    _assert_same_simulation(_reference[(name, seed)], got)


def test_a_different_seed_gives_different_numbers():
    """The comparison above can fail: the same run under another seed differs."""
    a, b = _run("vector", 1, workers=1, chunk_size=24), _run("vector", 2, workers=1, chunk_size=24)
    assert not np.array_equal(a.cells[(0, 0)].revenue, b.cells[(0, 0)].revenue)


# ---------------------------------------------------------------------------------------------- equal chance
QUOTA_REPS = pd.DataFrame({"rep_id": ["A", "B", "C", "D"], "opportunities_per_year": [100, 60, 40, 80],
                           "win_rate": [0.5, 0.3, 0.4, 0.25], "deal_size_mean": [1000, 3000, 2000, 1500],
                           "deal_size_cv": [0.5, 1.0, 0.0, 0.7]})
TIMINGS = {"seconds", "build_seconds", "rounding_seconds"}


def _without_timings(d):
    if isinstance(d, dict):
        return {k: _without_timings(v) for k, v in d.items() if k not in TIMINGS}
    if isinstance(d, float) and math.isnan(d):
        return "nan"
    return d


def _quotas(seed: int, workers: int, chunk: int | None):
    if chunk is None:
        return set_quotas(QUOTA_REPS, 200_000, "equal_chance", trials=300, seed=seed, workers=workers)
    # set_quotas has no chunk-size argument: every simulation behind it gets chunks of ``chunk`` trials
    with mock.patch("spmopt.sim.engine.default_chunk_size", lambda *_a: chunk):
        return set_quotas(QUOTA_REPS, 200_000, "equal_chance", trials=300, seed=seed, workers=workers)


@settings(max_examples=2, deadline=None)
@given(workers=st.sampled_from([1, 2, 3]), chunk=st.integers(1, 300))
@example(workers=2, chunk=7)
def test_equal_chance_quotas_are_identical_for_any_workers_and_chunk_size(workers, chunk):
    ref = _quotas(5, 1, None)
    got = _quotas(5, workers, chunk)
    pd.testing.assert_frame_equal(ref.table, got.table, check_exact=True)
    assert np.array_equal(ref.samples, got.samples)
    assert _without_timings(ref.summary) == _without_timings(got.summary)
    assert not np.array_equal(ref.samples, _quotas(6, 1, None).samples)   # the seed does reach the samples


# ---------------------------------------------------------------------------------------------- back-test
BACKTEST = """
import json
import sys
import pandas as pd
from spmopt.data.io import read_table
from spmopt.plans import library
from spmopt.plans.backtest import backtest


def backtest_json(root):
    res = backtest([library.load(n) for n in library.names()], read_table(f"{root}/scenarios/history/actuals.csv"),
                   read_table(f"{root}/scenarios/history/quotas.csv"))
    frame = pd.concat([r.payouts_frame() for r in res], ignore_index=True)
    return json.dumps({"payouts": frame.to_dict("split"), "summaries": [r.summary for r in res]}, default=str)
"""


def test_backtest_is_identical_in_another_process():
    """Every library plan on the shipped history, here and in an interpreter with other string hashing (so that an
    output ordered by a set would show): the same payouts and summaries, to the bit (JSON writes floats with repr,
    which round-trips doubles)."""
    hash_seed = str(int(os.environ.get("PYTHONHASHSEED", "0") or 0) + 1)
    proc = subprocess.Popen([sys.executable, "-c", BACKTEST + "print(backtest_json(sys.argv[1]))", str(ROOT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONHASHSEED": hash_seed})
    here: dict = {}
    exec(BACKTEST, here)
    mine = here["backtest_json"](ROOT)
    theirs, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(mine)["payouts"]["data"], "the back-test paid nothing: the comparison would be empty"
    assert mine == theirs.rstrip("\n")


def test_backtest_does_not_depend_on_the_order_of_the_rows():
    """The same validated rows in another order (each keeps its file row number) pay the same, to the bit."""
    from spmopt.data.io import read_table
    from spmopt.plans import library
    from spmopt.plans.backtest import backtest, read_actuals, read_quotas

    a = read_actuals(read_table(ROOT / "scenarios/history/actuals.csv"))
    q = read_quotas(read_table(ROOT / "scenarios/history/quotas.csv"))
    plans = [library.load(n) for n in library.names()]
    ref = backtest(plans, a, q)
    got = backtest(plans, a.sample(frac=1, random_state=1), q.sample(frac=1, random_state=2))
    for r, g in zip(ref, got, strict=True):
        pd.testing.assert_frame_equal(r.payouts_frame(), g.payouts_frame(), check_exact=True)
        assert json.dumps(r.summary, default=str) == json.dumps(g.summary, default=str)
