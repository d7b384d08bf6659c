"""The one Lambda context of the local tools and tests, for in-process runs (awslambdaric builds
the real one). The benchmark's cold-start child imports it before its clock starts: standard
library only, and not `uuid` or `dataclasses`, which import `platform` and `inspect`."""

from __future__ import annotations

import os
import time

# As template.yaml deploys the function (Timeout 20, MemorySize 512, invoked through `live`).
FUNCTION_NAME = "cashout-cancel"
TIMEOUT_MS = 20_000
REGION = "us-east-1"
ALIAS_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}:live"


def new_request_id() -> str:
    """A random request id shaped like Lambda's (a version-4 UUID)."""
    value = int.from_bytes(os.urandom(16), "big")
    value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class LambdaContext:
    """Lambda's context for one invocation: `remaining_ms` counts down from its creation."""

    function_name = FUNCTION_NAME
    memory_limit_in_mb = 512
    invoked_function_arn = ALIAS_ARN

    def __init__(self, aws_request_id: str | None = None, remaining_ms: float = TIMEOUT_MS) -> None:
        self.aws_request_id = aws_request_id or new_request_id()
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda would stop this invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
