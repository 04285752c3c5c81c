"""Piped logs get a progress line at least every interval (issue 28): spmopt.heartbeat."""

from __future__ import annotations

import io
import time

from spmopt.heartbeat import LineConsole, heartbeat


def _console() -> tuple[LineConsole, io.StringIO]:
    buf = io.StringIO()
    return LineConsole(file=buf, force_terminal=False, width=200), buf


def test_silence_gets_lines_and_says_what_is_going_on():
    con, buf = _console()
    assert not con.is_terminal
    with heartbeat(con, "spmopt align", interval=0.2) as beat:
        con.print("[dim]  1.2 s[/] heuristic: feasible, objective 1,000.0")
        time.sleep(0.75)
        beat.status("simulating: 400/2,000 trials")
        time.sleep(0.5)
    lines = buf.getvalue().splitlines()
    beats = [ln for ln in lines if "still spmopt align" in ln]
    # 1.25 s of silence in all, at one line per 0.2 s of silence (checked every 0.05 s): at least 3 lines
    assert len(beats) >= 3
    assert "heuristic: feasible, objective 1,000.0" in beats[0] and "[dim]" not in beats[0]
    assert "simulating: 400/2,000 trials" in beats[-1]
    n = len(lines)
    time.sleep(0.5)                     # after the block, the thread is gone: no more lines
    assert len(buf.getvalue().splitlines()) == n


def test_no_lines_while_the_log_is_busy_or_on_a_terminal():
    con, buf = _console()
    with heartbeat(con, "x", interval=0.3):
        for _ in range(10):
            con.print("working")
            time.sleep(0.05)
    assert "still" not in buf.getvalue()
    term = LineConsole(file=io.StringIO(), force_terminal=True)
    with heartbeat(term, "x", interval=0.05):
        time.sleep(0.3)
    assert "still" not in term.file.getvalue()
