"""Every writer loops on short writes and fails loudly on a failed one (no silent truncation): a fake
stream that takes one byte per call gets every byte; one that fails or stalls is an error naming the
destination, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from auditor.catalog import load_catalog
from auditor.report.outputs import FORMATS, ReportContext, chunks, render, write_reports
from auditor.sink import OutputError, write_all

DEMO_DOC = REPO / "reports" / "demo" / "findings.json"


class Trickle:
    """A raw stream that accepts at most `per_call` bytes per write."""

    def __init__(self, per_call: int = 1) -> None:
        self.data = bytearray()
        self.per_call = per_call
        self.calls = 0

    def write(self, b: memoryview) -> int:
        self.calls += 1
        take = bytes(b[: self.per_call])
        self.data += take
        return len(take)

    def flush(self) -> None:
        pass


class Broken(Trickle):
    def __init__(self, after: int, error: bool = True) -> None:
        super().__init__(1 << 20)
        self.after, self.error = after, error

    def write(self, b: memoryview) -> int:
        if len(self.data) >= self.after:
            if self.error:
                raise OSError(28, "No space left on device")
            return 0
        return super().write(b)


def context() -> ReportContext:
    return ReportContext.for_document(json.loads(DEMO_DOC.read_text("utf-8")), load_catalog())


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "table"])  # flows: tests/test_report_flows.py
def test_one_byte_per_write_still_writes_every_byte(fmt: str) -> None:
    ctx = context()
    expected = render(fmt, ReportContext.for_document(ctx.document, ctx.catalog))
    sink = Trickle(per_call=1 if fmt != "html" else 7)  # HTML is the largest: 7 bytes a call
    written = write_all(sink, chunks(fmt, ctx), "stdout")
    assert bytes(sink.data) == expected and written == len(expected)
    assert sink.calls >= len(expected) // sink.per_call
    assert len(list(chunks(fmt, ctx))) >= 1


@pytest.mark.parametrize(
    ("error", "words"), [(True, "No space left on device"), (False, "stopped accepting data")]
)
def test_a_failed_or_stalled_write_is_an_error_naming_the_destination(error: bool, words: str) -> None:
    with pytest.raises(OutputError) as exc:
        write_all(Broken(after=100, error=error), chunks("json", context()), "standard output")
    assert words in str(exc.value) and "standard output" in str(exc.value) and "incomplete" in str(exc.value)


def test_write_reports_to_a_trickling_stdout() -> None:
    sink = Trickle(per_call=3)
    write_reports(context(), ["json"], None, stdout=sink)  # type: ignore[arg-type]
    assert json.loads(bytes(sink.data)) == context().document


def test_a_full_disk_exits_2_with_one_line() -> None:
    """/dev/full refuses every write with ENOSPC: the run must say so and exit 2, not 0."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    code, _, err = run_cli("report", DEMO_DOC, "--format", "json", "--out", "/dev/full")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
