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


# Escape sequences, matched whole on the raw text (before `text` turns ESC and the C1 controls into
# U+FFFD, which would leave `[31m` behind): control strings (OSC, DCS, SOS, PM, APC: 7-bit `ESC ]`,
# `ESC P`, `ESC X`, `ESC ^`, `ESC _` or their 8-bit C1 introducers) up to their terminator (BEL, ST as
# `ESC \` or 0x9C) or up to the next control character or the end of the value, whichever comes first;
# CSI (`ESC [` or 0x9B, parameters, intermediates, a final byte); any other escape (intermediates, a
# final byte: `ESC ( B`, `ESC 7`, `ESC c`).
_ANSI = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x00-\x1f\x7f-\x9f]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[ -/]*[0-~]"
)
# Any other C0/C1 control or DEL (tab and newline are kept or blanked by `terminal`), and the bidi
# controls (embeddings, overrides, isolates, marks: U+061C, U+200E/F, U+202A-E, U+2066-9), which reorder
# what a terminal shows (a name reading `exe.txt` that is `txt.exe`). Shown as U+FFFD.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal(value: Any, newlines: bool = False) -> str:
    """Text safe for a terminal: names and tags come from the estate (attacker-controlled), so escape
    sequences (colours, cursor moves, window titles, hyperlinks) are removed whole, and any other control
    character, and any bidi control, is shown as U+FFFD; a one-line message also loses its newlines and
    tabs (each a space). Same input, same output."""
    raw = "" if value is None else value if isinstance(value, str) else str(value)
    s = text(_ANSI.sub("", raw))  # sequences first: `text` would leave their bodies behind
    if not newlines:
        s = s.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub("\ufffd", s)
