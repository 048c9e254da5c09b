"""Ways to install and run pathaudit without a package index: the Dockerfile, its build context, the
composite GitHub Action and the README's install commands.

No Docker engine and no GitHub runner here: the Dockerfile is parsed and its build stage replayed
(the wheel is built from exactly the files the build context lets through), and the action's audit
step is run with bash the way a runner would (inputs arrive as environment variables).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# --- Dockerfile -------------------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            word, _, rest = full.partition(" ")
            out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return out


def stages(ins: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for i in ins:
        if i[0] == "FROM":
            out.append([])
        assert out, f"{i[0]} before the first FROM"
        out[-1].append(i)
    return out


SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|PRIVATE|(^|_)KEY($|_)|CONNECTION_?STRING|SAS", re.I)


def env_names(args: str) -> list[str]:
    """Variable names of an ENV or ARG instruction (KEY=VALUE pairs or the legacy `ENV KEY VALUE`)."""
    if "=" not in args.split(" ", 1)[0]:
        return [args.split(" ", 1)[0]]
    return [m.group(1) for m in re.finditer(r'(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(?:"[^"]*"|\S*)', args)]


def exec_form(args: str) -> list[str] | None:
    """The JSON array of an exec-form ENTRYPOINT/CMD; None for the shell form."""
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def check_dockerfile(text: str) -> list[str]:
    """What is wrong with a Dockerfile under the project's rules (empty: nothing)."""
    problems = []
    ins = instructions(text)
    st = stages(ins)
    names: set[str] = set()
    for stage in st:
        args = stage[0][1].split()
        image = args[0]
        if image.lower() not in names:
            pinned = re.fullmatch(r"[\w./-]+:(\d+\.\d+\.\d+)[\w.-]*(@sha256:[0-9a-f]{64})?", image)
            if not pinned and not re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", image):
                problems.append(f"FROM {image}: not pinned to a full version (or a digest)")
        if len(args) == 3 and args[1].upper() == "AS":
            names.add(args[2].lower())
    for word, rest in ins:
        if word == "ADD":
            problems.append(f"ADD {rest}: use COPY (ADD fetches URLs and unpacks archives)")
        if word in ("ENV", "ARG"):
            problems += [f"{word} {n}: looks like a secret" for n in env_names(rest) if SECRET_NAME.search(n)]
    final = st[-1]
    words = [w for w, _ in final]
    users = [(n, r) for n, (w, r) in enumerate(final) if w == "USER"]
    entry = [(n, r) for n, (w, r) in enumerate(final) if w == "ENTRYPOINT"]
    if not entry:
        problems.append("no ENTRYPOINT in the final stage")
    elif exec_form(entry[-1][1]) != ["pathaudit"]:
        problems.append(f"ENTRYPOINT {entry[-1][1]}: not the exec form of pathaudit")
    if not users:
        problems.append("no USER in the final stage: it runs as root")
    else:
        user = users[-1][1].split(":")[0]
        if user in ("root", "0"):
            problems.append(f"USER {user}: root")
        if entry and users[-1][0] > entry[-1][0]:
            problems.append("USER after ENTRYPOINT")
    if "CMD" in words and exec_form(final[words.index("CMD")][1]) != ["--help"]:
        problems.append("CMD is not --help")
    if ("WORKDIR", "/work") not in final:
        problems.append("WORKDIR is not /work")
    return problems


def test_dockerfile_follows_the_rules() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert check_dockerfile(text) == []
    st = stages(instructions(text))
    assert len(st) >= 2, "multi-stage: the wheel is built in one stage and installed in another"
    assert any(w == "RUN" and "pip wheel" in r for w, r in st[0])
    assert any(w == "RUN" and "pip install" in r for w, r in st[-1])
    assert all(w != "COPY" or "--from=" in r for w, r in st[-1]), "no source tree in the runtime stage"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda t: t.replace(
                "FROM python:3.11.14-slim-bookworm AS build", "FROM python:3.11-slim AS build"
            ),
            "not pinned",
        ),
        (lambda t: t.replace("FROM python:3.11.14-slim-bookworm\n", "FROM python:latest\n"), "not pinned"),
        (lambda t: t.replace("USER pathaudit", "USER root"), "root"),
        (lambda t: t.replace("USER pathaudit\n", ""), "runs as root"),
        (lambda t: t.replace("USER pathaudit\n", "") + "USER pathaudit\n", "USER after ENTRYPOINT"),
        (lambda t: t.replace('ENTRYPOINT ["pathaudit"]', "ENTRYPOINT pathaudit"), "ENTRYPOINT"),
        (lambda t: t.replace('ENTRYPOINT ["pathaudit"]', 'ENTRYPOINT ["python"]'), "ENTRYPOINT"),
        (lambda t: t + "ADD https://example.invalid/x.tgz /opt/\n", "ADD"),
        (lambda t: t + "ENV AZURE_CLIENT_SECRET=abc\n", "secret"),
        (lambda t: t + "ARG GITHUB_TOKEN\n", "secret"),
        (lambda t: t + 'ENV A=1 STORAGE_KEY="x y"\n', "secret"),
        (lambda t: t.replace("WORKDIR /work\n", "WORKDIR /app\n"), "WORKDIR"),
    ],
)
def test_dockerfile_check_catches(edit: Any, problem: str) -> None:
    """The rules above are not vacuous: each bad edit of the real Dockerfile is caught."""
    text = (REPO / "Dockerfile").read_text()
    bad = edit(text)
    assert bad != text
    assert any(problem in p for p in check_dockerfile(bad)), check_dockerfile(bad)


# --- the build context ------------------------------------------------------------------------------


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (exclude?, regex) in file order; the last rule matching a path or one of its
    parent folders decides, as in Docker's pattern matcher."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pat = line.lstrip("!").strip("/")
        rx = ""
        i = 0
        while i < len(pat):
            if pat.startswith("**/", i):
                rx += "(?:.*/)?"
                i += 3
            elif pat.startswith("**", i):
                rx += ".*"
                i += 2
            elif pat[i] == "*":
                rx += "[^/]*"
                i += 1
            elif pat[i] == "?":
                rx += "[^/]"
                i += 1
            else:
                rx += re.escape(pat[i])
                i += 1
        rules.append((exclude, re.compile(rx)))
    return rules


def excluded(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for exclude, rx in rules:
        if any(rx.fullmatch(p) for p in prefixes):
            verdict = exclude
    return verdict


def context_files() -> list[str]:
    """The checkout's files (tracked or new, not git-ignored) that .dockerignore lets through."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout to list the build context")
    rules = ignore_rules((REPO / ".dockerignore").read_text())
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return sorted(f for f in files if (REPO / f).is_file() and not excluded(f, rules))


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    rules = ignore_rules((REPO / ".dockerignore").read_text())
    for path in [
        ".venv/bin/python",
        ".git/config",
        "reports/demo/findings.sarif",
        "tests/artifacts/x.png",
        "tests/test_packaging.py",
        ".env",
        "auditor/__pycache__/cli.cpython-311.pyc",
        "fixtures/scenarios/S01-x/resources.json",
        "estate.json.gz",
    ]:
        assert excluded(path, rules), path
    for path in ["pyproject.toml", "README.md", "LICENSE", "auditor/cli.py", "rules/NET001/rule.yaml"]:
        assert not excluded(path, rules), path
    assert not excluded("fixtures/estates/demo-contoso/resources.json", rules)
    # the matcher itself: a later `!` rule re-includes, parents count
    toy = ignore_rules("a\n!a/keep\n**/*.pyc\n")
    assert excluded("a/x", toy) and not excluded("a/keep/y", toy) and excluded("b/c/d.pyc", toy)


def test_docker_build_stage_builds_the_wheel_from_the_context_alone(tmp_path: Path) -> None:
    """Replay the build stage: copy what its COPY lines name, from the files .dockerignore lets
    through, and build the wheel there. A COPY that misses something hatch force-includes (rules,
    checks, the demo estate, the README as metadata) fails here instead of in `docker build`."""
    ctx = set(context_files())
    build = stages(instructions((REPO / "Dockerfile").read_text()))[0]
    src = tmp_path / "src"
    src.mkdir()
    copied = 0
    for word, rest in build:
        if word != "COPY":
            continue
        *sources, dest = rest.split()
        assert not any(s.startswith("--") for s in sources), rest
        for s in sources:
            if s in ctx:  # a file: into the folder dest/, or as dest
                pairs = [(s, src / dest / Path(s).name if dest.endswith("/") else src / dest)]
            else:  # a folder: its contents into dest
                base = s.rstrip("/") + "/"
                pairs = [(f, src / dest / f[len(base) :]) for f in sorted(ctx) if f.startswith(base)]
            assert pairs, f"COPY {s}: nothing in the build context"
            for f, target in pairs:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / f, target)
                copied += 1
    assert copied > 50
    out = tmp_path / "wheels"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    names = set(zipfile.ZipFile(next(out.glob("pathaudit-*.whl"))).namelist())
    assert {
        "auditor/py.typed",
        "auditor/_data/rules/NET001/rule.yaml",
        "auditor/_data/demo-contoso/resources.json",
    } <= names
    assert any(n.endswith("licenses/LICENSE") for n in names)


# --- action.yml -------------------------------------------------------------------------------------


def action() -> dict[str, Any]:
    doc = yaml.safe_load((REPO / "action.yml").read_text())
    assert isinstance(doc, dict)
    return doc


EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def run_scripts(doc: dict[str, Any]) -> list[str]:
    return [s["run"] for s in doc["runs"]["steps"] if "run" in s]


def test_action_is_a_composite_action_with_the_documented_inputs() -> None:
    doc = action()
    assert doc["runs"]["using"] == "composite"
    assert doc["name"] and doc["description"] and doc["branding"]["icon"] and doc["branding"]["color"]
    inputs = doc["inputs"]
    assert {"inputs", "config", "fail-on", "sarif-file", "category", "python-version", "upload-sarif"} <= set(
        inputs
    )
    assert str(inputs["upload-sarif"]["default"]) == "true"
    for step in doc["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash", step.get("name")
    uses = [s["uses"] for s in doc["runs"]["steps"] if "uses" in s]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    [upload] = [
        s for s in doc["runs"]["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")
    ]
    assert "inputs.category" in upload["with"]["category"] and "inputs.upload-sarif" in upload["if"]
    # every input the action reads is declared, and every declared input is read
    text = (REPO / "action.yml").read_text()
    used = {m for e in EXPR.findall(text) for m in re.findall(r"inputs\.([A-Za-z0-9_-]+)", e)}
    assert used == set(inputs)


def test_no_expression_inside_a_run_script() -> None:
    """Inputs go through `env:` and are quoted: `${{ inputs.x }}` inside `run:` would be pasted into
    the script before bash sees it (script injection)."""
    for script in run_scripts(action()):
        assert "${{" not in script, script


def test_readme_workflows_use_only_declared_inputs() -> None:
    declared = action()["inputs"]
    required = {k for k, v in declared.items() if v.get("required") and "default" not in v}
    readme = (REPO / "README.md").read_text()
    steps = []
    for block in re.findall(r"```ya?ml\n(.*?)```", readme, re.S):
        doc = yaml.safe_load(block)
        for job in (doc.get("jobs") or {}).values() if isinstance(doc, dict) else []:
            steps += [
                s
                for s in job.get("steps", [])
                if re.fullmatch(r"(\./|[\w.-]+/pathaudit@).*", s.get("uses", ""))
            ]
    assert steps, "the README shows no workflow that uses the action"
    for step in steps:
        given = set(step.get("with") or {})
        assert given <= set(declared), given - set(declared)
        assert required <= given, required - given


def run_audit_step(
    tmp_path: Path, **inputs: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], Path]:
    """The action's audit step under bash, as a runner runs it: the step's `env:` mapping filled in
    with the input values (defaults unless given), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files."""
    doc = action()
    [step] = [s for s in doc["runs"]["steps"] if s.get("id") == "audit"]
    values = {k: str(v.get("default", "")) for k, v in doc["inputs"].items()} | inputs
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    for name, expr in step["env"].items():
        m = re.fullmatch(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", expr)
        assert m, f"{name}: {expr}"
        env[name] = values[m.group(1)]
    out, summary = tmp_path / "output", tmp_path / "summary"
    out.touch()
    summary.touch()
    env |= {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    work = tmp_path / "workspace"
    work.mkdir(exist_ok=True)
    proc = subprocess.run(["bash", "-c", step["run"]], cwd=work, env=env, capture_output=True, text=True)
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    return proc, outputs, work


DEMO = REPO / "fixtures" / "estates" / "demo-contoso"


def test_action_audit_step_writes_sarif_and_keeps_the_exit_code(tmp_path: Path) -> None:
    proc, outputs, work = run_audit_step(
        tmp_path, inputs=f"{DEMO}\n", **{"sarif-file": "out/scan.sarif", "category": "mg-contoso"}
    )
    assert proc.returncode == 0, proc.stderr  # the step itself succeeds; the code is passed on
    assert outputs["exit-code"] == "1", proc.stdout + proc.stderr  # the demo has high findings
    assert outputs.get("sarif-written") == "true"
    log = json.loads((work / "out" / "scan.sarif").read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["results"]
    assert {r["automationDetails"]["id"] for r in log["runs"]} == {"mg-contoso/"}
    assert (tmp_path / "summary").stat().st_size > 0
    proc, outputs, _ = run_audit_step(
        tmp_path, inputs=str(DEMO), **{"fail-on": "never", "args": "--rule NET001"}
    )
    assert outputs["exit-code"] == "0", proc.stderr


@pytest.mark.parametrize("field", ["inputs", "config", "args", "sarif-file", "fail-on", "category"])
def test_action_inputs_are_data_not_code(tmp_path: Path, field: str) -> None:
    """A hostile value in any input reaches pathaudit (or the SARIF rewrite) as literal data: nothing
    is executed, expanded or globbed."""
    marker = tmp_path / "pwned"
    hostile = f'$(touch {marker}) `touch {marker}`; touch {marker} && "$HOME" * \\'
    values = {"inputs": str(DEMO), "fail-on": "never", field: hostile}
    if field == "inputs":
        values["inputs"] = f"{DEMO} {hostile}"
    proc, outputs, work = run_audit_step(tmp_path, **values)
    assert not marker.exists(), proc.stdout + proc.stderr
    if field in ("inputs", "config", "args", "fail-on"):
        # a usage error, or inputs that do not exist (then the rest is still audited and reported)
        assert outputs["exit-code"] == "2", proc.stdout + proc.stderr
        assert {p.name for p in work.iterdir()} <= {"pathaudit.sarif"}
    else:
        assert outputs["exit-code"] == "0", proc.stdout + proc.stderr
        if field == "sarif-file":
            [written] = [p for p in work.rglob("*") if p.is_file()]
            assert written.relative_to(work).as_posix() == hostile
        else:
            log = json.loads((work / "pathaudit.sarif").read_text())
            assert log["runs"][0]["automationDetails"]["id"] == hostile.strip().rstrip("/") + "/"


@pytest.mark.parametrize("code", ["0", "1", "3", ""])
def test_action_ends_with_the_audit_exit_code(code: str) -> None:
    [step] = [s for s in action()["runs"]["steps"] if "PATHAUDIT_EXIT" in (s.get("env") or {})]
    proc = subprocess.run(["bash", "-c", step["run"]], env={"PATHAUDIT_EXIT": code}, capture_output=True)
    assert proc.returncode == int(code or 2)


# --- README -----------------------------------------------------------------------------------------


def install_section() -> str:
    readme = (REPO / "README.md").read_text()
    m = re.search(r"^## Install\n(.*?)^## ", readme, re.S | re.M)
    assert m, "the README has no Install section"
    return m.group(1)


def test_readme_install_commands_refer_to_what_exists() -> None:
    readme = (REPO / "README.md").read_text()
    section = install_section()
    blocks = "\n".join(re.findall(r"```(?:sh|yaml)\n(.*?)```", readme, re.S))
    assert not re.search(r"pip install pathaudit\b", blocks), "nothing publishes pathaudit to an index"
    assert "pipx install ." in blocks and "pip install ." in readme
    assert (REPO / "pyproject.toml").is_file()
    assert "docker build -t pathaudit ." in blocks and (REPO / "Dockerfile").is_file()
    assert 'docker run --rm -v "$PWD:/work" pathaudit audit estate/' in blocks
    # `pip wheel --no-deps . -w dist` then `pipx install dist/pathaudit-*.whl`: the glob must match
    # the name a wheel of this project gets
    assert "pip wheel --no-deps . -w dist" in blocks and "pipx install dist/pathaudit-*.whl" in blocks
    assert re.search(r"uses: [\w.-]+/pathaudit@v1", blocks) and (REPO / "action.yml").is_file()
    links = re.findall(r"\]\(([\w./-]+)\)", section)
    assert "action.yml" in links
    for link in links:
        assert (REPO / link).exists(), link
    anchors = re.findall(r"\]\(#([\w-]+)\)", section)
    headings = {
        re.sub(r"[^\w -]", "", h).strip().lower().replace(" ", "-")
        for h in re.findall(r"^#+ (.*)$", readme, re.M)
    }
    assert anchors and set(anchors) <= headings, set(anchors) - headings


@pytest.mark.skipif(
    shutil.which("docker") is None or os.environ.get("PATHAUDIT_DOCKER") != "1",
    reason="set PATHAUDIT_DOCKER=1 with a Docker engine",
)
def test_docker_image_runs_the_demo() -> None:  # pragma: no cover - needs a Docker engine
    subprocess.run(["docker", "build", "-t", "pathaudit-test", str(REPO)], check=True)
    proc = subprocess.run(
        ["docker", "run", "--rm", "pathaudit-test", "audit", "--demo", "--fail-on", "never"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    user = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", "pathaudit-test", "-u"],
        capture_output=True,
        text=True,
    )
    assert user.stdout.strip() != "0"
