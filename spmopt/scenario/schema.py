"""The scenario file: a YAML document naming the data and the settings of each stage, validated by pydantic.

A scenario chains up to three stages — ``align`` → ``quota`` → ``simulate`` — and any of them may be left out
(a realignment review has only ``align``; a plan-cost stress test only ``simulate``). Paths are relative to the
scenario file. Nothing in a scenario is executed: it is data, read with the safe YAML loader.

Errors are :class:`ScenarioError` (an :class:`~spmopt.errors.InputError`) naming the file, the dotted key
(``simulate.trials``) and its line, and for an unknown key the nearest known one. The reference of every key,
with its default, is ``docs/scenarios.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spmopt.data.yamlfile import Loader as _Loader
from spmopt.data.yamlfile import read_yaml, yaml_problem
from spmopt.errors import InputError

QUOTA_METHODS = ("potential", "history", "blend", "rollup", "equal_chance")
INTERNAL = ("base", "source", "lines")
BLEND_PARTS = ("potential", "history", "rollup")


class ScenarioError(InputError):
    """A scenario file breaks the schema or names a file that cannot be used. ``key`` is the dotted key."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        self.key, self.line = key, line
        where = ", ".join(x for x in (f"line {line}" if line else "", f"key '{key}'" if key else "") if x)
        InputError.__init__(self, f"{where}: {message}" if where else message, source=source)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _bounds(v: Any) -> Any:
    """``'-0.1:0.3'``, ``[-0.1, 0.3]`` or ``{low: -0.1, high: 0.3}`` → ``(low, high)`` (a side may be None)."""
    if v is None:
        return None
    if isinstance(v, str):
        lo, sep, hi = v.partition(":")
        if not sep:
            raise ValueError(f"expected LOW:HIGH such as '-0.1:0.3', got '{v}'")
        v = [lo.strip() or None, hi.strip() or None]
    if isinstance(v, dict):
        extra = set(v) - {"low", "high"}
        if extra:
            raise ValueError(f"expected keys low/high, got {', '.join(sorted(map(str, extra)))}")
        v = [v.get("low"), v.get("high")]
    if not isinstance(v, list | tuple) or len(v) != 2:
        raise ValueError(f"expected [low, high], got {v!r}")
    try:
        out = tuple(None if x is None else float(x) for x in v)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be numbers or empty, got {v!r}") from None
    if any(x is not None and not math.isfinite(x) for x in out):
        raise ValueError(f"bounds must be finite numbers (leave a side empty for none), got {v!r}")
    if out[0] is not None and out[1] is not None and out[0] > out[1]:
        raise ValueError(f"low {out[0]:g} is above high {out[1]:g}")
    return out


Bounds = tuple[float | None, float | None]
Fraction = Annotated[float, Field(ge=0)]


class DataFiles(_Model):
    """Input tables (CSV, Parquet or Excel), relative to the scenario file."""

    units: Path | None = None          # unit_id, coordinates, measures, current_territory
    territories: Path | None = None    # territory_id, center_unit or coordinates, limits, rep_id, history…
    distances: Path | None = None      # unit_id, territory_id, distance
    reps: Path | None = None           # one row per rep: simulator columns and/or potential, history…
    quotas: Path | None = None         # rep_id, quota — the quotas simulated when there is no quota stage


class Pareto(_Model):
    measure: str | None = None         # default: the max_disruption measure, else the first balance measure
    points: Annotated[int, Field(ge=2, le=50)] = 6


class AlignSettings(_Model):
    """``spmopt align`` settings (see docs/cli.md)."""

    balance: dict[str, Fraction] = Field(default_factory=dict)
    capacity: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    weight: str | None = None
    k: Annotated[int, Field(ge=1)] | None = None
    max_disruption: dict[str, Fraction] = Field(default_factory=dict)
    disruption_price: dict[str, Fraction] = Field(default_factory=dict)
    # 'auto', an adjacency file unit_a,unit_b (relative path), or false (territories need not be connected);
    # not given: 'auto' when the units have coordinates
    contiguity: bool | str | None = None
    split: list[str] | str | None = None   # unit ids to share between neighbouring territories, or 'auto'
    # unit polygons (GeoPackage, GeoJSON, shapefile, GeoParquet; relative path): maps draw them, and contiguity
    # 'auto' (or not given) uses their shared borders
    geometry: str | None = None
    geometry_id: str = "unit_id"           # the geometry file's column of unit ids
    adjacency_rule: Literal["queen", "rook"] = "queen"
    adjacency_tolerance: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0   # metres (lat,lon units)
    time_limit: Annotated[float, Field(gt=0)] = 60.0
    work: Annotated[float, Field(gt=0)] | None = None   # work units; default 0.6 × time_limit (spmopt.work)
    mip_gap: Annotated[float, Field(ge=0, lt=1)] = 1e-3
    candidates: Annotated[int, Field(ge=0)] | None = None
    regions: Annotated[int, Field(ge=0)] | None = None
    pareto: Pareto | None = None

    @field_validator("regions")
    @classmethod
    def _regions(cls, v):
        if v == 1:
            raise ValueError("regions must be 0 (off) or at least 2")
        return v


class QuotaSettings(_Model):
    """``spmopt quota`` settings (see docs/quotas.md)."""

    target: Annotated[float, Field(gt=0)]
    method: str = "potential"
    on: Literal["auto", "aligned", "current", "reps"] = "auto"
    weights: dict[str, Fraction] | None = None
    deviation: Literal["l1", "relative"] = "l1"
    over_assignment: Annotated[float, Field(ge=0)] = 0.0
    growth: Bounds | None = None
    ratio: Bounds | None = None
    floor: Annotated[float, Field(ge=0)] | None = None
    ceiling: Annotated[float, Field(gt=0)] | None = None
    fixed: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    round: Annotated[float, Field(gt=0)] | None = None
    simulate: bool | None = None
    trials: Annotated[int, Field(ge=100)] = 4000
    seed: Annotated[int, Field(ge=0)] = 0
    stress_case: str | None = None
    potential: str = "potential"
    history: str = "history"
    rollup: str | None = None
    time_limit: Annotated[float, Field(gt=0)] = 60.0

    _growth = field_validator("growth", "ratio", mode="before")(lambda cls, v: _bounds(v))

    @field_validator("weights")
    @classmethod
    def _weights(cls, v):
        bad = [k for k in (v or {}) if k not in BLEND_PARTS]
        if bad:
            raise ValueError(f"blend weights go on {', '.join(BLEND_PARTS)}; got '{bad[0]}'")
        return v

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        m = v.strip().lower().replace("-", "_").replace(" ", "_")
        if m not in QUOTA_METHODS:
            raise ValueError(f"unknown method '{v}'; choose one of {', '.join(QUOTA_METHODS)}")
        return m


class RepDefaults(_Model):
    """Simulator figures for reps built from territories (one rep per quota holder)."""

    win_rate: Annotated[float, Field(gt=0, le=1)]
    deal_size_mean: Annotated[float, Field(gt=0)]
    deal_size_cv: Annotated[float, Field(ge=0)] = 0.8
    cycle_days: Annotated[float, Field(gt=0)] = 60.0
    skill: Annotated[float, Field(gt=0)] = 1.0


class SimulateSettings(_Model):
    """``spmopt simulate`` settings (see docs/simulation.md)."""

    plans: Annotated[list[Path], Field(min_length=1)]
    stress: Path | dict[str, Any] | None = None   # a stress file, or its content inline
    stress_cases: list[str] | None = None         # keep only these cases (default: all)
    trials: Annotated[int, Field(ge=1)] = 1000
    seed: Annotated[int, Field(ge=0)] = 0
    behaviour: str | dict[str, Any] = "none"
    engine: Literal["auto", "des", "vector"] = "auto"
    years: Annotated[int, Field(ge=1, le=50)] = 1
    quota_rule: str | dict[str, Any] = "fixed"     # fixed | growth:g | ratchet[:g[:weight]] (spmopt.sim.horizon)
    workers: Annotated[int, Field(ge=1)] | None = None
    year: int | None = None
    reps: Path | None = None                      # overrides data.reps for the simulation
    rep_defaults: RepDefaults | None = None
    revenue_per_potential: Annotated[float, Field(gt=0)] = 1.0   # expected sales per unit of potential (reps
                                                                 # built from quota holders)


    @field_validator("behaviour")
    @classmethod
    def _behaviour(cls, v):
        from spmopt.sim import Behaviour

        Behaviour(mode=v) if isinstance(v, str) else Behaviour(**v)   # raises with the field at fault
        return v

    @field_validator("quota_rule")
    @classmethod
    def _quota_rule(cls, v):
        from spmopt.sim.horizon import parse_quota_rule

        parse_quota_rule(v)   # raises with the field at fault
        return v

    @model_validator(mode="after")
    def _engine(self) -> SimulateSettings:
        if self.engine == "des" and self.years > 1:
            raise ValueError("engine 'des' simulates one year: use vector (or auto) for years > 1")
        return self


class ReportSettings(_Model):
    html: bool = True
    plots: bool = True
    max_rows: Annotated[int, Field(ge=1)] = 60    # rows per table in report.html (CSV files have all)


class Scenario(_Model):
    """A validated scenario. ``base`` is the folder the relative paths are read from; ``source`` the file."""

    name: Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")]
    description: str = ""
    data: DataFiles = Field(default_factory=DataFiles)
    align: AlignSettings | None = None
    quota: QuotaSettings | None = None
    simulate: SimulateSettings | None = None
    report: ReportSettings = Field(default_factory=ReportSettings)
    base: Path = Field(default=Path("."), exclude=True)
    source: str = Field(default="<scenario>", exclude=True)
    lines: dict[str, int] = Field(default_factory=dict, exclude=True)   # dotted key → line in the file

    @model_validator(mode="after")
    def _stages(self) -> Scenario:
        if self.align is None and self.quota is None and self.simulate is None:
            raise ValueError("a scenario needs at least one stage: align, quota or simulate")
        if self.align is not None and self.data.units is None:
            raise ValueError("the align stage needs data.units")
        if self.quota is not None:
            on = self.quota.on
            if on == "aligned" and self.align is None:
                raise ValueError("quota.on 'aligned' needs an align stage")
            if on in ("aligned", "current") and self.data.units is None:
                raise ValueError(f"quota.on '{on}' needs data.units")
            if on == "reps" and self.data.reps is None:
                raise ValueError("quota.on 'reps' needs data.reps")
            if on == "auto" and self.data.units is None and self.data.reps is None:
                raise ValueError("the quota stage needs data.units or data.reps")
        if self.simulate is not None:
            s = self.simulate
            if self.quota is None and (s.reps or self.data.reps) is None:
                raise ValueError("the simulate stage needs a reps file (data.reps or simulate.reps) when there is "
                                 "no quota stage")
            if self.quota is not None and (s.reps or self.data.reps) is None and s.rep_defaults is None:
                raise ValueError("the simulate stage needs simulate.rep_defaults (win_rate, deal_size_mean…) or a "
                                 "reps file to turn the quota holders into reps")
        return self

    # ------------------------------------------------------------------ paths and identity
    def fail(self, key: str, message: str) -> ScenarioError:
        """An error about ``key`` of this scenario (with its line when known)."""
        return ScenarioError(message, source=self.source, key=key, line=self.lines.get(key))

    def path(self, p: Path | str | None) -> Path | None:
        """A path of the scenario, resolved against its folder."""
        if p is None:
            return None
        p = Path(os.path.expanduser(str(p)))
        return p if p.is_absolute() else self.base / p

    @property
    def stages(self) -> list[str]:
        return [s for s in ("align", "quota", "simulate") if getattr(self, s) is not None]

    def files(self) -> dict[str, Path]:
        """Every file the scenario reads, keyed by its dotted key."""
        out: dict[str, Path] = {}
        for k, v in self.data:
            if v is not None:
                out[f"data.{k}"] = self.path(v)
        if self.align is not None and isinstance(self.align.contiguity, str) and \
                self.align.contiguity.strip().lower() != "auto":
            out["align.contiguity"] = self.path(self.align.contiguity)
        if self.align is not None and self.align.geometry is not None:
            out["align.geometry"] = self.path(self.align.geometry)
        if self.simulate is not None:
            for i, p in enumerate(self.simulate.plans):
                out[f"simulate.plans[{i}]"] = self.path(p)
            if isinstance(self.simulate.stress, Path):
                out["simulate.stress"] = self.path(self.simulate.stress)
            if self.simulate.reps is not None:
                out["simulate.reps"] = self.path(self.simulate.reps)
        return out

    def settings(self) -> dict[str, Any]:
        """The settings as plain JSON-able data (defaults filled in)."""
        return json.loads(self.model_dump_json(exclude_none=False))

    def content_hash(self) -> str:
        """SHA-256 of the settings and the bytes of every file read: two runs with the same hash had the same
        inputs, whatever the files are called or where they are (the name and description do not count)."""
        settings = self.settings()
        settings.pop("name", None)
        settings.pop("description", None)
        for key in self.files():      # the paths themselves do not count, only what the files hold
            sect, _, rest = key.partition(".")
            name = rest.split("[")[0]
            if isinstance(settings.get(sect), dict) and name in settings[sect]:
                settings[sect][name] = "<file>"
        h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
        for key, p in sorted(self.files().items()):
            h.update(key.encode())
            try:
                h.update(hashlib.sha256(p.read_bytes()).digest())
            except OSError:
                h.update(b"<missing>")
        return h.hexdigest()

    def with_changes(self, changes: dict[str, Any]) -> Scenario:
        """A copy with dotted-key changes (``{'simulate.trials': 200}``), validated like the file."""
        data = self.settings()
        for key, value in changes.items():
            _set_dotted(data, key, value)
        return scenario_from_dict(data, base=self.base, source=self.source, changed=tuple(changes))


# ---------------------------------------------------------------------------------------------- loading
def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    d = data
    for p in parts[:-1]:
        if d.get(p) is None:
            d[p] = {}
        if not isinstance(d[p], dict):
            raise ScenarioError(f"cannot set '{key}': '{p}' is not a section", key=key)
        d = d[p]
    d[parts[-1]] = value


def _known_keys(model: type[BaseModel] | None) -> list[str]:
    return [] if model is None else [k for k, f in model.model_fields.items() if not f.exclude]


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model whose fields hold the key at ``loc`` (for 'did you mean')."""
    model: Any = Scenario
    for part in loc[:-1]:
        if not isinstance(part, str) or model is None:
            return None
        f = model.model_fields.get(part)
        if f is None:
            return None
        ann = f.annotation
        nxt = None
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                nxt = cand
        model = nxt
    return model


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if nxt is None:
                return line
            line = nxt[0].start_mark.line + 1
            node = nxt[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _dotted(loc: tuple) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _clean_loc(loc: tuple, data: Any) -> tuple:
    """The part of a pydantic error location that exists in the data: pydantic adds union-branch labels
    (``'function-after[...]'``, ``'Path'``) that are not keys; a key the data holds is kept whatever its name."""
    out, node = [], data
    for p in loc:
        if isinstance(node, dict) and p in node:
            out.append(p)
            node = node[p]
        elif isinstance(node, list) and isinstance(p, int) and 0 <= p < len(node):
            out.append(p)
            node = node[p]
        elif isinstance(node, dict | list):
            continue            # a union label: skip it, stay on this node
        else:
            break
    if loc and not out and isinstance(data, dict) and loc[0] not in data and isinstance(loc[0], str):
        out = [loc[0]]         # a missing top-level key
    elif len(out) < len(loc) and isinstance(node, dict) and isinstance(loc[-1], str) and loc[-1] not in node \
            and not any(c in loc[-1] for c in "[]"):
        out.append(loc[-1])    # a key missing under an existing section
    return tuple(out)


def scenario_from_dict(data: Any, *, base: str | os.PathLike = ".", source: str = "<scenario>",
                       node: yaml.Node | None = None, changed: tuple[str, ...] = ()) -> Scenario:
    """Validate a scenario's content. Errors name the key (and its line when ``node`` is the parsed YAML and
    the key is not one of the ``changed`` ones, which came from the command line)."""
    if data is None:
        raise ScenarioError("the scenario file is empty", source=source)
    if not isinstance(data, dict):
        raise ScenarioError(f"a scenario must be a mapping of keys (name, data, align, quota, simulate), got a "
                            f"{type(data).__name__}", source=source)
    data = dict(data)
    bad = next((k for k in data if k in INTERNAL or not isinstance(k, str)), None)
    if bad is not None:
        raise ScenarioError(f"unknown key '{bad}' (known: {', '.join(_known_keys(Scenario))})", source=source,
                            key=str(bad), line=_line_of(node, (bad,)))
    data.setdefault("name", Path(source).stem if source != "<scenario>" else "scenario")
    lines = {}
    if node is not None:
        for sect in ("data", "align", "quota", "simulate"):
            sub = data.get(sect)
            for key in sub if isinstance(sub, dict) else ():
                loc = (sect, key)
                lines[_dotted(loc)] = _line_of(node, loc)
                if isinstance(sub[key], list):
                    for i in range(len(sub[key])):
                        lines[_dotted((*loc, i))] = _line_of(node, (*loc, i))
    try:
        return Scenario.model_validate({**data, "base": Path(base), "source": source, "lines": lines})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _clean_loc(tuple(err["loc"]), data)
        key = _dotted(loc) or None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            known = _known_keys(_model_at(loc))
            near = difflib.get_close_matches(str(loc[-1]), known, n=1)
            msg = f"unknown key '{loc[-1]}'" + (f" — did you mean '{near[0]}'?" if near else "") + (
                f" (known: {', '.join(known)})" if known else "")
        elif err["type"] == "missing":
            msg = "this key is required"
        elif "input" in err and not isinstance(err["input"], dict | list) and repr(err["input"]) not in msg:
            msg += f" (got {err['input']!r})"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        from_cli = key is not None and any(key == c or key.startswith(c + ".") or key.startswith(c + "[")
                                           or c.startswith(key + ".") for c in changed)
        line = _line_of(node, loc) if loc and not from_cli else None
        raise ScenarioError(msg + more + (" (from --set)" if from_cli else ""), source=source, key=key,
                            line=line) from None


def load_scenario(path: str | os.PathLike, changes: dict[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file (YAML, safe loader); ``changes`` are dotted-key overrides."""
    p = Path(path)
    data, node = read_yaml(p, what="scenario file", error=ScenarioError, node=True)
    if changes:
        if not isinstance(data, dict):
            scenario_from_dict(data, source=str(p))   # the file's own problem first
        for key, value in changes.items():
            _set_dotted(data, key, value)
    return scenario_from_dict(data, base=p.resolve().parent, source=str(p), node=node,
                              changed=tuple(changes or ()))


def parse_changes(items: list[str] | None) -> dict[str, Any]:
    """``['simulate.trials=200', 'align.balance={potential: 0.1}']`` → dotted-key changes (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"--set expects KEY=VALUE such as simulate.trials=200, got '{item}'")
        if key.strip() in out:
            raise ScenarioError(f"--set {key.strip()} is given twice; give each setting once")
        try:
            out[key.strip()] = yaml.load(value, Loader=_Loader)  # noqa: S506 — a safe loader
        except yaml.YAMLError as exc:
            raise ScenarioError(f"--set {key.strip()}: '{value}' is not a YAML value "
                                f"({yaml_problem(exc)[1].removeprefix('not valid YAML: ')})") from None
    return out
