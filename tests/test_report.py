"""The scenario report's structure (issue 28): every figure present, no table column empty or constant in every
row without a word about it, units in the money headers, no code names, nothing loaded from outside the file."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from spmopt.scenario import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[1]


class Page(HTMLParser):
    """Images (src, alt), and tables as header + rows of cell text."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.tables: list[dict] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        elif tag in ("script", "link") and (a.get("src") or a.get("href")):
            self.links.append(a.get("src") or a.get("href"))
        elif tag == "table":
            self.tables.append({"header": [], "rows": []})
        elif tag == "tr":
            self._row, self._head = [], False
        elif tag in ("td", "th"):
            self._cell = []
            self._head = self._head or tag == "th"

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            t = self.tables[-1]
            if self._head and not t["header"]:
                t["header"] = self._row
            else:
                t["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Page, str]:
    out = tmp_path_factory.mktemp("report") / "out"
    scn = load_scenario(ROOT / "scenarios" / "demo.yaml",
                        {"align.work": 2, "align.contiguity": False, "align.split": None,
                         "align.pareto": {"points": 2}, "simulate.trials": 200})
    run_scenario(scn, out, store=False)
    html = (out / "report.html").read_text(encoding="utf-8")
    p = Page()
    p.feed(html)
    return p, html


def test_every_figure_is_there_and_described(page):
    p, _ = page
    alts = [i.get("alt", "") for i in p.images]
    # map, frontier, quotas, cost CDF, one attainment chart for all stress cases, three payout curves, monthly
    assert len(p.images) == 9, alts
    assert all(i["src"].startswith("data:image/png;base64,") and len(i["src"]) > 5000 for i in p.images)
    assert all(a.strip() for a in alts)
    for word in ("map", "frontier", "quotas", "cost CDF", "monthly"):
        assert sum(word in a for a in alts) == 1, (word, alts)
    assert sum("attainment" in a for a in alts) == 1       # merged: not one histogram page per stress case
    assert sum("payout curve" in a for a in alts) == 3
    assert p.links == []                                    # self-contained


def test_tables_have_no_empty_or_code_named_columns(page):
    p, html = page
    data_tables = [t for t in p.tables if t["header"] and len(t["rows"]) > 1]
    assert len(data_tables) >= 5            # current vs optimised, balance, frontier, quotas, plans, stress cases
    for t in data_tables:
        for j, h in enumerate(t["header"]):
            col = [r[j] for r in t["rows"] if j < len(r)]
            assert any(v not in ("", "—") for v in col), f"column '{h}' is empty in every row"
            assert "_" not in h, f"code name in a header: {h}"
    plans = next(t for t in data_tables if t["header"][:2] == ["plan", "stress case"])
    money = [h for h in plans["header"] if h.startswith(("revenue,", "cost,", "cost P", "cost CVaR"))]
    assert len(money) == 6 and all(h.endswith("($)") for h in money)
    # behaviour full (the demo's): plans move sales, so the review shows what each plan buys per dollar
    for h in ("revenue vs first plan", "extra revenue per extra $ spent", "effort, mean (1 = usual)"):
        assert h in plans["header"], h
    j = plans["header"].index("revenue vs first plan")
    assert len({r[j] for r in plans["rows"]}) > 2        # not the same in every row
    assert "buys more sales per dollar" in html
    quotas = next(t for t in data_tables if t["header"][:2] == ["territory", "quota ($)"])
    assert "quota / potential" not in quotas["header"]
    assert "Columns left out" in html
    assert "held by a bound" not in quotas["header"]     # empty in every row for a potential-based quota
    assert "held by a bound (empty in every row" in html


def test_behaviour_none_columns_are_left_out_and_explained(tmp_path):
    """Without behaviour every plan sells alike: "revenue vs first plan" is 0 in every row, so it is left out and
    the page says why."""
    scn = load_scenario(ROOT / "scenarios" / "stress-test.yaml", {"simulate.trials": 30, "simulate.behaviour": "none"})
    run_scenario(scn, tmp_path / "out", store=False)
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    p = Page()
    p.feed(html)
    plans = next(t for t in p.tables if t["header"][:2] == ["plan", "stress case"])
    assert "revenue vs first plan" not in plans["header"] and "effort, mean (1 = usual)" not in plans["header"]
    assert "revenue vs first plan (0.0 % in every row: behaviour none" in html


def test_interactive_map_has_a_tooltip_per_unit(page):
    _, html = page
    svg = html[html.index('<svg class="spm-map"'):html.index("</svg>")]
    assert svg.count('<path class="u') == 217            # the 217 North-East counties, one path each
    assert svg.count("<title>") == 217
    queens = next(t for t in svg.split("<title>")[1:] if t.startswith("Queens County, NY (36081)"))
    assert "potential" in queens and "workload" in queens and "territory: T01 → " in queens
    assert svg.count("★") == 10                            # the ten bases, labelled
    assert "<script" not in svg and "http://www.w3.org/2000/svg" in svg
