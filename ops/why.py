"""Why a value of a bad line is refused: the rule it breaks, in the operator's words.

The function's `parse_request` is the judge of what is valid (ops/csv_file.py asks it first);
these rules only explain its verdicts, so that an operator can fix the line. They restate the
function's limits (docs/contract.md section 4), and tests/ops/test_bad_lines.py holds them to its
verdicts: a value the function refuses for a reason not named here is shown with the function's
own message.
"""

from __future__ import annotations

import re

SHOWN_CHARACTERS = 40  # of a value, in a refusal; its length says how long it really is
MAX_CASHOUT_ID = 2**63 - 1
MAX_CASHOUT_ID_DIGITS = len(str(MAX_CASHOUT_ID))  # 19
MAX_EXTERNAL_ID_LENGTH = 100
_EXPONENT = re.compile(r"[0-9]+[eE][+-]?[0-9]+")


def shown(value: str) -> str:
    """The value as found: quoted, control characters escaped, cut to about 40 characters."""
    if len(value) <= SHOWN_CHARACTERS:
        return repr(value)
    return f"{value[:SHOWN_CHARACTERS]!r}... ({len(value)} characters)"


def cashout_id_rule(value: str) -> str | None:
    """The rule a refused cashout_id breaks, or None when none of these says why."""
    if not value:
        return "empty"
    if any(character.isspace() for character in value):
        return "has a space (digits only)"
    if value[0] in "+-":
        return "has a sign (digits only, no + or -)"
    if not (value.isascii() and value.isdigit()):
        return f"not a number: {_not_a_number(value)}"
    if value == "0":
        return "zero (cashout ids start at 1)"
    if value.startswith("0"):
        return "has a leading zero"
    if len(value) > MAX_CASHOUT_ID_DIGITS:
        return f"too long: over {MAX_CASHOUT_ID_DIGITS} digits"
    if int(value) > MAX_CASHOUT_ID:
        return f"too long: above 2^63-1 ({MAX_CASHOUT_ID})"
    return None


def _not_a_number(value: str) -> str:
    if "." in value or "," in value:
        return "has a decimal point"
    if _EXPONENT.fullmatch(value):
        return "has an exponent"
    if any(character.isdigit() for character in value if not character.isascii()):
        return "has digits other than 0-9"
    return "has letters or other characters than 0-9"


def external_id_rule(value: str) -> str | None:
    """The rule a refused external_id breaks, or None when none of these says why."""
    if not value:
        return "empty"
    if len(value) > MAX_EXTERNAL_ID_LENGTH:
        return f"too long: over {MAX_EXTERNAL_ID_LENGTH} characters"
    return None
