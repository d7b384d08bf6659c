"""What the operators' tool takes from the function's own package, and nothing else does.

The tool validates with the function's `parse_request`, so that it never accepts a line the
function would refuse, and replays onto the bus with the detail-type the function's rule matches.
Every import of `cashout_cancel` in ops is here: when the function's modules move, only this file
changes.
"""

from cashout_cancel.callers.eventbridge import DETAIL_TYPE
from cashout_cancel.cancel.request import (
    CancelRequest,
    InvalidRequest,
    parse_merchant,
    parse_request,
)

__all__ = ["DETAIL_TYPE", "CancelRequest", "InvalidRequest", "parse_merchant", "parse_request"]
