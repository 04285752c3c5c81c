"""The independent checker rejects each kind of broken alignment."""

import pandas as pd
import pytest

from spmopt.errors import AlignmentCheckError
from spmopt.territory import check_alignment, make_problem, violations

GOOD = {"u1": "A", "u2": "A", "u3": "B", "u4": "A", "u5": "B", "u6": "B", "u7": "B"}


@pytest.fixture
def problem(line_units, line_territories):
    units = line_units.assign(locked_territory=[None] * 6 + ["B"])
    return make_problem(units, line_territories, balance={"potential": 0.1}, capacity={"workload": 10},
                        max_disruption={"potential": 0.25}, contiguity=False)


def test_valid_alignment_passes(problem):
    assert violations(problem, pd.Series(GOOD)) == []


@pytest.mark.parametrize("change, expected", [
    ({"u3": None}, "not assigned"),
    ({"u3": "Z"}, "unknown territory"),
    ({"u7": "A"}, "locked to 'B'"),
    ({"u3": "A"}, "outside balance"),  # A = 75
    ({"u5": "A"}, "outside balance"),  # A = 60
    ({"u3": "B", "u2": "B", "u6": "A", "u1": "B"}, "disruption"),
])
def test_broken_alignment_rejected(problem, change, expected):
    a = pd.Series({**GOOD, **change})
    with pytest.raises(AlignmentCheckError, match=expected):
        check_alignment(problem, a)


def test_capacity_violation(line_units, line_territories):
    p = make_problem(line_units, line_territories, capacity={"workload": 8}, contiguity=False)
    a = pd.Series({u: "A" for u in GOOD} | {"u7": "B"})  # A workload = 15
    assert any("above its maximum" in v for v in violations(p, a))


def test_duplicate_and_unknown_units(problem):
    a = pd.concat([pd.Series(GOOD), pd.Series({"u1": "B", "zz": "A"})])
    v = violations(problem, a)
    assert any("more than once" in s for s in v) and any("unknown unit 'zz'" in s for s in v)


def test_chosen_centres_must_serve_themselves():
    units = pd.DataFrame({"unit_id": list("abcd"), "x": [0, 1, 5, 6], "y": [0, 0, 0, 0]})
    p = make_problem(units, k=2, contiguity=False)
    assert violations(p, pd.Series({"a": "a", "b": "a", "c": "c", "d": "c"})) == []
    v = violations(p, pd.Series({"a": "b", "b": "a", "c": "c", "d": "c"}))
    assert any("not in its own territory" in s for s in v)
    assert any("1 territories used" in s for s in violations(p, pd.Series(dict.fromkeys("abcd", "a"))))
