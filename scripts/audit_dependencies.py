"""Audit pinned requirements with pip-audit; an audit that checked nothing is not a pass.

    python scripts/audit_dependencies.py [--strict] [--pip-audit PATH] requirements.txt

pip-audit exits 0 when it cannot reach its vulnerability service: every package is "skipped" and
nothing was audited. This wrapper reads its JSON report and counts, package by package, what was
audited, what could not be, and which vulnerabilities were found. A package is audited only when
the report names it with its version and a list of vulnerabilities (empty or not); one skipped,
missing from the report, or in a run that gave no report at all counts as NOT AUDITED.

The requirements file must pin every package, its dependencies included (requirements.txt does;
a test holds it closed): pip-audit audits exactly those pins (--no-deps), without installing them.

Exit codes:
  0  every package audited, none vulnerable; or, without --strict, some or all could not be
     audited: a loud NOT AUDITED banner with the counts, and the run still passes (offline CI)
  1  a known vulnerability in an audited package
  3  --strict only: NOT AUDITED (where the vulnerability service should be reachable)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_CLEAN = 0
EXIT_VULNERABLE = 1
EXIT_NOT_AUDITED = 3
BANNER_WIDTH = 78
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


@dataclass(frozen=True)
class Audit:
    """What one pip-audit run established about a list of pinned packages."""

    pinned: Mapping[str, str]  # normalised name -> version, from the requirements file
    audited: frozenset[str] = frozenset()
    vulnerable: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> ids
    not_audited: Mapping[str, str] = field(default_factory=dict)  # name -> why

    @property
    def total(self) -> int:
        """How many packages there were to audit: the pins, and any other the report named."""
        return len(self.pinned.keys() | self.audited | self.not_audited.keys())

    @property
    def complete(self) -> bool:
        """Every package audited (and there was at least one)."""
        return bool(self.audited) and not self.not_audited


def normalise(name: str) -> str:
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_packages(requirements: Path) -> dict[str, str]:
    """Normalised name -> version for each `name==version` line, following `-r` includes."""
    found: dict[str, str] = {}
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("-r "):
            found.update(pinned_packages(requirements.parent / line[3:].split("#")[0].strip()))
        elif match := PIN.match(line):
            found[normalise(match[1])] = match[2]
    return found


def read_report(report: Mapping[str, Any] | None, pinned: Mapping[str, str], why: str) -> Audit:
    """The audit a pip-audit JSON report shows for `pinned`; None (no report) audited nothing,
    for the reason `why`."""
    if report is None:
        return Audit(pinned, not_audited=dict.fromkeys(pinned, why))
    audited: set[str] = set()
    vulnerable: dict[str, tuple[str, ...]] = {}
    not_audited: dict[str, str] = {}
    for dependency in report.get("dependencies", []):
        name = normalise(str(dependency.get("name", "")))
        vulns = dependency.get("vulns")
        if "skip_reason" in dependency or not isinstance(vulns, list):
            not_audited[name] = str(dependency.get("skip_reason", "no audit result"))
            continue
        audited.add(name)
        if vulns:
            vulnerable[name] = tuple(str(vuln.get("id", "?")) for vuln in vulns)
    for name in pinned:
        if name not in audited and name not in not_audited:
            not_audited[name] = "missing from pip-audit's report"
    return Audit(pinned, frozenset(audited), vulnerable, not_audited)


def verdict(audit: Audit, *, strict: bool, requirements: str) -> tuple[list[str], int]:
    """The lines to print and the exit code (see the module docstring)."""
    lines = [
        f"pip-audit: VULNERABLE {name} {audit.pinned.get(name, '')}: {', '.join(ids)}"
        for name, ids in sorted(audit.vulnerable.items())
    ]
    lines.append(
        f"pip-audit: {len(audit.audited)} of {audit.total} packages audited,"
        f" {len(audit.not_audited)} not audited, {len(audit.vulnerable)} vulnerable"
    )
    if not audit.complete:
        lines += not_audited_banner(audit, strict=strict, requirements=requirements)
    if audit.vulnerable:
        return lines, EXIT_VULNERABLE
    if not audit.complete:
        return lines, EXIT_NOT_AUDITED if strict else EXIT_CLEAN
    return lines, EXIT_CLEAN


def not_audited_banner(audit: Audit, *, strict: bool, requirements: str) -> list[str]:
    """A box no one scrolls past: how many packages went unchecked, why, and what follows."""
    reasons = sorted(set(audit.not_audited.values())) or ["pip-audit reported no packages"]
    unchecked = audit.total - len(audit.audited)
    paragraphs = [
        f"NOT AUDITED: {unchecked} of {audit.total} packages in {requirements} were NOT checked"
        f" for known vulnerabilities ({len(audit.audited)} were).",
        ("Why, for example: " if len(reasons) > 1 else "Why: ") + reasons[0],
        "--strict: this run FAILS."
        if strict
        else "This run passes anyway. `make audit-strict` fails here: run it where the"
        " vulnerability service is reachable.",
    ]
    inner = BANNER_WIDTH - 4
    body = [
        f"! {line.ljust(inner)} !"
        for paragraph in paragraphs
        for line in textwrap.wrap(paragraph, inner, break_long_words=True)
    ]
    rule = "!" * BANNER_WIDTH
    return [rule, *body, rule]


def run_pip_audit(pip_audit: str, requirements: str) -> tuple[dict[str, Any] | None, str]:
    """pip-audit's JSON report on the pins in `requirements`, or None and why there is none."""
    command = [pip_audit, "-r", requirements, "--no-deps", "--disable-pip"]
    command += ["--format", "json", "--progress-spinner", "off"]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"pip-audit did not run: {exc}"
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        said = " ".join(completed.stderr.split()[-40:])  # its last words, on one line
        return None, f"pip-audit gave no report (exit {completed.returncode}): {said}"
    if not isinstance(report, dict):
        return None, "pip-audit's report is not a JSON object"
    return report, ""


def main(argv: Sequence[str] | None = None) -> int:
    """Audit the requirements file named on the command line; the exit code says how it went."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("requirements", nargs="?", default="requirements.txt")
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit 3) when any package was not audited"
    )
    parser.add_argument(
        "--pip-audit",
        default=str(Path(sys.executable).with_name("pip-audit")),
        help="the pip-audit command (default: the one beside this interpreter)",
    )
    args = parser.parse_args(argv)
    pinned = pinned_packages(Path(args.requirements))
    report, why = run_pip_audit(args.pip_audit, args.requirements)
    audit = read_report(report, pinned, why)
    lines, code = verdict(audit, strict=args.strict, requirements=args.requirements)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
