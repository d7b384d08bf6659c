"""The requirement files agree. requirements.txt pins the deployed function's dependencies with
theirs (the dependency audit checks exactly those pins). The local runs' venv
(requirements-demo.txt, `make demo-venv`) and the operators' tool's (requirements-ops.txt,
`make ops`) are installed without resolving anything, so each names every package with its
version, and each package another list pins too is pinned the same in all: the demo and the tool
run what the tests ran."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "requirements-demo.txt"
DEV = ROOT / "requirements-dev.txt"
OPS = ROOT / "requirements-ops.txt"
RUNTIME = ROOT / "requirements.txt"
# The extras of moto the local runs use: the events, secrets and queues they start.
MOTO_SERVICES = ("events", "secretsmanager", "sqs")
# Of moto's server extra, what ThreadedMotoServer itself needs (the rest serves other services).
MOTO_SERVER = ("flask", "flask-cors")


def pins(path: Path) -> dict[str, str]:
    """Normalised name -> version for each line of `path` and the files it includes with -r;
    a line that is not `name==version` (extras allowed) is None, so tests can point at it."""
    found: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found.update(pins(path.parent / line.removeprefix("-r ").strip()))
            continue
        requirement = Requirement(line)
        versions = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        found[canonicalize_name(requirement.name)] = versions[0] if len(versions) == 1 else ""
    return found


def test_demo_requirements_pin_every_package_with_its_version() -> None:
    # Given the demo's list, installed with --no-deps
    demo = pins(DEMO)

    # Then each line names one exact version
    unpinned = sorted(name for name, version in demo.items() if not version)
    assert not unpinned, f"requirements-demo.txt: pin these with ==: {unpinned}"


def test_packages_in_both_lists_have_the_same_pin() -> None:
    # Given the demo's list and the test and lint tools' list
    demo, dev = pins(DEMO), pins(DEV)

    # Then no package they share has drifted apart
    drifted = {name: (demo[name], dev[name]) for name in demo.keys() & dev.keys()}
    assert {name: pair for name, pair in drifted.items() if pair[0] != pair[1]} == {}
    # and the local services the demo starts are among them, pinned as the tests run them
    assert {"moto", "tqdm", "pyyaml"} <= drifted.keys()


def test_demo_requirements_hold_what_moto_needs_for_the_local_services() -> None:
    # Given moto as the tests run it (same version as the demo's: the test above)
    needed = set()
    for line in importlib.metadata.requires("moto") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in MOTO_SERVICES):
            needed.add(canonicalize_name(requirement.name))

    # Then the demo's list has its core and service dependencies, and its server's
    missing = (needed | set(MOTO_SERVER)) - pins(DEMO).keys()
    assert not missing, f"requirements-demo.txt lacks moto's {sorted(missing)}"


def test_runtime_requirements_pin_every_dependency_of_what_they_pin() -> None:
    # Given requirements.txt, installed in this venv at exactly its pins (requirements-dev.txt
    # includes it)
    runtime = pins(ROOT / "requirements.txt")
    installed = {name: importlib.metadata.version(name) for name in runtime}
    assert installed == runtime

    # Then each of their dependencies on this interpreter is pinned there too: what deploys, and
    # what the audit checks, is the whole list
    missing = {
        f"{name} needs {canonicalize_name(requirement.name)}"
        for name in runtime
        for requirement in map(Requirement, importlib.metadata.requires(name) or [])
        if (requirement.marker is None or requirement.marker.evaluate({"extra": ""}))
        and canonicalize_name(requirement.name) not in runtime
    }
    assert not missing, sorted(missing)


def test_ops_requirements_pin_every_package_with_its_version() -> None:
    # Given the operators' tool's list, installed with --no-deps
    ops = pins(OPS)

    # Then each line names one exact version
    unpinned = sorted(name for name, version in ops.items() if not version)
    assert not unpinned, f"requirements-ops.txt: pin these with ==: {unpinned}"
    assert {"boto3", "botocore", "tqdm", "setuptools", "pip"} <= ops.keys()


@pytest.mark.parametrize("other", [RUNTIME, DEV, DEMO], ids=lambda path: path.name)
def test_ops_requirements_pin_shared_packages_as_the_other_lists_do(other: Path) -> None:
    # Given the tool's list and another
    ops, theirs = pins(OPS), pins(other)

    # Then no package they share has drifted apart
    shared = ops.keys() & theirs.keys()
    assert shared, f"requirements-ops.txt shares nothing with {other.name}"
    assert {name: (ops[name], theirs[name]) for name in shared if ops[name] != theirs[name]} == {}


def test_ops_requirements_pin_the_dependencies_of_what_they_pin() -> None:
    # Given the tool's list, whose packages this venv holds at the same pins (the test above)
    ops = pins(OPS)
    here = {name for name in ops if _installed(name) == ops[name]}

    # Then each of their dependencies on this interpreter is pinned there too
    missing = {
        f"{name} needs {canonicalize_name(requirement.name)}"
        for name in here
        for requirement in map(Requirement, importlib.metadata.requires(name) or [])
        if (requirement.marker is None or requirement.marker.evaluate({"extra": ""}))
        and canonicalize_name(requirement.name) not in ops
    }
    assert {"boto3", "botocore", "tqdm"} <= here
    assert not missing, sorted(missing)


def test_ops_requirements_hold_every_package_the_tool_imports() -> None:
    # Given the packages a fresh interpreter loads for the tool's command line (which imports
    # every command, the function's validation with them)
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    loaded = subprocess.run(
        [sys.executable, "-c", "import json, sys, ops.cli; print(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    top_level = {name.split(".")[0] for name in json.loads(loaded.stdout)}
    ours = {"ops", "cashout_cancel"}
    third_party = {
        name
        for name in top_level - set(sys.stdlib_module_names) - ours
        if not name.startswith("_")  # __main__, multiprocessing's __mp_main__, _distutils_hack
    }

    # Then each comes from a package requirements-ops.txt installs
    distributions = importlib.metadata.packages_distributions()
    needed = {canonicalize_name(d) for name in third_party for d in distributions.get(name, [name])}
    assert needed, "no third-party package found: did the probe break?"
    assert sorted(needed - pins(OPS).keys()) == []


def test_the_build_needs_the_setuptools_the_ops_list_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    (requirement,) = map(Requirement, project["build-system"]["requires"])

    assert [spec.version for spec in requirement.specifier] == [pins(OPS)["setuptools"]]


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
