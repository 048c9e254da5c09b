"""When a report says it was made: a time that the same input always gives.

Reports are byte-for-byte reproducible (the same input gives the same output), so no renderer reads
the clock. The time a report shows (HTML "generated at", the JUnit `timestamp`) is, in order:
`SOURCE_DATE_EPOCH` when set (the reproducible-builds convention,
https://reproducible-builds.org/specs/source-date-epoch/, which CI can set to the run's start), else
the time the estate was collected (`estate.collected_at` of the findings document: live collections
and snapshots carry it), else nothing, and the report says the input carries no time.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any


def report_time(document: dict[str, Any], environ: dict[str, str] | None = None) -> str | None:
    """ISO 8601 UTC (`2026-12-02T18:23:41Z`), or None when neither the environment nor the input has one."""
    env = os.environ if environ is None else environ
    epoch = env.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        try:
            return dt.datetime.fromtimestamp(int(epoch), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):
            pass
    collected = (document.get("estate") or {}).get("collected_at")
    if isinstance(collected, str) and collected:
        try:
            when = dt.datetime.fromisoformat(collected.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None
