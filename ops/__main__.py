"""`python -m ops` is not how the tool runs: say how it does, in one line."""

import sys

sys.exit("the operators' tool is cashout-ops: `make ops` once, then `.venv-ops/bin/cashout-ops`")
