"""The cancel use case: the domain request, gathering the facts at D24, the pure decision of
what to answer, and the outcome table."""
