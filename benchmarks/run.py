"""Run every benchmark: ``python benchmarks/run.py [--quick]``.

Each figure is printed as a ratio to a baseline measured in the same run, because absolute
times drift between machines and runs.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    quick = "--quick" in sys.argv
    sys.path.insert(0, str(HERE))
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    for name in names:
        if only and name.removeprefix("bench_") not in only and name not in only:
            continue
        began = time.perf_counter()
        module = importlib.import_module(name)
        module.main(quick=quick)
        print(f"({name}: {time.perf_counter() - began:.1f} s)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
