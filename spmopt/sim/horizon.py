"""Consecutive simulated years: how next year's quota follows from this year's (``--years N``).

- ``fixed``: every year has the reps file's quota;
- ``growth``: quota × (1 + growth) each year;
- ``ratchet``: next quota = (1 + growth) × ((1 − weight) × this quota + weight × this year's booked revenue);
  ``weight`` 1 sets next year's quota on this year's sales alone, the classic ratchet (never below 1 % of this
  year's quota, so a year without sales does not make a zero quota).

Deals pushed past 31 December book in January of the next simulated year; deals pulled from January are missing
from it; the pipeline carries on (closings come from the same stress case every year; market and rep demand
factors are drawn afresh each year).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class QuotaRule(BaseModel):
    """How next year's quota is set (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["fixed", "growth", "ratchet"] = "fixed"
    growth: Annotated[float, Field(ge=-0.5, le=1.0)] = 0.0
    weight: Annotated[float, Field(ge=0, le=1)] = 1.0

    def next(self, quota: np.ndarray, sales: np.ndarray) -> np.ndarray:
        """Next year's quota from this year's ``quota`` and booked ``sales`` (any shape)."""
        quota = np.asarray(quota, dtype=float)
        if self.type == "fixed":
            return quota.copy()
        if self.type == "growth":
            return quota * (1 + self.growth)
        nxt = (1 + self.growth) * ((1 - self.weight) * quota + self.weight * np.asarray(sales, dtype=float))
        return np.maximum(nxt, 0.01 * quota)     # a year with no sales does not make a zero quota

    @property
    def depends_on_sales(self) -> bool:
        return self.type == "ratchet" and self.weight > 0


def parse_quota_rule(text: str | dict | QuotaRule | None) -> QuotaRule:
    """``fixed`` | ``growth:0.05`` | ``ratchet`` | ``ratchet:0.05`` | ``ratchet:0.05:0.5`` (growth, weight), or a
    mapping with the same keys."""
    if text is None:
        return QuotaRule()
    if isinstance(text, QuotaRule):
        return text
    if isinstance(text, dict):
        return QuotaRule(**text)
    parts = str(text).strip().split(":")
    kind = parts[0].strip()
    if kind not in ("fixed", "growth", "ratchet"):
        raise ValueError(f"quota rule must be fixed, growth[:g] or ratchet[:g[:weight]], got '{text}'")
    try:
        nums = [float(p) for p in parts[1:]]
    except ValueError:
        raise ValueError(f"quota rule '{text}': growth and weight must be numbers") from None
    keys = ["growth", "weight"][: len(nums)]
    if kind == "fixed" and nums or kind == "growth" and len(nums) > 1 or len(nums) > 2:
        raise ValueError(f"quota rule '{text}': too many numbers")
    return QuotaRule(type=kind, **dict(zip(keys, nums, strict=True)))
