"""The plan library: ready-made example plans kept as YAML files under ``scenarios/plans/``.

The files are the library (one source of truth, readable and copyable by users); this module finds and loads
them. Set ``SPMOPT_PLAN_LIBRARY`` to use another folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from spmopt.plans.model import Plan, PlanError, load_plan


def library_dir() -> Path:
    """The folder of library plans: ``$SPMOPT_PLAN_LIBRARY``, else ``scenarios/plans`` of the source tree."""
    env = os.environ.get("SPMOPT_PLAN_LIBRARY")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "scenarios" / "plans"


def names() -> list[str]:
    """Names of the library plans (file stems)."""
    d = library_dir()
    if not d.is_dir():
        raise PlanError(f"plan library not found at {d} (set SPMOPT_PLAN_LIBRARY to its folder)")
    return sorted(p.stem for p in d.glob("*.yaml"))


def path(name: str) -> Path:
    p = library_dir() / f"{name}.yaml"
    if not p.exists():
        raise PlanError(f"no library plan '{name}' (library plans: {', '.join(names())})")
    return p


def load(name: str) -> Plan:
    """Load a library plan by name, e.g. ``load("quota_bonus_accelerator")``."""
    return load_plan(path(name))
