"""Run every benchmark (``--smoke`` for the quick versions). Each script rewrites its own section of
benchmarks/RESULTS.md when run in full mode."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["pmedcap.py", "northeast.py", "scale.py", "contiguity.py", "national.py", "whatif.py", "payout.py",
           "simulate.py", "quota.py", "scenarios.py"]

if __name__ == "__main__":
    extra = sys.argv[1:]
    for s in SCRIPTS:
        print(f"== {s}", flush=True)
        subprocess.run([sys.executable, str(HERE / s), *extra], check=True, cwd=HERE)
