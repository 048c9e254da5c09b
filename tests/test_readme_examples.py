"""The README's examples run as written.

Every `pathaudit ...` command in the README's fenced code blocks is extracted and either run with
`python -m auditor` (exit 0, 1 or 3, as the README's exit-code table documents: never 2, a usage error
or an unreadable input) or skipped for a reason listed below (it needs Azure, or a file no fresh clone
has). File arguments the README says stand for the demo estate (`estate.json`, `estate.json.gz`,
`estate/`: the sentence under "Audit an exported estate") become the bundled demo. The commands of one
code block run in order in one folder, so a file an earlier command writes (`--out findings.json`) is
there for the next one.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, run_cli

README = REPO / "README.md"
DEMO = REPO / "fixtures" / "estates" / "demo-contoso"

# The README says these stand for an estate export; on a fresh clone the demo estate takes their place.
DEMO_NAMES = ("estate.json", "estate.json.gz", "estate/")
DEMO_SENTENCE = (
    "put the bundled demo estate, `fixtures/estates/demo-contoso/`, where they say `estate.json`, "
    "`estate.json.gz` or `estate/`"
)

# Commands that need Azure: skipped, with why.
NEEDS_AZURE = {
    "collect": "`pathaudit collect` reads the estate from Azure: it needs a signed-in identity and the network",
    "--live": "`audit --live` collects from Azure first: it needs a signed-in identity and the network",
    "--workspace": "`confirm --workspace` queries a Log Analytics workspace in Azure",
}
# Files a fresh clone does not have (each is made in Azure or on an appliance): a command naming one is
# skipped, with why.
NOT_IN_A_CLONE = {
    "scale-set-instances.json": "written by the `az graph query` above it (needs Azure)",
    "vnets.json": "written by `az network vnet list` (needs Azure)",
    "route-tables.json": "written by `az network route-table list` (needs Azure)",
    "nics.json": "written by `az network nic list` (needs Azure)",
    "pes.json": "written by `az network private-endpoint list` (needs Azure)",
    "ai.json": "written by `az cognitiveservices account list` (needs Azure)",
    "vm1.json": "written by `az network nic show-effective-route-table` (needs Azure)",
    "nva1-eth0.pcapng": "a packet capture taken on your NVA",
    "afw0.pcap": "a packet capture taken on your Azure Firewall",
    "flowtrace.csv": "an AZFWFlowTrace export from your Log Analytics workspace",
    "last-week.json": "last week's findings document: a fresh clone has no earlier run",
}
# Options whose value is written, not read.
OUTPUT_OPTIONS = {"--out", "-o", "--bundle"}
# Shell around a pathaudit command that the test leaves out: a pipe into another program (`| dot -Tsvg >
# flow.svg`: Graphviz need not be installed; pathaudit's own output is what is checked) and `|| [ $? -eq 3 ]`.
SEPARATORS = {"|", "||", "&&", ";", "\n"}


@dataclass
class Command:
    block: int
    line: int
    argv: list[str]

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


def code_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, body) of every fenced block of shell or YAML (the CI examples)."""
    blocks = []
    for m in re.finditer(r"^```([\w-]*)[^\n]*\n(.*?)^```", text, re.M | re.S):
        if m.group(1) in ("", "sh", "bash", "shell", "console", "yaml", "yml"):
            blocks.append((text[: m.start(2)].count("\n") + 1, m.group(2)))
    return blocks


def commands(text: str) -> list[Command]:
    found: list[Command] = []
    for index, (first_line, body) in enumerate(code_blocks(text)):
        for line, logical in logical_lines(body):
            segment: list[str] = []
            for token in split_words(logical, f"README.md:{first_line + line}"):
                if token in SEPARATORS:
                    _add(found, index, first_line + line, segment)
                    segment = []
                else:
                    segment.append(token)
            _add(found, index, first_line + line, segment)
    return found


def logical_lines(body: str) -> list[tuple[int, str]]:
    """(line offset, text) of each shell command line: continued lines joined, YAML `- run:` prefixes
    dropped, a quote left open (a multi-line KQL query) carried on to the lines that close it."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(body.splitlines()):
        line = re.sub(r"^\s*-?\s*(run|script):\s*", "", raw)
        if not pending:
            start = number
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        out.append((start, pending))
        pending = ""
    return out


def split_words(line: str, where: str) -> list[str]:
    """Shell words, with `|`, `||`, `&&`, `;` as separate tokens; comments dropped."""
    lex = shlex.shlex(line, posix=True, punctuation_chars="|&;<>()")
    lex.whitespace_split = True
    try:
        return list(lex)
    except ValueError as exc:  # pragma: no cover - the README must stay parseable
        pytest.fail(f"{where}: cannot split into shell words: {exc}")


def _add(found: list[Command], block: int, line: int, words: list[str]) -> None:
    words = list(words)
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):  # VAR=value before a command
        words.pop(0)
    if words and words[0] == "pathaudit":
        found.append(Command(block, line, words))


def skip_reason(cmd: Command) -> str | None:
    args = cmd.argv[1:]
    if args and args[0] in NEEDS_AZURE:
        return NEEDS_AZURE[args[0]]
    for option, why in NEEDS_AZURE.items():
        if option.startswith("-") and option in args:
            return why
    for arg in args:
        if arg in NOT_IN_A_CLONE:
            return f"{arg}: {NOT_IN_A_CLONE[arg]}"
    return None


def as_run(cmd: Command) -> list[str]:
    """The arguments as run: the demo estate where the README says it may stand in."""
    out = []
    for arg in cmd.argv[1:]:
        out.append(str(DEMO) if arg in DEMO_NAMES else arg)
    return out


def input_files(args: list[str]) -> list[str]:
    """Arguments that name files to read (not option names, not choices, not what --out writes)."""
    files, after_output = [], False
    for arg in args:
        if after_output:
            after_output = False
            continue
        if arg in OUTPUT_OPTIONS:
            after_output = True
            continue
        if arg.startswith("-") or arg.startswith("<"):
            continue
        if re.search(r"\.(json|gz|pcap|pcapng|csv|parquet|zip|toml)$", arg) or arg.endswith("/"):
            files.append(arg)
    return files


README_TEXT = README.read_text(encoding="utf-8")
COMMANDS = commands(README_TEXT)
BLOCKS = sorted({c.block for c in COMMANDS})


def test_the_readme_says_which_files_the_demo_stands_for() -> None:
    assert " ".join(DEMO_SENTENCE.split()) in " ".join(README_TEXT.split()), (
        "the README no longer says which example files the demo estate stands for"
    )


def test_the_extraction_finds_the_readme_commands() -> None:
    """The parser sees what a reader sees: every line of a code block that starts with `pathaudit`."""
    texts = [c.text for c in COMMANDS]
    assert len(COMMANDS) >= 20
    assert any(t.startswith("pathaudit routes estate.json --subnet") for t in texts)
    assert any(t.startswith("pathaudit trace estate.json --from on-premises") for t in texts), texts
    assert not any("-Tsvg" in t or "flow.svg" in t for t in texts)  # the pipe into Graphviz is left out
    plain = [
        line.strip()
        for _, body in code_blocks(README_TEXT)
        for line in body.splitlines()
        if line.strip().startswith("pathaudit ")
    ]
    assert len(plain) <= len(COMMANDS)


def test_every_skip_reason_is_still_used() -> None:
    """A reason that matches no README command is stale: remove it (the list documents real skips)."""
    for key in [*NEEDS_AZURE, *NOT_IN_A_CLONE]:
        assert any(key in c.argv[1:] for c in COMMANDS), f"{key}: no README command uses it any more"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"block{b}")
def test_readme_commands_run_as_written(block: int, tmp_path: Path) -> None:
    ran = 0
    for cmd in (c for c in COMMANDS if c.block == block):
        where = f"README.md:{cmd.line}: {cmd.text}"
        if skip_reason(cmd):
            continue
        args = as_run(cmd)
        missing = [f for f in input_files(args) if not (tmp_path / f).exists() and not Path(f).is_absolute()]
        assert not missing, (
            f"{where}: names {missing}, which a fresh clone does not have: use a file of the repository, "
            "or add it to NOT_IN_A_CLONE with the reason"
        )
        code, _, err = run_cli(*args, cwd=tmp_path, timeout=300)
        assert "Traceback" not in err and "internal error" not in err, f"{where}\n{err}"
        assert code in (0, 1, 3), f"{where}: exit {code} (0, 1 or 3 expected)\n{err}"
        ran += 1
    skipped = [c for c in COMMANDS if c.block == block and skip_reason(c)]
    if not ran:
        pytest.skip("; ".join(f"{c.text}: {skip_reason(c)}" for c in skipped))


def test_most_readme_commands_run() -> None:
    """The skip lists must not swallow the README: most examples run."""
    runnable = [c for c in COMMANDS if not skip_reason(c)]
    assert len(runnable) >= 10, [c.text for c in runnable]
