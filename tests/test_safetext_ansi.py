"""`terminal()`: escape sequences from the estate are removed whole (not left behind as `[31m` once
their ESC is neutralised), any other control character and any bidi control is shown as U+FFFD, and a
one-line message loses its line breaks. The same input gives the same output."""

from __future__ import annotations

import pytest

from auditor.safetext import terminal, text

FFFD = "\ufffd"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "red"),  # CSI colour
        ("\x1b[1;38;2;255;0;0mbold\x1b[m", "bold"),  # CSI with parameters, and with none
        ("up\x1b[2Aand\x1b[2Kclear", "upandclear"),  # cursor move, erase line
        ("\x1b]8;;http://x\x1b\\text\x1b]8;;\x1b\\", "text"),  # OSC 8 hyperlink, ST terminated
        ("\x1b]8;;http://x\x07text\x1b]8;;\x07", "text"),  # ... BEL terminated
        ("\x1b]0;owned\x07name", "name"),  # OSC window title, BEL terminated
        ("\x1b]2;owned\x1b\\name", "name"),  # ... ST terminated
        ("\x1bPq#0;2;0;0;0\x1b\\after", "after"),  # DCS (sixel) up to ST
        ("\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\x", "x"),  # APC, PM, SOS
        ("\x1b(Bascii\x1b7\x1b8\x1bc", "ascii"),  # charset, save/restore cursor, reset
        ("\x9b2Jx", "x"),  # 8-bit CSI (C1)
        ("\x9d0;title\x9cname", "name"),  # 8-bit OSC, 8-bit ST
        ("\x9d0;title\x07name", "name"),
        ("a\x1b]0;unterminated", "a"),  # an unterminated string takes the rest, as a terminal would
        ("a\x1b]0;title\nb", "a b"),  # ... up to the next control character
        ("dcs\x90", "dcs"),  # an 8-bit DCS introducer with nothing after it: an empty string
    ],
)
def test_escape_sequences_are_removed_whole(raw: str, shown: str) -> None:
    assert terminal(raw) == shown
    assert terminal(raw, newlines=True) == shown.replace("a b", "a\nb")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("bell\x07", f"bell{FFFD}"),
        ("nul\x00del\x7f", f"nul{FFFD}del{FFFD}"),
        ("esc at the end\x1b", f"esc at the end{FFFD}"),
        ("\x1b\x1b[31mx", f"{FFFD}x"),  # a lone ESC, then a whole sequence
        ("c1 \x85\x9c", f"c1 {FFFD}{FFFD}"),  # NEL; an ST on its own
        ("\x9b", FFFD),  # a CSI introducer with nothing after it
        ("back\x08space", f"back{FFFD}space"),
        ("ff\x0cvt\x0b", f"ff{FFFD}vt{FFFD}"),
        ("lone \ud800 surrogate", f"lone {FFFD} surrogate"),
    ],
)
def test_other_control_characters_are_shown_as_replacement(raw: str, shown: str) -> None:
    assert terminal(raw) == shown


@pytest.mark.parametrize(
    "bidi", ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069"]
)
def test_bidi_controls_cannot_reorder_what_is_shown(bidi: str) -> None:
    """A name reading `invoice-txt.exe` that is stored as `invoice-\u202eexe.txt`: shown as stored,
    the override visible as U+FFFD."""
    assert terminal(f"invoice-{bidi}exe.txt") == f"invoice-{FFFD}exe.txt"
    assert terminal("\u200e\u200f\u061c") == FFFD * 3  # the marks too


def test_line_breaks_and_tabs() -> None:
    assert terminal("a\nforged: line\r\tb") == "a forged: line  b"
    assert terminal("a\nb\tc\rd", newlines=True) == f"a\nb\tc{FFFD}d"


def test_nothing_unsafe_survives_whatever_the_mix() -> None:
    """Sequences nested, broken, in 7 and 8 bits, beside quotes and line breaks: no ESC, BEL, C0 or C1
    control, DEL or bidi control comes out, and the same input gives the same output."""
    pieces = [
        "\x1b",
        "[",
        "]",
        "31m",
        "8;;",
        "\x07",
        "\\",
        "\x9b",
        "\x9d",
        "\x9c",
        "\u202e",
        "\n",
        "'",
        "P",
        "name",
        "\x00",
        "\x7f",
    ]
    unsafe = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} | set("\u202a\u202b\u202c\u202d\u202e")
    for a in pieces:
        for b in pieces:
            for c in pieces:
                raw = a + b + c + "x" + b + a
                shown = terminal(raw)
                assert not unsafe & set(shown), repr(raw)
                assert terminal(raw) == shown
                assert not (unsafe - {"\n", "\t"}) & set(terminal(raw, newlines=True)), repr(raw)


def test_names_and_values_without_controls_are_unchanged() -> None:
    for value in ["vnet-ai-weu/snet-pe", "日本語の名前", "a [31m b", "x'y\"z $(id)", "", "emoji 🚀"]:
        assert terminal(value) == value
    assert terminal(None) == "" and terminal(443) == "443"


def test_text_still_replaces_invalid_characters_for_other_formats() -> None:
    """`text` (HTML, XML, Markdown build on it) is unchanged: it replaces, it does not strip."""
    assert text("\x1b[31mred") == f"{FFFD}[31mred"
