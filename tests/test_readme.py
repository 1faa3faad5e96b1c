"""The README and the pages under docs/, as a newcomer meets them: the README is short, every
relative link lands on a file (and a heading) that exists, and every command of their `sh`
blocks that can run on this machine runs as written and exits 0.

Commands are read from fenced ```sh blocks only, so no other block may be a shell block by
another name (```bash, ```shell, ```console), and no other block may hold something that
looks like one of the project's commands. A command that cannot run here is skipped by one
of the rules in SKIP_RULES, each naming why; nothing is dropped silently. The few rewrites
that keep runs parallel-safe and side-effect free are listed in REWRITES.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

from model.source import PROJECT_DIR

ROOT = PROJECT_DIR
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 250
# The `gpu-lab` console command (pyproject.toml's [project.scripts]; `make install` installs it).
GPU_LAB = ROOT / "venv" / "bin" / "gpu-lab"
TIMEOUT = 120            # seconds per command; together they take well under 20 s on 2 cores

SHELL_LANGUAGES = {"bash", "shell", "console", "zsh", "shell-session"}
COMMAND_LOOKING = re.compile(r"^\s*(\$ |venv/bin/|make |python3? -m |gpu-lab )")


# --- reading the pages -------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    page: Path
    line: int            # 1-based line of the opening fence
    language: str
    lines: tuple[str, ...]


def _shown(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def fenced_blocks(page: Path) -> list[Block]:
    blocks, current, start, language = [], None, 0, ""
    for number, line in enumerate(page.read_text().splitlines(), 1):
        fence = re.match(r"^\s*```\s*([\w-]*)\s*$", line)
        if current is None and fence:
            current, start, language = [], number, fence.group(1)
        elif current is not None and re.match(r"^\s*```\s*$", line):
            blocks.append(Block(page, start, language, tuple(current)))
            current = None
        elif current is not None:
            current.append(line)
    assert current is None, f"{page.name}:{start}: a fenced block is never closed"
    return blocks


def prose(page: Path) -> str:
    """The page without its fenced blocks and inline code spans (which may span lines)."""
    return re.sub(r"`[^`]*`", "", _without_blocks(page))


def _without_blocks(page: Path) -> str:
    text, inside = [], False
    for line in page.read_text().splitlines():
        if re.match(r"^\s*```", line):
            inside = not inside
            continue
        if not inside:
            text.append(line)
    return "\n".join(text)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in _without_blocks(page).splitlines():
        m = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if not m:
            continue
        base = anchor(m.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def relative_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(prose(page))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]       # http:, https:, mailto:


# --- commands ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    text: str            # as written (a heredoc keeps its lines)
    where: str           # page:line

    @property
    def head(self) -> str:
        return self.text.splitlines()[0]

    def segments(self) -> list[list[str]]:
        """The simple commands of the first line, split at &&, ||, ; and |, as words."""
        parts = re.split(r"&&|\|\||;|\|", self.head)
        words = []
        for part in parts:
            try:
                tokens = shlex.split(part)
            except ValueError:
                tokens = part.split()
            while tokens and re.match(r"^\w+=", tokens[0]) and len(tokens) > 1:
                tokens = tokens[1:]                 # VAR=value command ...
            if tokens:
                words.append(tokens)
        return words

    def programs(self) -> list[str]:
        return [Path(words[0]).name for words in self.segments()]

    def words(self) -> list[str]:
        return [w for words in self.segments() for w in words]

    def gpu_lab_subcommand(self) -> Optional[str]:
        for words in self.segments():
            if Path(words[0]).name == "gpu-lab":
                rest = [w for w in words[1:] if not w.startswith("-")]
                return rest[0] if rest else None
        return None

    @property
    def needs_console_command(self) -> bool:
        """Runs venv/bin/gpu-lab: itself, or through the Makefile's `plan`."""
        return "venv/bin/gpu-lab" in self.head or self.head.startswith("make plan")


def _strip_comment(line: str) -> str:
    """A line without its trailing `# comment` (a # that starts a word outside quotes)."""
    for match in re.finditer(r"(^|\s)#", line):
        before = line[:match.start()]
        try:
            shlex.split(before)
        except ValueError:
            continue                                # inside quotes
        return before.rstrip()
    return line.rstrip()


def commands_of(block: Block) -> list[Command]:
    commands, lines, i = [], list(block.lines), 0
    while i < len(lines):
        number = block.line + 1 + i
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        text = _strip_comment(line)
        while text.endswith("\\") and i < len(lines):
            text = text[:-1].rstrip() + " " + _strip_comment(lines[i]).strip()
            i += 1
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", text)
        if heredoc:
            body = []
            while i < len(lines) and lines[i].strip() != heredoc.group(1):
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"{block.page.name}:{number}: heredoc never ends"
            text = "\n".join([text, *body, lines[i]])
            i += 1
        commands.append(Command(text, f"{_shown(block.page)}:{number}"))
    return commands


def all_commands() -> list[Command]:
    seen: dict[str, Command] = {}
    for page in PAGES:
        for block in fenced_blocks(page):
            if block.language == "sh":
                for command in commands_of(block):
                    seen.setdefault(command.text, command)      # each distinct command once
    return list(seen.values())


# Why a command is not run here. Every rule must still match some command (see
# test_every_skip_rule_is_used), so the list says exactly what the pages ask for.
CLOUD_TOOLS = {"gcloud", "pulumi", "kubectl", "kind", "helm"}
LIVE_SUBCOMMANDS = {"new", "reset", "destroy", "list", "reap", "verify", "report", "login"}
LIVE_OPTIONS = {"--project", "--kubeconfig", "--context", "--prometheus-url", "--archive",
                "--endpoint-url"}
CANDIDATE_STACK = "alice"     # the pages' example candidate: a stack that `new alice` creates

SKIP_RULES: list[tuple[str, Callable[[Command], bool]]] = [
    ("needs a cloud, a cluster or the Pulumi CLI: gcloud, pulumi, kubectl, kind, helm",
     lambda c: bool(CLOUD_TOOLS & set(c.programs()))),
    ("would run the suite again from inside it: make test, pytest",
     lambda c: c.head.startswith("make test") or "pytest" in c.words()),
    ("writes outside a temp dir: make install (re)builds venv/",
     lambda c: c.head.startswith("make install")),
    ("measures for minutes and checks nothing: make bench, bench/",
     lambda c: c.head.startswith("make bench") or "bench/" in c.head),
    ("reads a GCP project, a cluster or a bucket: "
     + ", ".join(sorted(LIVE_OPTIONS)),
     lambda c: bool(LIVE_OPTIONS & {w.split("=")[0] for w in c.words()})),
    ("drives the Pulumi CLI, or grades a live cluster or an interview's files: gpu-lab "
     + ", ".join(sorted(LIVE_SUBCOMMANDS)),
     lambda c: c.gpu_lab_subcommand() in LIVE_SUBCOMMANDS),
    ("preflight without --offline reads the stack's GCP project",
     lambda c: c.gpu_lab_subcommand() == "preflight" and "--offline" not in c.words()),
    (f"the stack {CANDIDATE_STACK!r} exists only once `gpu-lab new {CANDIDATE_STACK}` has run",
     lambda c: CANDIDATE_STACK in c.words()),
]


def skip_reason(command: Command) -> Optional[str]:
    for reason, applies in SKIP_RULES:
        if applies(command):
            return reason
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# How a command is run, when it is: from the repository root, as written but for these.
REWRITES = [
    # Files a command writes go to the test's own temp dir (parallel-safe, nothing left in
    # the checkout): -o/--output/--output-dir PATH, render --json PATH, a shell's > PATH.
    ("output paths into tmp_path", lambda text, tmp: re.sub(
        r"(?m)(\s(?:-o|--output|--output-dir|--json)\s+|>\s*)(?![-&]|/dev/)([^\s;&|]+)",
        lambda m: f"{m.group(1)}{shlex.quote(str(tmp / Path(m.group(2)).name))}", text)),
    # `make plan` must not rebuild the venv the suite is running in when a requirement file
    # is newer than its stamp: the plan runs, the install is taken as done.
    ("make plan without reinstalling", lambda text, tmp: re.sub(
        r"^make plan", "make -o venv/.installed plan", text)),
    # infer.py serves metrics: on a free port, not 8000 (other runs, other processes).
    ("infer.py on a free metrics port", lambda text, tmp: (
        f"{text} --metrics-port {_free_port()}"
        if "workload/infer.py" in text and "--metrics-port" not in text else text)),
]


def runnable(command: Command, tmp: Path) -> str:
    text = command.text
    for _, rewrite in REWRITES:
        text = rewrite(text, tmp)
    return text


COMMANDS = all_commands()


def _param(command: Command):
    reason = skip_reason(command)
    marks = [pytest.mark.skip(reason=f"{command.where}: {reason}")] if reason else []
    return pytest.param(command, id=f"{command.where} {command.head[:60]}", marks=marks)


# --- the tests ---------------------------------------------------------------------------

def test_the_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; at most {MAX_README_LINES}: move detail to docs/")


def test_the_readme_links_every_docs_page():
    linked = {(ROOT / target.split("#")[0]).resolve() for target in relative_links(README)}
    unlinked = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


@pytest.mark.parametrize("page", PAGES, ids=_shown)
def test_relative_links_land(page):
    broken = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(f"{target}: no heading #{fragment} in {file.name}")
    assert not broken, f"{page.name}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=_shown)
def test_commands_are_in_sh_blocks(page):
    """Only ```sh blocks are read for commands: none hides under another name."""
    wrong = [f"{page.name}:{b.line}: ```{b.language}" for b in fenced_blocks(page)
             if b.language in SHELL_LANGUAGES]
    hidden = [f"{page.name}:{b.line}: {line.strip()}" for b in fenced_blocks(page)
              if b.language != "sh" for line in b.lines if COMMAND_LOOKING.match(line)]
    assert not wrong and not hidden, f"write commands in ```sh blocks: {wrong + hidden}"


@pytest.mark.parametrize("page", PAGES, ids=_shown)
def test_one_spelling_of_the_command(page):
    """`venv/bin/gpu-lab <command>`; `venv/bin/python -m lab` only where it says so."""
    text = page.read_text()
    bare = [m.group(0) for m in re.finditer(r"(?<![\w/])python3? -m lab\b", text)]
    commands = [c.where for b in fenced_blocks(page) if b.language == "sh"
                for c in commands_of(b) if re.match(r"^(gpu-lab|lab|python3? -m lab)\b", c.head)]
    assert not bare and not commands, (
        f"{page.name}: spell the command venv/bin/gpu-lab: {bare + commands}")


def test_python_m_lab_is_mentioned_once():
    """The README says once that `venv/bin/python -m lab` is the same as venv/bin/gpu-lab."""
    counts = {_shown(p): p.read_text().count("python -m lab") for p in PAGES}
    assert counts[_shown(README)] == 1 and sum(counts.values()) == 1, counts


def test_there_are_commands_to_run():
    runs = [c for c in COMMANDS if skip_reason(c) is None]
    assert len(runs) >= 5, [c.head for c in runs]
    assert any(c.needs_console_command for c in runs)


def test_a_lone_gpu_lab_command_is_told_from_a_shell_script():
    assert lone_gpu_lab("venv/bin/gpu-lab simulate --stack dev --query 'sum(up) by (job)'") == \
        ["simulate", "--stack", "dev", "--query", "sum(up) by (job)"]
    for script in ("venv/bin/gpu-lab render --stack dev --json - | head",
                   "venv/bin/gpu-lab guide --stack dev > guide.md",
                   "venv/bin/gpu-lab list && echo done", "make plan STACK=dev",
                   "venv/bin/python -m lab --help", "venv/bin/gpu-lab kind-config $X"):
        assert lone_gpu_lab(script) is None, script


def test_every_skip_rule_is_used():
    unused = [reason for reason, applies in SKIP_RULES if not any(map(applies, COMMANDS))]
    assert not unused, f"skip rules no command needs any more (remove them): {unused}"


def lone_gpu_lab(script: str) -> Optional[list[str]]:
    """The arguments of a script that is one `venv/bin/gpu-lab ...` command and nothing else
    (no pipe, redirection, list or substitution outside quotes); None for any other script."""
    if "\n" in script or "$" in script or "`" in script:
        return None
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    if not words or words[0] != "venv/bin/gpu-lab" or \
            any(set(w) <= set("|&;<>()") for w in words):
        return None
    return words[1:]


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS])
def test_command_runs(command, tmp_path, monkeypatch):
    if command.needs_console_command and not GPU_LAB.exists():
        pytest.fail(f"{command.where}: {GPU_LAB.relative_to(ROOT)} is missing; `make install` "
                    "installs the gpu-lab console command (pyproject.toml)")
    script = runnable(command, tmp_path)
    start = time.monotonic()
    args = lone_gpu_lab(script)
    if args is not None:
        # The console script's own entry point (lab.cli, what venv/bin/gpu-lab calls), run
        # in this process from the repository root: the same command, without a new
        # interpreter importing Pulumi each time (tests/test_cli_reach.py runs the installed
        # script itself, from another directory).
        from typer.testing import CliRunner

        from lab.cli import app
        monkeypatch.chdir(ROOT)
        ran = CliRunner().invoke(app, args, prog_name="gpu-lab")
        result = subprocess.CompletedProcess(script, ran.exit_code, ran.stdout,
                                             f"{ran.stderr}{ran.exception or ''}")
    else:
        result = subprocess.run(["bash", "-o", "pipefail", "-ec", script], cwd=ROOT,
                                capture_output=True, text=True, timeout=TIMEOUT)
    took = time.monotonic() - start
    assert result.returncode == 0, (
        f"{command.where}: `{command.head}` exited {result.returncode} after {took:.1f} s\n"
        f"ran: {script}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}")
