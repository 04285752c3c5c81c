"""``runs compare --html``: two runs of the run store side by side on one self-contained page (no scripts, no
network) — the runs, the inputs and settings that differ, and every figure of every stage with the changed
ones highlighted (wall-clock timings apart: they differ between any two runs)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from spmopt.data.io import _atomic_write
from spmopt.report.store import settings_diff

STAGES = {"align": "Territory alignment", "quota": "Quotas", "simulate": "Plans (simulation)", "run": "Run"}


def number(v: Any) -> str:
    """A figure as the comparison shows it (the same as ``runs compare`` on the terminal)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def setting(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "(not set)" if v is None else str(v)


def differs(a: Any, b: Any) -> bool:
    """Whether two figures differ beyond floating-point noise (1e-9, relative or absolute: a quota deviation of
    1e-13 is no change); a figure present in one run only differs."""
    a_nan, b_nan = a is None or a != a, b is None or b != b
    if a_nan or b_nan:
        return a_nan != b_nan
    return not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def is_timing(metric: Any) -> bool:
    """Wall-clock figures (``seconds``, ``solve_seconds``): they differ between any two runs."""
    return "seconds" in str(metric)


def _run(info: dict[str, Any]) -> dict[str, Any]:
    folder = {"here": "still holds this run", "gone": "holds no run now (deleted or moved)",
              "overwritten": "overwritten by run"}.get(info.get("folder"), "")
    return {"run_id": info["run_id"], "scenario": info["scenario"], "started": str(info["started"])[:19],
            "seconds": info["seconds"], "stages": info["stages"], "content_hash": info["content_hash"],
            "out_dir": info["out_dir"], "folder": folder, "now_holds": info.get("now_holds"),
            "folder_ok": info.get("folder") == "here",
            "scenario_file": info.get("scenario_file"),
            "spmopt": (info.get("versions") or {}).get("spmopt", "?")}


def comparison_context(cmp: pd.DataFrame, ia: dict[str, Any], ib: dict[str, Any]) -> dict[str, Any]:
    """What the template shows: ``cmp`` is :meth:`RunStore.compare`'s table, ``ia``/``ib`` the runs'
    :meth:`RunStore.run_info`."""
    stages: dict[str, dict[str, Any]] = {}
    timings = []
    for _, r in cmp.iterrows():
        a, b = r["a"], r["b"]
        changed = differs(a, b)
        pct = r["change_pct"]
        row = {"item": str(r["item"] or "").replace("_", " "), "metric": r["metric"], "a": number(a), "b": number(b),
               "change": "" if not changed else number(r["change"]),
               "pct": "" if not changed or pct != pct else f"{pct:+.1f} %",
               "dir": "" if not changed or r["change"] != r["change"] else ("up" if r["change"] > 0 else "down"),
               "only": "A" if b != b and a == a else ("B" if a != a and b == b else "")}
        if is_timing(r["metric"]):
            what = {"": "whole run"}.get(row["item"], f"stage {row['item']}") if r["stage"] == "run" else \
                f"{r['stage']} {row['item']}".strip()
            timings.append({**row, "item": what, "changed": changed})
            continue
        st = stages.setdefault(r["stage"], {"name": STAGES.get(r["stage"], r["stage"]), "changed": [],
                                            "same": []})
        st["changed" if changed else "same"].append(row)
    n_changed = sum(len(s["changed"]) for s in stages.values())
    n_results = n_changed + sum(len(s["same"]) for s in stages.values())
    va, vb = ia.get("versions") or {}, ib.get("versions") or {}
    versions = [(k, setting(va.get(k)), setting(vb.get(k))) for k in sorted(set(va) | set(vb))
                if va.get(k) != vb.get(k)]
    return {
        "a": _run(ia), "b": _run(ib), "same_inputs": ia["content_hash"] == ib["content_hash"],
        "settings": [(k, setting(x), setting(y)) for k, x, y in settings_diff(ia["settings"], ib["settings"])],
        "versions": versions, "stages": list(stages.values()), "timings": timings,
        "n_changed": n_changed, "n_results": n_results,
        "n_timings_changed": sum(t["changed"] for t in timings), "n_timings": len(timings),
    }


def render_comparison(cmp: pd.DataFrame, ia: dict[str, Any], ib: dict[str, Any]) -> str:
    env = Environment(loader=PackageLoader("spmopt.report", "templates"), autoescape=select_autoescape(["j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["wbr"] = lambda s: Markup(str(escape(s)).replace("/", "/<wbr>"))   # paths break at slashes
    return env.get_template("compare.html.j2").render(**comparison_context(cmp, ia, ib))


def write_comparison(cmp: pd.DataFrame, ia: dict[str, Any], ib: dict[str, Any], path: str | Path) -> Path:
    """Write the comparison page atomically."""
    text = render_comparison(cmp, ia, ib)
    p = Path(path)
    _atomic_write(p, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return p
