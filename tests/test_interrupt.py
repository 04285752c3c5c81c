"""Ctrl-C during ``spmopt simulate`` on several worker processes: every process is gone within seconds, not when
the running chunks finish, the exit code is 130, and no result file is written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPMOPT = Path(sys.executable).with_name("spmopt")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")


def _session(sid: int) -> dict[int, tuple[int, float]]:
    """Live processes of session ``sid``: pid → (parent pid, CPU seconds used)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        f = stat.rsplit(")", 1)[1].split()   # state ppid pgrp session tty tpgid flags 4×faults utime stime
        if int(f[3]) == sid and f[0] not in "ZX":
            out[int(d)] = (int(f[1]), (int(f[11]) + int(f[12])) / tick)
    return out


@pytest.mark.parametrize("to", ["process", pytest.param("group", marks=pytest.mark.slow)])
def test_ctrl_c_stops_every_worker_at_once_and_writes_nothing(tmp_path, to):
    """``process``: SIGINT to the command only (``kill -INT``, a job runner); ``group``: to the whole process group,
    as a terminal's Ctrl-C does. Each worker holds a chunk of 1,500 event-simulated years (minutes of work)."""
    out = tmp_path / "out"
    cmd = [str(SPMOPT), "simulate", "--reps", "scenarios/sim/reps.csv", "--plan",
           "scenarios/plans/linear_commission.yaml", "--out", str(out), "--trials", "3000", "--chunk-size", "1500",
           "--workers", "2", "--engine", "des", "--no-plot"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)   # its own process group and session: we signal only it
    try:
        deadline = time.monotonic() + 60
        while True:   # started: two workers (children of the fork server, not of the command) computing
            procs = _session(proc.pid)
            workers = [p for p, (parent, cpu) in procs.items() if parent not in (proc.pid, 1) and p != proc.pid]
            if len(workers) >= 2 and all(procs[w][1] >= 0.3 for w in workers):
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"the workers did not start within 60 s: {procs}"
            time.sleep(0.05)
        sent = time.monotonic()
        if to == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the command was still running 30 s after Ctrl-C")
        exited = time.monotonic() - sent
        while _session(proc.pid) and time.monotonic() - sent < 30:
            time.sleep(0.02)
        all_gone = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    left = _session(proc.pid)
    assert not left, f"processes left running after Ctrl-C: {left}"
    assert proc.returncode == 130, stdout + stderr
    assert exited < 5 and all_gone < 5, f"command ended {exited:.1f} s, last worker {all_gone:.1f} s after Ctrl-C"
    assert "Traceback" not in stderr, stderr
    assert not out.exists() or not any(out.iterdir()), f"files written: {list(out.iterdir())}"
