"""The merchant's D24 credentials, as its secret holds them, validated before anything is signed
with them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..d24.redaction import Redaction
from ..settings import ConfigurationError

MAX_CREDENTIAL_LENGTH = 32  # D24: login and pass are at most 32 characters


@dataclass(frozen=True)
class Credentials:
    """The merchant's D24 login, pass and signing key. Never printed: repr hides every value."""

    login: str = field(repr=False)
    password: str = field(repr=False)
    secret_key: str = field(repr=False)

    @cached_property
    def redaction(self) -> Redaction:
        """The check that keeps these values, in any form, out of what D24's answers pass on."""
        return Redaction.of((self.login, self.password, self.secret_key))


def parse_secret(secret_string: Any) -> Credentials:
    """Validate the secret's JSON shape; errors name the problem, never a value."""
    if not isinstance(secret_string, str):
        raise ConfigurationError("the D24 secret has no SecretString")
    try:
        data = json.loads(secret_string)
    except ValueError:
        raise ConfigurationError("the D24 secret is not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigurationError("the D24 secret must be a JSON object")
    for key in ("login", "pass", "secret_key"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"the D24 secret lacks a non-empty string '{key}'")
        if key != "secret_key" and len(value) > MAX_CREDENTIAL_LENGTH:
            raise ConfigurationError(f"the D24 secret's '{key}' is longer than 32 characters")
    return Credentials(login=data["login"], password=data["pass"], secret_key=data["secret_key"])
