"""Scenario files and the runner that chains the stages: align → quota → simulate → report and run store."""

from spmopt.scenario.runner import RunResult, check_scenario, run_scenario
from spmopt.scenario.schema import Scenario, ScenarioError, load_scenario, parse_changes, scenario_from_dict

__all__ = ["RunResult", "Scenario", "ScenarioError", "check_scenario", "load_scenario", "parse_changes",
           "run_scenario", "scenario_from_dict"]
