"""What is asked of a territory alignment: :class:`AlignmentProblem`, built once from validated tables.

An alignment problem is immutable; a variant is ``problem.replace(balance={...})``, never an in-place edit.
Symbols (see docs/formulations.md):

====================  ======================================================================================
I, J                  units; territories (fixed) or candidate centres (when ``k`` is set: centres are units)
A ⊆ I×J               allowed assignments: finite distance, and only the locked territory for a locked unit
d_ij                  distance from unit i to the centre of j (km for lat/lon, file units otherwise)
c_ij = v_i·d_ij       assignment cost; v_i the ``weight`` measure (1 when none)
w_im                  value of measure m for unit i (``count`` = 1 for every unit)
P                     number of territories: |J|, or k
μ_m = Σ_i w_im / P    mean territory size on measure m
τ_m                   balance tolerance on m: (1-τ_m)μ_m ≤ size ≤ (1+τ_m)μ_m
U_m, U_jm, L_jm       capacity (all territories), per-territory max / min on m
δ_m, λ_m              max share of m moved away from the current territory; price per unit of m moved
====================  ======================================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from spmopt.data.validate import (
    COUNT_MEASURE,
    check_territory_refs,
    require_coordinates,
    validate_distances,
    validate_territories,
    validate_units,
)
from spmopt.errors import InfeasibleError, InputError
from spmopt.geo import distance_matrix
from spmopt.territory.contiguity import Contiguity, load_contiguity, precheck_contiguity


def _frozen(d: Mapping | None) -> Mapping:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, eq=False)
class AlignmentProblem:
    """A validated alignment request. Build it with :func:`make_problem` (or ``spmopt.align``'s keyword
    arguments); the fields are read-only.

    ``distance`` is a dense |I|×|J| array with ``inf`` for pairs that are not allowed. ``territory_ids`` are the
    fixed territories, or (``k`` set) the candidate centres: the units themselves, or — for an add/remove what-if
    (:func:`make_problem`'s ``add`` / ``remove``) — the current territories plus candidate new ones, of which
    ``must_open`` are always open, ``closed`` never, and the rest as the optimisation decides (k open in all).
    """

    units: pd.DataFrame
    territory_ids: tuple[str, ...]
    distance: np.ndarray
    balance: Mapping[str, float] = field(default_factory=dict)
    capacity: Mapping[str, float] = field(default_factory=dict)
    limits: Mapping[tuple[str, str], np.ndarray] = field(default_factory=dict)
    weight: str | None = None
    k: int | None = None
    max_disruption: Mapping[str, float] = field(default_factory=dict)
    disruption_price: Mapping[str, float] = field(default_factory=dict)
    territories: pd.DataFrame | None = None
    distance_unit: str = "km"
    contiguity: Contiguity | None = None
    must_open: frozenset = frozenset()
    closed: frozenset = frozenset()

    def __post_init__(self) -> None:
        for name in ("balance", "capacity", "limits", "max_disruption", "disruption_price"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        self.distance.setflags(write=False)

    # -- derived data -------------------------------------------------------------------------------------
    @property
    def unit_ids(self) -> pd.Index:
        return self.units.index

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_territories(self) -> int:
        """P: the number of territories in the answer."""
        return self.k if self.k is not None else len(self.territory_ids)

    @property
    def chooses_centres(self) -> bool:
        return self.k is not None

    def centre_index(self) -> np.ndarray:
        """Per territory column: the index of its centre unit, −1 where it has none (for ``k`` without a
        territories table, column j is unit j)."""
        if self.territories is not None and "center_unit" in self.territories.columns:
            cu = self.territories["center_unit"].reindex(list(self.territory_ids))
            return self.unit_ids.get_indexer(cu.where(cu.notna(), None).to_numpy())
        if self.chooses_centres:
            return np.arange(len(self.territory_ids))
        return np.full(len(self.territory_ids), -1)

    def serves_itself(self) -> np.ndarray:
        """Per territory column: must it hold its own centre unit when open? With ``k`` every centre does; in a
        what-if the new territories do, and with contiguity every territory (its centre unit is its root)."""
        J = len(self.territory_ids)
        if not self.chooses_centres:
            return np.zeros(J, dtype=bool)
        if self.territories is None:
            return np.ones(J, dtype=bool)
        added = self.territories["added"].reindex(list(self.territory_ids)) if "added" in self.territories \
            else pd.Series(False, index=list(self.territory_ids))
        return added.fillna(False).astype(bool).to_numpy() | (self.contiguity is not None)

    def open_state(self) -> np.ndarray:
        """Per territory column: 1 always open, 0 open if chosen, −1 closed (fixed centres: all 1)."""
        if not self.chooses_centres:
            return np.ones(len(self.territory_ids), dtype=int)
        tids = pd.Index(self.territory_ids)
        st = np.zeros(len(tids), dtype=int)
        st[tids.isin(list(self.must_open))] = 1
        st[tids.isin(list(self.closed))] = -1
        return st

    def measure(self, m: str) -> np.ndarray:
        """w_·m as a float array (``count`` gives ones unless the units have a column of that name)."""
        if m in self.units.columns:
            return self.units[m].to_numpy(dtype=float)
        if m == COUNT_MEASURE:
            return np.ones(self.n_units)
        raise KeyError(m)

    def mean(self, m: str) -> float:
        return float(self.measure(m).sum()) / self.n_territories

    def cost(self) -> np.ndarray:
        """c_ij = v_i · d_ij (``inf`` where not allowed)."""
        v = self.measure(self.weight) if self.weight else np.ones(self.n_units)
        with np.errstate(invalid="ignore"):
            c = v[:, None] * self.distance
        c[~np.isfinite(self.distance)] = np.inf
        return c

    def current(self) -> pd.Series | None:
        """Current territory of each unit (None where the unit has none), or None if not given."""
        if "current_territory" not in self.units.columns or (self.chooses_centres and self.territories is None):
            return None
        return self.units["current_territory"]

    def locks(self) -> pd.Series:
        if "locked_territory" not in self.units.columns:
            return pd.Series(dtype=object)
        s = self.units["locked_territory"]
        return s[s.notna()]

    def allowed(self) -> np.ndarray:
        """Boolean |I|×|J| mask of A."""
        ok = np.isfinite(self.distance).copy()
        if self.closed:
            ok[:, pd.Index(self.territory_ids).isin(list(self.closed))] = False
        col = {t: j for j, t in enumerate(self.territory_ids)}
        for uid, t in self.locks().items():
            i = self.units.index.get_loc(uid)
            keep = ok[i, col[t]]
            ok[i, :] = False
            ok[i, col[t]] = keep
        return ok

    def arcs(self) -> tuple[np.ndarray, np.ndarray]:
        """(unit index, territory index) of every allowed pair, ordered by unit."""
        i, j = np.nonzero(self.allowed())
        return i, j

    def limit_vector(self, bound: str, m: str) -> np.ndarray:
        """Per-territory limit on m (``max`` / ``min``), combining capacity and the territories file;
        ``inf`` (max) or 0 (min) where there is none."""
        P = len(self.territory_ids)
        v = np.full(P, np.inf if bound == "max" else 0.0)
        if bound == "max" and m in self.capacity:
            v = np.minimum(v, self.capacity[m])
        if (bound, m) in self.limits:
            lim = np.asarray(self.limits[(bound, m)], dtype=float)
            have = ~np.isnan(lim)
            v[have] = np.minimum(v[have], lim[have]) if bound == "max" else np.maximum(v[have], lim[have])
        return v

    def limited_measures(self) -> list[str]:
        ms = list(self.capacity) + [m for (_, m) in self.limits]
        return list(dict.fromkeys(ms))

    def replace(self, **changes) -> AlignmentProblem:
        """A copy with some fields changed (e.g. ``problem.replace(balance={'potential': 0.1})``)."""
        return dataclasses.replace(self, **changes)


def _parse_pairs(pairs: Mapping[str, float] | None, what: str, *, lo: float = 0.0, hi: float | None = None):
    out = {}
    for m, v in (pairs or {}).items():
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{what} for '{m}' must be a number, got {v!r}") from None
        if not np.isfinite(v) or v < lo or (hi is not None and v > hi):
            rng = f"between {lo:g} and {hi:g}" if hi is not None else f">= {lo:g}"
            raise InputError(f"{what} for '{m}' must be {rng}, got {v:g}")
        out[m] = v
    return out


def make_problem(
    units: pd.DataFrame,
    territories: pd.DataFrame | None = None,
    distances: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    balance: Mapping[str, float] | None = None,
    capacity: Mapping[str, float] | None = None,
    weight: str | None = None,
    max_disruption: Mapping[str, float] | None = None,
    disruption_price: Mapping[str, float] | None = None,
    contiguity=None,
    add: int = 0,
    add_candidates=None,
    remove=None,
) -> AlignmentProblem:
    """Validate raw tables and options into an :class:`AlignmentProblem`.

    ``units``/``territories``/``distances`` are raw tables (e.g. from :func:`spmopt.data.read_table`) or
    DataFrames built in Python. Give either ``territories`` (fixed centres) or ``k`` (choose k centres among
    the units). ``balance`` maps a measure to its tolerance τ (0.05 = ±5 % of the mean); ``capacity`` a measure
    to the maximum per territory; ``max_disruption`` a measure to the largest share of it that may move away from
    the current alignment; ``disruption_price`` a measure to the objective cost per unit of it moved;
    ``contiguity`` (``'auto'``, an adjacency file or table of ``unit_a,unit_b`` pairs, or a networkx graph)
    requires every territory to be connected on that graph.

    What-ifs on fixed territories (location–allocation with the current centres kept): ``add=n`` opens n new
    territories whose centres are chosen among ``add_candidates`` (unit ids, or a pandas query on the units
    table such as ``"lat > 41"``; default every unit that is not a centre already); ``remove`` closes the named
    territories (a list of ids), or — a number — lets the optimisation choose which that many to close. New
    territories are named ``new:<centre unit id>``; the current alignment still measures disruption.
    """
    must_open: list = []
    closed: list = []
    if add or remove is not None:
        if territories is None or k is not None:
            raise InputError("add / remove territories are what-ifs on fixed territories: give territories, not k")
    if (territories is None) == (k is None):
        raise InputError("give either territories (fixed centres) or k (number of centres to choose), not both"
                         if territories is not None else "give territories or k")
    balance = _parse_pairs(balance, "balance tolerance", hi=1.0)
    capacity = _parse_pairs(capacity, "capacity")
    max_disruption = _parse_pairs(max_disruption, "max disruption", hi=1.0)
    disruption_price = _parse_pairs(disruption_price, "disruption price")
    measures = [*balance, *capacity, *max_disruption, *disruption_price] + ([weight] if weight else [])

    u = validate_units(units, measures=measures, coordinates_required=False)
    system = u.attrs["coords"]
    dunit = "km" if system == "latlon" else "distance units"
    dist_units: set[str] = set()
    dv = None
    if distances is not None and k is not None:
        dv = validate_distances(distances, u.index, u.index)
    if dv is not None:
        dist_units = set(dv["unit_id"])
    if distances is None or k is not None:
        require_coordinates(u, set(u.index) - dist_units)

    t_frame = None
    if k is not None:
        if not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"k must be a positive whole number, got {k!r}")
        if k > len(u):
            raise InfeasibleError(f"k = {k} centres asked for but there are only {len(u)} units",
                                  family="assignment")
        if max_disruption or disruption_price:
            raise InputError("disruption needs fixed territories with a current alignment; it is not defined "
                             "when centres are chosen (k); use add / remove on the territories instead")
        tids = tuple(u.index)
        cand = u[[c for c in ("lat", "lon", "x", "y") if c in u.columns]]
        locks = u["locked_territory"].dropna() if "locked_territory" in u.columns else pd.Series(dtype=object)
        bad = locks[~locks.isin(u.index)]
        if len(bad):
            raise InputError(f"with k, a locked_territory must name a centre unit; '{bad.iloc[0]}' is not a unit",
                             source=u.attrs["source"], row=u.attrs["rows"][bad.index[0]],
                             column="locked_territory", value=bad.iloc[0])
    else:
        t_frame = validate_territories(territories, u, centres_required=distances is None)
        tids = tuple(t_frame.index)
        if distances is not None:
            dv = validate_distances(distances, u.index, tids)
            dist_units = set(dv["unit_id"])
            need = set(u.index) - dist_units
            require_coordinates(u, need)
            if need:
                missing = [t for t in tids if system is None or np.isnan(t_frame.at[t, "lat" if system ==
                                                                                        "latlon" else "x"])]
                if missing:
                    raise InputError(f"territory '{missing[0]}' has no centre, needed for units without a "
                                     "distance row", source=t_frame.attrs["source"],
                                     row=t_frame.attrs["rows"][missing[0]], column="center_unit")
        tids = tuple(t_frame.index)
        if not tids:
            raise InputError("no territories given", source=t_frame.attrs["source"])
        check_territory_refs(u, tids)
        if add or remove is not None:
            if distances is not None:
                raise InputError("add / remove territories need unit coordinates for the new centres, not a "
                                 "distance table")
            t_frame, k, must_open, closed = _what_if(u, t_frame, add, add_candidates, remove)
            tids = tuple(t_frame.index)
        cand = t_frame[[c for c in ("lat", "lon", "x", "y") if c in t_frame.columns]]

    D = np.full((len(u), len(tids)), np.inf)
    if dv is not None:
        ii = u.index.get_indexer(dv["unit_id"])
        jj = pd.Index(tids).get_indexer(dv["territory_id"])
        D[ii, jj] = dv["distance"].to_numpy()
        dunit = "distance-table units"
    if system is not None:
        # units with no distance row fall back to coordinates
        rows = np.flatnonzero(~u.index.isin(list(dist_units))) if distances is not None else np.arange(len(u))
        cols = ["lat", "lon"] if system == "latlon" else ["x", "y"]
        cpts = cand[cols].to_numpy(dtype=float)
        have = ~np.isnan(cpts[:, 0])
        if len(rows) and have.any():
            sub = distance_matrix(u[cols].to_numpy(dtype=float)[rows], cpts[have], system)
            D[np.ix_(rows, np.flatnonzero(have))] = sub

    limits: dict[tuple[str, str], np.ndarray] = {}
    if t_frame is not None:
        for (bound, m), col in t_frame.attrs["limits"].items():
            limits[(bound, m)] = t_frame[col].to_numpy(dtype=float)
    for m in capacity:
        if m not in u.columns and m != COUNT_MEASURE:
            raise InputError(f"capacity measure '{m}' is not a column")
    contig = load_contiguity(contiguity, u)
    if contig is not None and t_frame is not None and "center_unit" in t_frame.columns:
        u = _lock_centre_units(u, t_frame if k is None else t_frame.loc[sorted(must_open)])
    return AlignmentProblem(units=u, territory_ids=tids, distance=D, balance=balance, capacity=capacity,
                            limits=limits, weight=weight, k=k, max_disruption=max_disruption,
                            disruption_price=disruption_price, territories=t_frame, distance_unit=dunit,
                            contiguity=contig, must_open=frozenset(must_open), closed=frozenset(closed))


def _what_if(u: pd.DataFrame, t_frame: pd.DataFrame, add, add_candidates, remove):
    """Territories table, k, must-open and closed ids for an add / remove what-if (see :func:`make_problem`)."""
    source = t_frame.attrs.get("source")
    if not isinstance(add, int | np.integer) or isinstance(add, bool) or add < 0:
        raise InputError(f"add must be a whole number of new territories (0 or more), got {add!r}")
    current = list(t_frame.index)
    closed: list[str] = []
    n_close = 0
    if isinstance(remove, int | np.integer) and not isinstance(remove, bool):
        if not 0 <= remove < len(current):
            raise InputError(f"remove = {remove}: choose between 0 and {len(current) - 1} of the "
                             f"{len(current)} territories to close")
        n_close = int(remove)
    elif remove is not None:
        names = [remove] if isinstance(remove, str) else list(remove)
        unknown = [t for t in names if t not in t_frame.index]
        if unknown:
            raise InputError(f"cannot remove unknown territory '{unknown[0]}' (known: "
                             f"{', '.join(current[:8])}{'…' if len(current) > 8 else ''})", source=source)
        closed = list(dict.fromkeys(names))
        if len(closed) >= len(current):
            raise InputError("remove would close every territory")
        locks = u["locked_territory"].dropna() if "locked_territory" in u.columns else pd.Series(dtype=object)
        bad = locks[locks.isin(closed)]
        if len(bad):
            raise InputError(f"unit '{bad.index[0]}' is locked to '{bad.iloc[0]}', which remove closes",
                             source=u.attrs.get("source"), row=u.attrs.get("rows", {}).get(bad.index[0]),
                             column="locked_territory", value=bad.iloc[0])
    new_rows = pd.DataFrame(columns=t_frame.columns, index=pd.Index([], name="territory_id"))
    if add:
        if add_candidates is None:
            cand = u.index
        elif isinstance(add_candidates, str):
            try:
                cand = u.query(add_candidates).index
            except Exception as exc:  # pandas raises many kinds for a bad expression
                raise InputError(f"add candidates: cannot evaluate '{add_candidates}' on the units table "
                                 f"({type(exc).__name__}: {exc})".splitlines()[0]) from None
        else:
            cand = pd.Index([str(c) for c in add_candidates])
            unknown = cand[~cand.isin(u.index)]
            if len(unknown):
                raise InputError(f"add candidate '{unknown[0]}' is not a unit id")
        taken = set(t_frame["center_unit"].dropna()) if "center_unit" in t_frame.columns else set()
        cand = [c for c in dict.fromkeys(cand) if c not in taken]
        if len(cand) < add:
            raise InputError(f"add = {add} new territories but only {len(cand)} candidate centre unit(s)"
                             + (f" match '{add_candidates}'" if isinstance(add_candidates, str) else ""))
        ids = [f"new:{c}" for c in cand]
        clash = set(ids) & set(current)
        if clash:
            raise InputError(f"territory id '{sorted(clash)[0]}' is taken; rename it to add new territories")
        new_rows = pd.DataFrame({"center_unit": cand}, index=pd.Index(ids, name="territory_id"))
        for c in ("lat", "lon", "x", "y"):
            if c in t_frame.columns:
                new_rows[c] = u.loc[cand, c].to_numpy(dtype=float)
    frame = pd.concat([t_frame, new_rows.reindex(columns=t_frame.columns)]) if len(new_rows) else t_frame.copy()
    frame["added"] = frame.index.isin(new_rows.index)  # a candidate new territory, not a current one
    frame.attrs.update(t_frame.attrs)
    kept = [t for t in current if t not in closed]
    must_open = kept if n_close == 0 else []
    return frame, len(kept) + add - n_close, must_open, closed


def _lock_centre_units(u: pd.DataFrame, t_frame: pd.DataFrame) -> pd.DataFrame:
    """With contiguity, a territory grows from its centre unit, so that unit is locked to it (the rep's home
    unit lies in the rep's territory). A centre unit shared by several territories is not locked."""
    cu = t_frame["center_unit"].dropna()
    cu = cu[~cu.duplicated(keep=False)]
    if cu.empty:
        return u
    u = u.copy()
    # whole-column operations: a per-territory ``u.at`` deep-copies the units' attrs (their row map) each time
    locked = (u["locked_territory"] if "locked_territory" in u.columns
              else pd.Series(np.nan, index=u.index, dtype=object)).astype(object)
    have = locked.reindex(cu.to_numpy())
    clash = have.notna().to_numpy() & (have.to_numpy() != cu.index.to_numpy())
    if clash.any():
        k = int(np.flatnonzero(clash)[0])
        uid, t, was = cu.iloc[k], cu.index[k], have.iloc[k]
        raise InputError(f"unit '{uid}' is the centre of territory '{t}' but locked to '{was}'; with "
                         "contiguity a centre unit belongs to its own territory", source=u.attrs.get("source"),
                         row=u.attrs.get("rows", {}).get(uid), column="locked_territory", value=was)
    locked[cu.to_numpy()] = cu.index.to_numpy()
    u["locked_territory"] = locked
    return u


def precheck(p: AlignmentProblem) -> None:
    """Find infeasibility that needs no solver, and say exactly what is wrong.

    Checks: every unit has an allowed territory; no single unit exceeds a balance upper limit or a capacity;
    total capacity ≥ total measure; per-territory minimums ≤ total; locked units fit their territory; the
    locks alone do not exceed the disruption limit; capacity is not below the balance lower limit.
    """
    if p.contiguity is not None:
        precheck_contiguity(p, p.contiguity)
    ok = p.allowed()
    none = np.flatnonzero(~ok.any(axis=1))
    if len(none):
        uid = p.unit_ids[none[0]]
        why = "its locked territory has no distance" if uid in p.locks().index else "no territory has a distance"
        raise InfeasibleError(f"unit '{uid}' cannot be assigned: {why} ({len(none)} unit(s) like this)",
                              family="assignment")
    P = p.n_territories
    for m, tau in p.balance.items():
        w, mu = p.measure(m), p.mean(m)
        hi = (1 + tau) * mu
        i = int(np.argmax(w))
        if w[i] > hi + 1e-9 * max(1.0, hi):
            need = w[i] / mu - 1
            raise InfeasibleError(
                f"balance on '{m}' cannot be met: unit '{p.unit_ids[i]}' alone has {m} = {w[i]:,.6g}, above the "
                f"upper limit (1+{tau:g})×mean = {hi:,.6g}; the tightest tolerance this unit allows is "
                f"±{need:.1%}", family="balance", suggestion={"balance": {m: round(need + 5e-4, 3)}})
        if P > p.n_units:
            break
    for m in p.limited_measures():
        w = p.measure(m)
        cap = p.limit_vector("max", m)
        cap_total = cap.sum() if not p.chooses_centres else np.sort(cap)[::-1][:P].sum()
        if w.sum() > cap_total + 1e-9 * max(1.0, w.sum()):
            raise InfeasibleError(f"capacity on '{m}' cannot be met: total {m} = {w.sum():,.6g} exceeds total "
                                  f"capacity {cap_total:,.6g} of {P} territories", family="capacity",
                                  suggestion={"capacity": {m: float(np.ceil(w.sum() / P))}})
        big = w.max()
        if big > cap.max() + 1e-9 * max(1.0, big):
            raise InfeasibleError(f"capacity on '{m}' cannot be met: unit '{p.unit_ids[int(np.argmax(w))]}' "
                                  f"alone has {m} = {big:,.6g} > largest capacity {cap.max():,.6g}",
                                  family="capacity", suggestion={"capacity": {m: float(big)}})
        lo = p.limit_vector("min", m)
        if lo.sum() > w.sum() + 1e-9 * max(1.0, w.sum()):
            raise InfeasibleError(f"minimums on '{m}' add to {lo.sum():,.6g}, more than the total {w.sum():,.6g}",
                                  family="limits")
        if m in p.balance:
            low = (1 - p.balance[m]) * p.mean(m)
            c = cap.min()
            if c < low - 1e-9 * max(1.0, low):
                raise InfeasibleError(f"capacity {c:,.6g} on '{m}' is below the balance lower limit "
                                      f"(1-{p.balance[m]:g})×mean = {low:,.6g}", family="capacity")
    locks = p.locks()
    if len(locks) and not p.chooses_centres:
        col = {t: j for j, t in enumerate(p.territory_ids)}
        for m in {*p.balance, *p.limited_measures()}:
            w = pd.Series(p.measure(m), index=p.unit_ids)
            per = w[locks.index].groupby(locks).sum()
            upper = p.limit_vector("max", m)
            if m in p.balance:
                upper = np.minimum(upper, (1 + p.balance[m]) * p.mean(m))
            for t, tot in per.items():
                if tot > upper[col[t]] + 1e-9 * max(1.0, tot):
                    raise InfeasibleError(f"units locked to territory '{t}' have {m} = {tot:,.6g}, above its "
                                          f"upper limit {upper[col[t]]:,.6g}", family="locks")
    cur = p.current()
    if cur is not None and len(locks):
        forced = locks.index[(cur[locks.index].notna()) & (cur[locks.index] != locks)]
        for m, frac in p.max_disruption.items():
            w = pd.Series(p.measure(m), index=p.unit_ids)
            base = w[cur.notna()].sum()
            moved = w[forced].sum()
            if base > 0 and moved / base > frac + 1e-12:
                raise InfeasibleError(
                    f"disruption on '{m}' cannot be met: locked units alone move {moved / base:.1%} of {m} away "
                    f"from their current territory, above the limit {frac:.1%}", family="disruption",
                    suggestion={"max_disruption": {m: round(moved / base + 5e-4, 3)}})
