"""Progress lines for logs: when the output is not a terminal (CI, a notebook's ``!spmopt …``, ``| tee``),
long work still prints a plain line at least every ``interval`` seconds.

In a terminal the commands show Rich progress bars and spinners, which redraw in place. Piped, those are
silent, and a solve or a simulation could leave a log quiet for a minute. :class:`LineConsole` is a Rich
console that remembers when it last printed; :func:`heartbeat` runs a daemon thread that, after ``interval``
seconds of silence, prints ``<elapsed> s … still <what is going on> (<seconds> s since the last line)``. What
is going on is the last progress message, or what a caller set with :meth:`Beat.status` (e.g. the trials
done). Only the log changes: the work and its results do not depend on it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from rich.console import Console

INTERVAL = 7.5      # seconds of silence before a progress line: checked each 0.5 s, so a line at least every 8 s


class LineConsole(Console):
    """A Rich console that records the time of its last line (``last``, ``time.monotonic()``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last = time.monotonic()   # the first silence counts from here (the command's start), not from the work's
        self.last_text = ""

    def print(self, *objects, **kwargs) -> None:   # noqa: A003 - Rich's name
        super().print(*objects, **kwargs)
        self.last = time.monotonic()
        if objects and isinstance(objects[0], str):
            self.last_text = objects[0]


class Beat:
    """The running heartbeat: :meth:`status` says what is going on, for the next progress line."""

    def __init__(self, console: LineConsole, what: str, interval: float) -> None:
        self.console, self.what, self.interval = console, what, interval
        self.t0 = time.monotonic()
        self._status: str | None = None
        self._stop = threading.Event()

    def status(self, text: str) -> None:
        self._status = text

    def _line(self) -> str:
        if self._status:
            doing = self._status
        else:
            doing = _plain(self.console.last_text) or "started"
        now = time.monotonic()
        return (f"{now - self.t0:6.1f} s … still {self.what}: {doing[:80]} "
                f"({now - self.console.last:.0f} s since the last line)")

    def _run(self) -> None:
        while not self._stop.wait(min(0.5, self.interval / 4)):
            if time.monotonic() - self.console.last >= self.interval:
                self.console.print(self._line(), highlight=False, markup=False)


def _plain(text: str) -> str:
    """A progress message without Rich markup and its leading timestamp."""
    from rich.text import Text

    try:
        s = Text.from_markup(text).plain.strip()
    except Exception:   # not markup after all
        s = text.strip()
    head, _, rest = s.partition(" s ")
    return rest.strip() if rest and head.replace(".", "").strip().isdigit() else s


@contextlib.contextmanager
def heartbeat(console: LineConsole, what: str, *, interval: float = INTERVAL,
              force: bool = False) -> Iterator[Beat]:
    """Print a progress line after every ``interval`` s of silence on ``console``, while the block runs, when
    ``console`` is not a terminal (or ``force``). Yields the :class:`Beat` (its ``status`` is a no-op when off)."""
    beat = Beat(console, what, interval)
    if not (force or not console.is_terminal):
        yield beat
        return
    thread = threading.Thread(target=beat._run, name="spmopt-heartbeat", daemon=True)
    thread.start()
    try:
        yield beat
    finally:
        beat._stop.set()
        thread.join(timeout=2)
