"""The `pathaudit/snapshot@1` document (README, inputs): collected resources plus how they were collected.

Resources are kept verbatim as the service returned them, except that secret-looking values are
redacted (redact.py); one copy per id (ids compare case-insensitively). The file is written
atomically, readable by its owner only (0600), gzip-compressed when its name ends in `.gz`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
from pathlib import Path
from typing import Any

import orjson

from auditor import __version__
from auditor.collect.progress import Stats
from auditor.collect.redact import redact
from auditor.collect.resource_graph import Query
from auditor.ids import key
from auditor.ingest.files import SNAPSHOT_SCHEMA
from auditor.sink import write_all


class Inventory:
    """Resources collected so far, one per id, redacted, counted per type."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.by_id: dict[str, dict[str, Any]] = {}
        # rows without an id (or not objects) are kept as returned: auditing the snapshot reports
        # each of them as skipped (README, inputs), so nothing disappears unnoticed
        self.unusable: list[Any] = []

    def add(self, item: Any) -> bool:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            self.unusable.append(self.clean(item) if isinstance(item, dict) else item)
            return False
        k = key(item["id"])
        if k in self.by_id:
            self.stats.duplicates += 1
            return False
        self.by_id[k] = self.clean(item)
        self.stats.per_type[str(item.get("type", "")).lower()] += 1
        return True

    def add_all(self, items: list[Any]) -> None:
        for item in items:
            self.add(item)

    def add_new(self, items: list[Any]) -> None:
        """ARM copies of children Resource Graph may also have returned: only ids not seen yet."""
        for item in items:
            if not isinstance(item, dict) or key(str(item.get("id") or "")) not in self.by_id:
                self.add(item)

    def replace(self, item: dict[str, Any]) -> None:
        """A fresher copy of a resource already collected (same id)."""
        k = key(item["id"])
        if k in self.by_id:
            self.by_id[k] = self.clean(item)
        else:
            self.add(item)

    def clean(self, item: dict[str, Any]) -> dict[str, Any]:
        cleaned, count = redact(item)
        self.stats.redacted += count
        return cleaned

    def resources(self) -> list[Any]:
        return [self.by_id[k] for k in sorted(self.by_id)] + self.unusable


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_snapshot(
    *,
    collected_at: str,
    tenant_id: str | None,
    subscriptions: list[str],
    management_groups: list[str],
    queries: dict[str, Query],
    stats: Stats,
    resources: list[dict[str, Any]],
    effective_routes: dict[str, list[Any]],
) -> dict[str, Any]:
    return {
        "schema": SNAPSHOT_SCHEMA,
        "collected_at": collected_at,
        "tool": {"name": "pathaudit", "version": __version__},
        "scope": {
            "tenant_id": tenant_id,
            "subscriptions": subscriptions,
            "management_groups": management_groups,
        },
        "queries": {name: {"kql": q.kql, "sha256": q.sha256} for name, q in sorted(queries.items())},
        "coverage": {"complete": not stats.failures, "failed": [f.to_dict() for f in stats.failures]},
        "resources": resources,
        "extras": {"effective_routes": dict(sorted(effective_routes.items(), key=lambda kv: key(kv[0])))},
    }


def default_path(collected_at: str) -> Path:
    stamp = collected_at.replace("-", "").replace(":", "")
    return Path(f"pathaudit-snapshot-{stamp}.json.gz")


def write_snapshot(doc: dict[str, Any], path: Path) -> Path:
    """Write atomically with mode 0600 (the file never exists with wider permissions)."""
    data = orjson.dumps(doc)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            write_all(fh, (data,), str(path))
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return path
