"""Where a resource sits in the input files: file and line of its `"id"`, for SARIF physical locations.

Computed from the findings document's `estate.inputs` (so `pathaudit report` can do it without the
estate): each input file is scanned once (cached) and every JSON object with an `"id"` string is
indexed by lower-cased id. The resource's own object wins over a reference to it (`{"id": ...}`
inside another resource): an object that also has a `name` or `type` key is preferred, else the
first occurrence. Files larger than FULL_SCAN_BYTES are indexed by a cheaper regex pass (first `"id"`
followed by another key).

GitHub code scanning rejects a SARIF file in which a result has no physical location, so
`SourceLocator.physical` always answers: the input file and line that hold the resource; else the
fallback artifact (the findings document `pathaudit report` read, or the snapshot a live audit kept),
at the line of the resource's `"resource_id"`/`"id"` in it; else the first input the run read, line 1
(docs/findings.md, "SARIF").
"""

from __future__ import annotations

import functools
import gzip
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson

from auditor.packaged import demo_dir

BUNDLED_PREFIX = "bundled:"
FULL_SCAN_BYTES = 4 * 1024 * 1024  # above: the regex pass (a 47 MB export: 0.5 s instead of ~100 s)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')
_QUICK_ID = re.compile(r'"id"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,')
_RESOURCE_ID = re.compile(r'"resource_id"\s*:\s*"((?:[^"\\]|\\.)*)"')
LIVE_PREFIX = "live:"  # how a live audit lists its temporary snapshot (auditor.cli)


@dataclass(frozen=True, slots=True)
class Location:
    input: str  # the name the findings document lists under estate.inputs
    line: int  # 1-based line of the object's "id" value


def default_resolver(name: str) -> Path | None:
    """An input name as the findings document lists it -> a readable file, or None."""
    if name.startswith(BUNDLED_PREFIX):
        rest = name[len(BUNDLED_PREFIX) :]
        head, _, tail = rest.partition("/")
        path = demo_dir() / tail if head == "demo-contoso" and tail else None
    else:
        path = Path(name)
    return path if path is not None and path.is_file() else None


def _decode(token: str) -> str:
    inner = token[1:-1]
    if "\\" not in inner:
        return inner
    try:
        return str(orjson.loads(token))
    except orjson.JSONDecodeError:
        return inner


def index_text(text: str) -> dict[str, int]:
    """lower id -> 1-based line of the `"id"` value of the object that best represents that resource."""
    best: dict[str, tuple[int, int]] = {}  # lower id -> (rank: 0 resource / 1 reference, line)
    stack: list[list] = []  # frames: [is_object, has_name_or_type, id value, id line]
    expect = None  # key whose value comes next
    last_string: str | None = None
    line, last_pos = 1, 0
    for m in _TOKEN.finditer(text):
        tok = m.group()
        c = tok[0]
        if c == '"':
            if expect == "id" and stack and stack[-1][0] and stack[-1][2] is None:
                pos = m.start()
                line += text.count("\n", last_pos, pos)
                last_pos = pos
                stack[-1][2] = _decode(tok)
                stack[-1][3] = line
                last_string = None
            else:
                last_string = tok
            expect = None
        elif c == ":":
            if last_string is not None and stack and stack[-1][0]:
                key = last_string[1:-1]
                expect = key
                if key in ("name", "type"):
                    stack[-1][1] = True
            last_string = None
        elif c == "{":
            stack.append([True, False, None, 0])
            expect = last_string = None
        elif c == "[":
            stack.append([False, False, None, 0])
            expect = last_string = None
        elif c in "}]":
            if stack:
                frame = stack.pop()
                if frame[0] and frame[2] is not None:
                    key = frame[2].lower()
                    rank = 0 if frame[1] else 1
                    if key not in best or (rank, frame[3]) < best[key]:
                        best[key] = (rank, frame[3])
            expect = last_string = None
        else:  # ","
            expect = last_string = None
    return {k: v[1] for k, v in best.items()}


def resource_id_index(text: str) -> dict[str, int]:
    """lower id -> 1-based line of its first `"resource_id"` value (a findings document)."""
    out: dict[str, int] = {}
    line, last_pos = 1, 0
    for m in _RESOURCE_ID.finditer(text):
        key = _decode('"' + m.group(1) + '"').lower()
        if key in out:
            continue
        line += text.count("\n", last_pos, m.start())
        last_pos = m.start()
        out[key] = line
    return out


def quick_index(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    line, last_pos = 1, 0
    for m in _QUICK_ID.finditer(text):
        key = _decode('"' + m.group(1) + '"').lower()
        if key in out:
            continue
        line += text.count("\n", last_pos, m.start())
        last_pos = m.start()
        out[key] = line
    return out


class SourceLocator:
    """Finds the input file and line of resource ids; each file is read and indexed at most once."""

    def __init__(
        self,
        inputs: Iterable[str],
        resolver: Callable[[str], Path | None] = default_resolver,
        fallback: str | None = None,
    ) -> None:
        self.inputs = list(inputs)
        self.resolver = resolver
        self.fallback = fallback
        self._index: dict[str, dict[str, int]] = {}

    def _file_index(self, name: str) -> dict[str, int]:
        if name not in self._index:
            self._index[name] = self._build(name)
        return self._index[name]

    def _build(self, name: str, findings: bool = False) -> dict[str, int]:
        path = self.resolver(name)
        if path is None:
            return {}
        try:
            if path.name.endswith(".gz"):
                with gzip.open(path, "rb") as fh:
                    blob = fh.read(FULL_SCAN_BYTES * 8 + 1)
            else:
                blob = path.read_bytes()
        except (OSError, EOFError, gzip.BadGzipFile):
            return {}
        content = blob.decode("utf-8", errors="replace")
        index = index_text(content) if len(blob) <= FULL_SCAN_BYTES else quick_index(content)
        if findings:  # a findings document: the finding's own "resource_id" line wins over flow ids
            return {**index, **resource_id_index(content)}
        return index

    def locate(self, resource_id: str) -> Location | None:
        key = resource_id.lower()
        for name in self.inputs:
            line = self._file_index(name).get(key)
            if line is not None:
                return Location(name, line)
        return None

    def physical(self, resource_id: str) -> tuple[Location, bool]:
        """Where a SARIF result points, always: (location, whether the resource itself was found there)."""
        found = self.locate(resource_id)
        if found is not None:
            return found, True
        if self.fallback is not None:
            if self.fallback not in self._index:
                self._index[self.fallback] = self._build(self.fallback, findings=True)
            line = self._index[self.fallback].get(resource_id.lower())
            return Location(self.fallback, line or 1), line is not None
        readable = next((n for n in self.inputs if self.resolver(n) is not None), None)
        return Location(readable or (self.inputs[0] if self.inputs else "findings.json"), 1), False


@functools.lru_cache(maxsize=1024)
def _artifact_location(name: str, cwd: str) -> tuple[tuple[str, str], ...]:
    return tuple(_artifact(name).items())


def artifact_location(name: str) -> dict[str, str]:
    """SARIF artifactLocation for an input name (worked out once per input and working directory: a
    large finding names thousands of related resources in the same few files)."""
    return dict(_artifact_location(name, os.getcwd()))


def _artifact(name: str) -> dict[str, str]:
    """SARIF artifactLocation for an input name: relative URIs against %SRCROOT% (the working
    directory), bundled demo files against PATHAUDIT_BUNDLED, anything else as an absolute file URI."""
    if name.startswith(BUNDLED_PREFIX):
        return {"uri": quote(name[len(BUNDLED_PREFIX) :]), "uriBaseId": "PATHAUDIT_BUNDLED"}
    if name.startswith(LIVE_PREFIX):  # a live audit's snapshot, by its file name (kept with --out DIR)
        name = Path(name[len(LIVE_PREFIX) :]).name
    path = Path(name)
    if path.is_absolute():
        try:
            rel = path.resolve().relative_to(Path.cwd().resolve())
        except (ValueError, OSError):
            return {"uri": path.as_uri()}
        return {"uri": quote(rel.as_posix()), "uriBaseId": "%SRCROOT%"}
    parts = [p for p in Path(os.path.normpath(name)).as_posix().split("/") if p not in ("", ".")]
    return {"uri": quote("/".join(parts)), "uriBaseId": "%SRCROOT%"}
