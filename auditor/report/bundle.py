"""Evidence bundle: one deterministic zip an auditor can archive and later check for tampering.

Contents: `findings.json`, `findings.html`, `findings.sarif`, the input files this run read under `inputs/`
(by real path, inside the folders the user named; never what a findings document merely lists),
the rule catalog used under `rules/`, confirmation evidence under `evidence/` (if any), and
`MANIFEST.json` (sha256 and size of every other file, tool version, the command line).

Same inputs give the same bytes: entries sorted by name, timestamps fixed at 1980-01-01 00:00, mode
0644, DEFLATE level 9, no comments, no extra fields. The command line in the manifest is rebuilt from
the parsed options (so it holds no secret: options whose name suggests one are redacted) with output
locations reduced to their file name (where the bundle was written is not evidence).

`verify_bundle` recomputes every hash: a changed, missing or extra file is named. The manifest itself
is not signed: record `manifest_sha256` (printed by `verify-bundle`) somewhere the bundle is not, to
detect a rewritten manifest.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from auditor import __version__

BUNDLE_SCHEMA = "pathaudit/bundle@1"
MANIFEST = "MANIFEST.json"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
COMPRESS_LEVEL = 9
SECRET_NAME = re.compile(
    r"secret|token|password|passwd|credential|api[_-]?key|sas|connection[_-]?string|"
    r"client[_-]?cert",
    re.IGNORECASE,
)
OUTPUT_OPTIONS = frozenset({"out", "bundle"})


def command_line(
    command: str,
    params: dict[str, Any],
    positional: Iterable[str] = ("inputs",),
    flags: dict[str, str] | None = None,
) -> list[str]:
    """A canonical, secrets-free command line from click's parsed params (in the order given).

    `flags` maps a parameter name to its option string (`fmt` -> `--format`); default `--<name>`."""
    positional = tuple(positional)
    flags = flags or {}
    argv = ["pathaudit", command]
    for name in positional:
        value = params.get(name)
        for item in value if isinstance(value, (list, tuple)) else ([] if value is None else [value]):
            argv.append(str(item))
    for name, value in params.items():
        if name in positional or value in (None, False, (), []):
            continue
        flag = flags.get(name) or "--" + name.replace("_", "-")
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is True:
                argv.append(flag)
                continue
            if SECRET_NAME.search(name):
                v = "<redacted>"
            elif name in OUTPUT_OPTIONS:
                v = Path(str(v)).name
            argv += [flag, str(v)]
    return argv


def command_from_context(ctx: Any, command: str) -> list[str]:
    """The command line of a running click command: only parameters the user gave (command line or
    environment), defaults left out, through `command_line` (secrets redacted, output names only)."""
    from click.core import ParameterSource

    declared = [p for p in ctx.command.params if p.name in ctx.params]
    given = {
        p.name: ctx.params[p.name]
        for p in declared
        if ctx.get_parameter_source(p.name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    }
    flags = {
        p.name: max((o for o in p.opts if o.startswith("--")), key=len, default=p.opts[0])
        for p in declared
        if getattr(p, "opts", None)
    }
    positional = [p.name for p in declared if getattr(p, "param_type_name", "") == "argument"]
    return command_line(command, given, positional, flags)


def arcname_for_input(name: str) -> str:
    """`bundled:demo-contoso/resources.json` -> `inputs/bundled/demo-contoso/resources.json`; absolute
    and `..` parts are flattened so an entry can never point outside the bundle when extracted."""
    name = name.replace("\\", "/")
    if name.startswith("bundled:"):
        name = "bundled/" + name[len("bundled:") :]
    parts = [p for p in PurePosixPath(name).parts if p not in ("/", ".", "..", "")]
    parts = [p.replace(":", "_") for p in parts]
    return "inputs/" + "/".join(parts or ["input"])


@dataclass
class BundleSpec:
    findings_json: bytes
    findings_html: bytes
    findings_sarif: bytes
    inputs: list[tuple[str, Path, str | None]]  # (name as in estate.inputs, real path, sha256 when read)
    rules_dir: Path
    command: list[str]
    estate: dict[str, Any]
    evidence: list[tuple[str, Path]] = field(default_factory=list)  # (name, file) from `pathaudit confirm`


def bundle_files(spec: BundleSpec) -> dict[str, bytes]:
    files: dict[str, bytes] = {
        "findings.json": spec.findings_json,
        "findings.html": spec.findings_html,
        "findings.sarif": spec.findings_sarif,
    }

    def add(arc: str, data: bytes) -> None:
        base, n = arc, 2
        while arc in files or arc == MANIFEST:
            arc = f"{base}~{n}"
            n += 1
        files[arc] = data

    for name, path, digest in spec.inputs:
        add(arcname_for_input(name), redacted_copy(name, read_again(name, path, digest)))
    for path in sorted(spec.rules_dir.glob("*/rule.yaml")):  # each rule's metadata (auditor.catalog)
        add(f"rules/{path.parent.name}/{path.name}", path.read_bytes())
    for name, path in spec.evidence:
        add("evidence/" + arcname_for_input(name).removeprefix("inputs/"), read_again(name, path, None))
    return files


def redacted_copy(name: str, data: bytes) -> bytes:
    """An input as the bundle keeps it: secret-looking values replaced (auditor.collect.redact), so an
    offline export that carried a key or a SAS URL does not travel on in the evidence. Unchanged bytes
    when nothing needed replacing; a file that is not JSON is kept as read (pathaudit did not use it)."""
    import gzip

    from auditor.collect.redact import redact

    packed = name.endswith(".gz")
    try:
        doc = orjson.loads(gzip.decompress(data) if packed else data)
    except (orjson.JSONDecodeError, OSError, EOFError, ValueError):
        return data
    clean, count = redact(doc)
    if not count:
        return data
    out = orjson.dumps(clean, option=orjson.OPT_INDENT_2) + b"\n"
    return gzip.compress(out, compresslevel=6, mtime=0) if packed else out


def read_again(name: str, path: Path, digest: str | None) -> bytes:
    """The bytes of a file this run read, for the bundle: a regular file, and (when its hash was taken as
    it was read) still the same bytes. Anything else is refused, naming the file, never bundled."""
    from auditor.errors import UsageError

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UsageError(f"{name}: not a regular file: it cannot go into the bundle")
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read it again for the bundle ({exc.strerror or exc})") from None
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise UsageError(
            f"{name}: changed since this run read it: the bundle would not hold what was audited"
        )
    return data


def manifest(spec: BundleSpec, files: dict[str, bytes]) -> bytes:
    doc = {
        "schema": BUNDLE_SCHEMA,
        "tool": {"name": "pathaudit", "version": __version__},
        "command": spec.command,
        "estate": {
            "sha256": spec.estate.get("sha256"),
            "collected_at": spec.estate.get("collected_at"),
            "inputs": list(spec.estate.get("inputs") or []),
        },
        "files": [
            {"path": p, "sha256": hashlib.sha256(files[p]).hexdigest(), "bytes": len(files[p])}
            for p in sorted(files)
        ],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def zip_bytes(files: dict[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = FILE_MODE << 16
            zf.writestr(info, files[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    return buf.getvalue()


def build_bundle(spec: BundleSpec) -> bytes:
    files = bundle_files(spec)
    files[MANIFEST] = manifest(spec, files)
    return zip_bytes(files)


def write_bundle(path: Path, spec: BundleSpec) -> None:
    """Written 0600 like snapshots: a bundle holds estate data."""
    from auditor.sink import write_file_atomic

    write_file_atomic(path, (build_bundle(spec),), mode=0o600)


# --- verification ------------------------------------------------------------------------------


class BundleUnreadable(Exception):
    """Not a zip, or no readable manifest: exit 2."""


@dataclass
class Verification:
    files: int
    manifest_sha256: str
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)  # "member (why)": paths or kinds a bundle never holds

    @property
    def intact(self) -> bool:
        return not (self.changed or self.missing or self.extra or self.duplicate or self.unsafe)

    def lines(self) -> list[str]:
        out = [f"unsafe member: {p}" for p in self.unsafe]
        out += [f"changed: {p}" for p in self.changed]
        out += [f"missing: {p}" for p in self.missing]
        out += [f"extra: {p}" for p in self.extra]
        out += [f"duplicate entry: {p}" for p in self.duplicate]
        return out


def unsafe_member(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is not something a pathaudit bundle holds (and would be dangerous to extract)."""
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in parts:
        return "path leaves the bundle (..)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and stat.S_IFMT(mode):
        return "device, FIFO or socket"
    return None


def verify_bundle(path: Path) -> Verification:
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleUnreadable(f"{path}: not a readable zip ({exc})") from None
    with zf:
        names = [i.filename for i in zf.infolist()]
        try:
            raw_manifest = zf.read(MANIFEST)
            doc = orjson.loads(raw_manifest)
        except KeyError:
            raise BundleUnreadable(f"{path}: no {MANIFEST}: not a pathaudit evidence bundle") from None
        except (zipfile.BadZipFile, orjson.JSONDecodeError, OSError, EOFError, zlib.error) as exc:
            raise BundleUnreadable(f"{path}: {MANIFEST} unreadable ({exc})") from None
        if (
            not isinstance(doc, dict)
            or doc.get("schema") != BUNDLE_SCHEMA
            or not isinstance(doc.get("files"), list)
        ):
            raise BundleUnreadable(f"{path}: {MANIFEST} is not a {BUNDLE_SCHEMA} manifest")
        result = Verification(
            files=len(doc["files"]), manifest_sha256=hashlib.sha256(raw_manifest).hexdigest()
        )
        seen: set[str] = set()
        for n in names:
            if n in seen and n not in result.duplicate:
                result.duplicate.append(n)
            seen.add(n)
        for info in zf.infolist():
            why = unsafe_member(info)
            if why:
                result.unsafe.append(f"{info.filename} ({why})")
        listed = {}
        for entry in doc["files"]:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                listed[entry["path"]] = entry
        for name in sorted(listed):
            entry = listed[name]
            if name not in seen:
                result.missing.append(name)
                continue
            try:
                digest, size = hashlib.sha256(), 0
                with zf.open(name) as member:  # streamed: a bundle is never held whole in memory
                    while chunk := member.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError):
                result.changed.append(name)  # CRC mismatch, corrupt stream, tampered header
                continue
            if digest.hexdigest() != entry.get("sha256") or size != entry.get("bytes"):
                result.changed.append(name)
        result.extra = sorted(n for n in seen if n not in listed and n != MANIFEST)
        result.duplicate.sort()
        return result


def write_audit_bundle(
    path: Path,
    document: dict[str, Any],
    catalog: dict[str, Any],
    inputs: list[tuple[str, Path, str | None]],
    command: list[str],
    evidence: list[tuple[str, Path]] | None = None,
) -> None:
    """`audit --bundle` / `confirm --bundle`: findings JSON/HTML/SARIF of `document`, the files this run
    read as input (`inputs`: from the estate's read files, never from what a document claims), the
    captures and log exports it used (`evidence`), the catalog."""
    from auditor.packaged import data_dir
    from auditor.report.outputs import ReportContext, render

    ctx = ReportContext.for_document(document, catalog)
    spec = BundleSpec(
        findings_json=render("json", ctx),
        findings_html=render("html", ctx),
        findings_sarif=render("sarif", ctx),
        inputs=inputs,
        rules_dir=data_dir("rules"),
        command=command,
        estate=document["estate"],
        evidence=list(evidence or []),
    )
    write_bundle(path, spec)
