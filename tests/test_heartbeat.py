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


def test_beats_name_the_work_not_each_other_and_status_goes_stale():
    """Review case: a long quiet stretch gives several beats, each naming the last line of the work (not the
    previous beat), and a status older than the last line of the work gives way to that line."""
    con, buf = _console()
    with heartbeat(con, "spmopt run", interval=0.2) as beat:
        beat.status("simulating: 2,000/2,000 trials")
        time.sleep(0.1)
        con.print("[dim] 70.0 s[/] writing report.html")
        time.sleep(0.9)
    beats = [ln for ln in buf.getvalue().splitlines() if "still" in ln]
    assert len(beats) >= 3
    assert all(ln.count("still") == 1 for ln in beats)
    assert all("writing report.html" in ln and "trials" not in ln for ln in beats)
    # the quiet is counted from the last line of the work, so it grows from beat to beat
    quiet = [int(ln.rsplit("(", 1)[1].split(" s since")[0]) for ln in beats]
    assert quiet == sorted(quiet) and quiet[-1] >= 1


def test_a_second_command_in_one_process_counts_its_own_quiet():
    con, buf = _console()
    with heartbeat(con, "first", interval=0.3):
        pass
    time.sleep(0.5)                       # the console has been quiet longer than the interval
    with heartbeat(con, "second", interval=0.3):
        time.sleep(0.15)                  # but this command has not: no beat yet
    assert "still" not in buf.getvalue()
