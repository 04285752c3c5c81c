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

from spmopt.data.geometry import UnitShapes, unit_shapes, with_points
from spmopt.data.validate import (
    COUNT_MEASURE,
    check_territory_refs,
    require_coordinates,
    validate_distances,
    validate_territories,
    validate_units,
)
from spmopt.errors import InfeasibleError, InputError
from spmopt.geo import ADJACENCY_RULES, distance_matrix
from spmopt.territory.contiguity import (
    GEOGRAPHY,
    Contiguity,
    load_contiguity,
    path_weights,
    precheck_contiguity,
    roots,
    within_reach,
)
from spmopt.territory.split import SEP, pieces_for, too_big
from spmopt.territory.split import split as cut


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
    pieces: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    geometry: UnitShapes | None = None   # the units' polygons (by whole unit id): adjacency and maps
    reach_fixing: bool = True   # drop pairs out of reach (contiguity); off in the elastic diagnosis of upper limits
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)   # derived data, per problem

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
            if self.pieces:  # a piece of a split unit counts as its share of the unit
                return np.array([self.pieces[i][1] if i in self.pieces else 1.0 for i in self.unit_ids])
            return np.ones(self.n_units)
        raise KeyError(m)

    def mean(self, m: str) -> float:
        return float(self.measure(m).sum()) / self.n_territories

    def cost(self) -> np.ndarray:
        """c_ij = v_i · d_ij (``inf`` where not allowed)."""
        # unweighted, a piece of a split unit costs its share of the unit's distance
        v = self.measure(self.weight) if self.weight else self.measure(COUNT_MEASURE)
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
        """Boolean |I|×|J| mask of A: finite distance, locks and closed territories, and with contiguity the pairs
        within reach (:meth:`reach`)."""
        reach = self.reach()
        ok = self.assignable()
        return ok if reach is None else ok & reach

    def reach(self) -> np.ndarray | None:
        """With contiguity and rooted territories: the pairs (i, j) for which some path from j's root to i stays
        within j's upper limits on every limited measure (see
        :func:`~spmopt.territory.contiguity.within_reach`); no connected answer uses any other pair. None when
        it does not apply (no contiguity, no root, no upper limit) or would be too large to tabulate."""
        if "reach" not in self._memo:
            self._memo["reach"] = self._reach()
        return self._memo["reach"]

    def _reach(self) -> np.ndarray | None:
        if self.contiguity is None or not self.reach_fixing:
            return None
        r = roots(self)
        measures = list(dict.fromkeys([*self.balance, *self.limited_measures()]))
        if not r or not measures or len(r) * self.n_units > 20_000_000:
            return None
        col = {t: j for j, t in enumerate(self.territory_ids)}
        pos = {u: i for i, u in enumerate(self.unit_ids)}
        rooted = {col[t]: pos[u] for t, u in r.items()}
        weights = {m: self.measure(m) for m in measures}
        upper = {m: _upper_limits(self, m) for m in measures}
        return within_reach(self.contiguity.graph, list(self.unit_ids), rooted, weights, upper,
                            len(self.territory_ids))

    def assignable(self) -> np.ndarray:
        """Boolean |I|×|J| mask of the pairs allowed before contiguity: finite distance, locks, closed."""
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
    contiguity=GEOGRAPHY,
    add: int = 0,
    add_candidates=None,
    remove=None,
    split=None,
    geometry=None,
    geometry_id: str = "unit_id",
    adjacency_rule: str = "queen",
    adjacency_tolerance: float = 0.0,
) -> AlignmentProblem:
    """Validate raw tables and options into an :class:`AlignmentProblem`.

    ``units``/``territories``/``distances`` are raw tables (e.g. from :func:`spmopt.data.read_table`) or
    DataFrames built in Python. Give either ``territories`` (fixed centres) or ``k`` (choose k centres among
    the units). ``balance`` maps a measure to its tolerance τ (0.05 = ±5 % of the mean); ``capacity`` a measure
    to the maximum per territory; ``max_disruption`` a measure to the largest share of it that may move away from
    the current alignment; ``disruption_price`` a measure to the objective cost per unit of it moved;
    ``contiguity`` requires every territory to be connected on a graph of the units: by default
    (``'geography'``) on the units' own geography when they have coordinates (their Delaunay neighbours, as
    ``'auto'``), so alignments of mapped units are contiguous unless asked otherwise; ``False`` (or None) for
    none — account-based territories that need not touch; ``'auto'``, an adjacency file or table of
    ``unit_a,unit_b`` pairs, or a networkx graph to name the graph. With contiguity each territory's base unit
    (``center_unit``) is locked to it.

    ``split`` shares units between neighbouring territories (:mod:`spmopt.territory.split`): a list of unit ids,
    or ``'auto'`` for every unit no connected territory can hold whole at the balance tolerances. Each is cut
    into equal pieces (``<unit>#1`` …) of at most one tolerance each; the answer gives each territory's share.

    ``geometry`` gives the units polygons (:mod:`spmopt.data.geometry`): a GeoPackage / GeoJSON / shapefile /
    GeoParquet path, a GeoDataFrame with the ids in ``geometry_id``, or a Series of polygons by unit id. With
    polygons, the default and ``'auto'`` contiguity are their shared borders (``adjacency_rule`` ``'queen'``: any
    common point, ``'rook'``: a common stretch of border; ``adjacency_tolerance`` in metres closes slivers and
    gaps; islands are joined to their nearest unit), units without coordinates get a point inside their polygon,
    and maps draw the polygons.

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
    shapes = None
    if geometry is not None:
        if adjacency_rule not in ADJACENCY_RULES:
            raise InputError(f"adjacency rule must be 'queen' or 'rook', got '{adjacency_rule}'")
        if not np.isfinite(adjacency_tolerance) or adjacency_tolerance < 0:
            raise InputError(f"adjacency tolerance must be a number of metres >= 0, got {adjacency_tolerance:g}")
        shapes = unit_shapes(geometry, u, id_column=geometry_id)
        u = with_points(u, shapes)
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
            raise InfeasibleError(f"k = {k} centres asked for but there are only {len(u)} units; lower k to at "
                                  f"most {len(u)}", family="assignment", suggestion={"k": len(u)})
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
    if t_frame is not None:
        _check_capacity_over_minimums(t_frame, capacity)
    contig = load_contiguity(contiguity, u, shapes, rule=adjacency_rule, tolerance=adjacency_tolerance)
    parts: dict = {}
    if split is not None and split is not False and not (isinstance(split, list | tuple) and not split):
        u, contig, D, parts, t_frame = _split(u, contig, D, t_frame, split, balance, k)
    if contig is not None and t_frame is not None and "center_unit" in t_frame.columns:
        u = _lock_centre_units(u, t_frame if k is None else t_frame.loc[sorted(must_open)])
    return AlignmentProblem(units=u, territory_ids=tids, distance=D, balance=balance, capacity=capacity,
                            limits=limits, weight=weight, k=k, max_disruption=max_disruption,
                            disruption_price=disruption_price, territories=t_frame, distance_unit=dunit,
                            contiguity=contig, must_open=frozenset(must_open), closed=frozenset(closed),
                            pieces=_frozen(parts), geometry=shapes)


def _split(u: pd.DataFrame, contig: Contiguity | None, D: np.ndarray, t_frame: pd.DataFrame | None, split,
           balance: Mapping[str, float], k: int | None):
    """Cut the ``split`` units into pieces (see :mod:`spmopt.territory.split`); a split base unit's first piece
    becomes its territory's centre unit."""
    if k is not None:
        raise InputError("split units are shared between fixed territories; with chosen centres (--k) or an "
                         "add/remove what-if they are not supported")
    if contig is None:
        raise InputError("split units are shared between neighbouring territories and joined through the unit: "
                         "they need contiguity (an adjacency graph or unit coordinates; not --no-contiguity)")
    n_terr = len(t_frame)
    ms = [m for m in balance if m in u.columns or m == COUNT_MEASURE]
    means = {m: (float(u[m].sum()) if m in u.columns else float(len(u))) / n_terr for m in ms}
    if isinstance(split, str):
        if split.strip().lower() != "auto":
            split = [x.strip() for x in split.split(",") if x.strip()]
        else:
            split = [x.unit for x in too_big(u, contig.graph, balance, n_terr)]
    ids = [str(x) for x in split]
    bad = [x for x in ids if x not in u.index]
    if bad:
        raise InputError(f"split: '{bad[0]}' is not a unit id", source=u.attrs.get("source"))
    clash = [x for x in ids if SEP in x]
    if clash:
        raise InputError(f"split: unit id '{clash[0]}' contains '{SEP}', which names the pieces of a split unit")
    taken = [x for x in u.index if isinstance(x, str) and SEP in x and x.split(SEP)[0] in ids]
    if taken:
        raise InputError(f"split: unit id '{taken[0]}' is already taken, and it would name a piece of split unit "
                         f"'{taken[0].split(SEP)[0]}'; rename that unit", source=u.attrs.get("source"))
    pieces = {x: pieces_for({m: (float(u.at[x, m]) if m in u.columns else 1.0) for m in ms}, balance, means)
              for x in dict.fromkeys(ids)}
    measures = [c for c in u.attrs.get("measures", []) if c in u.columns]
    u2, contig2, D2, parts = cut(u, contig, pieces, D, measures)
    if t_frame is not None and "center_unit" in t_frame.columns:
        t_frame = t_frame.copy()
        cu = t_frame["center_unit"]
        t_frame["center_unit"] = cu.where(~cu.isin(list(pieces)), cu.astype(str) + f"{SEP}1")
    return u2, contig2, D2, parts, t_frame


def _check_capacity_over_minimums(t_frame: pd.DataFrame, capacity: Mapping[str, float]) -> None:
    """A capacity applies to every territory: one below a territory's own minimum is bad input (a minimum
    above its maximum), not infeasibility."""
    for m, c in capacity.items():
        col = t_frame.attrs["limits"].get(("min", m))
        if col is None:
            continue
        v = t_frame[col].to_numpy(dtype=float)
        over = np.flatnonzero(v > c)   # NaN (no minimum) compares False
        if len(over):
            t = t_frame.index[over[0]]
            raise InputError(f"territory '{t}' has {col} = {v[over[0]]:,.6g} above the capacity {m}={c:,.6g} "
                             "that applies to every territory: a minimum cannot exceed the maximum",
                             source=t_frame.attrs.get("source"), row=t_frame.attrs.get("rows", {}).get(t),
                             column=col, value=v[over[0]])


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


# ------------------------------------------------------------------------------------------------ pre-checks
# Each check raises InfeasibleError naming the family of limits at fault and the smallest relaxation of that
# family that passes the check (a number, rounded up to what the message shows). A pre-check sees one necessary
# condition at a time, so the relaxation it names is the least that condition needs; the solver's diagnosis
# (solve.diagnose) finds the least that makes the whole request feasible.


def _num(x: float) -> str:
    return f"{x:,.6g}"


def _up(x: float) -> float:
    """``x`` rounded up to 6 significant digits (as :func:`_num` shows it): a limit suggested from it is never
    short of the one needed."""
    if not np.isfinite(x) or x <= 0:
        return float(x)
    step = 10.0 ** (np.floor(np.log10(x)) - 5)
    return float(np.ceil(x / step - 1e-6) * step)


def _share_up(x: float, places: int = 3) -> float:
    """A share (tolerance, disruption) rounded up to ``places`` decimals (3: 0.1 %), as the messages show it."""
    scale = 10.0 ** places
    return float(np.ceil(x * scale - 1e-6) / scale)


def _tol(x: float) -> float:
    return 1e-9 * max(1.0, abs(x))


def _open_set(p: AlignmentProblem, key: np.ndarray, *, largest: bool) -> np.ndarray:
    """Territory columns open in the case most favourable to a check: all of them with fixed centres; with chosen
    centres the must-open ones plus the optional ones with the largest (or smallest) ``key``, P in all."""
    st = p.open_state()
    if not p.chooses_centres:
        return np.arange(len(st))
    must, optional = np.flatnonzero(st == 1), np.flatnonzero(st == 0)
    order = np.argsort(-key[optional] if largest else key[optional], kind="stable")
    return np.concatenate([must, optional[order[:max(0, p.n_territories - len(must))]]])


def _limits_source(p: AlignmentProblem) -> str:
    return str(p.territories.attrs.get("source", "the territories file")) if p.territories is not None \
        else "the territories file"


def precheck(p: AlignmentProblem) -> None:
    """Find infeasibility that needs no solver, and say exactly what is wrong and the least relaxation that
    passes. Checks, in order: contiguity (pieces of the graph); every unit has an allowed territory; balance
    (more territories than units with the measure, a unit above the upper limit, sizes that cannot split the
    total when every unit's measure is a multiple of one grain); limits (total capacity ≥ total measure, each
    unit within the capacity of a territory it may join, minimums ≤ total, each minimum reachable, minimums
    under the balance upper limit, capacity over the balance lower limit); locked units within their
    territory's upper limit; disruption (units that cannot stay, and the least share of the measure that must
    move to bring the current territories within their limits)."""
    if p.contiguity is not None:
        precheck_contiguity(p, p.contiguity)
        _check_too_big(p)
    ok = p.allowed()
    _check_assignment(p, ok)
    for m, tau in p.balance.items():
        _check_balance(p, m, tau)
    for m in p.limited_measures():
        _check_limits(p, m, ok)
    _check_locks(p)
    for m, frac in p.max_disruption.items():
        _check_disruption(p, m, frac, ok)


def _check_too_big(p: AlignmentProblem) -> None:
    """Units no connected territory can hold whole at the balance tolerances (:func:`spmopt.territory.split.
    too_big`): named with the measures that show it, and the split that would let them be shared."""
    if not p.balance or p.n_territories < 2:
        return
    whole = ~p.unit_ids.isin(list(p.pieces)) if p.pieces else np.ones(p.n_units, dtype=bool)
    found = too_big(p.units, p.contiguity.graph, p.balance, p.n_territories, candidates=p.unit_ids[whole],
                    weights={m: p.measure(m) for m in p.balance})
    found = [x for x in found if x.room >= 0]   # a unit above the upper limit on its own: _check_balance says so
    if not found:
        return
    names = p.units["name"] if "name" in p.units.columns else None
    x = found[0]
    label = f"'{x.unit}'" + (f" ({names[x.unit]})" if names is not None and pd.notna(names[x.unit]) else "")
    ids = [x.unit for x in found]
    more = f" ({len(found)} units like this: {', '.join(ids[:10])}{'…' if len(ids) > 10 else ''})" \
        if len(found) > 1 else ""
    can_split = not p.chooses_centres
    raise InfeasibleError(
        f"no connected territory can hold unit {label} whole at these tolerances: {x.describe()}{more}. "
        + (f"Share it between neighbouring territories (--split {','.join(ids[:10])}, or --split auto; "
           f"scenario key align.split), widen the tolerances, or drop contiguity (--no-contiguity)" if can_split else
           "Widen the tolerances, or drop contiguity (--no-contiguity)"),
        family="contiguity", suggestion={"split": ids} if can_split else {})


def _check_assignment(p: AlignmentProblem, ok: np.ndarray) -> None:
    none = np.flatnonzero(~ok.any(axis=1))
    if not len(none):
        return
    uid = p.unit_ids[none[0]]
    locks = p.locks()
    if p.assignable()[none[0]].any():   # it has territories, but every connected one holding it is too big
        raise _out_of_reach(p, int(none[0]), len(none))
    if uid in locks.index:
        why, fix = (f"its locked territory '{locks[uid]}' has no distance to it",
                    f"add a distance row ({uid}, {locks[uid]}) or clear its locked_territory")
    else:
        why, fix = "no territory has a distance to it", "add distance rows (or coordinates) for each"
    raise InfeasibleError(f"unit '{uid}' cannot be assigned: {why} ({len(none)} unit(s) like this); {fix}",
                          family="assignment")


def _out_of_reach(p: AlignmentProblem, i: int, count: int) -> InfeasibleError:
    """Unit i is in no territory's reach: every path from a centre to it outweighs the territory's upper limit
    on some measure. The least upper limit that brings it in reach of one territory, per measure: the
    lightest path to the nearest centre on that measure (balance: as a tolerance, capacity: as an amount) — a
    relaxation that every answer needs, though more may be needed."""
    uid = p.unit_ids[i]
    pos = {u: k for k, u in enumerate(p.unit_ids)}
    col = {t: j for j, t in enumerate(p.territory_ids)}
    rooted = [(col[t], pos[u]) for t, u in roots(p).items() if p.assignable()[i, col[t]]]
    fixes, suggestion = [], {}
    for m in dict.fromkeys([*p.balance, *p.limited_measures()]):
        d = path_weights(p.contiguity.graph, list(p.unit_ids), p.measure(m), np.array([i]))[0]  # symmetric
        need = min((float(d[r]) for _, r in rooted), default=np.inf)
        upper = _upper_limits(p, m)
        if not np.isfinite(need) or need <= min(upper[j] for j, _ in rooted) * (1 + 1e-9):
            continue
        if m in p.balance and need > (1 + p.balance[m]) * p.mean(m) * (1 + 1e-9):
            tau = _share_up(need / p.mean(m) - 1, 4)
            fixes.append(f"the tolerance on '{m}' to at least ±{100 * tau:.2f}%")
            suggestion.setdefault("balance", {})[m] = tau
        else:
            fixes.append(f"the upper limit on '{m}' (capacity or max_{m}) to at least {_num(_up(need))}")
            suggestion.setdefault("capacity", {})[m] = _up(need)
    family = "balance" if "balance" in suggestion else ("capacity" if suggestion else "contiguity")
    return InfeasibleError(
        f"unit '{uid}' cannot be assigned: every path from a territory's centre to it carries more than the "
        f"territory may hold, so no connected territory can take it ({count} unit(s) like this); raise "
        + (" and ".join(fixes) or "the upper limits") + " (needed to reach it; more may be needed), add adjacency, "
        "or drop contiguity", family=family, suggestion=suggestion)


def _grain(w: np.ndarray) -> float:
    """The largest g with every value a whole multiple of it, when the values are whole numbers (0 if not)."""
    if not len(w) or w.max() > 2.0 ** 52 or not np.all(w == np.round(w)):
        return 0.0
    return float(np.gcd.reduce(w.astype(np.int64)))


def _check_balance(p: AlignmentProblem, m: str, tau: float) -> None:
    w, mu, P = p.measure(m), p.mean(m), p.n_territories
    if mu <= 0:
        return
    lo, hi = (1 - tau) * mu, (1 + tau) * mu
    holders = int((w > 0).sum())
    if holders < P and tau < 1:
        raise InfeasibleError(
            f"balance on '{m}' cannot be met: {P} territories but only {holders} unit(s) with {m} > 0, so at least "
            f"{P - holders} territory(ies) get {m} = 0, below the lower limit (1-{tau:g})×mean = {_num(lo)}; the "
            f"tightest tolerance this allows is ±100%: raise the tolerance on '{m}' to ±100% or use at most "
            f"{holders} territories", family="balance", suggestion={"balance": {m: 1.0}})
    i = int(np.argmax(w))
    if w[i] > hi + _tol(hi):
        need = _share_up(w[i] / mu - 1)
        raise InfeasibleError(
            f"balance on '{m}' cannot be met: unit '{p.unit_ids[i]}' alone has {m} = {_num(w[i])}, above the upper "
            f"limit (1+{tau:g})×mean = {_num(hi)}; the tightest tolerance this unit allows is ±{need:.1%}: raise "
            f"the tolerance on '{m}' to at least ±{need:.1%}", family="balance", suggestion={"balance": {m: need}})
    g = _grain(w)
    if g > 0:
        below, above = np.floor(mu / g + 1e-9) * g, np.ceil(mu / g - 1e-9) * g
        if below < lo - _tol(lo) or above > hi + _tol(hi):
            grain = "a whole number" if g == 1 else f"a whole multiple of {g:g}"
            need = _share_up(max(mu - below, above - mu) / mu)
            raise InfeasibleError(
                f"balance on '{m}' cannot be met: every unit's {m} is {grain}, so every territory's is too, and "
                f"the total {_num(w.sum())} over {P} territories (mean {_num(mu)}) needs "
                f"sizes of both {_num(below)} and {_num(above)}, outside the limits (1±{tau:g})×mean = "
                f"{_num(lo)}…{_num(hi)}; the tightest tolerance this allows is ±{need:.1%}: raise the tolerance on "
                f"'{m}' to at least ±{need:.1%}", family="balance", suggestion={"balance": {m: need}})


def _capacity_for_total(p: AlignmentProblem, per: np.ndarray, total: float) -> float | None:
    """The least capacity c (for every territory, with the per-territory maxima ``per`` kept) at which the
    open territories can hold ``total``; None when even an unlimited capacity cannot."""
    def held(c: float) -> float:
        v = np.minimum(c, per)
        return float(v[_open_set(p, v, largest=True)].sum())

    if held(np.inf) < total - _tol(total):
        return None
    lo, hi = 0.0, max(total, 1.0)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if held(mid) < total else (lo, mid)
    return _up(hi)


def _check_limits(p: AlignmentProblem, m: str, ok: np.ndarray) -> None:
    w = p.measure(m)
    total, P, J = float(w.sum()), p.n_territories, len(p.territory_ids)
    cap, low = p.limit_vector("max", m), p.limit_vector("min", m)
    tids = p.territory_ids
    src = _limits_source(p)
    per = np.asarray(p.limits.get(("max", m), np.full(J, np.nan)), dtype=float)
    per = np.where(np.isnan(per), np.inf, per)
    glob = p.capacity.get(m)
    uniform = glob is not None and not np.isfinite(per).any()

    best = _open_set(p, cap, largest=True)
    cap_total = float(cap[best].sum())
    if total > cap_total + _tol(total):
        c = _capacity_for_total(p, per, total)
        if uniform:
            how = f"capacity {m}={_num(c)} on each of the {P} territories"
            if glob > 0:
                how += f", or at least {int(np.ceil(total / glob - 1e-9))} territories at {_num(glob)} each"
            held = f" ({P} × {_num(glob)})"
        elif c is not None:
            how = f"e.g. capacity {m}={_num(c)} with the max_{m} limits of {src} kept (or add territories)"
            held = ""
        else:
            how = f"the max_{m} limits of {src} raised by {_num(_up(total - cap_total))} in all (or add territories)"
            held = ""
        raise InfeasibleError(
            f"capacity on '{m}' cannot be met: total {m} = {_num(total)} exceeds total capacity {_num(cap_total)} of "
            f"{P} territories{held}; raise total capacity on '{m}' from {_num(cap_total)} to ≥ {_num(_up(total))}: "
            f"{how}", family="capacity",
            suggestion={"capacity": {m: c}} if c is not None else {"capacity_total": {m: _up(total)}})

    # each unit within the capacity of some territory it may join (territories by capacity, largest first)
    order = np.argsort(-cap, kind="stable")
    first = ok[:, order].argmax(axis=1)
    room = np.where(ok.any(axis=1), cap[order][first], np.inf)
    over = w - room
    i = int(np.argmax(over))
    if over[i] > _tol(w[i]):
        where = f"the largest capacity {_num(room[i])}" if ok[i].all() else \
            f"the capacity of every territory it may join (largest {_num(room[i])}, '{tids[order][first[i]]}')"
        raise InfeasibleError(
            f"capacity on '{m}' cannot be met: unit '{p.unit_ids[i]}' alone has {m} = {_num(w[i])}, above {where}; "
            f"raise that capacity on '{m}' to ≥ {_num(_up(w[i]))}", family="capacity",
            suggestion={"capacity": {m: _up(w[i])}})

    best = _open_set(p, low, largest=False)
    low_total = float(low[best].sum())
    if low_total > total + _tol(total):
        raise InfeasibleError(
            f"minimums on '{m}' cannot be met: the per-territory minimums add to {_num(low_total)}, more than the "
            f"total {m} = {_num(total)}; lower the min_{m} limits of {src} by ≥ {_num(_up(low_total - total))} in "
            f"all", family="minimum", suggestion={"minimum_total": {m: total}})
    need = [j for j in best if low[j] > 0]
    if need:
        reach = np.array([w[ok[:, j]].sum() for j in need])
        short = low[need] - reach
        k = int(np.argmax(short))
        if short[k] > _tol(low[need[k]]):
            t = tids[need[k]]
            raise InfeasibleError(
                f"minimums on '{m}' cannot be met: territory '{t}' needs {m} ≥ {_num(low[need[k]])} (min_{m}) but "
                f"the units it may join have {_num(reach[k])} in all; lower its min_{m} to ≤ {_num(reach[k])}",
                family="minimum", suggestion={"minimum": {m: {t: float(reach[k])}}})

    if m not in p.balance:
        return
    tau, mu = p.balance[m], p.mean(m)
    lo_b, hi_b = (1 - tau) * mu, (1 + tau) * mu
    j = best[int(np.argmax(low[best]))] if len(best) else None
    if j is not None and low[j] > hi_b + _tol(hi_b):
        need_tau = _share_up(low[j] / mu - 1)
        raise InfeasibleError(
            f"minimums on '{m}' cannot be met: territory '{tids[j]}' has min_{m} = {_num(low[j])}, above the balance "
            f"upper limit (1+{tau:g})×mean = {_num(hi_b)}; lower its min_{m} to ≤ {_num(hi_b)} or raise the "
            f"tolerance on '{m}' to at least ±{need_tau:.1%}", family="minimum",
            suggestion={"balance": {m: need_tau}})
    best = _open_set(p, cap, largest=True)
    j = best[int(np.argmin(cap[best]))] if len(best) else None
    if j is not None and cap[j] < lo_b - _tol(lo_b):
        need_tau = _share_up(1 - cap[j] / mu)
        whose = f"capacity {_num(cap[j])} on '{m}'" if uniform else \
            f"capacity {_num(cap[j])} on '{m}' of territory '{tids[j]}'"
        raise InfeasibleError(
            f"{whose} is below the balance lower limit (1-{tau:g})×mean = {_num(lo_b)}; raise that capacity to "
            f"≥ {_num(_up(lo_b))} or the tolerance on '{m}' to at least ±{need_tau:.1%}", family="capacity",
            suggestion={"capacity": {m: _up(lo_b)}, "balance": {m: need_tau}})


def _upper_limits(p: AlignmentProblem, m: str) -> np.ndarray:
    """Per territory: the tightest upper limit on m (capacity, max_<m>, balance)."""
    upper = p.limit_vector("max", m)
    if m in p.balance:
        upper = np.minimum(upper, (1 + p.balance[m]) * p.mean(m))
    return upper


def _lower_limits(p: AlignmentProblem, m: str) -> np.ndarray:
    lower = p.limit_vector("min", m)
    if m in p.balance:
        lower = np.maximum(lower, (1 - p.balance[m]) * p.mean(m))
    return lower


def _check_locks(p: AlignmentProblem) -> None:
    locks = p.locks()
    if not len(locks) or p.chooses_centres:
        return
    col = {t: j for j, t in enumerate(p.territory_ids)}
    for m in {*p.balance, *p.limited_measures()}:
        w = pd.Series(p.measure(m), index=p.unit_ids)
        per = w[locks.index].groupby(locks).sum()
        upper, cap = _upper_limits(p, m), p.limit_vector("max", m)
        for t, tot in per.items():
            j = col[t]
            if tot <= upper[j] + _tol(tot):
                continue
            fixes, suggestion = [], {}
            if m in p.balance and tot > (1 + p.balance[m]) * p.mean(m) + _tol(tot):
                need = _share_up(tot / p.mean(m) - 1)
                fixes.append(f"the tolerance on '{m}' to at least ±{need:.1%}")
                suggestion["balance"] = {m: need}
            if tot > cap[j] + _tol(tot):
                fixes.append(f"the capacity of '{t}' on '{m}' to ≥ {_num(_up(tot))}")
                suggestion["capacity"] = {m: _up(tot)}
            raise InfeasibleError(
                f"units locked to territory '{t}' have {m} = {_num(tot)}, above its upper limit {_num(upper[j])}; "
                f"raise {' and '.join(fixes)}, or unlock some of them", family="locks", suggestion=suggestion)


def _cheapest(cost: np.ndarray, amount: np.ndarray, need: float) -> float:
    """Least cost of moving at least ``need`` of ``amount`` when parts of units may move (fractional knapsack):
    a lower bound on the cost with whole units. All of it when the amount falls short."""
    keep = amount > 0
    c, a = cost[keep], amount[keep]
    order = np.argsort(c / a, kind="stable")
    c, a = c[order], a[order]
    cum = np.cumsum(a)
    k = int(np.searchsorted(cum, need))
    if k >= len(a):
        return float(c.sum())
    before = cum[k - 1] if k else 0.0
    return float(c[:k].sum() + c[k] * (need - before) / a[k])


def _check_disruption(p: AlignmentProblem, m: str, frac: float, ok: np.ndarray) -> None:
    """Units that cannot stay in their current territory move whatever the alignment. And with fixed territories
    and no disruption allowed (``max_disruption`` 0), every current territory above its upper limit on a measure
    m2 must still shed the excess, every one below its lower limit take units in: the least share of m that does
    both (parts of units may move: a lower bound) is what max_disruption on m must allow at least. (With a
    positive limit, relaxing balance or capacity instead may be the smaller change: the solver's diagnosis
    compares the families.)"""
    cur = p.current()
    if cur is None:
        return
    w = p.measure(m)
    has = cur.notna().to_numpy()
    base = float(w[has].sum())
    if base <= 0:
        return
    allowed_moved = frac * base + _tol(base)
    tj = pd.Index(p.territory_ids).get_indexer(cur.fillna("").to_numpy())
    rows = np.arange(p.n_units)
    stays_ok = np.zeros(p.n_units, dtype=bool)
    stays_ok[has] = ok[rows[has], tj[has]]
    forced = has & ~stays_ok
    forced_cost = float(w[forced].sum())
    if forced_cost > allowed_moved:
        locked = p.unit_ids.isin(p.locks().index)
        why = "locked elsewhere" if locked[forced].all() else "locked elsewhere, closed, or with no distance to it"
        need = _share_up(forced_cost / base, 4)
        raise InfeasibleError(
            f"disruption on '{m}' cannot be met: {int(forced.sum())} unit(s) that cannot stay in their current "
            f"territory ({why}) alone move {forced_cost / base:.2%} of {m} away from it, above the limit "
            f"{frac:.2%}; raise max_disruption on '{m}' to at least {need:.2%}", family="disruption",
            suggestion={"max_disruption": {m: need}})
    if p.chooses_centres or frac > 0:
        return
    J = len(p.territory_ids)
    pinned = has & stays_ok & (ok.sum(axis=1) == 1)       # its current territory is the only one it may join
    movable = has & ~forced & ~pinned
    cost = np.where(has, w, 0.0)
    worst = None
    for m2 in dict.fromkeys([*p.balance, *p.limited_measures()]):
        a = p.measure(m2)
        now = np.bincount(tj[has], weights=a[has], minlength=J)
        leaving = np.bincount(tj[forced], weights=a[forced], minlength=J)
        upper, lower = _upper_limits(p, m2), _lower_limits(p, m2)
        shed = now - leaving - upper
        out_cost = forced_cost
        for j in np.flatnonzero(shed > 1e-9 * np.maximum(1.0, now)):
            pool = movable & (tj == j)
            out_cost += _cheapest(cost[pool], a[pool], shed[j])
        short = lower - (now - leaving)
        deficit = float(short[short > 0].sum())
        free = float(a[~has].sum() + a[forced].sum())
        in_cost = forced_cost
        if deficit - free > _tol(deficit):
            in_cost += _cheapest(cost[movable], a[movable], deficit - free)
        least = max(out_cost, in_cost)
        if least > allowed_moved and (worst is None or least > worst[1]):
            stuck = has & (w > 0)                           # units that may not move at max_disruption 0
            fixed_sizes = m2 in p.balance and not a[~stuck].any() and p.mean(m2) > 0
            dev = _share_up(float(np.abs(now / p.mean(m2) - 1).max()), 4) if fixed_sizes else None
            over = [f"'{p.territory_ids[j]}' has {_num(now[j])} above its upper limit {_num(upper[j])}"
                    for j in np.flatnonzero(now - upper > 1e-9 * np.maximum(1.0, now))]
            under = [f"'{p.territory_ids[j]}' has {_num(now[j])} below its lower limit {_num(lower[j])}"
                     for j in np.flatnonzero(lower - now > 1e-9 * np.maximum(1.0, lower))]
            said = over + under
            worst = (m2, least, "; ".join(said[:3]) + (f"; … ({len(said) - 3} more)" if len(said) > 3 else ""),
                     dev)
    if worst is None:
        return
    m2, least, said, dev = worst
    need = _share_up(least / base, 4)
    other = f"or the tolerance on '{m2}' to ±{dev:.2%}: no unit may move, so the current territories must fit" \
        if dev is not None else f"or loosen the limits on '{m2}'"
    raise InfeasibleError(
        f"disruption on '{m}' cannot be met: bringing the current territories within the limits on '{m2}' "
        f"({said}) moves at least {need:.2%} of {m} away from its current territory, above the limit "
        f"{frac:.2%}; raise max_disruption on '{m}' to at least {need:.2%} ({other})", family="disruption",
        suggestion={"max_disruption": {m: need}, **({"balance": {m2: dev}} if dev is not None else {})})
