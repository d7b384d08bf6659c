"""The demo's bulk run (CONTRACT sections 8-10): sandbox cashouts in every state, a CSV file sent
by the operators' tool to a local cancel queue, worked by the local SQS event source
(local/sqs_event_source.py) through the real handler, and checked against D24 and the ledger's
events. `python -m local.demo` runs it after the events table (run.py)."""
