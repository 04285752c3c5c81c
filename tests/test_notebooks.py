"""Every notebook under notebooks/ runs top to bottom, and is committed without outputs.

The run that checks them also publishes them: each executed notebook, outputs included, is written as a
self-contained HTML page to ``docs/notebooks/<name>.html`` (images embedded), so the docs show what CI ran.
"""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PUBLISHED = ROOT / "docs" / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path):
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
    html, _ = HTMLExporter(embed_images=True).from_notebook_node(nb)
    html = re.sub(r'<script src="https?://[^"]*"[^>]*>\s*</script>', "", html)   # offline: no CDN scripts
    PUBLISHED.mkdir(exist_ok=True)
    (PUBLISHED / f"{path.stem}.html").write_text(html, encoding="utf-8")


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_every_notebook_is_linked_from_the_readme_and_the_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for p in NOTEBOOKS:
        assert f"notebooks/{p.name}" in readme, p.name
        assert f"notebooks/{p.name}" in index and f"notebooks/{p.stem}.html" in index, p.name
