"""Use cases: each owns its transaction, calls queries and applies the rules."""
