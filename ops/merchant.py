"""The optional `merchant` column of a bulk cancel file (CONTRACT section 11).

The function does not validate `merchant` yet (merchant accounts are still being built); until it
does, the tool checks the contract's rule itself, here, so that no file carries a merchant the
function will refuse. When the function has its own check, import it in ops/function.py and
delete this file.
"""

from __future__ import annotations

import re

MAX_MERCHANT_LENGTH = 32
_MERCHANT = re.compile(r"[a-z0-9][a-z0-9-]*")


def merchant_rule(value: str) -> str | None:
    """The rule a non-empty `merchant` breaks, or None when it is a valid account name: 1 to 32
    characters from a-z, 0-9 and '-', starting with a letter or digit."""
    if len(value) > MAX_MERCHANT_LENGTH:
        return f"too long: over {MAX_MERCHANT_LENGTH} characters"
    if value.startswith("-"):
        return "must start with a letter or digit"
    if not _MERCHANT.fullmatch(value):
        return "only lowercase a-z, 0-9 and '-'"
    return None
