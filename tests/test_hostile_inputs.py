"""Issue #13, items 6 and 10: hostile or broken inputs give one clear line and exit 2, never a crash or a
hang: config files of the wrong types or encoding, FIFOs where a file is due, gzip bombs, nesting depth."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from conftest import REPO, run_cli

S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b'[suppressions]\nrule = "NET001"\n', "expected an array of tables ([[suppressions]])"),
        (b'[network]\non_premises = "10.0.0.0/8"\n', "network.on_premises: expected a list"),
        (b'network = "x"\n', "network: expected a table"),
        (b'[[gateways]]\nname = "x"\nsubnets = "y"\n', "gateways[0].subnets"),
        (b'[[appliances]]\nnic = "/s/x"\nsnat = "yes"\n', "appliances[0].snat"),
        (b"\xff\xfe[network]\n", "not UTF-8"),
        (b"suppressions = [1, 2]\n", "suppressions[0]: expected a table"),
    ],
)
def test_config_type_errors_are_one_line(tmp_path: Path, text: bytes, words: str) -> None:
    cfg = tmp_path / "pathaudit.toml"
    cfg.write_bytes(text)
    code, out, err = run_cli("audit", S01, "--config", cfg)
    assert code == 2 and out == "" and "Traceback" not in err and "internal error" not in err
    assert len(err.strip().splitlines()) == 1 and words in err and str(cfg) in err


@pytest.mark.parametrize("option", ["--baseline", "--config"])
def test_a_fifo_is_refused_not_waited_on(tmp_path: Path, option: str) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = run_cli("audit", S01, option, fifo, timeout=30)
    assert code == 2 and "regular file" in err


def test_a_fifo_input_is_named_and_the_rest_audited(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    code, out, err = run_cli("audit", S01, fifo, "--format", "json", "--fail-on", "never", timeout=30)
    assert code == 2 and "regular file" in err and '"NET001"' in out


def test_a_gzip_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(b"[" + b" " * (8 << 20) + b"]")  # 8 MB of nothing, a few KB compressed
    code, out, err = run_cli(
        "audit",
        S01,
        bomb,
        "--format",
        "json",
        "--fail-on",
        "never",
        env={"PATHAUDIT_MAX_INPUT_BYTES": str(1 << 20)},
    )
    assert code == 2 and "bomb.json.gz" in err and "larger than" in err and "MemoryError" not in err
    assert '"NET001"' in out  # the rest is still audited


def test_nesting_depth_is_bounded(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    code, out, err = run_cli("audit", S01, deep, "--format", "json", "--fail-on", "never")
    assert code == 2 and "deep.json" in err and "RecursionError" not in err and "Traceback" not in err
    assert '"NET001"' in out
