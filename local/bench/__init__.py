"""`make bench`: the function against floors measured in the same run (docs/performance.md)."""
