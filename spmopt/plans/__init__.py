"""Incentive plans: the plan model (YAML + pydantic), the one vectorised payout engine, the plan library and the
back-test on history."""

from spmopt.plans.engine import Payout, curve_value, payout
from spmopt.plans.model import Plan, PlanError, PlanWarning, load_plan, plan_from_dict

__all__ = ["Payout", "Plan", "PlanError", "PlanWarning", "curve_value", "load_plan", "payout", "plan_from_dict"]
