"""One way to get the operators' tool, and everything says it: `make ops` creates .venv-ops, whose
`cashout-ops` is the command the README, the runbook, the alarms and --help all name, and every
command line they show parses with the tool's own parser."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from local.cfn_template import load_template
from ops.cli import _parser, main
from tests.ops.conftest import Ran, cancels

ROOT = Path(__file__).resolve().parents[2]
README, RUNBOOK, TEMPLATE = ROOT / "README.md", ROOT / "docs" / "runbook.md", ROOT / "template.yaml"
COMMAND = ".venv-ops/bin/cashout-ops"
MAKE, GIT = shutil.which("make") or "make", shutil.which("git") or "git"
Tool = Callable[..., Ran]


def alarm_descriptions() -> dict[str, str]:
    """Each alarm's description, its lines joined."""
    return {
        name: " ".join(resource["Properties"]["AlarmDescription"].split())
        for name, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def documented_commands(path: Path) -> list[str]:
    """Every `.venv-ops/bin/cashout-ops ...` line of a document's code blocks, its continuation
    lines joined and its comment dropped."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [
        line.split("  #", 1)[0].strip()
        for line in text.splitlines()
        if line.strip().startswith(COMMAND)
    ]


def test_no_document_names_another_way_to_run_the_tool() -> None:
    for path in (README, RUNBOOK, TEMPLATE):
        text = path.read_text(encoding="utf-8")
        assert "python -m ops" not in text, path.name
        assert "cashout-ops" in text, path.name
    for path in (README, RUNBOOK):
        assert "make ops" in path.read_text(encoding="utf-8"), path.name


def test_every_alarm_that_names_the_tool_names_the_command_and_how_to_get_it() -> None:
    # Given the alarms whose description sends the reader to the tool
    naming = {
        name: text
        for name, text in alarm_descriptions().items()
        if re.search(r"\bops\b|cashout-ops|\breplay\b", text)
    }

    # Then each names the command as the runbook does, and `make ops`
    assert {"FailureQueueMessagesAlarm", "CancelDeadLetterQueueMessagesAlarm"} <= naming.keys()
    for name, text in naming.items():
        assert f"`{COMMAND} replay" in text, name
        assert "`make ops` once" in text, name


def test_every_command_the_readme_and_runbook_show_parses() -> None:
    # Given each command line the documents show, with their placeholders filled in
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/cancel"
    commands = documented_commands(README) + documented_commands(RUNBOOK)

    # Then the tool's own parser takes each (it exits on anything it does not know)
    assert len(commands) >= 8
    for command in commands:
        filled = re.sub(r"<\w+Url>", queue, command).replace('"$CANCEL_QUEUE_URL"', queue)
        filled = re.sub(r"<\w+>", "payouts", filled)
        arguments = shlex.split(filled)[1:]
        assert _parser().parse_args(arguments).command in {"send", "replay"}, command


@pytest.mark.parametrize("command", [[], ["send"], ["replay"]], ids=["tool", "send", "replay"])
def test_help_names_the_same_command_and_how_to_get_it(command: list[str], tool: Tool) -> None:
    ran = tool(*command, "--help")

    assert ran.status == 0
    assert ran.out.startswith(f"usage: {' '.join(['cashout-ops', *command])} ")
    assert "Set up once from a clone of the repository: `make ops`" in ran.out
    assert f"then run {COMMAND}." in ran.out


def test_the_console_script_is_declared_and_is_the_command_line() -> None:
    # Given pyproject.toml's console script and its build system
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (value,) = [
        value for name, value in project["project"]["scripts"].items() if name == "cashout-ops"
    ]

    # Then it names this command line, and the build needs nothing but the pinned setuptools
    assert EntryPoint("cashout-ops", value, "console_scripts").load() is main
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    assert project["build-system"]["requires"] == [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements-ops.txt").read_text(encoding="utf-8").splitlines()
        if line.startswith("setuptools==")
    ]
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["src", "."]


def test_python_dash_m_ops_says_how_the_tool_runs() -> None:
    # Given an engineer's habit from before the console script, in the repository's root
    ran = subprocess.run(
        [sys.executable, "-m", "ops"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    # Then it points at the one way, in one line, and fails
    assert (ran.returncode, ran.stderr) == (
        1,
        "the operators' tool is cashout-ops: `make ops` once, then `.venv-ops/bin/cashout-ops`\n",
    )


def test_make_help_lists_make_ops() -> None:
    found = subprocess.run(
        [MAKE, "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    assert f"make ops: create .venv-ops with the operators' tool: {COMMAND} send|replay" in (
        found.stdout
    )


@pytest.mark.slow
def test_make_ops_in_a_fresh_clone_gives_a_cashout_ops_that_runs_from_anywhere(
    tmp_path: Path,
) -> None:
    # Given a fresh clone: the repository's files, no virtual environment
    clone = tmp_path / "clone"
    files = subprocess.run(
        [GIT, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    python = shutil.which("python3", path=environment.get("PATH")) or sys.executable

    # When `make ops` runs there, as the README says
    made = subprocess.run(
        [MAKE, "--no-print-directory", "ops", f"PYTHON={python}"],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # Then .venv-ops/bin/cashout-ops runs from any folder: its help, and a dry run that
    # validates with the function's own code
    assert made.returncode == 0, made.stdout + made.stderr
    csv = tmp_path / "cancels.csv"
    csv.write_text(cancels(3), encoding="utf-8")
    runs: dict[str, Any] = {
        " ".join(arguments): subprocess.run(
            [str(clone / COMMAND), *arguments],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for arguments in (["send", "--help"], ["replay", "--help"], ["send", str(csv), "--dry-run"])
    }
    for arguments, run in runs.items():
        assert run.returncode == 0, (arguments, run.stderr)
    assert runs["send --help"].stdout.startswith("usage: cashout-ops send ")
    assert runs["replay --help"].stdout.startswith("usage: cashout-ops replay ")
    assert "summary (dry run): 3 to send, 0 sent" in runs[f"send {csv} --dry-run"].stdout
