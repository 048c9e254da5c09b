"""The scenario estates of fixtures/scenarios (S01, S02 ...) and their audits through the CLI.

`audit(folder)` runs `pathaudit audit --format json` once per scenario folder (cached for the whole
session), so test_posture_rules, test_schema and test_paths_scenarios share one run of each.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from conftest import REPO, run_cli

SCENARIOS = REPO / "fixtures" / "scenarios"
SCENARIO_DIRS = sorted(p for p in SCENARIOS.glob("S[0-9][0-9]-*") if (p / "resources.json").is_file())


def scenario(number: str) -> Path:
    [path] = [p for p in SCENARIO_DIRS if p.name.startswith(number + "-")]
    return path


@cache
def audit(folder: Path) -> tuple[int, dict[str, Any], str]:
    args: list[str | Path] = ["audit", folder / "resources.json", "--format", "json"]
    if (folder / "pathaudit.toml").is_file():
        args += ["--config", folder / "pathaudit.toml"]
    code, out, err = run_cli(*args, cwd=folder)
    assert "Traceback" not in err, err
    return code, json.loads(out), err
