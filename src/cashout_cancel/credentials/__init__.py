"""The merchant's D24 credentials: the secret's shape, where it is read from, and its cache."""
