"""`make bench`: the function's warm latency, cold start and memory, measured against floors.

Everything runs in separate processes so that no variant's imports, garbage or locks touch
another's: the upstreams (D24 sandbox, moto Secrets Manager) in one, each warm variant in a worker
that the coordinator drives in interleaved rounds, and every cold start in a fresh interpreter.

- `services`: the D24 sandbox with many pending cashouts, and Secrets Manager holding the secret.
- `floor`: one signed cancel on a keep-alive `requests.Session` with `trust_env = False`.
- `naive_handler`: the yardstick; a new boto3 client, secret read and connection per invocation.
- `lambda_like`: what Lambda hands a function (environment, context, a REST API event).
- `warm`: the warm worker; `coldstart`: the fresh-process child (cold start and memory).
- `runner`: starts and drives those processes and checks the handler's output.
- `report`: statistics, targets, the table and the JSON line. Results: README, Performance.
"""
