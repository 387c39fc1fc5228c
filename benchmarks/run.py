"""Run every benchmark: ``python benchmarks/run.py [--quick] [--json[=PATH]] [name ...]``.

Each figure is printed as a ratio to a baseline measured in the same run, because absolute
times drift between machines and runs: the median over at least five interleaved samples, with
the range of the per-round ratios. ``--json`` also writes every figure (with its samples' range,
goal and verdict) as JSON, to *PATH* or to ``benchmarks.json``, so runs of two commits can be
compared.
"""

from __future__ import annotations

import importlib
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, if any
            cwd=HERE,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def main() -> int:
    quick = "--quick" in sys.argv
    json_path: Path | None = None
    for arg in sys.argv[1:]:
        if arg == "--json":
            json_path = Path("benchmarks.json")
        elif arg.startswith("--json="):
            json_path = Path(arg.removeprefix("--json="))
    sys.path.insert(0, str(HERE))
    import common

    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    figures: dict[str, list[dict[str, object]]] = {}
    durations: dict[str, float] = {}
    for name in names:
        if only and name.removeprefix("bench_") not in only and name not in only:
            continue
        began = time.perf_counter()
        module = importlib.import_module(name)
        first = len(common.RESULTS)
        module.main(quick=quick)
        figures[name] = common.RESULTS[first:]
        durations[name] = time.perf_counter() - began
        print(f"({name}: {durations[name]:.1f} s)\n")
    if json_path is not None:
        document = {
            "commit": _commit(),
            "quick": quick,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "seconds": durations,
            "figures": figures,
        }
        json_path.write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        print(f"figures written to {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
