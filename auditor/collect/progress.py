"""What live collection tells the person waiting: progress while it runs, a summary at the end.

On a terminal a rich status line shows the current query, page and any throttling wait; in CI (the
`CI` variable is set) or when stderr is not a terminal, plain timestamped log lines. Both go to
stderr, so stdout stays free for findings. The closing summary names every failure.

An audit's stages (loading inputs, routing and flow analysis, rules, writing reports) use the same
status line on a terminal (`stage_reporter`), and print nothing at all when stderr is piped or in CI:
a log then holds only the usual lines.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Failure:
    scope: str
    type: str
    error: str

    def to_dict(self) -> dict[str, str]:
        from auditor.collect.redact import scrub_text

        # a server may echo the request (token included) in its error: scrubbed before it is written
        return {"scope": self.scope, "type": self.type, "error": scrub_text(" ".join(self.error.split()))}


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    calls: int = 0
    pages: int = 0
    retries: int = 0
    throttle_waits: int = 0
    throttle_seconds: float = 0.0
    duplicates: int = 0
    redacted: int = 0
    per_type: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def fail(self, scope: str, what: str, error: str) -> None:
        self.failures.append(Failure(scope, what, error))


class Reporter:
    """Progress events; the base class ignores them (library use, tests)."""

    def phase(self, text: str) -> None:
        pass

    def page(self, query: str, scope: str, page: int, rows: int, total: int | None) -> None:
        pass

    def retry(self, what: str, error: str, wait: float) -> None:
        pass

    def wait(self, seconds: float, reason: str) -> None:
        pass

    def warn(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class LineReporter(Reporter):
    """One plain line per event, for CI logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()

    def line(self, text: str) -> None:
        self.stream.write(f"pathaudit: collect [{time.monotonic() - self.t0:7.1f}s] {text}\n")
        self.stream.flush()

    def phase(self, text: str) -> None:
        self.line(text)

    def page(self, query: str, scope: str, page: int, rows: int, total: int | None) -> None:
        of = f" of {total}" if total is not None else ""
        self.line(f"{query} {scope}: page {page}, {rows} rows{of}")

    def retry(self, what: str, error: str, wait: float) -> None:
        self.line(f"retry in {wait:.1f}s: {what}: {error}")

    def wait(self, seconds: float, reason: str) -> None:
        self.line(f"waiting {seconds:.1f}s: {reason}")

    def warn(self, text: str) -> None:
        self.line(f"warning: {text}")


class RichReporter(Reporter):
    """A live status line on a terminal; retries, waits and warnings scroll above it. With
    `log_phases=False` (an audit's stages) phases only update the status line, which disappears when
    closed: nothing stays on the terminal."""

    def __init__(self, log_phases: bool = True) -> None:
        from rich.console import Console

        self.log_phases = log_phases
        self.console = Console(stderr=True, log_path=False, log_time=False)
        self.status = self.console.status("starting", spinner="dots")
        self.status.start()

    def phase(self, text: str) -> None:
        if self.log_phases:
            self.console.log(safe(text))
        self.status.update(safe(text))

    def page(self, query: str, scope: str, page: int, rows: int, total: int | None) -> None:
        of = f" of {total}" if total is not None else ""
        self.status.update(safe(f"{query} {scope}: page {page} ({rows} rows{of})"))

    def retry(self, what: str, error: str, wait: float) -> None:
        self.console.log(
            f"[yellow]retry in {wait:.1f}s[/]: {safe(what)}: {safe(error)}", markup=True, highlight=False
        )

    def wait(self, seconds: float, reason: str) -> None:
        self.console.log(f"[yellow]waiting {seconds:.1f}s[/]: {safe(reason)}", markup=True, highlight=False)
        self.status.update(f"waiting {seconds:.1f}s: {safe(reason)}")

    def warn(self, text: str) -> None:
        self.console.log(f"[red]warning[/]: {safe(text)}", markup=True, highlight=False)

    def close(self) -> None:
        self.status.stop()


def make_reporter(stream: TextIO | None = None) -> Reporter:
    stream = stream or sys.stderr
    if os.environ.get("CI") or not stream.isatty():
        return LineReporter(stream)
    return RichReporter()


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether a progress display belongs on `stream` (stderr): a terminal, not CI, not TERM=dumb."""
    stream = stream or sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
    return tty and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


def stage_reporter(stream: TextIO | None = None) -> Reporter:
    """Progress of an audit's stages: a transient status line on a terminal, else nothing at all."""
    return RichReporter(log_phases=False) if on_terminal(stream) else Reporter()


@contextmanager
def stages(first: str | None = None) -> Iterator[Reporter]:
    """`stage_reporter` for the length of a `with` block (closed, so the line is gone, after it)."""
    reporter = stage_reporter()
    try:
        if first:
            reporter.phase(first)
        yield reporter
    finally:
        reporter.close()


def summary_lines(stats: Stats, snapshot: dict[str, Any], destination: str | None = None) -> list[str]:
    """The closing summary: resources per type, duration, retries, throttling, every failure."""
    total = sum(stats.per_type.values())
    lines = [
        f"pathaudit: collected {total} resources in {stats.duration:.1f}s "
        f"({stats.calls} calls, {stats.pages} Resource Graph pages, {stats.retries} retries, "
        f"throttled {stats.throttle_waits} times for {stats.throttle_seconds:.1f}s)"
    ]
    width = max((len(t) for t in stats.per_type), default=0)
    for rtype, count in sorted(stats.per_type.items()):
        lines.append(f"  {rtype:<{width}}  {count:>7}")
    routes = (snapshot.get("extras") or {}).get("effective_routes") or {}
    if routes:
        lines.append(f"  effective route tables: {len(routes)} NICs")
    if stats.redacted:
        lines.append(f"  {stats.redacted} secret-looking values redacted")
    if stats.duplicates:
        lines.append(f"  {stats.duplicates} rows seen twice (kept the first copy)")
    if stats.failures:
        lines.append(
            f"pathaudit: coverage INCOMPLETE: {len(stats.failures)} scope/query failures "
            "(all listed in the snapshot's coverage.failed):"
        )
        grouped: dict[tuple[str, str], list[str]] = {}
        for f in stats.failures:
            grouped.setdefault((f.scope, f.error), []).append(f.type)
        for (scope, error), types in grouped.items():
            lines.append(f"  {scope} [{', '.join(types)}]: {error}")
    else:
        lines.append("pathaudit: coverage complete")
    if destination:
        lines.append(f"pathaudit: snapshot written to {destination} (mode 0600)")
    return lines


def safe(value: object) -> str:
    """Server messages and scope names in the progress display: no secrets, escape sequences or markup."""
    from rich.markup import escape

    from auditor.collect.redact import scrub_text
    from auditor.safetext import terminal

    return escape(terminal(scrub_text(str(value))))
