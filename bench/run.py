"""`make bench`: the comparison table (bench_table.py); with ``--all`` also every
detailed benchmark in bench/ in turn.

Benchmarks print; they never assert timings. Other arguments go to bench_table.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DETAILED = ["bench_equality.py", "bench_pipeline.py", "bench_simplify.py", "bench_expand.py"]


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--all"]
    status = subprocess.call([sys.executable, str(HERE / "bench_table.py"), *args])
    if "--all" in sys.argv[1:]:
        for name in DETAILED:
            print(f"\n=== {name}")
            sys.stdout.flush()
            rc = subprocess.call([sys.executable, str(HERE / name)])
            status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
