"""Plan files and the payout engine: hand-worked amounts to the cent, schema errors that name the key, and
hypothesis properties against a plain reference loop (tests/payout_reference.py)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spmopt.plans import PlanError, PlanWarning, library, load_plan, payout, plan_from_dict
from tests.payout_reference import rep_payout

CENT = 0.005


def plan(components, **kw):
    base = {"name": "t", "target_incentive": 40000, "period": "quarter", "components": components}
    return plan_from_dict({**base, **kw})


def one(p, values, quotas=None, measure="revenue", **kw):
    """Pay one rep whose periods have ``values`` (and ``quotas``) of ``measure``."""
    v = np.array([values], dtype=float)
    q = {measure: np.array([quotas], dtype=float)} if quotas is not None else {}
    return payout(p, {measure: v, **kw.pop("extra", {})}, q, **kw)


# ---------------------------------------------------------------------------- hand-worked amounts
ACCEL = [[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]


@pytest.mark.parametrize(("att", "expected"), [
    (0.49, 0.0),          # below the threshold
    (0.5, 2500.0),        # threshold pays 25 % of 10,000 (quarterly TI)
    (0.8, 7000.0),        # 0.25 + 0.3 × 1.5 = 0.70
    (1.0, 10000.0),
    (1.2, 14000.0),       # accelerator: 1 + 0.2 × 2 = 1.4
    (1.45, 18000.0),      # 1.9 capped at 1.8
    (2.0, 18000.0),       # flat beyond the last point, then the cap
])
def test_quota_bonus_threshold_accelerator_cap(att, expected):
    p = plan([{"type": "quota_bonus", "measure": "revenue", "curve": ACCEL, "cap": 1.8}])
    r = one(p, [att * 100000], [100000])
    assert r.amounts["quota_bonus"][0, 0] == pytest.approx(expected, abs=CENT)


def test_quota_bonus_extrapolate_and_weight():
    with pytest.warns(PlanWarning, match="weights sum to 0.6"):
        p = plan([{"type": "quota_bonus", "measure": "revenue", "curve": ACCEL, "extrapolate": True, "weight": 0.6}])
    r = one(p, [200000], [100000])  # 2.0 + 0.5 × 2 = 3.0 × 0.6 × 10,000
    assert r.amounts["quota_bonus"][0, 0] == pytest.approx(18000.0, abs=CENT)


def test_extrapolating_an_overflowing_slope_is_refused():
    """A last segment from 0 to 1 payout over 2e-313 attainment has slope 4.5e312 (beyond float range): pay above
    it would be inf, so the plan is refused, naming the key (found by the hypothesis test below)."""
    with pytest.raises(PlanError, match="extrapolate.*too steep"):
        plan([{"type": "quota_bonus", "measure": "revenue", "curve": [[0.0, 0.0], [5e-324, 0.0], [2.2e-313, 1.0]],
               "extrapolate": True}])


@pytest.mark.parametrize(("basis", "value", "expected"), [
    ("marginal", 120000, 5600.0),       # 50,000 × 3 % + 50,000 × 5 % + 20,000 × 8 %
    ("retroactive", 120000, 9600.0),    # 120,000 × 8 %
    ("marginal", 50000, 1500.0),
    ("retroactive", 50000, 2500.0),     # reaching 50,000 lifts all value to 5 %
    ("marginal", 49999.99, 1499.9997),
    ("retroactive", 49999.99, 1499.9997),
    ("marginal", -2000, 0.0),           # credit memo: no negative pay
])
def test_commission_marginal_vs_retroactive(basis, value, expected):
    tiers = [{"from": 0, "rate": 0.03}, {"from": 50000, "rate": 0.05}, {"from": 100000, "rate": 0.08}]
    p = plan([{"type": "commission", "measure": "revenue", "tiers": tiers, "basis": basis}])
    assert one(p, [value]).amounts["commission"][0, 0] == pytest.approx(expected, abs=CENT)


def test_commission_threshold_cap_and_ceiling():
    th = plan([{"type": "commission", "measure": "revenue", "tiers": [{"from": 40000, "rate": 0.05}]}])
    assert one(th, [30000, 60000]).amounts["commission"][0].tolist() == pytest.approx([0.0, 1000.0], abs=CENT)
    tiers = [{"from": 0, "rate": 0.03}, {"from": 50000, "rate": 0.05}, {"from": 100000, "rate": 0.08}]
    capped = plan([{"type": "commission", "measure": "revenue", "cap": 5000, "tiers": tiers}])
    assert one(capped, [120000]).amounts["commission"][0, 0] == pytest.approx(5000.0, abs=CENT)
    ceiling = plan([{"type": "commission", "measure": "revenue", "tiers": [{"from": 0, "to": 100000, "rate": 0.05}]}])
    assert one(ceiling, [150000]).amounts["commission"][0, 0] == pytest.approx(5000.0, abs=CENT)


def test_commission_on_attainment():
    p = plan([{"type": "commission", "measure": "revenue", "on": "attainment",
               "tiers": [{"from": 0, "rate": 0.02}, {"from": "100%", "rate": 0.06}]}])
    # quota 80,000: 80,000 × 2 % + 20,000 × 6 %
    assert one(p, [100000], [80000]).amounts["commission"][0, 0] == pytest.approx(2800.0, abs=CENT)


def test_gate_halves_named_component_only():
    p = plan([{"type": "quota_bonus", "name": "bonus", "measure": "revenue", "curve": [[0, 0], [1, 1]]},
              {"type": "commission", "measure": "revenue", "tiers": [{"from": 0, "rate": 0.01}]},
              {"type": "gate", "measure": "nps", "threshold": 30, "factor": 0.5, "applies_to": ["bonus"]}],
             measures={"revenue": "sum", "nps": "mean"})
    r = one(p, [100000, 100000], [100000, 100000], extra={"nps": np.array([[25.0, 30.0]])})
    assert r.amounts["bonus"][0].tolist() == pytest.approx([5000.0, 10000.0], abs=CENT)   # 25 < 30: halved
    assert r.amounts["commission"][0].tolist() == pytest.approx([1000.0, 1000.0], abs=CENT)  # not gated


def test_gate_on_attainment_applies_to_all_by_default():
    p = plan([{"type": "commission", "measure": "revenue", "tiers": [{"from": 0, "rate": 0.1}]},
              {"type": "gate", "measure": "logos", "on": "attainment", "threshold": 1.0}])
    r = payout(p, {"revenue": np.array([[1000.0, 1000.0]]), "logos": np.array([[1.0, 2.0]])},
               {"logos": np.array([[2.0, 2.0]])})
    assert r.amounts["commission"][0].tolist() == pytest.approx([0.0, 100.0], abs=CENT)


MONTHLY_10PCT = [{"type": "commission", "measure": "revenue", "tiers": [{"from": 0, "rate": 0.1}]}]


def test_recoverable_draw_across_periods():
    p = plan(MONTHLY_10PCT + [{"type": "draw", "amount": 3000}], period="month")
    r = one(p, [10000, 20000, 60000, 50000])     # earnings 1,000 / 2,000 / 6,000 / 5,000
    assert r.amounts["draw"][0].tolist() == pytest.approx([2000, 1000, 0, 0], abs=CENT)
    assert r.amounts["draw:recovery"][0].tolist() == pytest.approx([0, 0, -3000, 0], abs=CENT)
    assert r.total[0].tolist() == pytest.approx([3000, 3000, 3000, 5000], abs=CENT)
    partial = one(p, [10000, 20000, 45000, 50000])  # 1,500 recovered in month 3, the other 1,500 in month 4
    assert partial.amounts["draw:recovery"][0].tolist() == pytest.approx([0, 0, -1500, -1500], abs=CENT)
    assert partial.total[0].tolist() == pytest.approx([3000, 3000, 3000, 3500], abs=CENT)


def test_non_recoverable_draw_is_a_guarantee():
    p = plan(MONTHLY_10PCT + [{"type": "draw", "amount": 3000, "recoverable": False}], period="month")
    r = one(p, [10000, 20000, 60000, 50000])
    assert "draw:recovery" not in r.amounts
    assert r.total[0].tolist() == pytest.approx([3000, 3000, 6000, 5000], abs=CENT)


def test_true_up_pays_annual_attainment():
    p = plan([{"type": "quota_bonus", "measure": "revenue", "curve": [[0, 0], [1, 1]]}], true_up="year")
    q = [100000] * 4
    r = one(p, [150000, 50000, 100000, 100000], q)   # periods pay 10,000 + 5,000 + 10,000 + 10,000
    assert r.amounts["quota_bonus"][0].sum() == pytest.approx(35000.0, abs=CENT)
    assert r.amounts["quota_bonus:true_up"][0].tolist() == pytest.approx([0, 0, 0, 5000], abs=CENT)  # annual 1.0


def test_true_up_regressive_curve_and_clawback():
    concave = plan([{"type": "quota_bonus", "measure": "revenue", "curve": [[0, 0], [0.5, 0.8], [1, 1]]}],
                   true_up="year")
    r = one(concave, [100000, 0, 100000, 0], [100000] * 4)   # paid 20,000; annual 0.5 → 0.8 × 40,000
    assert r.amounts["quota_bonus:true_up"][0, 3] == pytest.approx(12000.0, abs=CENT)
    convex = [{"type": "quota_bonus", "measure": "revenue", "curve": [[0, 0], [1, 0.5], [2, 2]]}]
    values = [200000, 0, 200000, 0]                        # paid 2 × 20,000; annual 1.0 → 0.5 × 40,000
    assert one(plan(convex, true_up="year"), values, [100000] * 4).amounts["quota_bonus:true_up"][0, 3] == 0.0
    claw = one(plan(convex, true_up="year", true_up_clawback=True), values, [100000] * 4)
    assert claw.amounts["quota_bonus:true_up"][0, 3] == pytest.approx(-20000.0, abs=CENT)


def test_spiff_pays_per_deal_and_inactive_periods_pay_nothing():
    p = plan(MONTHLY_10PCT + [{"type": "spiff", "amount": 250}, {"type": "draw", "amount": 500}], period="month")
    r = payout(p, {"revenue": np.array([[1000.0, 1000.0, 1000.0]])}, deals={"spiff": np.array([[2, 0, 1]])},
               active=np.array([[True, True, False]]))
    assert r.amounts["spiff"][0].tolist() == [500.0, 0.0, 0.0]
    assert r.total[0].tolist() == pytest.approx([600.0, 500.0, 0.0], abs=CENT)


def test_engine_refuses_missing_inputs():
    p = plan([{"type": "quota_bonus", "measure": "revenue", "curve": [[1, 1]]}])
    with pytest.raises(ValueError, match="needs quotas for revenue"):
        payout(p, {"revenue": np.ones((1, 4))})
    with pytest.raises(ValueError, match="reads measure"):
        payout(p, {"margin": np.ones((1, 4))}, {"revenue": np.ones((1, 4))})
    with pytest.raises(ValueError, match="must be > 0"):
        payout(p, {"revenue": np.ones((1, 4))}, {"revenue": np.zeros((1, 4))})


# ---------------------------------------------------------------------------- plan files and their errors
def write(tmp_path, text, name="p.yaml"):
    f = tmp_path / name
    f.write_text(text)
    return f


GOOD = """
name: x
target_incentive: 1000
components:
  - type: commission
    measure: revenue
    tiers: [{from: 0, rate: 0.05}, {from: 1000, rate: 0.07}]
"""


@pytest.mark.parametrize(("edit", "key", "words"), [
    (("{from: 1000, rate: 0.07}", "{from: 0, rate: 0.07}"), "components[0].tiers", "sorted"),
    (("{from: 0, rate: 0.05}", "{from: 0, to: 1500, rate: 0.05}"), "components[0].tiers", "overlap"),
    (("rate: 0.07", "rate: -0.07"), "components[0].tiers[1].rate", "negative rate"),
    (("measure: revenue", "measure: revenue\n    colour: red"), "components[0].colour", "unknown key"),
    (("type: commission", "type: comission"), "components[0]", "unknown component type"),
    (("target_incentive: 1000\n", ""), "target_incentive", "required"),
    (("tiers: [{from: 0, rate: 0.05}, {from: 1000, rate: 0.07}]", "tiers: []"), "components[0].tiers",
     "at least one tier"),
])
def test_bad_plans_name_file_and_key(tmp_path, edit, key, words):
    f = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(PlanError) as e:
        load_plan(f)
    msg = str(e.value)
    assert str(f) in msg and f"key '{key}'" in msg and words in msg


@pytest.mark.parametrize(("component", "key", "words"), [
    ({"type": "quota_bonus", "measure": "r", "curve": [[0.5, 0.5], [1.0, 0.4]]}, "components[0].curve", "decreases"),
    ({"type": "quota_bonus", "measure": "r", "curve": [[1.0, 1.0], [0.5, 2.0]]}, "components[0].curve", "increase"),
    ({"type": "quota_bonus", "measure": "r", "curve": [[0.5, 0.5], [1.0, 1.0]], "cap": 0.3}, "components[0].cap",
     "cap 0.3 is below the payout at the threshold"),
    ({"type": "commission", "measure": "r", "basis": "retroactive",
      "tiers": [{"from": 0, "rate": 0.1}, {"from": 10, "rate": 0.05}]}, "components[0]", "pay drop"),
    ({"type": "quota_bonus", "measure": "margin", "curve": [[1, 1]]}, "components[0].measure",
     "unknown measure 'margin'"),
])
def test_semantic_errors(component, key, words):
    with pytest.raises(PlanError) as e:
        plan_from_dict({"name": "x", "target_incentive": 1, "measures": ["r"], "components": [component]},
                       source="plans/x.yaml")
    assert "plans/x.yaml" in str(e.value) and f"key '{key}'" in str(e.value) and words in str(e.value)


def test_weights_not_summing_to_one_is_a_warning(tmp_path):
    f = write(tmp_path, "name: w\ntarget_incentive: 1\ncomponents:\n"
                        "  - quota_bonus: {measure: r, weight: 0.5, curve: [[1, 1]]}\n"
                        "  - quota_bonus: {measure: s, weight: 0.3, curve: [[1, 1]]}\n")
    with pytest.warns(PlanWarning, match=r"p\.yaml.*weights sum to 0\.8"):
        p = load_plan(f)
    assert [c.name for c in p.components] == ["quota_bonus_1", "quota_bonus_2"]


def test_yaml_syntax_error_names_line(tmp_path):
    f = write(tmp_path, "name: x\ncomponents: [\n  - a: b\n")
    with pytest.raises(PlanError, match=r"p\.yaml: line \d+: not valid YAML"):
        load_plan(f)


def test_yaml_on_key_and_percent_strings(tmp_path):
    f = write(tmp_path, "name: x\ntarget_incentive: 1\ncomponents:\n  - type: commission\n    measure: r\n"
                        "    on: attainment\n    tiers: [{from: '0%', rate: 0.1}, {from: '120%', rate: 0.2}]\n")
    c = load_plan(f).components[0]
    assert c.on == "attainment" and c.tiers[1].start == pytest.approx(1.2)


def test_library_plans_load_and_round_trip():
    names = library.names()
    assert {"linear_commission", "quota_bonus_accelerator", "progressive_commission", "gated_bonus",
            "spiff_campaign", "minimal"} <= set(names)
    for n in names:
        p = library.load(n)
        again = plan_from_dict(yaml.safe_load(yaml.safe_dump(p.model_dump(by_alias=True, mode="json"))))
        assert again.components == p.components


# ---------------------------------------------------------------------------- properties
@st.composite
def plans(draw):
    comps = []
    if draw(st.booleans()):
        n = draw(st.integers(1, 4))
        a = sorted(draw(st.lists(st.floats(0, 2), min_size=n, max_size=n, unique=True)))
        y = sorted(draw(st.lists(st.floats(0, 3), min_size=n, max_size=n)))
        assume(n < 2 or (y[-1] - y[-2]) / (a[-1] - a[-2]) < 1e300)  # an overflowing slope is refused (below)
        cap = draw(st.none() | st.floats(max(y[0], 0.01), 4))
        curve = [[x, z] for x, z in zip(a, y, strict=True)]
        comps.append({"type": "quota_bonus", "name": "qb", "measure": "rev", "curve": curve,
                      "extrapolate": draw(st.booleans()) and n >= 2, "cap": cap})
    if draw(st.booleans()) or not comps:
        on = draw(st.sampled_from(["value", "attainment"]))
        basis = draw(st.sampled_from(["marginal", "retroactive"]))
        k = draw(st.integers(1, 4))
        starts = sorted(draw(st.lists(st.floats(0, 2 if on == "attainment" else 2e5), min_size=k, max_size=k,
                                      unique=True)))
        rates = draw(st.lists(st.floats(0, 0.2), min_size=k, max_size=k))
        if basis == "retroactive":
            rates = sorted(rates)
        comps.append({"type": "commission", "name": "com", "measure": "rev", "on": on, "basis": basis,
                      "tiers": [{"from": s, "rate": r} for s, r in zip(starts, rates, strict=False)],
                      "cap": draw(st.none() | st.floats(1, 5e4))})
    gated = draw(st.booleans())
    if gated:
        comps.append({"type": "gate", "measure": "nps", "threshold": draw(st.floats(0, 50)),
                      "factor": draw(st.floats(0, 1))})
    if draw(st.booleans()):
        comps.append({"type": "draw", "amount": draw(st.floats(1, 2e4)), "recoverable": draw(st.booleans())})
    return plan_from_dict({"name": "h", "target_incentive": draw(st.floats(0, 2e5)),
                           "period": draw(st.sampled_from(["month", "quarter", "year"])),
                           "true_up": draw(st.sampled_from([None, "year"])),
                           "true_up_clawback": draw(st.booleans()),
                           "measures": {"rev": "sum", "nps": "mean"}, "components": comps})


values = st.lists(st.floats(-1e4, 4e5), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=plans(), data=st.data())
def test_engine_equals_reference_loop(p, data):
    periods = data.draw(st.integers(1, 8))
    reps = data.draw(st.integers(1, 3))
    rev = np.array([data.draw(st.lists(st.floats(-1e4, 4e5), min_size=periods, max_size=periods))
                    for _ in range(reps)])
    quota = np.array([data.draw(st.lists(st.floats(1e3, 3e5), min_size=periods, max_size=periods))
                      for _ in range(reps)])
    nps = np.array([data.draw(st.lists(st.floats(-20, 80), min_size=periods, max_size=periods))
                    for _ in range(reps)])
    res = payout(p, {"rev": rev, "nps": nps}, {"rev": quota})
    for i in range(reps):
        ref = rep_payout(p, {"rev": list(rev[i]), "nps": list(nps[i])}, {"rev": list(quota[i])})
        assert set(ref) == set(res.amounts)
        for k, v in ref.items():
            np.testing.assert_allclose(res.amounts[k][i], v, rtol=1e-9, atol=1e-6, err_msg=k)
    total = res.total
    if not p.true_up_clawback:
        assert (total >= -1e-9).all()             # pay is never negative
    for c in p.of_type("quota_bonus"):
        if c.cap is not None:
            assert (res.amounts[c.name] <= c.cap * c.weight * p.target_incentive / p.periods_per_year + 1e-6).all()
    for c in p.of_type("commission"):
        if c.cap is not None:
            assert (res.amounts[c.name] <= c.cap + 1e-6).all()


@settings(max_examples=100, deadline=None)
@given(p=plans(), q=st.floats(1e3, 3e5), v=st.lists(st.floats(-1e4, 5e5), min_size=2, max_size=40))
def test_pay_never_falls_as_attainment_rises(p, q, v):
    """One period, gates held fixed: pay is non-decreasing in credited value (every valid plan is)."""
    p = p.model_copy(update={"period": "year", "true_up": None})
    xs = np.sort(np.array(v))[None, :, None]          # reps = ordered values, one period
    res = payout(p, {"rev": xs, "nps": np.full_like(xs, 40.0)}, {"rev": np.full_like(xs, q)})
    tot = res.total[0, :, 0]
    assert np.all(np.diff(tot) >= -1e-6 * np.maximum(1, np.abs(tot[1:])))


@settings(max_examples=100, deadline=None)
@given(p=plans(), v=st.floats(0, 4e5), eps=st.floats(1e-6, 1.0))
def test_marginal_commission_is_continuous(p, v, eps):
    coms = [c for c in p.of_type("commission") if c.basis == "marginal"]
    if not coms:
        return
    p = p.model_copy(update={"components": coms, "true_up": None})
    res = payout(p, {"rev": np.array([[v], [v + eps]])}, {"rev": np.full((2, 1), 1e5)})
    step = abs(res.total[1, 0] - res.total[0, 0])
    assert step <= max(t.rate for t in coms[0].tiers) * eps + 1e-7


def test_docs_example_runs():
    """The Python example in docs/plans.md runs as written, and its figures are sane."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "plans.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "docs/plans.md", "exec"), ns)
    res = ns["res"]
    assert res.amounts["quota_bonus"].shape == (1000, 50, 4)
    # revenue is lognormal with median = quota: mean pay per rep-year lies between 0 and the 2 × 40,000 cap
    assert 0 < res.total.sum(axis=-1).mean() < 80000


def test_alternative_spellings_give_the_same_plan():
    """Components as a name → component mapping and tiers as [from, rate] pairs mean the same as the long form."""
    long = plan([{"type": "commission", "name": "com", "measure": "revenue",
                  "tiers": [{"from": 0, "rate": 0.03}, {"from": 50000, "rate": 0.05}]}])
    short = plan({"com": {"type": "commission", "measure": "revenue", "tiers": [[0, 0.03], [50000, 0.05]]}})
    assert short.components == long.components
