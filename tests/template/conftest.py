"""The template, read once per module, and the parts of it most tests look at."""

from __future__ import annotations

from typing import Any

import pytest

from local.cfn_template import load_template
from tests.template.helpers import FUNCTION, ROLE


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found


@pytest.fixture(scope="module")
def function(resources: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = resources[FUNCTION]["Properties"]
    return found


@pytest.fixture(scope="module")
def statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of the function role's inline policies, conditional ones included."""
    assert resources[FUNCTION]["Properties"]["Role"]["Fn::GetAtt"][0] == ROLE
    found = []
    for policy in resources[ROLE]["Properties"]["Policies"]:
        document = (policy["Fn::If"][1] if "Fn::If" in policy else policy)["PolicyDocument"]
        found.extend(document["Statement"])
    return found
