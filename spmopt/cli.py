"""Command-line interface: a thin shell over the Python API (no model building here)."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer import core as _typer_core
from typer.core import TyperGroup

from spmopt.errors import InfeasibleError, InputError, SolverError, SpmoptError
from spmopt.heartbeat import LineConsole, heartbeat

os.environ.setdefault("MPLBACKEND", "Agg")   # files only; the library itself leaves the backend to the user


# the click exceptions typer raises (recent typer carries its own copy of click; older versions use click's)
_click_exc = getattr(getattr(_typer_core, "_click", None), "exceptions", None) or __import__("click").exceptions


class _OneLineErrors(TyperGroup):
    """Usage errors (a bad option value, an unknown option) as one line on stderr with exit code 2, like every
    other input error — not a usage block in a box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if standalone_mode:
            _terminate_like_interrupt()
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _click_exc.NoArgsIsHelpError:
            if not standalone_mode:
                raise
            sys.exit(0)   # the help was printed
        except _click_exc.ClickException as exc:
            if not standalone_mode:
                raise
            console.print(f"[bold red]input error:[/] {escape(_usage_message(exc))}", highlight=False,
                          soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            console.print("[yellow]aborted[/]")
            sys.exit(1)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


def _terminate_like_interrupt() -> None:
    """SIGTERM (a job runner's stop, ``timeout``) ends a command the way Ctrl-C does: the work is dropped, no
    half-written output folder is left behind, worker processes are stopped."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:   # not the main thread (an embedding application): leave its handlers alone
        pass


def _usage_message(exc) -> str:
    """``--seed: must be a non-negative integer, got -1`` (the option's name first), and where to look."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    param = getattr(exc, "param", None)
    if isinstance(exc, _click_exc.MissingParameter) and param is not None:
        name = param.opts[0] if getattr(param, "opts", None) else (param.name or "").upper()
        return f"{name} is required{hint}"
    if isinstance(exc, _click_exc.BadParameter) and param is not None:
        name = param.opts[0] if getattr(param, "opts", None) else param.name
        msg = exc.message
        if msg.startswith("Input should be"):   # typer's pydantic coercion: say what was given
            msg = f"expected {msg.removeprefix('Input should be ').split(',')[0]}"
        return f"{name}: {msg}"
    return exc.format_message().splitlines()[0] + hint


app = typer.Typer(cls=_OneLineErrors, add_completion=False, no_args_is_help=True,
                  help="spmopt: territory design, quotas and comp-plan simulation for sales performance management.")
console = LineConsole(stderr=True, soft_wrap=True)   # messages are lines: never cut a path in two
_beat: list = []    # the running command's heartbeat (spmopt.heartbeat): piped logs get a line after 7.5 s of quiet
out_console = Console()


def _status(text: str) -> None:
    """Tell the running command's heartbeat what is going on (shown in its next progress line)."""
    if _beat:
        _beat[-1].status(text)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out_console.print(f"spmopt {version('spmopt')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """spmopt: territory design, quotas and comp-plan simulation for sales performance management."""


# ------------------------------------------------------------------------------ option checks (at parse time)
def _check(ok, what: str):
    """A Typer callback refusing a value for which ``ok`` is false: ``--seed: must be …, got -1``."""
    def callback(value):
        if value is not None and not ok(value):
            raise typer.BadParameter(f"{what}, got {value:g}" if isinstance(value, float) else f"{what}, got {value}")
        return value
    return callback


NONNEG_INT = _check(lambda v: v >= 0, "must be a non-negative integer")
POS_INT = _check(lambda v: v >= 1, "must be a positive integer")
POS = _check(lambda v: math.isfinite(v) and v > 0, "must be a positive number")
NONNEG = _check(lambda v: math.isfinite(v) and v >= 0, "must be a non-negative number")
FRACTION = _check(lambda v: math.isfinite(v) and 0 <= v < 1, "must be a fraction in [0, 1)")
YEAR = _check(lambda v: 1900 <= v <= 2200, "must be a calendar year between 1900 and 2200")


def _choice(*allowed: str):
    def callback(value):
        if value is not None and value.strip().lower() not in allowed:
            raise typer.BadParameter(f"must be one of {', '.join(allowed)}; got '{value}'")
        return None if value is None else value.strip().lower()
    return callback


def _quota_rule(value):
    """``--quota-rule``: checked with the simulator's own parser."""
    if value is None:
        return None
    from spmopt.sim.horizon import parse_quota_rule

    try:
        parse_quota_rule(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).splitlines()[0]) from None
    return value


def _low_high(value):
    """A ``LOW:HIGH`` option (a side may be empty), checked with the scenario file's own rule."""
    if value is None:
        return None
    from spmopt.scenario.schema import _bounds

    try:
        _bounds(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


def _iso_date(value):
    from spmopt.data.dates import date_problem

    if value is None:
        return None
    d, problem = date_problem(value)
    if d is None:
        raise typer.BadParameter(problem)
    return d.isoformat()

EXIT = {InputError: 2, InfeasibleError: 3, SolverError: 4}


def _fail(exc: SpmoptError) -> None:
    code = next((c for t, c in EXIT.items() if isinstance(exc, t)), 1)
    kind = {2: "input error", 3: "infeasible", 4: "solver"}.get(code, "error")
    console.print(f"[bold red]{kind}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    for n in getattr(exc, "__notes__", ()):
        console.print(f"[dim]{escape(n)}[/]", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _fail_strict(exc: Exception) -> None:
    """Our errors as usual; an OS error (unreadable file, --out a file) as bad input; any other ValueError as an
    internal error — in one line, exit 1, not dressed up as the user's mistake."""
    if isinstance(exc, SpmoptError):
        _fail(exc)
    if type(exc).__name__ == "ValidationError" and hasattr(exc, "errors"):   # pydantic: a value our checks missed
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e.get("loc", ())) or "value"
        _fail(InputError(f"{where}: {e.get('msg', exc)}"))
    if isinstance(exc, OSError):
        _fail(InputError(f"{type(exc).__name__}: {exc}".splitlines()[0]))
    console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc).splitlines()[0])} "
                  "(please report it)", highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None


@contextlib.contextmanager
def _command(out: Path | None = None, command: str = ""):
    """Run a command's work: its output folder (``out``) is checked before anything else and filled only when
    the work is done (see :class:`spmopt.data.io.OutputFolder`); our errors, OS errors and Ctrl-C end it with
    one line and the exit code of the README."""
    from spmopt.data.io import OutputFolder

    try:
        with heartbeat(console, f"spmopt {command}".strip()) as beat:
            _beat.append(beat)
            try:
                if out is None:
                    yield None
                else:
                    with OutputFolder(out, command=command) as folder:
                        yield folder
            finally:
                _beat.pop()
    except KeyboardInterrupt:
        console.print("[yellow]interrupted:[/] no output was written" + ("" if out is None else
                      f" (what was in {out} is unchanged)"), highlight=False)
        raise typer.Exit(130) from None
    except (SpmoptError, ValueError, OSError) as exc:
        _fail_strict(exc)


def parse_pairs(values: list[str] | None, option: str, *, upper: float | None = None) -> dict[str, float]:
    """``['potential=0.05', 'workload=0.1']`` → ``{'potential': 0.05, 'workload': 0.1}``. Every value must be a
    finite number ≥ 0 (and ≤ ``upper``); a name given twice is an error, not a silent overwrite."""
    out: dict[str, float] = {}
    for v in values or []:
        name, sep, num = v.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"{option}: expected COLUMN=NUMBER, got '{v}'")
        try:
            x = float(num)
        except ValueError:
            raise InputError(f"{option} {name}: '{num.strip()}' is not a number") from None
        if not math.isfinite(x) or x < 0 or (upper is not None and x > upper):
            raise InputError(f"{option} {name}: must be a number from 0" + ("" if upper is None else f" to {upper:g}")
                             + f", got {num.strip()}")
        if name in out:
            raise InputError(f"{option}: '{name}' is given twice ({out[name]:g} and {x:g})")
        out[name] = x
    return out


@app.command()
def align(
    units: Annotated[Path, typer.Option(help="Units file (CSV/Parquet/Excel): unit_id, lat,lon or x,y, measures.")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    territories: Annotated[Path | None, typer.Option(help="Territories file: territory_id, center_unit or "
                                                           "coordinates, optional max_<m>/min_<m> limits.")] = None,
    k: Annotated[int | None, typer.Option("--k", callback=POS_INT,
                                          help="Choose K centres among the units instead.")] = None,
    add_territories: Annotated[int, typer.Option(callback=NONNEG_INT,
        help="What-if: open N new territories, their centres chosen among --add-where units (the current "
        "territories stay; new ones are named new:<unit_id>).")] = 0,
    add_where: Annotated[str | None, typer.Option(
        metavar="QUERY", help="Candidate centre units for --add-territories, as a pandas query on the units "
        "file, e.g. \"state == 'NY'\" or \"lat > 41\". Default: every unit.")] = None,
    remove: Annotated[str | None, typer.Option(
        metavar="IDS|N", help="What-if: close these territories (comma-separated ids), or a number N to let the "
        "optimisation choose which N to close.")] = None,
    distances: Annotated[Path | None, typer.Option(help="Distance table unit_id,territory_id,distance.")] = None,
    balance: Annotated[list[str] | None, typer.Option(
        metavar="COL=TOL", help="Balance this measure to within ±TOL of the mean territory (a fraction: "
        "potential=0.05 is ±5 %); repeatable, one per measure.")] = None,
    capacity: Annotated[list[str] | None, typer.Option(
        metavar="COL=MAX", help="At most MAX of this measure per territory (e.g. workload=1800 hours); repeatable. "
        "max_<col>/min_<col> columns of the territories file set per-territory limits.")] = None,
    weight: Annotated[str | None, typer.Option(help="Weight distance by this measure.")] = None,
    max_disruption: Annotated[list[str] | None, typer.Option(
        metavar="COL=FRAC", help="Move at most this share (0 to 1) of the measure away from the units' "
        "current_territory, e.g. potential=0.2; repeatable.")] = None,
    disruption_price: Annotated[list[str] | None, typer.Option(
        metavar="COL=PRICE", help="Add PRICE × (amount of the measure moved from its current territory) to the "
        "objective, in its units (distance, weighted by --weight if given): a price instead of a limit; "
        "repeatable.")] = None,
    contiguity: Annotated[str | None, typer.Option(
        metavar="FILE|auto", help="Keep every territory connected on this adjacency graph: a file of "
        "unit_a,unit_b pairs, or 'auto' (shared borders of the --geometry polygons; without polygons, Delaunay "
        "neighbours of the unit coordinates). Default: 'auto' when the units have polygons or coordinates, each "
        "territory's base unit locked to it.")] = None,
    geometry: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Unit polygons: GeoPackage, GeoJSON, shapefile or GeoParquet, one feature per unit "
        "(read with geopandas). Contiguity 'auto' then uses their shared borders, units without "
        "lat,lon get a point inside their polygon, and map.png draws them.")] = None,
    geometry_id: Annotated[str, typer.Option(
        metavar="COL", help="Column of the --geometry file holding the unit ids.")] = "unit_id",
    adjacency_rule: Annotated[str, typer.Option(
        callback=_choice("queen", "rook"), metavar="queen|rook", help="Neighbours from --geometry: 'queen' "
        "(any shared point, corners too) or 'rook' (a shared stretch of border).")] = "queen",
    adjacency_tolerance: Annotated[float, typer.Option(
        callback=NONNEG, metavar="METRES", help="Gap or overlap of --geometry borders still counted as shared, "
        "in metres (lat,lon units; else the x,y unit): closes slivers of simplified data.")] = 0.0,
    no_contiguity: Annotated[bool, typer.Option(
        "--no-contiguity", help="Territories need not be connected (account-based territories).")] = False,
    split: Annotated[str | None, typer.Option(
        metavar="IDS|auto", help="Share these units (comma-separated ids) between neighbouring territories, or "
        "'auto': every unit no connected territory can hold whole at the tolerances. assignment.csv then has a "
        "share column.")] = None,
    pareto: Annotated[str | None, typer.Option(
        metavar="disruption", help="Also trace the distance-vs-disruption frontier (epsilon-constraint): writes "
        "pareto.csv, pareto.png and pareto/assignment_<k>.csv.")] = None,
    pareto_points: Annotated[int, typer.Option(callback=POS_INT, help="Number of points on the frontier.")] = 8,
    pareto_measure: Annotated[str | None, typer.Option(
        help="Measure whose moved share is the disruption (default: the --max-disruption measure, else the "
        "first --balance measure, else count).")] = None,
    time_limit: Annotated[float, typer.Option(callback=POS, help="Wall-clock limit per solve, seconds: an outer "
        "guard, reported when it stops a stage (then the answer may depend on the machine's speed).")] = 60.0,
    work: Annotated[float | None, typer.Option(callback=POS, help="Work budget per solve, in units of about a "
        "second on the reference machine: it decides where the search stops, so the same inputs give the same "
        "answer under any load. Default: 0.6 × --time-limit.")] = None,
    mip_gap: Annotated[float, typer.Option(callback=FRACTION, help="Relative optimality gap at which to stop.")] = 1e-4,
    candidates: Annotated[int | None, typer.Option(callback=NONNEG_INT,
        help="Territories per unit in the MIP (those with the smallest Lagrangian reduced cost; the bound stays "
        "valid for all pairs). Default: all pairs up to 250,000, else 2. 0 = all pairs.")] = None,
    regions: Annotated[int | None, typer.Option(callback=NONNEG_INT,
        help="Territories per region in the decomposition stage (regions re-solved exactly in turn). Default: 4 with "
        "contiguity, 2 without (growing to 3 once pairs stop paying), when candidates are restricted, else off. "
        "0 = off.")] = None,
    plot: Annotated[bool, typer.Option(help="Write map.png.")] = True,
    log: Annotated[bool, typer.Option("--log", help="Show the solver log.")] = False,
) -> None:
    """Assign units to territories: balanced (--balance potential=0.05), within capacity (--capacity
    workload=1800), with locks, a disruption limit (--max-disruption potential=0.2) or price, minimising
    distance to the territory centre. Writes assignment.csv, territories.csv, summary.json, map.png."""
    from spmopt.data.io import read_table

    kw = {}
    with _command():   # the options first: a typo costs nothing
        kw = dict(balance=parse_pairs(balance, "--balance"), capacity=parse_pairs(capacity, "--capacity"),
                  max_disruption=parse_pairs(max_disruption, "--max-disruption", upper=1.0),
                  disruption_price=parse_pairs(disruption_price, "--disruption-price"))
        if pareto is not None and pareto.strip().lower() != "disruption":
            raise InputError(f"--pareto: supports 'disruption' only, got '{pareto}'")
        if regions == 1:
            raise InputError("--regions: must be 0 (off) or at least 2, got 1")
        if territories is not None and k is not None:
            raise InputError("give --territories (fixed centres) or --k (centres chosen among the units), not both")
        if no_contiguity and contiguity is not None:
            raise InputError("give --contiguity or --no-contiguity, not both")
        if split is not None and no_contiguity:
            raise InputError("--split shares units between neighbouring territories, joined through the unit: it "
                             "needs contiguity; drop --no-contiguity")
        if split is not None and k is not None:
            raise InputError("--split shares units between fixed territories; it cannot be used with --k")
        if geometry is None and (geometry_id != "unit_id" or adjacency_rule != "queen" or adjacency_tolerance):
            raise InputError("--geometry-id, --adjacency-rule and --adjacency-tolerance apply to --geometry "
                             "polygons; give --geometry FILE")
        if add_where is not None and not add_territories:
            raise InputError("--add-where picks the centres of --add-territories; give --add-territories N")
        what_if = {}
        if add_territories:
            what_if.update(add=add_territories, add_candidates=add_where)
        if remove is not None:
            what_if["remove"] = int(remove) if remove.strip().isdigit() else \
                [t.strip() for t in remove.split(",") if t.strip()]
    with _command(out, "align") as folder:
        u = read_table(units)
        t = read_table(territories) if territories else None
        d = read_table(distances) if distances else None
        if contiguity is not None and contiguity.strip().lower() != "auto":
            contiguity = read_table(Path(contiguity))
        elif contiguity is None:
            from spmopt.territory.contiguity import GEOGRAPHY

            contiguity = False if no_contiguity else GEOGRAPHY
        if geometry is not None:
            kw.update(geometry=geometry, geometry_id=geometry_id, adjacency_rule=adjacency_rule,
                      adjacency_tolerance=adjacency_tolerance)
        _run_align(u, t, d, k=k, contiguity=contiguity, weight=weight, time_limit=time_limit, work=work,
                   mip_gap=mip_gap, split=split,
                   candidates=candidates, regions=regions, folder=folder, plot=plot, log=log,
                   pareto=(pareto_points, pareto_measure) if pareto else None,
                   **kw, **what_if)


def _run_align(u, t, d, *, folder, plot: bool, log: bool, time_limit: float, mip_gap: float, pareto=None,
               candidates: int | None = None, regions: int | None = None, work: float | None = None, **kw):
    from spmopt.report.outputs import write_alignment
    from spmopt.solver import SolveOptions
    from spmopt.territory.problem import make_problem
    from spmopt.territory.solve import solve_problem

    p = make_problem(u, t, d, **kw)
    opts = SolveOptions(time_limit=time_limit, work=work, mip_gap=mip_gap, log=log, candidates=candidates,
                        regions=regions)
    kind = "fixed centres"
    if p.chooses_centres:
        kind = "chosen centres" if p.territories is None else \
            f"what-if: {len(p.must_open)} current kept, {len(p.closed)} closed, " \
            f"{p.k - len(p.must_open)} chosen among {int((p.open_state() == 0).sum()):,} candidate centres"
    from spmopt.work import WORK_SHARE

    budget = work if work is not None else WORK_SHARE * time_limit
    console.print(f"aligning {p.n_units:,} units into {p.n_territories} territories ({kind}); "
                  f"work budget {budget:g} units, time limit {time_limit:g} s")
    t0 = time.perf_counter()
    if p.geometry is not None:
        g = p.geometry.describe()
        console.print(f"polygons from {g['geometry']}: {g['polygons']:,} units ({g['crs']})"
                      + (f"; {g['ignored_features']:,} feature(s) of other ids ignored" if g["ignored_features"]
                         else ""))
    if p.contiguity is not None:
        c = p.contiguity.describe()
        console.print(f"contiguity on {c['graph']}: {c['edges']:,} adjacent pairs, {c['components']} connected "
                      f"piece(s), {c['n_isolated']} unit(s) without neighbours"
                      + (f" (e.g. {', '.join(c['isolated_units'][:5])})" if c["n_isolated"] else ""))
        if c["joined"]:
            unit = "km" if p.geometry is not None and p.geometry.system == "latlon" else "units"
            console.print(f"{len(c['joined'])} island(s) joined to the nearest unit across the gap: "
                          + ", ".join(f"{j['unit_a']}–{j['unit_b']} ({j['distance']:,.1f} {unit})"
                                      for j in c["joined"][:10]) + ("…" if len(c["joined"]) > 10 else ""))
    if log:
        result = solve_problem(p, opts, progress=console.print)
    else:
        with console.status("solving (HiGHS)…") as status:
            result = solve_problem(p, opts, progress=lambda msg: (console.print(msg), status.update(msg)))
    out = folder.path
    paths = write_alignment(result, out, plot=plot)
    _print_summary(result)
    if pareto is not None:
        from spmopt.report.outputs import write_frontier
        from spmopt.territory.pareto import disruption_frontier

        points, measure = pareto
        fr = disruption_frontier(p, opts, measure=measure, points=points, progress=console.print, solved=result)
        paths.update(write_frontier(fr, out, plot=plot))
        tab = Table(title=f"Distance vs disruption on {fr.measure}")
        for c in ("point", "limit", "moved", "distance", "gap", "status"):
            tab.add_column(c, justify="right")
        for _, r in fr.table.iterrows():
            tab.add_row(str(int(r["point"])), f"{100 * r['limit']:.1f} %", f"{100 * r['disruption']:.1f} %",
                        f"{r['distance']:,.1f}", f"{100 * (r['gap'] or 0):.2f} %", r["status"])
        out_console.print(tab)
    console.print(f"done in {time.perf_counter() - t0:.1f} s; wrote "
                  + ", ".join(str(folder.final(v)) for v in paths.values()))
    return result


def _print_summary(result) -> None:
    s = result.summary()
    tab = Table(title=f"Alignment: {s['status']} (gap {100 * (s['gap'] or 0):.3f} %, stage {s['stage']})")
    tab.add_column("figure")
    cur = s.get("current")
    if cur:
        tab.add_column("current", justify="right")
    tab.add_column("optimised", justify="right")

    def row(name, new, old=None):
        tab.add_row(name, *([old] if cur else []), new)

    row("objective", f"{s['objective']:,.1f}", f"{cur['objective']:,.1f}" if cur else None)
    row(f"distance ({s['distance_unit']})", f"{s['distance']:,.1f}", f"{cur['distance']:,.1f}" if cur else None)
    for m, v in s["max_balance_deviation"].items():
        row(f"max deviation {m}", f"±{100 * v:.1f} %",
            f"±{100 * cur['max_balance_deviation'][m]:.1f} %" if cur else None)
    if s["disruption"]:
        for m in list(s["request"]["balance"]) or list(s["disruption"])[:1]:
            row(f"{m} moved", f"{100 * s['disruption'][m]:.1f} %", "0.0 %" if cur else None)
        row("units moved", f"{s['units_moved']:,.{0 if float(s['units_moved']).is_integer() else 1}f}",
            "0" if cur else None)
    out_console.print(tab)
    wi = s.get("what_if")
    if wi:
        out_console.print(f"what-if: opened {', '.join(wi['opened']) or 'none'}; closed "
                          f"{', '.join(wi['closed']) or 'none'}; {len(wi['kept'])} current territories kept")


@app.command()
def generate(
    units: Annotated[int, typer.Option("--units", callback=POS_INT, help="Number of units.")],
    territories: Annotated[int, typer.Option("--territories", callback=POS_INT, help="Number of territories.")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    seed: Annotated[int, typer.Option(callback=NONNEG_INT, help="Random seed.")] = 0,
) -> None:
    """Write a seeded synthetic instance: units.csv (with a current alignment), territories.csv,
    adjacency.csv."""
    from spmopt.data.generate import generate as gen

    with _command(out, "generate") as folder:
        try:
            inst = gen(units, territories, seed)
        except ValueError as exc:   # the generator's own checks of its arguments
            raise InputError(str(exc).splitlines()[0]) from None
        paths = inst.write(folder.path)
    console.print("wrote " + ", ".join(str(folder.final(p)) for p in paths.values()))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder (not make demo's out/demo, which holds a scenario "
                                           "run).")] = Path("out/align-demo"),
    time_limit: Annotated[float, typer.Option(callback=POS, help="Wall-clock guard per solve, seconds (only a "
                                              "guard: --work decides where the search stops).")] = 60.0,
    work: Annotated[float, typer.Option(callback=POS, help="Work budget per solve, in units of about a second on "
                                        "the reference machine (see spmopt align --work); the demo scenario's "
                                        "12 gives its answer on any machine.")] = 12.0,
) -> None:
    """Realign the shipped North-East dataset (217 counties, 10 reps; 2010 Census) with the request of the demo
    scenario's align stage (scenarios/demo.yaml, what make demo runs): connected territories on the county
    adjacency, potential balanced to ±5 % and workload to ±15 %, at most 50 % of potential moved, New York City's
    five counties shared between neighbouring territories; compared with the current alignment. Writes the
    input files to OUT/input and the alignment's files (assignment.csv, territories.csv, summary.json, map.png)
    to OUT. make demo also traces the distance-vs-disruption frontier, sets quotas and simulates plans."""
    from spmopt.data.datasets import DEMO_ALIGN, northeast

    request = {k: v for k, v in DEMO_ALIGN.items() if k not in ("work", "time_limit", "mip_gap")}
    with _command(out, "demo") as folder:
        inst = northeast()
        paths = inst.write(folder.path / "input")
        console.print("demo data (US Census 2010, North-East counties) written to "
                      f"{folder.final(Path(paths['units']).parent)}")
        _run_align(inst.units, inst.territories, None, folder=folder, plot=True, log=False, time_limit=time_limit,
                   work=work, mip_gap=DEMO_ALIGN["mip_gap"], contiguity=inst.adjacency, geometry=inst.geometry,
                   **request)


Changes = Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="Change a setting of the "
                                                     "scenario for this run, e.g. --set simulate.trials=200 (value "
                                                     "read as YAML); repeatable.")]


def _stage_fail(exc: Exception) -> None:
    stage = getattr(exc, "stage", None)
    if stage == "store":
        exc = exc if isinstance(exc, SpmoptError) else InputError(f"the run store: {str(exc).splitlines()[0]}")
    elif stage and stage not in ("inputs", "finish") and isinstance(exc, SpmoptError):
        console.print(f"[dim]stage '{stage}' failed; no output folder was written[/]", highlight=False)
    _fail_strict(exc)


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML).")],
    changes: Changes = None,
) -> None:
    """Check a scenario and every file it names without running it: the schema (errors name the key and its
    line), each data file read and validated as its stage reads it, plans and stress cases, and the alignment
    request's pre-solve feasibility checks. Exit code 0 when valid, 2 on bad input, 3 when known infeasible."""
    from spmopt.scenario import check_scenario, load_scenario, parse_changes

    try:
        scn = load_scenario(scenario, parse_changes(changes))
        with console.status("checking") as status:
            checked = check_scenario(scn, progress=status.update)
    except (SpmoptError, ValueError, OSError) as exc:
        _fail_strict(exc)
    out_console.print(f"{scenario}: scenario '{scn.name}' is valid — stages {' → '.join(scn.stages)}",
                      highlight=False, soft_wrap=True)
    for key, f in checked["files"].items():
        rows = "" if f["rows"] is None else f" ({f['rows']:,} rows)"
        out_console.print(f"  {key:22s} {f['path']}{rows}", highlight=False, soft_wrap=True)
    if "align" in checked:
        a = checked["align"]
        out_console.print(f"  align: {a['units']:,} units into {a['territories']} territories"
                          + (f", contiguity on {a['contiguity']}" if a["contiguity"] else "")
                          + "; pre-solve checks passed", highlight=False, soft_wrap=True)
    if "quota" in checked:
        q = checked["quota"]
        out_console.print(f"  quota: {q['method']} on the {q['on']} holders ({q['holders']}); bounds checked against "
                          "the target", highlight=False, soft_wrap=True)
    if "simulate" in checked:
        s = checked["simulate"]
        out_console.print(f"  simulate: {len(s['plans'])} plan(s) × stress {', '.join(s['stress_cases'])}"
                          + ("" if s["reps"] is None else f"; {s['reps']} reps"), highlight=False,
                          soft_wrap=True)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML).")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default: out/<scenario name>). A run replaces "
                                                  "it as a whole, and only once every file is written.")] = None,
    store: Annotated[Path | None, typer.Option(help="Run store (DuckDB) to record the run in (default: "
                                                    "runs.duckdb beside the output folder).")] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not record the run.")] = False,
    changes: Changes = None,
    log: Annotated[bool, typer.Option("--log", help="Show the solver log.")] = False,
) -> None:
    """Run a scenario: align → quota → simulate, as the file says. Writes each stage's files (align/, quota/,
    simulate/), report.html (self-contained), run.json, and records the run in the run store."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from spmopt.scenario import load_scenario, parse_changes, run_scenario

    t0 = time.perf_counter()
    if no_store and store is not None:
        _fail(InputError("give --store or --no-store, not both"))
    try:
        scn = load_scenario(scenario, parse_changes(changes))
        out = out or Path("out") / scn.name
        with heartbeat(console, f"spmopt run {scenario.name}") as beat, \
                Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                         TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("simulating", total=1, visible=False)

            def say(msg: str) -> None:
                bar.console.print(f"[dim]{time.perf_counter() - t0:6.1f} s[/] {msg}", highlight=False)

            res = run_scenario(scn, out, store=False if no_store else (store or True), progress=say, log=log,
                               workers=os.cpu_count() or 1,
                               sim_progress=lambda done, total: (
                                   bar.update(task, completed=done, total=total, visible=done < total),
                                   beat.status(f"simulating: {done:,}/{total:,} trials")))
    except KeyboardInterrupt as exc:
        if getattr(exc, "stage", None) == "store":
            console.print(f"[yellow]interrupted:[/] the run's files are complete in {out}, but it was not recorded "
                          "in the run store")
        else:
            console.print("[yellow]interrupted:[/] no output folder was written (an earlier run there is unchanged)")
        raise typer.Exit(130) from None
    except (SpmoptError, ValueError, OSError) as exc:
        _stage_fail(exc)
    except Exception as exc:   # the run store's own errors (a file that is not a DuckDB database …)
        if getattr(exc, "stage", None) != "store":
            raise
        _stage_fail(exc)
    _print_run(res)


def _print_run(res) -> None:
    r = res.run
    t = Table(title=f"Scenario '{r['scenario']}': run {r['run_id']}", title_justify="left")
    t.add_column("stage")
    t.add_column("result")
    t.add_column("seconds", justify="right")
    s = r["summary"]
    if "align" in s:
        a = s["align"]
        dev = ", ".join(f"{m} ±{100 * v:.1f}%" for m, v in a["max_balance_deviation"].items())
        um = float(a["units_moved"])
        moved = "" if not a["disruption"] else f"; {um:,.{0 if um.is_integer() else 1}f} units moved"
        t.add_row("align", f"{a['status']} (gap {100 * (a['gap'] or 0):.2f}%): distance {a['distance']:,.0f} "
                           f"{a['distance_unit']}; {dev}{moved}", f"{r['seconds']['align']:.1f}")
    if "quota" in s:
        q = s["quota"]
        pa = q.get("p_attain")
        t.add_row("quota", f"{q['method'].replace('_', ' ')}: {q['holders']} quotas summing to {q['sum']:,.0f}"
                  + (f"; P(attain) {pa['min']:.0%}–{pa['max']:.0%}" if pa else ""), f"{r['seconds']['quota']:.1f}")
    if "simulate" in s:
        for i, row in enumerate(s["simulate"]):
            cos = "—" if row["cost_of_sales"] is None else f"{100 * row['cost_of_sales']:.2f}%"
            t.add_row("simulate", f"{row['plan']} · {row['stress']}: cost {row['cost_mean']:,.0f} (P90 "
                                  f"{row['cost_p90']:,.0f}), cost of sales {cos}",
                      f"{r['seconds']['simulate']:.1f}" if i == 0 else "")
    Console(width=max(out_console.width, 120)).print(t)
    for n in r["notes"]:
        console.print(f"[yellow]note:[/] {n}", highlight=False, soft_wrap=True)
    written = (["report.html"] if res.scenario.report.html else []) + ["run.json"] + [st + "/" for st in r["stages"]]
    console.print(f"wrote {res.out}/ ({', '.join(written)}) in "
                  f"{r['seconds']['total']:.1f} s" + (f"; recorded in {res.store}" if res.store else ""),
                  highlight=False)


runs_app = typer.Typer(no_args_is_help=True, help="The run store: list runs, show one, compare two.")
app.add_typer(runs_app, name="runs")
StoreOption = Annotated[Path, typer.Option(help="Run store (DuckDB file; spmopt run writes runs.duckdb beside "
                                                "its --out folder).")]
RunRef = "its id (or a unique start of it), a scenario name (its latest run), 'latest', or NAME~1 for the run " \
         "before the latest"


def _fit(table: Table) -> Console:
    """A console wide enough for ``table`` at its natural width (never narrower than the terminal), so that no
    run id is cut or folded; the path columns fold within their own maximum width."""
    from rich.measure import Measurement

    probe = Console(width=1000)
    need = Measurement.get(probe, probe.options, table).maximum
    return Console(width=max(out_console.width, need), soft_wrap=False)


def _folder_text(r) -> str:
    """Where a run's files are: its folder, or what became of it."""
    path = escape(str(r["out_dir"]))
    if r["folder"] == "overwritten":
        return f"[yellow]overwritten by {r['now_holds']}[/]\n[dim](was {path})[/]"
    if r["folder"] == "gone":
        return f"[yellow]gone[/] [dim](was {path})[/]"
    return path


@runs_app.command("list")
def runs_list(
    store: StoreOption = Path("out/runs.duckdb"),
    scenario: Annotated[str | None, typer.Option(help="Only this scenario's runs.")] = None,
) -> None:
    """The runs in the store, newest first, with full run ids. The output column says where each run's files
    are: a folder that a later run replaced shows 'overwritten by <run id>', a deleted one 'gone'."""
    from spmopt.report.store import RunStore

    try:
        with RunStore(store, read_only=True) as st:
            df = st.runs_with_folders(scenario)
        if df.empty:
            raise InputError(f"no runs{'' if scenario is None else f' of scenario {scenario!r}'} in {store}")
    except (SpmoptError, OSError) as exc:
        _fail_strict(exc)
    id_width = int(df["run_id"].str.len().max())
    t = Table(title=f"Runs in {store}", title_justify="left")
    t.add_column("run id", no_wrap=True, min_width=id_width)
    t.add_column("scenario", overflow="fold")
    t.add_column("started (UTC)", no_wrap=True)
    t.add_column("seconds", justify="right", no_wrap=True)
    t.add_column("stages", overflow="fold")
    t.add_column("inputs", no_wrap=True)
    t.add_column("output", overflow="fold", max_width=max(60, id_width + 15),
                 min_width=id_width + 15 if (df["folder"] == "overwritten").any() else None)
    for _, r in df.iterrows():
        t.add_row(r["run_id"], escape(str(r["scenario"])), str(r["started"])[:19], f"{r['seconds']:.1f}",
                  r["stages"], r["content_hash"][:8], _folder_text(r))
    _fit(t).print(t)
    gone = int((df["folder"] != "here").sum())
    if gone:
        console.print(f"{gone} of {len(df)} run(s) no longer have their files; their figures stay in the store "
                      "(spmopt runs show ID, spmopt runs compare A B)", highlight=False)


_PERCENT = {"gap", "max_deviation", "moved_share", "cost_of_sales", "share_at_or_above_quota"}


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help=f"Run: {RunRef}.")],
    store: StoreOption = Path("out/runs.duckdb"),
    all_rows: Annotated[bool, typer.Option("--all", help="Show every recorded figure, not only the headline "
                                                         "ones.")] = False,
) -> None:
    """One run: its scenario, start time, inputs hash, settings, stage timings and headline results, and its
    output folder — whether it still holds this run or a later run replaced it."""
    from spmopt.report.store import RunStore, _flatten

    try:
        with RunStore(store, read_only=True) as st:
            info = st.show(run)
    except (SpmoptError, OSError) as exc:
        _fail_strict(exc)
    out = Console(soft_wrap=True)
    say = lambda text: out.print(text, highlight=False)   # noqa: E731
    say(f"run [bold]{info['run_id']}[/] of scenario '{escape(str(info['scenario']))}'")
    timings = info["timings"]
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "total")
    say(f"  started        {str(info['started'])[:19]} UTC")
    say(f"  seconds        {info['seconds']:.1f}" + (f" ({stages})" if stages else ""))
    say(f"  stages         {info['stages']}")
    say(f"  inputs hash    {info['content_hash']}")
    say(f"  scenario file  {escape(str(info['scenario_file']))}")
    folder = {"here": "still holds this run", "gone": "[yellow]holds no run now (deleted or moved)[/]",
              "overwritten": f"[yellow]overwritten by run {info['now_holds']}[/]"}[info["folder"]]
    say(f"  output folder  {escape(str(info['out_dir']))} — {folder}")
    v = info["versions"] or {}
    say(f"  versions       spmopt {v.get('spmopt', '?')}, python {v.get('python', '?')}, highspy "
        f"{v.get('highspy', '?')}, pyomo {v.get('pyomo', '?')}")
    flat = _flatten(info["settings"] or {})
    say(f"settings ({sum(v is None for v in flat.values())} not set, left out):")
    for key, value in flat.items():
        if value is not None:
            say(f"  {escape(key)} = {escape(_setting(value))}")
    rows = info["metrics"] if all_rows else info["headline"]
    t = Table(title="Figures" if all_rows else "Headline results (--all shows every figure)", title_justify="left")
    for c in ("stage", "item", "figure", "value"):
        t.add_column(c, justify="right" if c == "value" else "left", overflow="fold")
    for _, r in rows.iterrows():
        val = r["value"]
        shown = f"{100 * val:.2f} %" if r["metric"] in _PERCENT and val == val else _num(val)
        t.add_row(r["stage"], escape(str(r["item"])), r.get("label", r["metric"]), shown)
    if len(rows):
        _fit(t).print(t)
    for n in info["notes"] or []:
        say(f"note: {escape(str(n))}")


@runs_app.command("compare")
def runs_compare(
    a: Annotated[str, typer.Argument(help=f"Run: {RunRef}.")],
    b: Annotated[str, typer.Argument(help="The other run (same forms).")],
    store: StoreOption = Path("out/runs.duckdb"),
    csv: Annotated[Path | None, typer.Option(help="Also write the comparison to this CSV file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write a self-contained HTML page (no scripts, no network): "
                                                   "the two runs, the settings that differ, and every figure side "
                                                   "by side with the changed ones highlighted.")] = None,
    all_rows: Annotated[bool, typer.Option("--all", help="Show unchanged figures too.")] = False,
) -> None:
    """Two runs side by side: every figure of every stage (alignment, quotas, plan cost per stress case) with
    the change, and the settings that differ."""
    from spmopt.data.io import write_csv_atomic
    from spmopt.report.store import RunStore, settings_diff

    try:
        from spmopt.data.io import output_file

        if csv is not None:
            output_file(csv, option="--csv")
        if html is not None:
            output_file(html, option="--html", suffixes=(".html", ".htm"))
        with RunStore(store, read_only=True) as st:
            cmp = st.compare(a, b)
            ia, ib = st.run_info(cmp.attrs["a"]), st.run_info(cmp.attrs["b"])
        if csv is not None:
            write_csv_atomic(cmp, csv, float_format="%.12g")
        if html is not None:
            from spmopt.report.compare import write_comparison

            write_comparison(cmp, ia, ib, html)
    except (SpmoptError, OSError) as exc:
        _fail_strict(exc)
    same = ia["content_hash"] == ib["content_hash"]
    out = Console(soft_wrap=True)   # the comparison is the output: on stdout, so `> file` keeps all of it
    out.print(f"A = {ia['run_id']} ({ia['scenario']}), B = {ib['run_id']} ({ib['scenario']}): "
                  + ("same inputs (settings and file contents)" if same else "inputs differ"), highlight=False)
    for key, va, vb in settings_diff(ia["settings"], ib["settings"]):
        out.print(f"  setting {key}: {_setting(va)} → {_setting(vb)}", highlight=False)
    t = Table(title="Comparison", title_justify="left")
    for c in ("stage", "item", "metric", "A", "B", "change", "change %"):
        t.add_column(c, justify="left" if c in ("stage", "item", "metric") else "right")
    shown = timings = results = 0
    from spmopt.report.compare import differs

    for _, r in cmp.iterrows():
        changed = differs(r["a"], r["b"])        # beyond floating-point noise
        timing = "seconds" in str(r["metric"])   # wall-clock figures: they differ between any two runs
        if changed:
            timings += timing
            results += not timing
        if not (all_rows or (changed and not timing)):
            continue
        shown += 1
        t.add_row(r["stage"], r["item"], r["metric"], _num(r["a"]), _num(r["b"]), _num(r["change"]),
                  "—" if r["change_pct"] != r["change_pct"] else f"{r['change_pct']:+.1f}%")
    if shown:
        Console(width=max(out_console.width, 130)).print(t)
    if not all_rows:
        n_timing = int(cmp["metric"].astype(str).str.contains("seconds").sum())
        what = (f"{results} of {len(cmp) - n_timing} result figures differ" if results or not same else
                f"the {len(cmp) - n_timing} result figures are identical")
        written = [str(f) for f in (csv, html) if f is not None]
        out.print(f"{what}; {timings} of {n_timing} wall-clock timings differ (--all shows every figure)"
                      + (f"; wrote {', '.join(written)}" if written else ""), highlight=False)
    elif html is not None or csv is not None:
        out.print("wrote " + ", ".join(str(f) for f in (csv, html) if f is not None), highlight=False)


def _setting(v) -> str:
    from spmopt.report.compare import setting

    return setting(v)


def _num(v) -> str:
    from spmopt.report.compare import number

    return number(v)


plan_app = typer.Typer(no_args_is_help=True, help="Incentive plan files: check, plot and list the library.")
app.add_typer(plan_app, name="plan")


@app.command()
def backtest(
    plan: Annotated[list[Path], typer.Option("--plan", help="Plan file (YAML); repeat to compare plans.")],
    actuals: Annotated[Path, typer.Option(help="Credited history: rep_id,date,measure,value[,product,segment].")],
    quotas: Annotated[Path, typer.Option(help="Quotas: rep_id,period,measure,quota (2025, 2025-Q1 or 2025-01).")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    revenue_measure: Annotated[str | None, typer.Option(
        help="Measure that is revenue for cost of sales (default: the plan's revenue_measure, else the measure "
             "of its first bonus or commission).")] = None,
    plot: Annotated[bool, typer.Option(help="Write curve_<plan>.png.")] = True,
) -> None:
    """What would each plan have paid on this history? Writes payouts.csv (plan,rep_id,period,component,amount),
    summary.json (per plan: cost, cost of sales, reps at quota, payout percentiles, pay-performance
    correlation) and a payout-curve PNG per plan."""
    import warnings

    from spmopt.data.io import read_table
    from spmopt.plans import PlanWarning, load_plan
    from spmopt.plans.backtest import backtest as run_backtest
    from spmopt.plans.backtest import read_actuals, read_quotas
    from spmopt.report.outputs import write_backtest

    t0 = time.perf_counter()
    with _command(out, "backtest") as folder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanWarning)
            plans = [load_plan(p) for p in plan]
        for p in plans:
            for w in p.warnings:
                console.print(f"[yellow]warning:[/] {p.source}: {w}", highlight=False, soft_wrap=True)
        a = read_actuals(read_table(actuals))
        q = read_quotas(read_table(quotas))
        console.print(f"back-testing {len(plans)} plan(s) on {len(a):,} credited rows, "
                      f"{q['rep_id'].nunique()} reps with quotas")
        results = run_backtest(plans, a, q, revenue_measure=revenue_measure)
        paths = write_backtest(results, folder.path, plot=plot, inputs={
            "plans": [str(p) for p in plan], "actuals": str(actuals), "quotas": str(quotas)})
    t = Table(title="Back-test", title_justify="left")
    for col in ("plan", "reps", "revenue", "cost", "cost of sales", "at/above quota", "median pay", "pay-perf r"):
        t.add_column(col, justify="left" if col == "plan" else "right")
    for r in results:
        s = r.summary
        t.add_row(s["plan"], str(s["reps"]), _money(s["revenue"]), _money(s["total_cost"]),
                  "—" if s["cost_of_sales"] is None else f"{100 * s['cost_of_sales']:.2f}%",
                  "—" if s["share_at_or_above_quota"] is None else f"{100 * s['share_at_or_above_quota']:.0f}%",
                  _money(s["payout_per_rep"].get("p50")),
                  "—" if s["pay_performance_correlation"] is None else f"{s['pay_performance_correlation']:.2f}")
        ex = s["excluded_actuals"]
        if ex["rows"]:
            first = ", ".join(f"row {e['row']} ({e['rep_id']}, {e['date']}, {e['measure']} {e['value']:,.2f})"
                              for e in ex["examples"][:3])
            console.print(f"[yellow]note:[/] {s['plan']}: {ex['rows']} credited row(s) of {actuals} not paid "
                          f"({ex['reason']}), e.g. {first}; the first 5 in summary.json", highlight=False,
                          soft_wrap=True)
        for n in s["notes"]:
            if n not in r.plan.warnings:
                console.print(f"[yellow]note:[/] {s['plan']}: {n}", highlight=False)
    Console(width=max(out_console.width, 132)).print(t)
    console.print(f"wrote {', '.join(Path(p).name for p in paths.values())} to {out} "
                  f"({time.perf_counter() - t0:.1f} s)")


@app.command()
def simulate(
    reps: Annotated[Path, typer.Option(help="Reps: rep_id,quota,opportunities_per_year,win_rate,deal_size_mean,"
                                            "deal_size_cv[,cycle_days,skill].")],
    plan: Annotated[list[Path], typer.Option("--plan", help="Plan file (YAML); repeat to compare plans.")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    trials: Annotated[int, typer.Option(callback=POS_INT, help="Simulated years.")] = 1000,
    seed: Annotated[int, typer.Option(callback=NONNEG_INT,
                                      help="Seed: trial t draws from SeedSequence(seed, spawn_key=(t,)).")] = 0,
    stress: Annotated[Path | None, typer.Option(help="Stress cases (YAML); default: one flat 'base' case.")] = None,
    behaviour: Annotated[str, typer.Option(callback=_choice("none", "effort", "timing", "full"),
                                           help="none | effort | timing | full: reps respond to each plan "
                                                "(effort, and holding back or pulling deals at period ends; "
                                                "each rep's dynamic programme solved once per plan and case).")
                         ] = "none",
    engine: Annotated[str, typer.Option(callback=_choice("des", "vector", "auto"),
                                        help="vector (NumPy fast path) | des (SimPy event model, the "
                                             "reference; one year) | auto (vector).")] = "auto",
    years: Annotated[int, typer.Option(callback=POS_INT, help="Consecutive years simulated (vector engine); "
                                                              "the tables get a 'year' column.")] = 1,
    quota_rule: Annotated[str, typer.Option(callback=_quota_rule,
                                            help="Next year's quota: fixed | growth:G | ratchet[:G[:W]] "
                                                 "(W: weight of last year's sales).")] = "fixed",
    workers: Annotated[int | None, typer.Option(callback=POS_INT,
                                                help="Local worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")] = None,
    quotas: Annotated[Path | None, typer.Option(help="Quotas rep_id,quota (instead of the reps file's).")] = None,
    year: Annotated[int | None, typer.Option(callback=YEAR,
                                             help="Calendar year simulated (default: the plans' spiff year, "
                                                  "else 2025).")] = None,
    chunk_size: Annotated[int | None, typer.Option(callback=POS_INT,
                                                   help="Trials per chunk (default: automatic).")] = None,
    plot: Annotated[bool, typer.Option(help="Write attainment.png, cost_cdf.png, monthly.png.")] = True,
) -> None:
    """Monte Carlo of attainment, pay and plan cost for each plan and stress case. Writes summary.csv (one row
    per plan x stress case), rep_trials.parquet, monthly.csv, run.json and plots."""
    import warnings

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from spmopt.plans import PlanWarning
    from spmopt.report.outputs import write_simulation
    from spmopt.sim import simulate as run_simulation

    if workers is not None and scheduler is not None:
        _fail(InputError("give --workers or --scheduler, not both"))
    t0 = time.perf_counter()
    with _command(out, "simulate") as folder:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PlanWarning)
                with Progress(TextColumn("simulating"), BarColumn(),
                              TextColumn("{task.completed:,}/{task.total:,} trials"), TimeElapsedColumn(),
                              TimeRemainingColumn(), console=console, transient=True) as bar:
                    task = bar.add_task("sim", total=trials)
                    res = run_simulation(reps, list(plan), stress, trials=trials, seed=seed, behaviour=behaviour,
                                         engine=engine, scheduler=scheduler, years=years, quota_rule=quota_rule,
                                         policy_progress=lambda done, total: _status(
                                             f"solving the reps' policies: {done}/{total} blocks"),
                                         workers=None if scheduler else (workers or os.cpu_count() or 1),
                                         chunk_size=chunk_size, year=year, quotas=quotas,
                                         progress=lambda done, total: (bar.update(task, completed=done),
                                                                       _status(f"{done:,}/{total:,} trials")))
        except ValueError as exc:   # the simulator's checks of its settings (a pydantic message in one line)
            if isinstance(exc, SpmoptError) or type(exc).__name__ == "ValidationError":
                raise
            raise InputError(str(exc).splitlines()[0]) from None
        for n in res.notes:
            console.print(f"[yellow]note:[/] {n}", highlight=False, soft_wrap=True)
        paths = write_simulation(res, folder.path, plot=plot, inputs={
            "reps": str(reps), "plans": [str(p) for p in plan], "stress": None if stress is None else str(stress),
            "quotas": None if quotas is None else str(quotas)})
    s = res.summary()
    t = Table(title=f"Simulation: {res.trials:,} trials x {len(res.rep_ids)} reps, behaviour "
                    f"{res.spec.behaviour.mode}, engine {res.spec.engine}", title_justify="left")
    for col in ("plan", "stress", "revenue", "cost", "cost P95", "CVaR95", "cost of sales", ">= quota",
                "at cap", "uplift"):
        t.add_column(col, justify="left" if col in ("plan", "stress") else "right")
    for _, r in s.iterrows():
        t.add_row(str(r["plan"]), str(r["stress"]) + (f" y{r['year']}" if "year" in s else ""),
                  _money(r["revenue_mean"]), _money(r["cost_mean"]),
                  _money(r["cost_p95"]), _money(r["cost_cvar95"]), f"{100 * r['cost_of_sales']:.2f}%",
                  f"{100 * r['share_at_or_above_quota']:.0f}%", f"{100 * r['share_at_cap']:.0f}%",
                  f"{100 * r['revenue_uplift']:+.1f}%")
    Console(width=max(out_console.width, 140)).print(t)
    console.print(f"wrote {', '.join(Path(p).name for p in paths.values())} to {out} "
                  f"({time.perf_counter() - t0:.1f} s, {res.events:,} events)" if res.events else
                  f"wrote {', '.join(Path(p).name for p in paths.values())} to {out} "
                  f"({time.perf_counter() - t0:.1f} s)")


@app.command()
def calibrate(
    history: Annotated[Path, typer.Option(help="Credited history: rep_id,date,measure,value[,product,segment].")],
    plan: Annotated[Path, typer.Option(help="The plan the history was paid under (YAML, quarterly).")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    quotas: Annotated[Path | None, typer.Option(
        help="Quotas: rep_id,period,measure,quota (default: quotas.csv beside the history).")] = None,
    reps: Annotated[Path | None, typer.Option(
        help="rep_id,deal_size_mean,deal_size_cv: deal sizes to use instead of estimating them from the deals.")
                    ] = None,
    trials: Annotated[int, typer.Option(callback=POS_INT, help="Simulated years per rep-year of history (S).")] = 100,
    seed: Annotated[int, typer.Option(callback=NONNEG_INT,
                                      help="Seed of the common random numbers (the same at every evaluation).")] = 0,
    evaluations: Annotated[int, typer.Option(callback=POS_INT,
                                             help="Budget of model evaluations (each solves every rep's programme "
                                                  "and simulates).")] = 60,
    plot: Annotated[bool, typer.Option(help="Write fit.png.")] = True,
) -> None:
    """Estimate the behaviour (effort curvature, timing cost) and the reps from sales history under a known plan,
    by simulated method of moments. Writes calibration.json, fit.csv, fit.png, behaviour.yaml and reps.csv."""
    import warnings

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from spmopt.data.io import read_table
    from spmopt.plans import PlanWarning, load_plan
    from spmopt.sim.calibrate import calibrate as run_calibration
    from spmopt.sim.calibrate import read_history, read_sizes, write_calibration

    t0 = time.perf_counter()
    with _command(out, "calibrate") as folder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanWarning)
            p = load_plan(plan)
        q_path = quotas if quotas is not None else history.parent / "quotas.csv"
        if quotas is None and not q_path.exists():
            raise InputError(f"no quotas: give --quotas (there is no quotas.csv beside {history})")
        h = read_history(read_table(history), read_table(q_path), p)
        sizes = None if reps is None else read_sizes(read_table(reps))
        console.print(f"calibrating on {len(h)} rep-years of {len(h.reps)} reps under '{p.name}' "
                      f"({trials} simulated years per rep-year, at most {evaluations} evaluations)")
        with Progress(TextColumn("calibrating"), BarColumn(), TextColumn("{task.completed}/{task.total} evaluations"),
                      TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task("", total=evaluations)

            def tick(done: int, total: int, message: str) -> None:
                bar.update(task, completed=done, total=max(total, done), description=message)
                _status(f"{done}/{total} evaluations: {message}")

            cal = run_calibration(h, p, trials=trials, seed=seed, evaluations=evaluations, sizes=sizes, progress=tick)
        for n in cal.notes:
            console.print(f"[yellow]note:[/] {n}", highlight=False, soft_wrap=True)
        paths = write_calibration(cal, folder.path, plot=plot, inputs={
            "history": str(history), "plan": str(plan), "quotas": str(q_path),
            "reps": None if reps is None else str(reps)})
    t = Table(title=f"Calibration: {cal.rep_years} rep-years, {cal.evaluations} evaluations ({cal.status})",
              title_justify="left")
    for col in ("parameter", "estimate", "se", "95% CI"):
        t.add_column(col, justify="left" if col == "parameter" else "right")
    for _, r in cal.parameters.iterrows():
        ci = "not identified" if not r["identified"] else f"[{r['ci_low']:.3g}, {r['ci_high']:.3g}]"
        t.add_row(str(r["parameter"]), f"{r['estimate']:.3g}", "—" if not r["identified"] else f"{r['se']:.3g}", ci)
    Console(width=max(out_console.width, 100)).print(t)
    console.print(f"wrote {', '.join(Path(x).name for x in paths.values())} to {out} "
                  f"({time.perf_counter() - t0:.1f} s)")


@app.command()
def quota(
    target: Annotated[float, typer.Option(callback=POS,
                                          help="Company target the quotas add up to (before over-assignment).")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    units: Annotated[Path | None, typer.Option(help="Units file: unit_id, potential, history, … (summed per "
                                                    "territory).")] = None,
    assignment: Annotated[Path | None, typer.Option(help="Assignment unit_id,territory_id (default: the units' "
                                                         "current_territory).")] = None,
    territories: Annotated[Path | None, typer.Option(help="Per-territory history, last_quota, floor, ceiling, "
                                                          "fixed_quota, rep_id.")] = None,
    reps: Annotated[Path | None, typer.Option(help="Reps file (one row per rep) instead of units: rep_id, "
                                                   "potential, history, … and optionally the simulator's "
                                                   "columns.")] = None,
    method: Annotated[str, typer.Option(callback=_choice("potential", "history", "blend", "rollup", "equal-chance",
                                                         "equal_chance"),
                                        help="potential | history | blend | rollup | equal-chance.")] = "potential",
    weights: Annotated[list[str] | None, typer.Option("--weight", metavar="PART=W",
                                                      help="Blend weight, repeatable: potential=0.6 "
                                                           "history=0.4 (rollup too).")] = None,
    deviation: Annotated[str, typer.Option(callback=_choice("l1", "relative"),
                                           help="l1 (least quota moved) | relative (least % moved).")] = "l1",
    over_assignment: Annotated[float, typer.Option(callback=NONNEG,
                                                   help="Σ quotas = target × (1 + this); 0.05 = 5 %.")] = 0.0,
    growth: Annotated[str | None, typer.Option(metavar="LOW:HIGH", callback=_low_high,
                                               help="Growth vs history, fractions: -0.05:0.25 (a side may be "
                                                    "empty).")] = None,
    ratio: Annotated[str | None, typer.Option(metavar="LOW:HIGH", callback=_low_high,
                                              help="Quota/potential bounds: 0.4:0.6.")] = None,
    floor: Annotated[float | None, typer.Option(callback=NONNEG, help="Lowest quota for everyone.")] = None,
    ceiling: Annotated[float | None, typer.Option(callback=POS, help="Highest quota for everyone.")] = None,
    fix: Annotated[list[str] | None, typer.Option(metavar="ID=QUOTA", help="Keep this quota, repeatable.")] = None,
    round_to: Annotated[float | None, typer.Option("--round", callback=POS,
                                                   help="Round quotas to multiples of this; the sum "
                                                                    "stays exact.")] = None,
    simulate: Annotated[bool | None, typer.Option(help="Report P(attain) from the simulator (default: when the "
                                                       "reps file has its columns).")] = None,
    trials: Annotated[int, typer.Option(callback=_check(lambda v: v >= 100, "must be at least 100"),
                                        help="Simulated years behind equal-chance and P(attain).")] = 4000,
    seed: Annotated[int, typer.Option(callback=NONNEG_INT,
                                      help="Simulation seed (equal chance is checked on seed + 1).")] = 0,
    stress: Annotated[Path | None, typer.Option(help="Stress file for the simulation.")] = None,
    stress_case: Annotated[str | None, typer.Option(help="Stress case to use (default: the first).")] = None,
    potential_col: Annotated[str, typer.Option(help="Column holding potential.")] = "potential",
    history_col: Annotated[str, typer.Option(help="Column holding last period's sales.")] = "history",
    rollup_col: Annotated[str | None, typer.Option(help="Column of account-level expectations (method "
                                                        "rollup).")] = None,
    time_limit: Annotated[float, typer.Option(callback=POS, help="Solver time limit, seconds (the quota model "
                                              "stops on 0.6 × it in work units, the same on any machine).")] = 60.0,
    plot: Annotated[bool, typer.Option(help="Write quotas.png.")] = True,
) -> None:
    """Quotas that add up exactly to the target: by potential, history, a blend, an account roll-up or equal
    chance of attainment, as close to that baseline as the bounds allow. Writes quotas.csv, summary.json and
    quotas.png."""
    import warnings

    from spmopt.data.io import read_table
    from spmopt.quota import QuotaWarning, basis_from_table, basis_from_units, set_quotas
    from spmopt.report.outputs import write_quotas
    from spmopt.solver import SolveOptions

    t0 = time.perf_counter()
    with _command():
        if (units is None) == (reps is None):
            raise InputError("give --units (with --assignment) or --reps, one of the two")
        if reps is not None and (assignment is not None or territories is not None):
            raise InputError("--assignment and --territories go with --units, not --reps")
        from spmopt.scenario.schema import BLEND_PARTS

        for part in parse_pairs(weights, "--weight"):
            if part not in BLEND_PARTS:
                raise InputError(f"--weight: '{part}' is not a part of the blend (parts: {', '.join(BLEND_PARTS)})")
    with _command(out, "quota") as folder:
        if (units is None) == (reps is None):
            raise InputError("give --units (with --assignment) or --reps, one of the two")
        if reps is not None and (assignment is not None or territories is not None):
            raise InputError("--assignment and --territories go with --units, not --reps")
        if units is not None:
            b = basis_from_units(read_table(units), None if assignment is None else read_table(assignment),
                                 None if territories is None else read_table(territories),
                                 potential=potential_col, history=history_col, rollup=rollup_col)
        else:
            b = basis_from_table(read_table(reps), potential=potential_col, history=history_col,
                                 rollup=rollup_col)
        fixed = parse_pairs(fix, "--fix")
        w = parse_pairs(weights, "--weight") or None
        with console.status("setting quotas") as status, warnings.catch_warnings():
            warnings.simplefilter("ignore", QuotaWarning)   # printed below as a note, with the others
            q = set_quotas(b, target, method, weights=w, deviation=deviation, over_assignment=over_assignment,
                           growth=growth, ratio=ratio, floor=floor, ceiling=ceiling, fixed=fixed, unit=round_to,
                           simulate=simulate, trials=trials, seed=seed, stress=stress, stress_case=stress_case,
                           options=SolveOptions(time_limit=time_limit, mip_gap=1e-9),
                           progress=lambda m: status.update(m))
        for n in q.notes:
            console.print(f"[yellow]note:[/] {n}", highlight=False, soft_wrap=True)
        paths = write_quotas(q, folder.path, plot=plot, inputs={
            "units": None if units is None else str(units), "assignment": None if assignment is None else
            str(assignment), "territories": None if territories is None else str(territories),
            "reps": None if reps is None else str(reps), "stress": None if stress is None else str(stress)})
    _print_quotas(q)
    console.print(f"wrote {', '.join(Path(p).name for p in paths.values())} to {out} "
                  f"({time.perf_counter() - t0:.1f} s)")


def _print_quotas(q) -> None:
    s = q.summary
    who = "territories" if s["id_column"] == "territory_id" else "reps"
    t = Table(title=f"Quotas by {s['method'].replace('_', ' ')} ({s['holders']} {who}): sum "
                    f"{s['sum']:,.2f} = total {s['total']:,.2f}", title_justify="left")
    cols = [c for c in (q.id_column, "quota", "baseline", "change_pct", "growth_pct", "quota_to_potential",
                        "p_attain", "bound") if c in q.table.columns]
    for c in cols:
        t.add_column(c, justify="left" if c in (q.id_column, "bound") else "right")
    rows = q.table if len(q.table) <= 40 else q.table.head(40)
    for _, r in rows.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if c in ("quota", "baseline"):
                cells.append(f"{v:,.0f}")
            elif c in ("change_pct", "growth_pct"):
                cells.append("—" if v != v else f"{v:+.1f}%")
            elif c == "quota_to_potential":
                cells.append("—" if v != v else f"{v:.3f}")
            elif c == "p_attain":
                cells.append(f"{v:.1%}")
            else:
                cells.append(str(v))
        t.add_row(*cells)
    Console(width=max(out_console.width, 120)).print(t)
    if len(q.table) > 40:
        console.print(f"… {len(q.table) - 40} more rows in quotas.csv")
    pa = s.get("p_attain")
    if pa:
        common = f"common {pa['common']:.1%}; " if "common" in pa else ""
        console.print(f"P(attain): {common}{pa['min']:.1%} – {pa['max']:.1%} (spread {100 * pa['spread']:.1f} pp, "
                      f"{pa['trials']:,} trials, seed {pa['seed']})", highlight=False)
    if s["quota_to_potential"]:
        r = s["quota_to_potential"]
        console.print(f"quota/potential {r['min']:.3f} – {r['max']:.3f} (CV {r['cv']:.3f}); Gini of quotas "
                      f"{s['gini_quota']:.3f}; max deviation from baseline {s['max_deviation']:,.0f}", highlight=False)


@app.command("quota-relief")
def quota_relief_cmd(
    units: Annotated[Path, typer.Option(help="Units file: unit_id, the basis column, current_territory.")],
    quotas: Annotated[Path, typer.Option(help="Quotas under the old alignment: territory_id,quota.")],
    after: Annotated[Path, typer.Option(help="New assignment unit_id,territory_id.")],
    effective: Annotated[str, typer.Option(callback=_iso_date,
                                           help="Date the new alignment takes effect, e.g. 2026-07-01.")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    before: Annotated[Path | None, typer.Option(help="Old assignment (default: the units' "
                                                     "current_territory).")] = None,
    basis: Annotated[str, typer.Option(help="Units' share of their territory's quota: a column, or count.")]
    = "potential",
    period_start: Annotated[str | None, typer.Option(callback=_iso_date,
                                                     help="Quota period start (default: 1 January).")] = None,
    period_end: Annotated[str | None, typer.Option(callback=_iso_date,
                                                   help="Quota period end (default: 31 December).")] = None,
    plot: Annotated[bool, typer.Option(help="Write relief.png.")] = True,
) -> None:
    """Move quota with the units that change territory mid-period, prorated by date. Writes relief.csv,
    moves.csv, summary.json and relief.png."""
    from spmopt.data.io import read_table
    from spmopt.quota import quota_relief
    from spmopt.report.outputs import write_relief

    with _command():
        if (period_start is None) != (period_end is None):
            raise InputError("give both --period-start and --period-end, or neither")
        year = effective[:4]
        start, end = (period_start, period_end) if period_start else (f"{year}-01-01", f"{year}-12-31")
        if end < start:   # ISO dates compare as text
            raise InputError(f"--period-end {end} is before --period-start {start}")
        if not start <= effective <= end:
            raise InputError(f"--effective {effective} is outside the quota period {start} – {end}"
                             + ("" if period_start else " (the calendar year; --period-start/--period-end set it)"))
    with _command(out, "quota-relief") as folder:
        r = quota_relief(read_table(units), read_table(quotas), read_table(after), effective,
                         before=None if before is None else read_table(before), basis=basis,
                         period=None if period_start is None else (period_start, period_end))
        paths = write_relief(r, folder.path, plot=plot, inputs={"units": str(units), "quotas": str(quotas),
                                                                "after": str(after),
                                                                "before": None if before is None else str(before)})
    for n in r.notes:
        console.print(f"[yellow]note:[/] {n}", highlight=False, soft_wrap=True)
    s = r.summary
    t = Table(title=f"Quota relief: {s['units_moved']} of {s['units']} units move on {s['effective']} "
                    f"({s['remaining_fraction']:.1%} of the period left); {s['quota_moved']:,.0f} moves",
              title_justify="left")
    for c in ("territory", "before", "out", "in", "after", "change"):
        t.add_column(c, justify="left" if c == "territory" else "right")
    for _, row in r.table.iterrows():
        t.add_row(str(row["territory_id"]), f"{row['quota_before']:,.0f}", f"{row['moved_out']:,.0f}",
                  f"{row['moved_in']:,.0f}", f"{row['quota_after']:,.0f}",
                  "—" if row["change_pct"] != row["change_pct"] else f"{row['change_pct']:+.1f}%")
    Console(width=max(out_console.width, 100)).print(t)
    console.print(f"total {s['total_before']:,.2f} before = {s['total_after']:,.2f} after; wrote "
                  f"{', '.join(Path(p).name for p in paths.values())} to {out}", highlight=False)


def _money(v) -> str:
    return "—" if v is None else f"{v:,.0f}"


@plan_app.command("check")
def plan_check(
    file: Annotated[Path, typer.Argument(help="Plan file (YAML).")],
    plot: Annotated[Path | None, typer.Option(help="Also write the payout curve to this image (.png, .svg, "
                                                   ".pdf).")] = None,
    quota: Annotated[float, typer.Option(callback=POS, help="Period quota used for the curve's scale.")] = 100_000.0,
) -> None:
    """Validate a plan file and describe it (exit code 2 and the file and key on error)."""
    import warnings

    from spmopt.data.io import IMAGE_SUFFIXES, output_file
    from spmopt.plans import PlanWarning, load_plan

    with _command():
        if plot is not None:
            output_file(plot, option="--plot", suffixes=IMAGE_SUFFIXES)   # before the work
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanWarning)
            p = load_plan(file)
    for w in p.warnings:
        console.print(f"[yellow]warning:[/] {file}: {w}", highlight=False, soft_wrap=True)
    out_console.print(f"{file}: plan '{p.name}' is valid — {p.currency}, target incentive "
                      f"{p.target_incentive:,.0f} per year, paid per {p.period}"
                      + (", annual true-up" if p.true_up else ""), highlight=False)
    for c in p.components:
        out_console.print(f"  {c.type:12s} {c.name}", highlight=False)
    if plot is not None:
        import matplotlib.pyplot as plt

        from spmopt.report.outputs import save_figure
        from spmopt.report.plots import plot_payout_curve

        with _command():
            fig, ax = plt.subplots(figsize=(6.5, 4.2))
            plot_payout_curve(p, {m: quota for m in p.quota_measures()}, ax=ax)
            fig.tight_layout()
            save_figure(fig, plot)
        console.print(f"wrote {plot}")


@plan_app.command("list")
def plan_list() -> None:
    """List the plan library (scenarios/plans/): each plan's file name, its name and its whole description,
    wrapped to the terminal's width at spaces (no word is cut)."""
    import textwrap

    from spmopt.plans import library

    try:
        plans = [(n, library.load(n)) for n in library.names()]
    except SpmoptError as exc:
        _fail(exc)
    cols = os.environ.get("COLUMNS", "")
    width = int(cols) if cols.isdigit() else out_console.width        # COLUMNS wins, as shutil reads it
    width = max(min(width, 120), 20)   # lines longer than 120 are hard to read
    indent = max(len(n) for n, _ in plans) + 2 if plans else 0
    if width - indent < 30:   # a narrow terminal: the text goes under the name, indented
        indent = 4
    for n, p in plans:
        desc = " ".join((p.description or "").split())
        text = f"{p.name} — {desc}" if desc else p.name
        lines = textwrap.wrap(text, width=max(width - indent, 10), break_long_words=False, break_on_hyphens=False)
        head = n.ljust(indent) if len(n) + 2 <= indent else n + "\n" + " " * indent
        out_console.print(head + ("\n" + " " * indent).join(lines), highlight=False, soft_wrap=True, markup=False)


def main() -> None:  # pragma: no cover
    sys.exit(app())
