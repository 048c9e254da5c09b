"""Shared test helpers: run the CLI in a subprocess, write JSON inputs, find the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# tests/bench holds scripts run by hand (`make bench`), not tests.
collect_ignore = ["bench"]


def run_cli(
    *args: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> tuple[int, str, str]:
    """Run `python -m auditor ARGS`; returns (exit code, stdout, stderr) as text."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PATHAUDIT_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", *map(str, args)],
        capture_output=True,
        cwd=cwd or REPO,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


def write_json(tmp_path: Path, name: str, obj: Any) -> Path:
    """Write `obj` as JSON to tmp_path/name (parent folders created) and return the path."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def grouped(example: dict[str, Any], destinations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A findings@2 `flow` around one @1-style flow (`example`): its source, appliances and destination."""
    apps = [
        h["id"]
        for lane in ("forward", "return")
        for h in example.get(lane) or []
        if isinstance(h, dict) and h.get("kind") in ("nva", "azure-firewall") and h.get("id")
    ]
    dests = (
        destinations
        if destinations is not None
        else [
            {
                "id": example.get("destination"),
                "ip": example.get("destination_ip"),
                "port": example.get("port"),
            }
        ]
    )
    return {
        "sources": [example.get("source")],
        "appliances": list(dict.fromkeys(apps)),
        "destinations": dests,
        "destinations_total": len(dests),
        "example": example,
    }


def unexpected(problems: list[Any]) -> list[Any]:
    """Problems other than references to resources a deliberately partial fixture leaves out (those make
    coverage incomplete by design: tests/test_coverage_gaps.py checks them)."""
    return [p for p in problems if p.effect != "referenced resource missing"]
