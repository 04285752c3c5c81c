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
        self.created = self.last = time.monotonic()
        self.last_text = ""
        self.beats = 0

    def print(self, *objects, beat: bool = False, **kwargs) -> None:   # noqa: A003 - Rich's name
        """Rich's print; ``beat=True`` for a heartbeat line, which is not a line of the work (it leaves ``last``
        and ``last_text`` as they were, so beats never repeat one another)."""
        super().print(*objects, **kwargs)
        if not beat:
            self.last = time.monotonic()
            if objects and isinstance(objects[0], str):
                self.last_text = objects[0]


class Beat:
    """The running heartbeat: :meth:`status` says what is going on, for the next progress line."""

    def __init__(self, console: LineConsole, what: str, interval: float) -> None:
        self.console, self.what, self.interval = console, what, interval
        # the first heartbeat on a console counts the quiet from the console's creation (a command's imports and
        # reading come before its work starts); later ones (another command in the same process) from their start
        self.t0 = self.last_beat = console.created if not console.beats else time.monotonic()
        console.beats += 1
        self._status: str | None = None
        self._status_at = -float("inf")
        self._stop = threading.Event()

    def status(self, text: str) -> None:
        self._status, self._status_at = text, time.monotonic()

    def _line(self, now: float) -> str:
        con = self.console
        # the newer of the last status and the last printed line says what is going on
        doing = self._status if self._status and self._status_at >= con.last else \
            (_plain(con.last_text) if con.last >= self.t0 else "") or "started"
        quiet = now - max(con.last, self.t0)
        return f"{now - self.t0:6.1f} s … still {self.what}: {doing[:80]} ({quiet:.0f} s since the last line)"

    def _run(self) -> None:
        con = self.console
        while not self._stop.wait(min(0.5, self.interval / 4)):
            now = time.monotonic()
            if now - max(con.last, self.last_beat, self.t0) >= self.interval:
                con.print(self._line(now), beat=True, highlight=False, markup=False)
                self.last_beat = now


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
