"""Issue #13, item 7: `--flow-trace PATH` is read literally. DuckDB expands `*`, `?` and `[..]` in the file
names it reads: `export[1].csv` must be that file, never a pattern that also reads `export1.csv`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conftest import REPO, run_cli

LOGS = REPO / "fixtures" / "flowlogs"
S05 = REPO / "fixtures" / "findings" / "S05-findings.json"


def test_glob_characters_in_an_export_name_are_literal(tmp_path: Path) -> None:
    shutil.copyfile(LOGS / "symmetric.csv", tmp_path / "export[1].csv")
    shutil.copyfile(LOGS / "asymmetric.csv", tmp_path / "export1.csv")  # what the pattern would match
    code, _, err = run_cli("confirm", S05, "--flow-trace", tmp_path / "export[1].csv", "--fail-on", "never")
    assert code == 0, err
    assert "refuted" in err and "confirmed" not in err.replace("not confirmed", "")


def test_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    code, _, err = run_cli("confirm", S05, "--flow-trace", fifo, timeout=30)
    assert code == 2 and "regular file" in err and len(err.strip().splitlines()) == 1
