"""Where reports go: a destination checked before the work starts, and the one line that says what was
written (so a CI log shows what happened without opening the files).

`check_destination` runs before an audit, a confirmation or a collection: an `--out` under a file, in
a read-only folder or in one this user cannot write is one line naming the option, the path and what
to do instead (exit 2), never a failure after minutes of work. It creates nothing but a probe file,
removed at once, in the folder that must hold the output.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditor.errors import UsageError
from auditor.findings import SEVERITIES

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
}


def writes_folder(formats: Sequence[str], out: Path) -> bool:
    """Whether --out names a folder (several formats, an existing folder, a trailing slash), as
    auditor.report.outputs.plan decides."""
    return len(dict.fromkeys(formats)) > 1 or out.is_dir() or str(out).endswith(("/", os.sep))


def check_destination(path: Path, option: str, *, folder: bool) -> None:
    """UsageError (exit 2) unless `path` (a file, or a folder when `folder`) can be written."""
    if not folder and path.exists() and not path.is_dir() and not path.is_file():
        return  # /dev/stdout, a FIFO: written in place
    if not folder and path.is_dir():
        raise UsageError(f"{option} {path}: is a folder: name a file")
    if folder and path.exists() and not path.is_dir():
        raise UsageError(
            f"{option} {path}: is a file, not a folder: choose a folder (or a new path) for the reports"
        )
    holder = path if folder else path.parent
    existing = holder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(
            f"{option} {path}: {existing} is a file, not a folder: choose a path inside a folder you can write"
        )
    problem = unwritable(existing)
    if problem:
        raise UsageError(
            f"{option} {path}: cannot write in {existing} ({problem}): choose a folder you can write"
        )


def unwritable(folder: Path) -> str | None:
    """Why nothing can be created in `folder`, or None. A real probe: permission bits say nothing about
    root, read-only mounts or immutable folders."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".pathaudit-probe-", dir=folder)
    except OSError as exc:
        return _REASONS.get(exc.errno or 0) or (exc.strerror or "cannot create a file").lower()
    os.close(fd)
    os.unlink(probe)
    return None


def written_line(document: dict[str, Any], formats: Sequence[str], out: Path, written: Sequence[Path]) -> str:
    """`pathaudit: 17 findings (10 high, 7 medium) written to reports/demo/ (json, sarif, html)`."""
    summary = document.get("summary") or {}
    findings = document.get("findings") or []
    counts = [f"{summary[s]} {s}" for s in SEVERITIES if summary.get(s)]
    extra = [f"{summary[k]} {k}" for k in ("suppressed", "refuted") if summary.get(k)]
    detail = ", ".join(counts) + ("; " if counts and extra else "") + ", ".join(extra)
    noun = "finding" if len(findings) == 1 else "findings"
    what = f"{len(findings)} {noun}" + (f" ({detail})" if detail else "")
    if len(written) == 1:
        where = str(written[0])
    else:
        where = str(out) if str(out).endswith(("/", os.sep)) else f"{out}/"
    return f"pathaudit: {what} written to {where} ({', '.join(dict.fromkeys(formats))})"
