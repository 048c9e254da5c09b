"""`make bench`: run every benchmark in tests/bench/ (each `*.py` but this one), one after another.

Each runs in its own interpreter (so its timings and peak memory are its own) with its default
arguments; a failing benchmark is reported and the others still run. Exit 1 if any failed.

    .venv/bin/python tests/bench/run.py [NAME ...]     # e.g. `routing load`; default: all
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = set(sys.argv[1:])
    scripts = [
        p for p in sorted(HERE.glob("*.py")) if p.name != Path(__file__).name and not p.name.startswith("_")
    ]
    if wanted:
        scripts = [p for p in scripts if p.stem in wanted]
        missing = wanted - {p.stem for p in scripts}
        if missing:
            print(f"bench: no benchmark named {', '.join(sorted(missing))} in {HERE}", file=sys.stderr)
            return 2
    failed = []
    for script in scripts:
        print(f"=== {script.relative_to(HERE.parent.parent)}", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)], check=False).returncode
        print(f"=== {script.stem}: exit {code} in {time.perf_counter() - start:.1f} s\n", flush=True)
        if code != 0:
            failed.append(script.stem)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
