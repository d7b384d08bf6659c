"""The requirement files agree. requirements.txt pins the deployed function's dependencies with
theirs (the dependency audit checks exactly those pins). The local runs' venv
(requirements-demo.txt, `make demo-venv`) is installed without resolving anything, so it names
every package with its version, and each package requirements-dev.txt pins too is pinned the same
in both: the demo runs what the tests ran."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "requirements-demo.txt"
DEV = ROOT / "requirements-dev.txt"
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
