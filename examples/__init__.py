"""Calling cashout-cancel from your own code: one file per caller, each run by
tests/examples/test_examples.py. Never deployed."""
