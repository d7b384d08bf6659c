"""Reading a secret through the AWS SDK (GetSecretValue), its failures named, never its value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..settings import ConfigurationError

# Secrets Manager's answer for a secret that does not exist. One scheduled for deletion still
# exists: it answers InvalidRequestException, a configuration error.
NOT_FOUND_CODE = "ResourceNotFoundException"


class SecretNotFound(ConfigurationError):
    """The secret does not exist. For a named merchant account this means an unknown account
    (UNKNOWN_MERCHANT, docs/contract.md section 11); for the default one, a configuration error."""


def sdk_reader(client: Callable[[], Any]) -> Callable[[str], Any]:
    """A reader of SecretStrings through the Secrets Manager client `client()` returns."""

    def read(secret_id: str) -> Any:
        # Imported here: botocore is loaded with the client, and paths that never reach Secrets
        # Manager (invalid input, for one) must not pay for it.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = client().get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            problem = SecretNotFound if code == NOT_FOUND_CODE else ConfigurationError
            raise problem(f"the D24 secret could not be read ({code})") from None
        except BotoCoreError as exc:
            raise ConfigurationError(
                f"the D24 secret could not be read ({type(exc).__name__})"
            ) from None
        return response.get("SecretString")

    return read
