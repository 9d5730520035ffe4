"""`make bench`: run every benchmark in bench/ and print its figures.

Benchmarks print; they never assert timings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_equality.py", "bench_pipeline.py", "bench_simplify.py", "bench_expand.py"]


def main() -> int:
    status = 0
    for name in BENCHES:
        print(f"\n=== {name}")
        sys.stdout.flush()
        rc = subprocess.call([sys.executable, str(HERE / name)])
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
