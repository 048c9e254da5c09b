"""Start-up cost of the CLI: `pathaudit --help` wall time (target < 0.5 s), median of 10 runs.

Also lists which heavy modules a bare `import auditor.cli` pulls in: none of azure.*, scapy,
networkx, duckdb or rich may load before a command needs them.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def wall(args: list[str], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    exe = [sys.executable, "-m", "auditor"]
    print(f"pathaudit --help          median {wall([*exe, '--help']) * 1000:7.1f} ms (target < 500 ms)")
    print(f"pathaudit audit --help    median {wall([*exe, 'audit', '--help']) * 1000:7.1f} ms")
    print(
        f"python -c pass            median {wall([sys.executable, '-c', 'pass']) * 1000:7.1f} ms (interpreter floor)"
    )
    probe = (
        "import sys, auditor.cli; heavy = [m for m in ('azure', 'scapy', 'networkx', 'duckdb', 'rich', 'yaml') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.strip()
    print(f"heavy modules loaded by `import auditor.cli`: {out}")


if __name__ == "__main__":
    main()
