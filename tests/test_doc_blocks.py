"""Every Python block of the README and the docs runs as written.

The README's blocks are pasted one after another into one plain script, with no ``if __name__ == "__main__":``
guard (the issue-28 contract: the simulator must not start a process pool that re-imports such a script). Each
docs page's blocks run the same way, from a folder holding a copy of ``scenarios/`` and a run store with two
runs of the demo scenario, which the journeys' blocks read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> list[str]:
    return FENCE.findall(path.read_text(encoding="utf-8"))


def run_script(code: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    script = cwd / "pasted.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_blocks_are_found():
    # the extraction itself: the README has its three blocks, and the docs pages their eight
    assert len(python_blocks(ROOT / "README.md")) == 3
    assert sum(len(python_blocks(p)) for p in DOCS) == 8
    assert all(b.strip() and "```" not in b for p in [ROOT / "README.md", *DOCS] for b in python_blocks(p))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pasted")
    shutil.copytree(ROOT / "scenarios", d / "scenarios")
    return d


@pytest.mark.slow
def test_readme_blocks_run_as_one_plain_script(workdir):
    code = "\n".join(python_blocks(ROOT / "README.md"))
    assert "__main__" not in code
    # print the last expression of each block, so the script shows that every block ran to its end
    code += "\nprint('simulated', len(res.summary()), 'rows;', 'quotas sum', int(q.table['quota'].sum()))\n"
    done = run_script(code, workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "BrokenProcessPool" not in done.stderr
    first = done.stdout.splitlines()[0].split()
    assert first[0] in ("optimal", "feasible") and float(first[1]) > 0
    assert "quotas sum 21000000" in done.stdout


@pytest.fixture(scope="module")
def store(workdir) -> Path:
    """Two quick runs of the demo scenario in ``out/runs.duckdb`` (the journeys compare them)."""
    for _ in range(2):
        done = subprocess.run([str(Path(sys.executable).with_name("spmopt")), "run", "scenarios/demo.yaml",
                               "--set", "align.work=2", "--set", "align.pareto=null", "--set", "align.contiguity=false",
                               "--set", "align.split=null", "--set", "simulate.trials=40",
                               "--out", "out/demo"], cwd=workdir, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    return workdir / "out" / "runs.duckdb"


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in DOCS if python_blocks(p)], ids=lambda p: p.name)
def test_docs_blocks_run_as_written(page, workdir, store):
    assert store.exists()
    done = run_script("\n".join(python_blocks(page)), workdir)
    assert done.returncode == 0, f"{page.name}:\n{done.stderr[-3000:]}"
