"""Incentive plans as data: the schema of a plan file, validated with pydantic and loaded with a safe YAML loader.

A plan file::

    name: Quota bonus with accelerator
    currency: USD
    base_salary: 60000          # per year
    target_incentive: 40000     # variable pay per year at 100 % performance
    period: quarter             # month | quarter | year: how quota and payout are measured
    true_up: year               # optional: settle annual attainment at year end
    components:
      - type: quota_bonus       # or the single-key form  `- quota_bonus: {measure: revenue, ...}`
        measure: revenue
        weight: 1.0             # share of the target incentive
        curve: [[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]   # [attainment, payout multiple]
        extrapolate: false
        cap: 2.0                # payout multiple

Attainments are fractions of quota (1.0 = 100 %); a string such as ``"100%"`` is read as a percentage. Every
number is per year except where the component says "per period". The semantics of each component are in
``docs/plans.md``; the payout engine is :func:`spmopt.plans.engine.payout`.

Errors are :class:`PlanError` (an :class:`~spmopt.errors.InputError`) naming the file and the key
(``components[1].tiers[2].rate``). Soft problems — quota-bonus weights that do not sum to 1 — are
:class:`PlanWarning` warnings (issued with :mod:`warnings` and kept on ``Plan.warnings``), because commission
components also deliver target incentive and a plan may deliberately pay more or less than its target.
"""

from __future__ import annotations

import difflib
import math
import os
import warnings
from collections import Counter
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spmopt.data.dates import IsoDate
from spmopt.errors import InputError

PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}
AGGREGATES = ("sum", "mean", "max", "min", "last")


class PlanError(InputError):
    """A plan file breaks the schema. ``key`` is the dotted path of the offending entry."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.key = key
        InputError.__init__(self, f"key '{key}': {message}" if key else message, source=source)


class PlanWarning(UserWarning):
    """A plan that is valid but probably not what its author meant."""


def _fraction(v: Any) -> Any:
    """``"120%"`` → 1.2; numbers pass through (pydantic checks them)."""
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            return float(v.strip()[:-1]) / 100.0
        except ValueError:
            return v
    return v


Fraction = Annotated[float, Field(allow_inf_nan=False)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _Component(_Base):
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]


class QuotaBonus(_Component):
    """Bonus on attainment: ``weight × target incentive per period × curve(attainment)``, capped at ``cap``.

    The curve is linear between its points, 0 below the first point (the threshold), flat beyond the last
    unless ``extrapolate`` (then the last segment's slope continues)."""

    type: Literal["quota_bonus"] = "quota_bonus"
    measure: str
    weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    curve: list[tuple[Fraction, Fraction]]
    extrapolate: bool = False
    cap: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None

    @field_validator("curve", mode="before")
    @classmethod
    def _points(cls, v: Any) -> Any:
        if not isinstance(v, list | tuple):
            return v
        out = []
        for p in v:
            if isinstance(p, dict):
                p = (p.get("attainment"), p.get("payout"))
            if isinstance(p, list | tuple):
                p = tuple(_fraction(x) for x in p)
            out.append(p)
        return out

    @field_validator("curve")
    @classmethod
    def _check_curve(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if not v:
            raise ValueError("curve needs at least one [attainment, payout] point")
        for i, (a, p) in enumerate(v):
            if a < 0 or p < 0:
                raise ValueError(f"point {i} [{a:g}, {p:g}]: attainment and payout must be >= 0")
        for i in range(1, len(v)):
            (a0, p0), (a1, p1) = v[i - 1], v[i]
            if a1 <= a0:
                raise ValueError(f"attainments must increase: point {i} ({a1:g}) follows {a0:g}")
            if p1 < p0:
                raise ValueError(f"payout decreases from {p0:g} to {p1:g} between attainment {a0:g} and {a1:g} "
                                 "(regressive segments are allowed, falling pay is not)")
        return v

    @model_validator(mode="after")
    def _check(self) -> QuotaBonus:
        if self.cap is not None and self.cap < self.curve[0][1]:
            raise ValueError(f"@cap: cap {self.cap:g} is below the payout at the threshold ({self.curve[0][1]:g} at "
                             f"attainment {self.curve[0][0]:g})")
        if self.extrapolate and len(self.curve) < 2:
            raise ValueError("extrapolate needs at least two curve points (the last segment's slope)")
        if self.extrapolate:
            (a0, p0), (a1, p1) = self.curve[-2], self.curve[-1]
            if not math.isfinite((p1 - p0) / (a1 - a0)):
                raise ValueError(f"@extrapolate: the last segment ({a0:g} → {a1:g} attainment, {p0:g} → {p1:g} "
                                 "payout) is too steep to continue (its slope overflows); spread its points")
        return self


class Tier(_Base):
    start: Annotated[float, Field(alias="from", ge=0, allow_inf_nan=False)]
    to: Annotated[float, Field(allow_inf_nan=False)] | None = None
    rate: Annotated[float, Field(allow_inf_nan=False)]

    @field_validator("start", "to", "rate", mode="before")
    @classmethod
    def _pct(cls, v: Any) -> Any:
        return _fraction(v)

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: float) -> float:
        if v < 0:
            raise ValueError(f"negative rate {v:g}")
        return v


class Commission(_Component):
    """Commission on credited value, in tiers. ``on: value`` — tier bounds are amounts of credited value per
    period; ``on: attainment`` — tier bounds are attainments (the band of value between quota × from_k and
    quota × from_k+1). ``basis: marginal`` pays each band at its own rate; ``retroactive`` pays all value at the
    rate of the highest tier reached. ``cap`` bounds the amount per period."""

    type: Literal["commission"] = "commission"
    measure: str
    tiers: list[Tier]
    on: Literal["value", "attainment"] = "value"
    basis: Literal["marginal", "retroactive"] = "marginal"
    cap: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None

    @field_validator("tiers", mode="before")
    @classmethod
    def _pairs(cls, v: Any) -> Any:
        """A tier may be written ``[from, rate]``."""
        if isinstance(v, list):
            return [{"from": t[0], "rate": t[1]} if isinstance(t, list | tuple) and len(t) == 2 else t for t in v]
        return v

    @field_validator("tiers")
    @classmethod
    def _check_tiers(cls, v: list[Tier]) -> list[Tier]:
        if not v:
            raise ValueError("at least one tier is needed")
        for i, t in enumerate(v):
            if t.to is not None and t.to <= t.start:
                raise ValueError(f"tier {i}: 'to' ({t.to:g}) must be above 'from' ({t.start:g})")
        for i in range(1, len(v)):
            a, b = v[i - 1], v[i]
            if b.start <= a.start:
                raise ValueError(f"tiers must be sorted by 'from': tier {i} starts at {b.start:g}, "
                                 f"tier {i - 1} at {a.start:g}")
            if a.to is not None and a.to > b.start:
                raise ValueError(f"tiers {i - 1} and {i} overlap: tier {i - 1} runs to {a.to:g}, "
                                 f"tier {i} starts at {b.start:g}")
            if a.to is not None and a.to < b.start:
                raise ValueError(f"gap between tiers {i - 1} and {i}: tier {i - 1} ends at {a.to:g}, "
                                 f"tier {i} starts at {b.start:g}")
        return v

    @model_validator(mode="after")
    def _check(self) -> Commission:
        if self.basis == "retroactive":
            for i in range(1, len(self.tiers)):
                if self.tiers[i].rate < self.tiers[i - 1].rate:
                    raise ValueError(f"retroactive tiers with a falling rate make pay drop when tier {i} is "
                                     f"reached (rate {self.tiers[i - 1].rate:g} → {self.tiers[i].rate:g}); "
                                     "use basis: marginal for a regressive plan")
        return self

    def bounds(self) -> tuple[list[float], list[float], list[float]]:
        """(lower bound, upper bound, rate) of each band, the last band open unless its tier has ``to``."""
        lo = [t.start for t in self.tiers]
        hi = [t.start for t in self.tiers[1:]] + [self.tiers[-1].to if self.tiers[-1].to is not None else math.inf]
        return lo, hi, [t.rate for t in self.tiers]


class Gate(_Component):
    """Linked goal: multiplies the named components (default: every earning component) by ``factor`` in each
    period where ``measure`` (its value, or attainment with ``on: attainment``) is below ``threshold``."""

    type: Literal["gate"] = "gate"
    measure: str
    threshold: Fraction
    factor: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    on: Literal["value", "attainment"] = "value"
    applies_to: list[str] | Literal["all"] = "all"

    @field_validator("threshold", mode="before")
    @classmethod
    def _pct(cls, v: Any) -> Any:
        return _fraction(v)

    @field_validator("applies_to", mode="before")
    @classmethod
    def _one(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) and v != "all" else v


class Window(_Base):
    start: IsoDate
    end: IsoDate

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


class Spiff(_Component):
    """A fixed ``amount`` per qualifying deal: a credited row of ``measure`` dated inside ``window`` (both ends
    included), whose product/segment is in the lists given, and whose value is at least ``min_value``."""

    type: Literal["spiff"] = "spiff"
    amount: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    measure: str | None = None
    window: Window | None = None
    product: list[str] | None = None
    segment: list[str] | None = None
    min_value: Annotated[float, Field(allow_inf_nan=False)] | None = None

    @field_validator("product", "segment", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        if v is None:
            return v
        return [str(x) for x in (v if isinstance(v, list | tuple) else [v])]

    @field_validator("window", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        if isinstance(v, list | tuple) and len(v) == 2:
            return {"start": v[0], "end": v[1]}
        return v


class Draw(_Component):
    """A guaranteed ``amount`` per period: the draw pays ``amount − earnings`` when earnings fall short. A
    recoverable draw is an advance: the balance paid is recovered from later earnings above ``amount``."""

    type: Literal["draw"] = "draw"
    amount: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    recoverable: bool = True


Component = Annotated[QuotaBonus | Commission | Gate | Spiff | Draw, Field(discriminator="type")]
KINDS = ("quota_bonus", "commission", "gate", "spiff", "draw")
COMPONENT_MODELS = (QuotaBonus, Commission, Gate, Spiff, Draw)
EARNING = ("quota_bonus", "commission", "spiff")


class MeasureSpec(_Base):
    aggregate: Literal["sum", "mean", "max", "min", "last"] = "sum"


class Coaching(_Base):
    """A coaching programme run alongside the plan: it costs ``cost_per_rep`` a year and raises the deals a rep
    closes by ``win_rate_lift`` (0.13 = 13 %), reached linearly over the first ``ramp_months`` months. The payout
    engine pays nothing for it; the simulator closes more deals and reports its cost apart from incentive pay,
    so a review can weigh "spend X on coaching" against "spend X more on commission"."""

    cost_per_rep: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    win_rate_lift: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
    ramp_months: Annotated[int, Field(ge=0, le=36)] = 6

    def lift(self, years: int = 1) -> np.ndarray:
        """Multiplier of the deals closed in each month (years × 12) from the programme's start in January."""
        m = np.arange(12 * years) + 1
        ramp = np.ones(m.size) if self.ramp_months == 0 else np.minimum(1.0, m / self.ramp_months)
        return (1 + self.win_rate_lift * ramp).reshape(years, 12)


class Plan(_Base):
    """A validated incentive plan (immutable). Build from a file with :func:`load_plan`, or from a dict."""

    name: str
    currency: str = "USD"
    base_salary: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    target_incentive: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    period: Literal["month", "quarter", "year"] = "year"
    true_up: Literal["year"] | None = None
    true_up_clawback: bool = False
    revenue_measure: str | None = None
    measures: dict[str, MeasureSpec] | None = None
    description: str | None = None
    coaching: Coaching | None = None
    components: list[Component]
    source: str | None = Field(default=None, exclude=True)
    warnings: tuple[str, ...] = Field(default=(), exclude=True)

    @field_validator("components", mode="before")
    @classmethod
    def _single_key(cls, v: Any) -> Any:
        """Accept ``- quota_bonus: {...}`` as well as ``- type: quota_bonus``, and a mapping of name → component."""
        if isinstance(v, dict):
            v = [{"name": str(k), **c} if isinstance(c, dict) and "name" not in c else c for k, c in v.items()]
        if not isinstance(v, list):
            return v
        out = []
        for c in v:
            if isinstance(c, dict) and "type" not in c and len(c) == 1:
                (kind, body), = c.items()
                if kind in KINDS and isinstance(body, dict | None):
                    c = {"type": kind, **(body or {})}
            if isinstance(c, dict) and True in c:  # YAML 1.1 reads the key `on:` as the boolean true
                c = {("on" if k is True else k): x for k, x in c.items()}
            out.append(c)
        return out

    @field_validator("measures", mode="before")
    @classmethod
    def _measure_list(cls, v: Any) -> Any:
        if isinstance(v, list):
            return {str(m): {} for m in v}
        if isinstance(v, dict):
            return {k: ({"aggregate": s} if isinstance(s, str) else (s or {})) for k, s in v.items()}
        return v

    @model_validator(mode="after")
    def _cross(self) -> Plan:
        if not self.components:
            raise ValueError("a plan needs at least one component")
        # names: default to the type, numbered when a type repeats
        counts = Counter(c.type for c in self.components)
        seen: Counter = Counter()
        named = []
        for c in self.components:
            if c.name is None:
                seen[c.type] += 1
                c = c.model_copy(update={"name": c.type if counts[c.type] == 1 else f"{c.type}_{seen[c.type]}"})
            named.append(c)
        object.__setattr__(self, "components", named)
        dupes = [n for n, k in Counter(c.name for c in named).items() if k > 1]
        if dupes:
            raise ValueError(f"component name '{dupes[0]}' is used twice")
        if sum(c.type == "draw" for c in named) > 1:
            raise ValueError("at most one draw component")
        earning = {c.name for c in named if c.type in EARNING}
        for i, c in enumerate(named):
            if c.type == "gate" and c.applies_to != "all":
                for target in c.applies_to:
                    if target not in earning:
                        raise ValueError(f"@components[{i}].applies_to: '{target}' is not an earning component "
                                         f"of this plan (earning components: {', '.join(sorted(earning)) or 'none'})")
        if self.measures is not None:
            for i, c in enumerate(named):
                m = getattr(c, "measure", None)
                if m is not None and m not in self.measures:
                    raise ValueError(f"@components[{i}].measure: unknown measure '{m}' (declared measures: "
                                     f"{', '.join(self.measures)})")
        for i, c in enumerate(named):
            if c.type == "spiff" and c.measure is None and self.primary_measure is None:
                raise ValueError(f"@components[{i}].measure: a spiff needs 'measure' when the plan has no "
                                 "revenue_measure and no bonus or commission to take it from")
        if self.revenue_measure is not None and self.revenue_measure not in self.used_measures():
            if self.measures is not None and self.revenue_measure not in self.measures:
                raise ValueError(f"revenue_measure: unknown measure '{self.revenue_measure}'")
        return self

    # ------------------------------------------------------------------ derived facts
    @property
    def periods_per_year(self) -> int:
        return PERIODS_PER_YEAR[self.period]

    def component(self, name: str):
        """The component called ``name``."""
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(f"plan '{self.name}' has no component '{name}'")

    def of_type(self, kind: str) -> list:
        return [c for c in self.components if c.type == kind]

    def used_measures(self) -> list[str]:
        """Measures the plan reads, in order of first use."""
        out: list[str] = []
        for c in self.components:
            m = getattr(c, "measure", None)
            if c.type == "spiff":
                m = c.measure or self.primary_measure
            if m is not None and m not in out:
                out.append(m)
        return out

    @property
    def primary_measure(self) -> str | None:
        """The measure whose credited value is the revenue (cost of sales = payout / revenue): ``revenue_measure``
        if set, else the measure of the first quota bonus or commission."""
        if self.revenue_measure:
            return self.revenue_measure
        return next((c.measure for c in self.components if c.type in ("quota_bonus", "commission")), None)

    def quota_measures(self) -> list[str]:
        """Measures for which quotas are needed (attainment is computed)."""
        out = []
        for c in self.components:
            if c.type == "quota_bonus" or (c.type in ("commission", "gate") and c.on == "attainment"):
                if c.measure not in out:
                    out.append(c.measure)
        return out

    def aggregate(self, measure: str) -> str:
        """How a measure's values in a period combine: ``sum`` unless the plan's ``measures`` say otherwise."""
        if self.measures and measure in self.measures:
            return self.measures[measure].aggregate
        return "sum"

    def spiff_measure(self, s: Spiff) -> str | None:
        return s.measure or self.primary_measure

    def bonus_weight(self) -> float:
        return sum(c.weight for c in self.of_type("quota_bonus"))


def _key(loc: tuple) -> str:
    out = ""
    skip_tag = False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            skip_tag = out.startswith("components") and out.count("[") == 1
            continue
        if skip_tag and part in KINDS:  # pydantic puts the union tag in the location
            skip_tag = False
            continue
        skip_tag = False
        if part in ("function-after", "function-before") or str(part).startswith("function-"):
            continue
        out += ("." if out else "") + ("from" if part == "start" else str(part))
    return out


def _known_keys(err: dict) -> list[str]:
    """Keys that the model at an error's location accepts (for 'did you mean'); top level: the plan's."""
    loc = err.get("loc", ())
    model: Any = Plan
    if len(loc) >= 3 and loc[0] == "components" and isinstance(loc[2], str):   # components[i].<type>.key
        model = next((m for m in COMPONENT_MODELS if m.model_fields["type"].default == loc[2]), None)
    elif len(loc) != 1:
        return []
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _message(err: dict) -> str:
    msg = err.get("msg", "invalid")
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
        name, known = str(err.get("loc", ("",))[-1]), _known_keys(err)
        near = difflib.get_close_matches(name, known, n=1)
        if near:
            msg += f" (did you mean '{near[0]}'?)"
    if err.get("type") == "union_tag_invalid":
        msg = f"unknown component type {err.get('input', {}).get('type')!r} (use one of {', '.join(KINDS)})"
    if err.get("type") == "union_tag_not_found":
        msg = f"a component needs 'type' (one of {', '.join(KINDS)})"
    if err.get("type") == "missing":
        msg = "required key is missing"
    elif "input" in err and err.get("type") not in ("union_tag_invalid", "union_tag_not_found", "model_type",
                                                    "extra_forbidden"):
        inp = err["input"]
        if not isinstance(inp, dict | list):
            msg += f" (got {inp!r})"
    return msg


def plan_from_dict(data: Any, *, source: str | None = None) -> Plan:
    """Validate a plan given as a dict (e.g. parsed YAML). Raises :class:`PlanError` naming the first bad key
    (and counting the others); issues :class:`PlanWarning` for soft problems."""
    if not isinstance(data, dict):
        raise PlanError(f"a plan file must hold a mapping of keys, got {type(data).__name__}", source=source)
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        # a misspelt key shows as two problems, the unknown key and the required one it should have been: name
        # the unknown key first, with the nearest known name
        errs = sorted(exc.errors(), key=lambda e: e.get("type") != "extra_forbidden")
        first = errs[0]
        key = _key(tuple(first["loc"]))
        msg = _message(first)
        if msg.startswith("@"):  # a model-level check names its own key, relative to where it ran
            field_, msg = msg[1:].split(": ", 1)
            key = f"{key}.{field_}" if key else field_
        more = f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})" if len(errs) > 1 else ""
        raise PlanError(msg + more, source=source, key=key or None) from None
    notes = []
    bonuses = plan.of_type("quota_bonus")
    if bonuses and not math.isclose(plan.bonus_weight(), 1.0, abs_tol=1e-9):
        notes.append(f"key 'components': quota-bonus weights sum to {plan.bonus_weight():g}, not 1 — the plan pays "
                     f"{plan.bonus_weight():.0%} of target incentive in bonuses at the curve's 1.0 payout "
                     "(warning, not an error)")
    for i, c in enumerate(plan.components):
        for k, t in enumerate(getattr(c, "tiers", None) or ()):
            if c.type == "commission" and t.rate > 1:
                notes.append(f"key 'components[{i}].tiers[{k}].rate': commission rate {t.rate:g} pays "
                             f"{t.rate:.0%} of the credited value — a rate is a fraction (0.03 or '3%'); did you "
                             f"mean {t.rate / 100:g}? (warning, not an error)")
    for n in notes:
        warnings.warn(f"{source}: {n}" if source else n, PlanWarning, stacklevel=3)
    return plan.model_copy(update={"source": source, "warnings": tuple(notes)})


def load_plan(path: str | os.PathLike) -> Plan:
    """Read and validate a plan file (YAML, the package's safe loader: a duplicate key is an error)."""
    from spmopt.data.yamlfile import read_yaml

    return plan_from_dict(read_yaml(path, what="plan file", error=PlanError), source=str(path))
