"""cashout-ops, the operators' tool for cashout-cancel: never deployed.

    make ops                                   # once: .venv-ops, from requirements-ops.txt
    .venv-ops/bin/cashout-ops send FILE.csv --queue-url URL [--dry-run]
    .venv-ops/bin/cashout-ops replay --from-queue URL (--to-queue URL | --to-bus NAME) [--dry-run]

`send` puts a CSV of bulk cancels on the cancel queue (docs/contract.md section 9); `replay` moves
what waits in the failure queue or the bulk dead-letter queue back for another try
(docs/runbook.md). Both validate with the function's own `parse_request` (ops/function.py), so what
they accept is what the function accepts.
"""
