"""The findings document's JSON schema (auditor/schemas/findings-v2.schema.json), as a Draft 2020-12 validator."""

from __future__ import annotations

import json
from functools import cache

from conftest import REPO
from jsonschema import Draft202012Validator, FormatChecker

SCHEMA_PATH = REPO / "auditor" / "schemas" / "findings-v2.schema.json"


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())
