"""docs/runbook.md's "Reproduce it locally" commands do what it says: every alarm's section has
them, or says in one line why it cannot; each `make api ...` it gives, started as make starts it
(`make -n` gives the command), answers the `curl` below it with the status and outcome its comment
promises; every other `make` target it names is one make knows."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
HEADING = re.compile(r"^## .*\(`(\w+Alarm)`\)$", re.MULTILINE)


def alarm_sections() -> dict[str, str]:
    """Each alarm's section of the runbook, by the alarm it is for."""
    text = RUNBOOK.read_text(encoding="utf-8")
    starts = [(match.group(1), match.start()) for match in HEADING.finditer(text)]
    ends = [text.find("\n## ", start + 1) for _, start in starts]
    return {alarm: text[start:end] for (alarm, start), end in zip(starts, ends, strict=True)}


def reproductions() -> list[tuple[str, str, str, int, str]]:
    """(alarm, the `make api` line, the curl line, status, outcome) for every curl the runbook
    gives below a `make api`."""
    found = []
    for alarm, section in alarm_sections().items():
        api = None
        for block in re.findall(r"\*\*Reproduce it locally\.\*\*.*?```sh\n(.*?)```", section, re.S):
            for line in block.splitlines():
                if re.search(r"\bmake api\b", line):
                    api = line
                elif line.startswith("curl ") and api is not None:
                    command, promise = line.split("#", 1)
                    status, outcome = promise.split()
                    found.append((alarm, api, command.strip(), int(status), outcome))
    return found


def make_command(line: str, target: str) -> tuple[list[str], dict[str, str]]:
    """What `make` runs for a runbook line (`VAR=value make target VAR=value`), as `make -n`
    prints it, with this interpreter: its arguments and its environment."""
    words = shlex.split(line)
    at = words.index("make")
    environment = dict(word.split("=", 1) for word in words[:at])
    env = {**os.environ, "PYTHONPATH": "src:.", **environment}
    dry_run = ["make", "-n", "--no-print-directory", *words[at + 1 :], "PORT=0"]
    done = subprocess.run(
        dry_run,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [recipe] = [l for l in done.stdout.splitlines() if f"-m {target}" in l]  # noqa: E741
    return [sys.executable, *shlex.split(recipe)[1:]], env


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_every_alarm_section_says_how_to_reproduce_it_locally_or_why_it_cannot() -> None:
    sections = alarm_sections()

    assert len(sections) >= 10, "no alarm sections found: did the heading pattern break?"
    missing = [
        alarm
        for alarm, section in sections.items()
        if "**Reproduce it locally.**" not in section
        and "**Reproduce it locally**: not possible" not in section
    ]
    assert missing == []
    covered = {alarm for alarm, *_ in reproductions()}
    assert {"UpstreamAuthFailedAlarm", "UpstreamUnavailableShareAlarm"} <= covered
    assert {"DurationNearTimeoutAlarm", "ApiServerErrorsAlarm", "FunctionFaultsAlarm"} <= covered


def test_every_other_make_target_it_names_is_one_make_runs() -> None:
    lines = {
        line
        for section in alarm_sections().values()
        for block in re.findall(r"```sh\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if re.match(r"make (?!api\b)", line)
    }

    assert lines == {"make rehearse"}  # tests/local/test_rehearsal.py runs it
    command, _ = make_command("make rehearse", "local.bulk_demo")
    assert command[1:] == ["-m", "local.bulk_demo"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("alarm", "api", "curl", "status", "outcome"),
    reproductions(),
    ids=[f"{alarm}:{api}" for alarm, api, *_ in reproductions()],
)
def test_the_runbooks_local_reproduction_answers_as_it_says(
    alarm: str,
    api: str,
    curl: str,
    status: int,
    outcome: str,
    started: list[subprocess.Popen[str]],
) -> None:
    # Given `make api ...` as the runbook gives it, started as make starts it
    command, env = make_command(api, "local.api")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    started.append(process)
    assert process.stdout is not None
    url = process.stdout.readline().split(" on ", 1)[1].split()[0]  # "cashout-cancel API on ..."

    # When the runbook's curl is sent to it
    words = shlex.split(curl)
    target = next(word for word in words if "localhost:3000" in word)
    headers = dict(words[n + 1].split(": ", 1) for n, word in enumerate(words) if word == "-H")
    with requests.Session() as session:
        session.trust_env = False
        answer = session.request(
            words[words.index("-X") + 1],
            target.replace("localhost:3000", url),
            headers=headers,
            data=words[words.index("-d") + 1],
            timeout=40,
        )
        # Then the answer is the one the runbook promises
        assert (answer.status_code, answer.json()["outcome"]) == (status, outcome), alarm
