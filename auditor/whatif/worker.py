"""The audit after a change, in a second process (`python -m auditor.whatif.worker`).

`whatif` audits the estate twice. On a large estate with a second CPU the two audits run at the same
time: this process reads the same inputs, applies the changes, audits, and sends back what the
comparison reads (auditor.whatif.run.Side); then it answers one question, the delivered flows of the
(route context, endpoint) pairs the audit before the change reported and this one did not
(auditor.whatif.run.delivered_facts). Messages are pickles over the child's standard input and
output, between two processes of the same program; nothing else is read from them.

A usage error or an unreadable input in the worker is sent back and raised in the parent as it would
have been raised there; anything else ends the worker and the parent reports it as an internal error.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from auditor.config import Config
from auditor.errors import PathauditError
from auditor.whatif.changes import Change


@dataclass
class Job:
    inputs: list[Path]
    display: dict[Path, str] | None
    config: Config
    changes: list[Change]
    kwargs: dict[str, Any]
    every_flow_pairs: int  # the parent's threshold (auditor.whatif.run.EVERY_FLOW_PAIRS)


@dataclass
class Failure:
    error: PathauditError


@dataclass
class Crash:
    """An unexpected error in the worker, as one line (no traceback reaches the user unless
    PATHAUDIT_DEBUG is set, as in the parent)."""

    what: str


class Worker:
    """The parent's end: start it, read its Side, ask it for the delivered flows of some pairs."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    @classmethod
    def start(cls, job: Job) -> Worker:
        proc = subprocess.Popen(
            [sys.executable, "-m", "auditor.whatif.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        worker = cls(proc)
        worker._send(job)
        return worker

    def _send(self, obj: Any) -> None:
        assert self.proc.stdin is not None
        pickle.dump(obj, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()

    def _receive(self) -> Any:
        assert self.proc.stdout is not None
        try:
            msg = pickle.load(self.proc.stdout)
        except EOFError:
            code = self.proc.wait()
            raise RuntimeError(f"the what-if worker process ended without an answer (exit {code})") from None
        if isinstance(msg, Failure):
            raise msg.error
        if isinstance(msg, Crash):
            raise RuntimeError(f"in the what-if worker process: {msg.what}")
        return msg

    def side(self) -> Any:
        return self._receive()

    def delivered(self, pairs: dict[str, set[str]]) -> Any:
        self._send(pairs)
        return self._receive()

    def __enter__(self) -> Worker:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:  # the parent failed (a usage error, an interrupt): the answer is not wanted
            self.proc.kill()
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    from auditor.gcpause import gc_paused
    from auditor.ingest.files import read_inputs
    from auditor.whatif.run import audit_raw, delivered_facts, summarize

    job: Job = pickle.load(stdin)
    with gc_paused():
        try:
            raw = read_inputs(job.inputs, job.display)
            result = audit_raw(raw, job.config, job.changes, **job.kwargs)
            side = summarize(result, job.every_flow_pairs)
        except PathauditError as exc:
            pickle.dump(Failure(exc), stdout)
            stdout.flush()
            return
        pickle.dump(side, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()
        try:
            pairs = pickle.load(stdin)
        except EOFError:  # the parent needs nothing more (every flow was compared)
            return
        pickle.dump(delivered_facts(result, pairs), stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


def main() -> None:
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except Exception as exc:  # the parent says "internal error" with this line
        if os.environ.get("PATHAUDIT_DEBUG"):
            raise
        with contextlib.suppress(OSError):
            pickle.dump(Crash(f"{type(exc).__name__}: {exc}"), sys.stdout.buffer)
    with contextlib.suppress(OSError):
        sys.stdout.flush()
    os._exit(0)  # the heap is dropped with the process: no teardown of a large estate


if __name__ == "__main__":
    # run as the importable module, not as __main__: what it pickles (Failure, Crash) must unpickle in
    # the parent under auditor.whatif.worker
    from auditor.whatif.worker import main as serve_as_module

    serve_as_module()
