"""Keep what was sent to D24 in confidence from everything the function passes on.

D24 may quote a request back in any field of its answer (docs/contract.md section 6). The request
carried the login and pass inside a JSON body (so JSON-escaped where they hold quotes, backslashes
or non-ASCII characters) and was signed; a proxy or D24 itself may echo them raw, escaped or
URL-encoded. Every value passed on from an answer is checked against each of those forms of `login`,
`pass`, `secret_key` and the signature, and withheld when it contains one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

WITHHELD = "(withheld: it quoted the request's credentials or signature)"
# Characters that neither JSON nor URL-encoding changes: a value of only these (a hex signature,
# most logins) has one form, and the others need not be computed.
_UNCHANGED_BY_ENCODING = re.compile(r"[A-Za-z0-9_.~-]*")


def forms_of(secret: str) -> set[str]:
    """The ways `secret` may appear in text: raw, JSON-escaped and URL-encoded, lower-cased."""
    if _UNCHANGED_BY_ENCODING.fullmatch(secret):
        return {secret.lower()} if secret else set()
    forms = {
        secret,
        json.dumps(secret)[1:-1],  # \uXXXX escapes, as the request body carried it
        json.dumps(secret, ensure_ascii=False)[1:-1],  # only quotes and backslashes escaped
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    # Escapes and percent-encodings differ only in the case of their hex digits; compare
    # everything lower-cased so that \u00E9 and %C3%A9 are caught as well as \u00e9 and %c3%a9.
    return {form.lower() for form in forms if form}


class Redaction:
    """The confidential values of one request, and a check of everything passed on from D24."""

    def __init__(self, forms: frozenset[str] = frozenset()) -> None:
        self._forms = forms

    @classmethod
    def of(cls, secrets: Iterable[str]) -> Redaction:
        """A check for every form of each of `secrets`."""
        return cls(frozenset(form for secret in secrets for form in forms_of(secret)))

    @classmethod
    def union(cls, redactions: Iterable[Redaction]) -> Redaction:
        """One check for everything each of `redactions` checks (several accounts' secrets)."""
        return cls(frozenset().union(*(r._forms for r in redactions)))

    def also(self, secret: str) -> Redaction:
        """This check plus every form of `secret` (a request's signature)."""
        return Redaction(self._forms | forms_of(secret))

    def reveals(self, text: str) -> bool:
        """True when `text` contains any form of any confidential value."""
        lowered = text.lower()
        return any(form in lowered for form in self._forms)

    def scrub(self, value: Any) -> Any:
        """`value` with every string or number that reveals a secret replaced by WITHHELD.

        JSON objects and arrays are scrubbed throughout; a number is withheld when its digits
        are a secret (a numeric login echoed as a code).
        """
        if isinstance(value, str):
            return WITHHELD if self.reveals(value) else value
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            return WITHHELD if str(value).lower() in self._forms else value
        if isinstance(value, dict):
            return {self.scrub(key): self.scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return value
