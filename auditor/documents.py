"""The findings document every command reads and writes: its schema name, the shipped JSON schema
(auditor/schemas/findings-v2.schema.json) and the one check that `report`, `diff`, `--baseline` and
`confirm` run before they use a document, so a document that is not one is refused with one line
naming the field, never half-read."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

FINDINGS_SCHEMA = "pathaudit/findings@2"
SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "findings-v2.schema.json"
OLDER = {
    "pathaudit/findings@1": (
        "a pathaudit/findings@1 document, written by an older pathaudit (findings@2 has one "
        "finding per misconfigured object): run `pathaudit audit ... --format json` again"
    ),
}


@cache
def _validator() -> Any:
    import json

    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def document_problem(doc: Any) -> str | None:
    """Why `doc` is not a findings@2 document, in one line naming the field; None when it is one."""
    if not isinstance(doc, dict):
        return f"not a findings document (a JSON {type(doc).__name__}, not an object)"
    schema = doc.get("schema")
    if isinstance(schema, str) and schema in OLDER:
        return OLDER[schema]
    if schema != FINDINGS_SCHEMA:
        return f'not a findings document (expected "schema": "{FINDINGS_SCHEMA}", found {schema!r})'
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(document)"
        message = err.message if len(err.message) <= 200 else err.message[:197] + "..."
        return f"field {where}: {message}"
    return None
