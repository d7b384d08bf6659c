"""template.yaml as data, for the tests and the local tools that must agree with it.

CloudFormation's short tags (`!Ref X`, `!GetAtt A.B`, `!Sub ...`) are read as their long form
(`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": ...}`), and an `Fn::Sub` string can be
resolved with chosen values, so that a JSON document inside the template (the dashboard body)
can be read the way CloudFormation would write it out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"

# ${Name}, ${Resource.Attribute}, ${AWS::Region}; ${!Literal} is CloudFormation's escape.
_PLACEHOLDER = re.compile(r"\$\{(!?)([A-Za-z0-9_:.]+)\}")


class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """SafeLoader that reads CloudFormation short tags as their long form (!Ref X -> {"Ref": X})."""


def _short_tag(loader: CloudFormationLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _short_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, short tags in their long form."""
    text = path.read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 (safe)
    return loaded


def substitute(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `${Name}` replaced by `values[Name]`, as `Fn::Sub` would.

    A placeholder without a value raises KeyError naming it: a new reference in the template
    is a decision the caller must make (which value stands in for it), not a silent gap.
    """

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        if name not in values:
            raise KeyError(f"no value for ${{{name}}} in the template's Fn::Sub")
        return values[name]

    return _PLACEHOLDER.sub(replace, text)
