"""Read estate files in every shape README, inputs accepts, without interpreting resources yet.

Shape detection happens per file; resource-level problems are left to the estate stage, which
knows types. Files that cannot be read at all become problems with effect "file not read" so the
rest of the estate is still audited and the output says what was lost.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from auditor.gcpause import gc_paused
from auditor.problems import (
    ENTRY_SKIPPED,
    EXPORT_INCOMPLETE,
    FILE_NOT_READ,
    RESOURCE_SKIPPED,
    SCOPE_FAILED,
    VALUE_IGNORED,
    Problem,
)

SNAPSHOT_SCHEMA = "pathaudit/snapshot@1"
# What to do with infrastructure-as-code given instead of an export (README, "Audit an exported estate")
NOT_AN_EXPORT = (
    "not an export of deployed resources: deploy it, then export the estate with the Resource Graph "
    "query in the README (az graph query), or use `pathaudit collect`"
)
MISSING_INPUT = "no such file or directory: check the path (or use --demo for the bundled demo estate)"
# Largest uncompressed input file accepted; an estate of 100k resources is ~300 MB of JSON.
DEFAULT_MAX_BYTES = 4 * 1024**3


@dataclass(slots=True)
class RawResource:
    data: dict[str, Any]
    file: str


@dataclass(slots=True)
class RawInputs:
    resources: list[RawResource] = field(default_factory=list)
    # NIC id (or "name:<nic name>" when only the file name says which NIC) -> effective routes
    effective_routes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    collected_at: str | None = None
    read: list[ReadFile] = field(
        default_factory=list
    )  # what was read and used: the only files a bundle holds


@dataclass(frozen=True, slots=True)
class ReadFile:
    """An input file this run read and used: its name in outputs, real path and the sha256 of its bytes."""

    name: str
    path: Path
    sha256: str


def max_input_bytes() -> int:
    value = os.environ.get("PATHAUDIT_MAX_INPUT_BYTES")
    return int(value) if value and value.isdigit() else DEFAULT_MAX_BYTES


def discover(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None, bool]]:
    """Yield (file, error, found in a directory) for every input; directories are walked recursively in
    sorted order.

    Inside a directory only regular files that really are inside it are read: a symbolic link that
    leads out of the directory the user named, a FIFO, a device or a socket is reported and not read
    (an export folder must not be a way to read /etc/shadow or /proc/self/environ into an audit or an
    evidence bundle). A file named on the command line is the user's own choice, but it too must be a
    regular file. An unreadable subdirectory is reported: its files were not audited.

    An entry of a directory that is not read leaves the run incomplete (exit 3, the rest audited); a file
    named on the command line that cannot be read is an unreadable input (exit 2)."""
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            found: list[Path] = []
            problems: list[tuple[Path, str, bool]] = []

            def unreadable(
                exc: OSError, where: list[tuple[Path, str, bool]] = problems, top: Path = path
            ) -> None:
                at = Path(exc.filename or top)
                where.append(
                    (at, f"unreadable directory ({exc.strerror or exc}): its files were not read", at != top)
                )  # the directory the user named: an unreadable input

            for dirpath, dirnames, filenames in os.walk(path, followlinks=False, onerror=unreadable):
                dirnames.sort()
                for d in dirnames:  # not descended into; a link back inside is walked at its target
                    if (Path(dirpath) / d).is_symlink() and (why := _refusal_dir(Path(dirpath) / d, root)):
                        problems.append((Path(dirpath) / d, why, True))
                found += [Path(dirpath) / f for f in filenames if f.endswith((".json", ".json.gz"))]
            yield from problems
            if not found and not problems:
                yield path, "directory holds no *.json or *.json.gz files", False
            for p in sorted(found):
                yield p, _refusal(p, root), True
        elif path.exists() or path.is_symlink():
            yield path, _refusal(path, None), False
        else:
            yield path, MISSING_INPUT, False


def _refusal_dir(link: Path, root: Path) -> str | None:
    """Why a linked directory inside an input folder is not read (it leads out of the folder), or None."""
    try:
        real = link.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        return f"a symbolic link that cannot be followed ({getattr(exc, 'strerror', None) or exc}): not read"
    if not real.is_relative_to(root):
        return f"a symbolic link to directory {real}, outside {root}: its files were not read"
    return None


def _refusal(path: Path, root: Path | None) -> str | None:
    """Why a found file is not read (outside its root through a link, not a regular file), or None."""
    try:
        real = path.resolve(strict=True)
        mode = os.stat(real).st_mode
    except (OSError, RuntimeError) as exc:
        return f"cannot read: {getattr(exc, 'strerror', None) or exc}"
    if root is not None and not real.is_relative_to(root):
        return f"a symbolic link to {real}, outside {root}: not read"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or socket): not read"
    return None


def read_bytes(path: Path, limit: int) -> bytes:
    """Read a file (gunzipping `.gz`), refusing anything larger than `limit` bytes uncompressed."""
    if path.name.endswith(".gz"):
        out = bytearray()
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                out += chunk
                if len(out) > limit:
                    raise ValueError(f"larger than {limit} bytes uncompressed (PATHAUDIT_MAX_INPUT_BYTES)")
        return bytes(out)
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"{size} bytes is larger than the limit of {limit} (PATHAUDIT_MAX_INPUT_BYTES)")
    return path.read_bytes()


def parse_json(blob: bytes) -> Any:
    """orjson with the garbage collector paused: halves the load time of large estates (stack-notes)."""
    with gc_paused():
        return orjson.loads(blob)


def read_inputs(paths: Iterable[Path], display: dict[Path, str] | None = None) -> RawInputs:
    """Read every input with the garbage collector paused: objects parsed while it was off still
    count towards a collection, so re-enabling it between files made the next allocations trigger
    full passes over everything parsed so far (tests/bench/load.py)."""
    with gc_paused():
        return _read_inputs(paths, display)


def _read_inputs(paths: Iterable[Path], display: dict[Path, str] | None) -> RawInputs:
    raw = RawInputs()
    limit = max_input_bytes()
    for path, error, in_directory in discover(paths):
        name = (display or {}).get(path) or str(path)
        raw.inputs.append(name)
        if error:
            raw.problems.append(
                Problem(name, None, None, error, ENTRY_SKIPPED if in_directory else FILE_NOT_READ)
            )
            continue
        if why := source_file(path):
            raw.problems.append(Problem(name, None, None, why, FILE_NOT_READ))
            continue
        try:
            blob = read_bytes(path, limit)
        except (OSError, EOFError, ValueError, gzip.BadGzipFile) as exc:
            raw.problems.append(Problem(name, None, None, f"cannot read: {exc}", FILE_NOT_READ))
            continue
        try:
            doc = parse_json(blob)
        except orjson.JSONDecodeError as exc:
            raw.problems.append(Problem(name, None, None, f"not valid JSON ({exc})", FILE_NOT_READ))
            continue
        before = len(raw.problems)
        absorb(doc, name, raw)
        if not any(p.effect == FILE_NOT_READ and p.file == name for p in raw.problems[before:]):
            digest = hashlib.sha256(blob if not path.name.endswith(".gz") else path.read_bytes()).hexdigest()
            raw.read.append(ReadFile(name, path.resolve(), digest))
    return raw


def source_file(path: Path) -> str | None:
    """Why a file named on the command line is infrastructure code, not an export (by its name), or None."""
    name = path.name.lower()
    if name.endswith((".bicep", ".bicepparam")):
        return f"this is a Bicep file, {NOT_AN_EXPORT}"
    if name.endswith((".tf", ".tfvars")):
        return f"this is a Terraform file, {NOT_AN_EXPORT}"
    return None


def template_kind(doc: dict[str, Any]) -> str | None:
    """ "template" / "parameters file" when `doc` is an ARM deployment template or its parameters (their
    `$schema` says so: .../deploymentTemplate.json#, subscriptionDeploymentTemplate.json#, ...)."""
    schema = doc.get("$schema")
    if not isinstance(schema, str):
        return None
    schema = schema.lower()
    if "deploymenttemplate.json" in schema and "resources" in doc:
        return "template"
    if "deploymentparameters.json" in schema and "parameters" in doc:
        return "parameters file"
    return None


def absorb(doc: Any, name: str, raw: RawInputs) -> None:
    """Recognise one file's shape (README, inputs) and add what it holds to `raw`."""
    if isinstance(doc, dict) and (kind := template_kind(doc)):
        raw.problems.append(
            Problem(name, None, None, f"this is an ARM {kind}, {NOT_AN_EXPORT}", FILE_NOT_READ)
        )
        return
    if isinstance(doc, list):
        add_resources(doc, name, raw, "array element")
        return
    if not isinstance(doc, dict):
        raw.problems.append(
            Problem(
                name, None, None, f"top-level JSON {type(doc).__name__} is no estate shape", FILE_NOT_READ
            )
        )
        return
    if doc.get("schema") == SNAPSHOT_SCHEMA:
        absorb_snapshot(doc, name, raw)
    elif "data" in doc and isinstance(doc["data"], (list, dict)):
        rows = doc["data"]
        if isinstance(rows, dict):  # resultFormat "table": {columns: [{name}], rows: [[...]]}
            rows = table_rows(rows, name, raw)
        add_resources(rows, name, raw, "data row")
        if doc.get("resultTruncated") in ("true", True):
            raw.problems.append(
                Problem(
                    name,
                    None,
                    "resultTruncated",
                    "Resource Graph truncated the result (the query must project id to page)",
                    EXPORT_INCOMPLETE,
                )
            )
        if doc.get("$skipToken") or doc.get("skipToken") or doc.get("skip_token"):
            raw.problems.append(
                Problem(
                    name,
                    None,
                    "$skipToken",
                    "Resource Graph response has a skip token: later pages were not exported",
                    EXPORT_INCOMPLETE,
                )
            )
    elif "value" in doc and isinstance(doc["value"], list):
        items = doc["value"]
        if (items and all(isinstance(i, dict) and "nextHopType" in i and "id" not in i for i in items)) or (
            not items and effective_route_owner(doc, name)
        ):
            add_effective_routes(doc, items, name, raw)
            return
        add_resources(items, name, raw, "value element")
        if doc.get("nextLink"):
            raw.problems.append(
                Problem(
                    name,
                    None,
                    "nextLink",
                    "ARM list response has a nextLink: later pages were not exported",
                    EXPORT_INCOMPLETE,
                )
            )
    elif "id" in doc or "type" in doc:
        add_resources([doc], name, raw, "resource")
    else:
        raw.problems.append(
            Problem(
                name,
                None,
                None,
                "JSON object is no estate shape (expected data, value, id/type or a pathaudit snapshot)",
                FILE_NOT_READ,
            )
        )


def add_resources(items: list[Any], name: str, raw: RawInputs, what: str) -> None:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raw.problems.append(
                Problem(
                    name,
                    None,
                    f"[{index}]",
                    f"{what} is {type(item).__name__}, not an object",
                    RESOURCE_SKIPPED,
                )
            )
            continue
        raw.resources.append(RawResource(item, name))


def table_rows(table: dict[str, Any], name: str, raw: RawInputs) -> list[Any]:
    columns = table.get("columns")
    rows = table.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        raw.problems.append(
            Problem(name, None, "data", "table-format result without columns/rows", FILE_NOT_READ)
        )
        return []
    names = [c.get("name") if isinstance(c, dict) else None for c in columns]
    return [dict(zip(names, row, strict=False)) if isinstance(row, list) else row for row in rows]


def effective_route_owner(doc: dict[str, Any], name: str) -> str | None:
    """The NIC an effective route table belongs to: a wrapper key, else the file name."""
    for key in ("networkInterfaceId", "nicId", "nic_id", "nic", "networkInterface"):
        value = doc.get(key)
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, str) and value:
            return value
    stem = Path(name).name
    for suffix in (".json.gz", ".json"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    for marker in (".effective-routes", ".effectiveroutes", "-effective-routes", ".routes"):
        if stem.lower().endswith(marker):
            return "name:" + stem[: -len(marker)]
    if stem.lower().startswith("effective-routes-"):
        return "name:" + stem[len("effective-routes-") :]
    return None


def add_effective_routes(doc: dict[str, Any], items: list[Any], name: str, raw: RawInputs) -> None:
    owner = effective_route_owner(doc, name)
    if owner is None:
        raw.problems.append(
            Problem(
                name,
                None,
                None,
                'effective route table names no NIC: wrap it as {"networkInterfaceId": ..., "value": [...]} or name the file <nic>.effective-routes.json',
                VALUE_IGNORED,
            )
        )
        return
    raw.effective_routes[owner] = items


def absorb_snapshot(doc: dict[str, Any], name: str, raw: RawInputs) -> None:
    resources = doc.get("resources")
    if not isinstance(resources, list):
        raw.problems.append(
            Problem(name, None, "resources", "snapshot has no resources array", FILE_NOT_READ)
        )
        return
    add_resources(resources, name, raw, "snapshot resource")
    collected = doc.get("collected_at")
    if isinstance(collected, str):
        raw.collected_at = max(raw.collected_at or "", collected)
    coverage = doc.get("coverage") or {}
    for failure in coverage.get("failed") or []:
        if isinstance(failure, dict):
            scope = failure.get("scope")
            rtype = failure.get("type")
            raw.problems.append(
                Problem(name, scope, rtype, str(failure.get("error") or "collection failed"), SCOPE_FAILED)
            )
    if coverage.get("complete") is False and not coverage.get("failed"):
        raw.problems.append(
            Problem(name, None, "coverage", "snapshot says its collection was incomplete", SCOPE_FAILED)
        )
    extras = doc.get("extras") or {}
    routes = extras.get("effective_routes") if isinstance(extras, dict) else None
    if isinstance(routes, dict):
        for nic_id, items in routes.items():
            if isinstance(items, dict):
                items = items.get("value")
            if isinstance(items, list):
                raw.effective_routes[nic_id] = items
