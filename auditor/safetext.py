"""Display text from any value, and text safe for a terminal. Every string from an estate is
attacker-controlled.

Foundation module (imports nothing from auditor): live collection's progress display, the CLI and
the report renderers all escape through it. The other output formats' helpers (`h`, `xml_attr`,
`md`, `csv_cell`, ...) build on `text` in `auditor.report.text`.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except tab/newline/CR, DEL, C1 controls, lone surrogates, U+FFFE/U+FFFF: not allowed in
# XML 1.0 and parse errors in HTML. Replaced by U+FFFD so the reader sees something was there.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def text(value: Any) -> str:
    """Any value as display text: None -> '', str as is, the rest via str(); invalid characters replaced."""
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    return _INVALID.sub("\ufffd", s)


# ESC-introduced sequences (CSI, OSC up to BEL/ST, two-byte escapes), then any other C0/C1 control or DEL
_ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal(value: Any, newlines: bool = False) -> str:
    """Text safe for a terminal: names and tags come from the estate (attacker-controlled), so escape
    sequences (colours, cursor moves, window titles, hyperlinks) and control characters are removed; a
    one-line message also loses its newlines and tabs."""
    s = _ANSI.sub("", text(value))
    if not newlines:
        s = s.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub("\ufffd", s)
