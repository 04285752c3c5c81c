"""Full-page screenshots of a scenario report at 1280 and 1920 px, with a check that nothing is cut off.

    make demo                                   # writes out/demo/report.html
    .venv/bin/python docs/screenshots/render.py [out/demo/report.html]

For each width it opens the report in headless Chromium (Debian package ``chromium``) twice: once to measure
(a copy of the page with a small script that records the page height and every table or figure wider than its
box, read back with ``--dump-dom``), and once to take the screenshot at the full height. The screenshots are
written beside this file as ``report-<width>.png`` (palette PNG, to keep the repository small). Exit code 1 if
any element overflows its box at either width (a table cut off or scrolling sideways).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WIDTHS = (1280, 1920)
PROBE = """<script>
window.addEventListener('load', () => {
  const bad = [];
  document.querySelectorAll('.scroll, table, img, pre, main').forEach((el) => {
    if (el.tagName === 'PRE') return;                    // settings text scrolls by design
    if (el.scrollWidth > el.clientWidth + 1) bad.push(el.tagName + '.' + (el.className || '') + ':' +
      (el.querySelector('th') ? el.querySelector('th').textContent : (el.alt || '')));
    const r = el.getBoundingClientRect();
    if (r.right > document.documentElement.clientWidth + 1) bad.push('beyond the page: ' + el.tagName);
  });
  document.body.setAttribute('data-height', document.documentElement.scrollHeight);
  document.body.setAttribute('data-overflow', bad.join(' | '));
});
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    sys.exit("render.py: headless Chromium is needed (Debian: apt install chromium)")


def run(args: list[str]) -> str:
    done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=5000", *args], capture_output=True, text=True, timeout=300)
    return done.stdout


def measure(report: Path, width: int) -> tuple[int, str]:
    html = report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1)
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(html, encoding="utf-8")
        dom = run([f"--window-size={width},1000", "--dump-dom", probe.as_uri()])
    height = re.search(r'data-height="(\d+)"', dom)
    overflow = re.search(r'data-overflow="([^"]*)"', dom)
    if not height:
        sys.exit(f"render.py: could not measure {report} at {width} px")
    return int(height.group(1)), overflow.group(1) if overflow else ""


def screenshot(report: Path, width: int, height: int, dest: Path) -> None:
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "shot.png"
        run([f"--window-size={width},{height}", f"--screenshot={raw}", report.resolve().as_uri()])
        Image.open(raw).convert("RGB").quantize(colors=128).save(dest, optimize=True)


def main(argv: list[str]) -> int:
    report = Path(argv[0] if argv else "out/demo/report.html")
    if not report.is_file():
        sys.exit(f"render.py: {report} not found (run `make demo` first)")
    status = 0
    for w in WIDTHS:
        height, overflow = measure(report, w)
        dest = HERE / f"report-{w}.png"
        screenshot(report, w, height, dest)
        print(f"{w} px: page {height:,} px high, {dest.stat().st_size / 1e6:.2f} MB -> {dest.name}"
              + (f"; OVERFLOW: {overflow}" if overflow else "; nothing cut off"))
        status |= bool(overflow)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
