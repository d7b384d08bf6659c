"""template.yaml as data, for the tests and the local tools that must agree with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


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
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # !GetAtt A.B -> {"Fn::GetAtt": ["A", "B"]}
    return {f"Fn::{tag_suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _short_tag)


def load_template() -> dict[str, Any]:
    """template.yaml as plain data, short tags in their long form."""
    text = TEMPLATE.read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 (safe)
    return loaded
