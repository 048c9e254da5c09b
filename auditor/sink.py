"""Writing output: every byte or a clear error, never a silent truncation.

A raw (unbuffered) stream may accept fewer bytes than offered in one `write` (Linux caps one write at
a little under 2 GiB; a pipe or socket can take less): a single write would cut the document while the
run exits 0. `write_all` loops until every chunk is written and turns a failed or stalled write into an
OutputError naming the destination (exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from auditor.errors import UsageError


class OutputError(UsageError):
    """A destination that would not take the output (exit 2)."""


def write_all(stream: Any, chunks: Iterable[bytes], name: str) -> int:
    """Write every chunk to `stream`, looping on short writes; returns the bytes written."""
    total = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            try:
                n = stream.write(view)
            except BlockingIOError as exc:
                n = exc.characters_written
            except OSError as exc:
                raise OutputError(
                    f"{name}: cannot write ({exc.strerror or exc}); the output is incomplete"
                ) from None
            if n is None:  # a buffered stream writes everything or raises
                n = len(view)
            if n <= 0:
                raise OutputError(
                    f"{name}: the output stopped accepting data after {total} bytes; the output is incomplete"
                )
            total += n
            view = view[n:]
    try:
        stream.flush()
    except OSError as exc:
        raise OutputError(f"{name}: cannot write ({exc.strerror or exc}); the output is incomplete") from None
    return total


def write_file_atomic(path: Path, chunks: Iterable[bytes], mode: int = 0o644) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a report. A path
    that exists and is not a regular file (/dev/stdout, a FIFO, a device) is written in place: renaming
    over it would replace the device node itself."""
    if path.exists() and not path.is_file():
        try:
            fh = open(path, "wb", buffering=0)  # noqa: SIM115 - closed below
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        with fh:
            write_all(fh, chunks, str(path))
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path.parent}: cannot create the folder ({exc.strerror or exc})") from None
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            os.fchmod(fd, mode)  # not widened by the umask, not left wider by an earlier file
            fh = os.fdopen(fd, "wb", buffering=0)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        with fh:
            write_all(fh, chunks, str(path))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
