"""The optional `merchant` column of a bulk cancel file (docs/contract.md section 11).

The function's own `parse_merchant` judges a name, so that no file carries a merchant the function
would refuse; this module only says which part of the rule a refused name breaks.
"""

from __future__ import annotations

import re

from ops.function import parse_merchant

MAX_MERCHANT_LENGTH = 32
_ALLOWED = re.compile(r"[a-z0-9-]*")


def merchant_rule(value: str) -> str | None:
    """None when the function accepts `value` as an account name; else the rule it breaks."""
    try:
        parse_merchant(value)
    except ValueError as refused:
        if len(value) > MAX_MERCHANT_LENGTH:
            return f"too long: over {MAX_MERCHANT_LENGTH} characters"
        if value.startswith("-"):
            return "must start with a letter or digit"
        if not _ALLOWED.fullmatch(value):
            return "only lowercase a-z, 0-9 and '-'"
        return str(refused)
    return None
