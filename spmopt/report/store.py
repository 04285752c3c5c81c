"""The run store: a DuckDB file with one row per scenario run and its summary tables, to compare runs over time.

Tables (every one keyed by ``run_id``):

``runs``         scenario, content_hash, started (UTC), seconds, stages, out_dir, scenario_file, versions and
                 settings (JSON), notes
``metrics``      tidy figures: stage, item, metric, value — what ``spmopt runs compare`` lines up
``territories``  the alignment's territory table (after)
``quotas``       the quota table
``simulation``   the simulation summary, one row per plan × stress case

Columns that a later run adds (a new measure, say) are added to the table; earlier runs read NULL there.
DuckDB lets one process write at a time: a run that finds the file locked retries for up to 30 s.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from spmopt.errors import InputError

TABLES = ("territories", "quotas", "simulation")
SIM_METRICS = ("revenue_mean", "cost_mean", "cost_p50", "cost_p90", "cost_p95", "cost_cvar95", "cost_of_sales",
               "share_at_or_above_quota", "share_at_cap", "pay_performance_correlation", "revenue_uplift")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, scenario VARCHAR, content_hash VARCHAR, started TIMESTAMP, seconds DOUBLE,
    stages VARCHAR, out_dir VARCHAR, scenario_file VARCHAR, versions VARCHAR, settings VARCHAR, notes VARCHAR);
CREATE TABLE IF NOT EXISTS metrics (run_id VARCHAR, stage VARCHAR, item VARCHAR, metric VARCHAR, value DOUBLE);
"""


def run_metrics(run: dict[str, Any]) -> pd.DataFrame:
    """The tidy figures of a ``run.json``: one row per (stage, item, metric)."""
    rows: list[tuple[str, str, str, float | None]] = []
    s = run.get("summary", {})

    def add(stage, item, metric, value):
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return
        rows.append((stage, item, metric, float(value)))

    if "align" in s:
        a = s["align"]
        for m in ("objective", "bound", "gap", "distance", "units_moved", "solve_seconds"):
            add("align", "", m, a.get(m))
        for m, v in (a.get("max_balance_deviation") or {}).items():
            add("align", m, "max_deviation", v)
        for m, v in (a.get("disruption") or {}).items():
            add("align", m, "moved_share", v)
        cur = a.get("current")
        if cur:
            add("align", "current", "distance", cur.get("distance"))
            for m, v in (cur.get("max_balance_deviation") or {}).items():
                add("align", f"current {m}", "max_deviation", v)
    if "quota" in s:
        q = s["quota"]
        for m in ("total", "sum", "holders", "gini_quota", "max_deviation", "max_deviation_pct", "seconds"):
            add("quota", "", m, q.get(m))
        for group in ("p_attain", "quota_to_potential", "growth_pct"):
            for m, v in (q.get(group) or {}).items():
                if m not in ("trials", "seed"):
                    add("quota", group, m, v)
    for r in s.get("simulate", []):
        for m in SIM_METRICS:
            add("simulate", f"{r['plan']} | {r['stress']}", m, r.get(m))
    seconds = run.get("seconds") or {}
    add("run", "", "seconds", seconds.get("total"))
    for stage, v in seconds.items():   # each stage's wall clock (inputs, align, quota, simulate, report)
        if stage != "total":
            add("run", stage, "seconds", v)
    return pd.DataFrame(rows, columns=["stage", "item", "metric", "value"])


HEADLINE = {   # the figures `runs show` leads with: (stage, metric) → label
    ("align", "objective"): "objective", ("align", "distance"): "distance", ("align", "gap"): "gap",
    ("align", "units_moved"): "units moved", ("align", "max_deviation"): "max deviation",
    ("align", "moved_share"): "moved share",
    ("quota", "sum"): "quotas sum", ("quota", "holders"): "holders", ("quota", "gini_quota"): "Gini of quotas",
    ("quota", "max_deviation_pct"): "max deviation from baseline %",
    ("simulate", "cost_mean"): "cost (mean)", ("simulate", "cost_p90"): "cost P90",
    ("simulate", "cost_of_sales"): "cost of sales", ("simulate", "share_at_or_above_quota"): "at or above quota",
}


def folder_run_id(out_dir: str | os.PathLike | None) -> str | None:
    """The run id in ``out_dir/run.json``: the run the folder holds now (None when it holds none)."""
    if not out_dir:
        return None
    try:
        rid = json.loads((Path(out_dir) / "run.json").read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return rid if isinstance(rid, str) else None


def folder_state(out_dir: str | os.PathLike | None, run_id: str) -> tuple[str, str | None]:
    """Whether a run's output folder still holds it: ``("here", run_id)``, ``("overwritten", other run id)``
    when a later run replaced the folder, or ``("gone", None)`` when it holds no run (deleted or moved)."""
    now = folder_run_id(out_dir)
    if now is None:
        return "gone", None
    return ("here", now) if now == run_id else ("overwritten", now)


class RunStore:
    """A DuckDB run store. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False, wait: float = 30.0) -> None:
        self.path = Path(path)
        if read_only and not self.path.is_file():
            raise InputError(f"no run store at {self.path} (a run writes runs.duckdb beside its --out folder)")
        deadline = time.monotonic() + wait
        while True:
            try:
                self.con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise InputError(f"cannot open the run store {self.path}: {str(exc).splitlines()[0]}") from None
                time.sleep(0.5)
            except duckdb.Error as exc:
                raise InputError(f"{self.path} is not a run store: {str(exc).splitlines()[0]}") from None
        if not read_only:
            self.con.execute(_SCHEMA)
        elif not self.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'"
                                  ).fetchone()[0]:
            self.con.close()
            raise InputError(f"{self.path} is a DuckDB file but not a run store (it has no 'runs' table)")

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    # ------------------------------------------------------------------------------------------ writing
    def add(self, result) -> str:
        """Record a :class:`~spmopt.scenario.RunResult` (one transaction)."""
        run = result.run
        tables = {"territories": None if result.alignment is None else result.alignment.territory_table(),
                  "quotas": None if result.quotas is None else result.quotas.table,
                  "simulation": None if result.simulation is None else result.simulation.summary()}
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run["run_id"], run["scenario"], run["content_hash"], run["started"].replace("+00:00", ""),
                 run["seconds"]["total"], ",".join(run["stages"]), str(Path(result.out).resolve()), run["source"],
                 json.dumps(run["versions"]), json.dumps(run["settings"]), json.dumps(run["notes"])])
            m = run_metrics(run)
            m.insert(0, "run_id", run["run_id"])
            self._append("metrics", m)
            for name, df in tables.items():
                if df is not None:
                    df = df.copy()
                    df.insert(0, "run_id", run["run_id"])
                    self._append(name, df)
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return run["run_id"]

    def _append(self, table: str, df: pd.DataFrame) -> None:
        df = df.reset_index(drop=True)
        for c in df.columns:   # categoricals and mixed objects as text: a stable schema across runs
            if isinstance(df[c].dtype, pd.CategoricalDtype) or df[c].dtype == object:
                df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
        self.con.register("_incoming", df)
        try:
            exists = self.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                      [table]).fetchone()[0]
            if not exists:
                self.con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM _incoming')
                return
            have = {r[0] for r in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
            types = {r[0]: r[1] for r in self.con.execute("DESCRIBE _incoming").fetchall()}
            for c in df.columns:
                if c not in have:
                    self.con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{c}" {types[c]}')
            self.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _incoming')
        finally:
            self.con.unregister("_incoming")

    # ------------------------------------------------------------------------------------------ reading
    def runs(self, scenario: str | None = None) -> pd.DataFrame:
        """One row per run, newest first."""
        q = ("SELECT run_id, scenario, started, seconds, stages, content_hash, out_dir FROM runs"
             + (" WHERE scenario = ?" if scenario else "") + " ORDER BY started DESC, run_id DESC")
        return self.con.execute(q, [scenario] if scenario else []).df()

    def runs_with_folders(self, scenario: str | None = None) -> pd.DataFrame:
        """:meth:`runs` with ``folder`` (``here`` / ``overwritten`` / ``gone``: what ``out_dir`` holds now) and
        ``now_holds`` (the run id it holds, when another run's)."""
        df = self.runs(scenario)
        states = [folder_state(d, r) for d, r in zip(df["out_dir"], df["run_id"], strict=True)]
        df["folder"] = [st for st, _ in states]
        df["now_holds"] = [other if st == "overwritten" else None for st, other in states]
        return df

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique id prefix, a scenario name (its latest run), an inputs hash prefix (its
        latest run) or ``latest``; ``NAME~1`` is the run before the latest of NAME (``latest~1`` likewise)."""
        base, _, back = ref.partition("~")
        n = int(back) if back.isdigit() else 0
        if back and not back.isdigit():
            raise InputError(f"run '{ref}': after '~' give a number (latest~1 is the run before the latest)")
        runs = self.runs()
        if runs.empty:
            raise InputError(f"the run store {self.path} has no runs yet")
        if base == "latest":
            hits = runs
        else:
            hits = runs[runs["run_id"] == base]
            if hits.empty:
                hits = runs[runs["scenario"] == base]
            if hits.empty:
                hits = runs[runs["run_id"].str.startswith(base)]
            if hits.empty:   # the inputs hash `runs list` shows: that input's latest run
                hits = runs[runs["content_hash"].str.startswith(base)] if len(base) >= 6 else hits
            elif len(hits) > 1 and not (hits["run_id"] == base).any() and base not in set(hits["scenario"]):
                raise InputError(f"run '{base}' is ambiguous: {', '.join(hits['run_id'].head(5))}")
        if hits.empty:
            raise InputError(f"no run '{base}' in {self.path}: give a run id (or its start), a scenario name or "
                             f"'latest'; the latest runs are {', '.join(runs['run_id'].head(3))}")
        if n >= len(hits):
            raise InputError(f"run '{ref}': there are only {len(hits)} run(s) of '{base}'")
        return str(hits["run_id"].iloc[n])

    def metrics(self, run_ids: list[str] | None = None) -> pd.DataFrame:
        if run_ids is None:
            return self.con.execute("SELECT * FROM metrics").df()
        return self.con.execute("SELECT * FROM metrics WHERE list_contains(?, run_id)", [run_ids]).df()

    def table(self, name: str, run_ids: list[str] | None = None) -> pd.DataFrame:
        """A summary table (``territories``, ``quotas``, ``simulation``) for some runs (default: all)."""
        if name not in TABLES:
            raise InputError(f"unknown table '{name}'; the store has {', '.join(TABLES)}")
        exists = self.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                  [name]).fetchone()[0]
        if not exists:
            return pd.DataFrame(columns=["run_id"])
        if run_ids is None:
            return self.con.execute(f'SELECT * FROM "{name}"').df()
        return self.con.execute(f'SELECT * FROM "{name}" WHERE list_contains(?, run_id)', [run_ids]).df()

    def compare(self, a: str, b: str) -> pd.DataFrame:
        """Every figure of runs ``a`` and ``b`` side by side: stage, item, metric, a, b, change, change_pct
        (figures present in one run only have the other side empty)."""
        ra, rb = self.resolve(a), self.resolve(b)
        m = self.metrics([ra, rb])
        left = m[m["run_id"] == ra].drop(columns="run_id").rename(columns={"value": "a"})
        right = m[m["run_id"] == rb].drop(columns="run_id").rename(columns={"value": "b"})
        t = left.merge(right, on=["stage", "item", "metric"], how="outer", sort=False)
        order = {"align": 0, "quota": 1, "simulate": 2, "run": 3}
        t = t.sort_values("stage", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
        t["change"] = t["b"] - t["a"]
        t["change_pct"] = (t["b"] / t["a"] - 1.0) * 100.0
        t.loc[t["a"].abs() < 1e-12, "change_pct"] = float("nan")
        t.attrs.update(a=ra, b=rb)
        return t

    def run_info(self, run_id: str) -> dict[str, Any]:
        """The ``runs`` row of a run (versions, settings and notes parsed), with ``folder`` and ``now_holds`` as
        in :meth:`runs_with_folders`."""
        r = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).df().iloc[0].to_dict()
        for k in ("versions", "settings", "notes"):
            r[k] = json.loads(r[k]) if r.get(k) else None
        r["folder"], other = folder_state(r.get("out_dir"), run_id)
        r["now_holds"] = other if r["folder"] == "overwritten" else None
        return r

    def show(self, ref: str) -> dict[str, Any]:
        """One run in full: :meth:`run_info` plus ``timings`` (stage → seconds: from the store, or from the
        folder's run.json for runs recorded before the store kept them), ``headline`` (stage, item, label,
        value: the figures of :data:`HEADLINE`) and ``metrics`` (every figure)."""
        rid = self.resolve(ref)
        info = self.run_info(rid)
        m = self.metrics([rid]).drop(columns="run_id")
        t = m[(m["stage"] == "run") & (m["metric"] == "seconds")]
        timings = {(item or "total"): float(v) for item, v in zip(t["item"], t["value"], strict=True)}
        if set(timings) <= {"total"} and info["folder"] == "here":
            try:
                timings = json.loads((Path(info["out_dir"]) / "run.json").read_text(encoding="utf-8"))["seconds"]
            except (OSError, ValueError, KeyError):
                pass
        order = {"align": 0, "quota": 1, "simulate": 2}
        h = m[[(st, mt) in HEADLINE for st, mt in zip(m["stage"], m["metric"], strict=True)]].copy()
        h["label"] = [HEADLINE[(st, mt)] for st, mt in zip(h["stage"], h["metric"], strict=True)]
        h = h.sort_values("stage", key=lambda x: x.map(order), kind="stable")
        info.update(timings=timings, headline=h[["stage", "item", "label", "metric", "value"]].reset_index(drop=True),
                    metrics=m.reset_index(drop=True))
        return info


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def settings_diff(a: dict | None, b: dict | None) -> list[tuple[str, Any, Any]]:
    """Dotted keys whose setting differs between two runs: (key, value in a, value in b)."""
    fa, fb = _flatten(a or {}), _flatten(b or {})
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
